package metrics

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/pprof"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// NewRegistry returns a registry with the fibd collector over src and the
// Go runtime and process collectors.
func NewRegistry(src Sources) *prometheus.Registry {
	reg := prometheus.NewRegistry()
	reg.MustRegister(
		NewCollector(src),
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
	)

	return reg
}

// ServerConfig configures Listen.
type ServerConfig struct {
	// Address is host:port to listen on.
	Address string

	// Pprof serves net/http/pprof under /debug/pprof/. Listen rejects it
	// unless the listener is bound to a loopback address, because
	// profiles and heap dumps expose memory contents.
	Pprof bool

	// Gatherer is the source of the metrics that /metrics serves.
	Gatherer prometheus.Gatherer
}

// Server is the HTTP server of /metrics.
type Server struct {
	listener net.Listener
	http     *http.Server
}

// Listen binds the address and returns a server that serves once Run is
// called.
func Listen(cfg ServerConfig) (*Server, error) {
	ln, err := net.Listen("tcp", cfg.Address)
	if err != nil {
		return nil, fmt.Errorf("listen for metrics on %s: %w", cfg.Address, err)
	}

	if cfg.Pprof && !isLoopback(ln.Addr()) {
		ln.Close()

		return nil, fmt.Errorf("serve pprof on %s: rejected because the address is not loopback and profiles expose memory contents: use 127.0.0.1 or ::1, or turn pprof off", cfg.Address)
	}

	return &Server{
		listener: ln,
		http: &http.Server{
			Handler:           newMux(cfg),
			ReadHeaderTimeout: 10 * time.Second,
		},
	}, nil
}

func newMux(cfg ServerConfig) *http.ServeMux {
	mux := http.NewServeMux()
	mux.Handle("/metrics", promhttp.HandlerFor(cfg.Gatherer, promhttp.HandlerOpts{}))

	if cfg.Pprof {
		mux.HandleFunc("/debug/pprof/", pprof.Index)
		mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
		mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
		mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
		mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	}

	return mux
}

// Addr returns the address the server listens on.
func (s *Server) Addr() net.Addr {
	return s.listener.Addr()
}

// Run serves until ctx is cancelled, then shuts the server down.
// Cancellation is not an error.
func (s *Server) Run(ctx context.Context) error {
	errc := make(chan error, 1)
	go func() { errc <- s.http.Serve(s.listener) }()

	select {
	case err := <-errc:
		return fmt.Errorf("serve metrics on %s: %w", s.listener.Addr(), err)
	case <-ctx.Done():
	}

	shutdownCtx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()

	if err := s.http.Shutdown(shutdownCtx); err != nil {
		return fmt.Errorf("shut down metrics server: %w", err)
	}

	if err := <-errc; err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("serve metrics on %s: %w", s.listener.Addr(), err)
	}

	return nil
}

func isLoopback(addr net.Addr) bool {
	tcp, ok := addr.(*net.TCPAddr)

	return ok && tcp.IP.IsLoopback()
}
