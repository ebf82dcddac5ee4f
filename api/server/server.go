package server

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/reflection"

	"github.com/fibd/fibd/api/fibdv1"
	"github.com/fibd/fibd/fib"
	"github.com/fibd/fibd/nexthop"
)

// Defaults of Config fields left at their zero value.
const (
	DefaultGracePeriod = 30 * time.Second
	DefaultMaxBatch    = 10000
)

// defaultReserved are the source names of fibd's own producers; the name
// "bgp" is gobgp.SourceName, spelled out to keep this package free of
// GoBGP.
var defaultReserved = []string{"bgp"}

// Config configures a Server. The zero value of each optional field has the
// meaning its comment gives.
type Config struct {
	// FIB receives the routes. Required.
	FIB *fib.FIB

	// Devices reports whether an interface exists; routes naming another
	// interface are rejected. Nil accepts every name.
	Devices func(name string) bool

	// Resolve completes a next hop the way the dataplane will (see
	// fib.Dataplane.Resolve). Every distinct next hop of a request is
	// resolved before the request changes the FIB, and a request with a
	// hop that fails is rejected with INVALID_ARGUMENT, so a failed
	// request leaves the installed routes alone. Nil skips the check.
	Resolve func(ctx context.Context, hop nexthop.Hop) (nexthop.Hop, error)

	// Verify compares the desired state with the kernel and returns one
	// line per difference. Nil makes the Verify RPC return UNIMPLEMENTED.
	Verify func(ctx context.Context) ([]string, error)

	// SyncState returns the kernel monitor's state for Status; nil reports
	// an empty state.
	SyncState func() string

	// Sources maps source names to their administrative distance.
	Sources map[string]fib.Distance

	// DefaultDistance is the distance of sources missing from Sources.
	// Zero means fib.DistanceGRPC (10); a default of 0 (connected) cannot
	// be configured.
	DefaultDistance fib.Distance

	// Reserved lists source names that clients may not use; nil means
	// "bgp", the name of the GoBGP producer.
	Reserved []string

	// GracePeriod is how long a bound session's routes outlive the end of
	// its stream; zero means DefaultGracePeriod.
	GracePeriod time.Duration

	// MaxBatch is the largest number of routes or keys in one request or
	// stream message; zero means DefaultMaxBatch.
	MaxBatch int

	// Version is reported by Status.
	Version string

	// Extra returns other components' status lines for Status, such as
	// BGP's; nil reports none.
	Extra func() map[string]string

	// Logger receives session events: opened, ended, and routes withdrawn
	// when a grace period runs out. Nil discards them.
	Logger *slog.Logger
}

// backend is the part of *fib.FIB that the service uses.
type backend interface {
	Update(routes []fib.Route) []error
	Withdraw(source string, keys []fib.Key)
	WithdrawSource(source string) int
	Converged(source string)
	Sync(ctx context.Context) error
	Lookup(key fib.Key) (fib.RouteState, bool)
	Routes(filter fib.Filter, fn func(fib.RouteState) bool)
	Nexthops() []fib.NexthopState
	Watch(ctx context.Context, filter fib.Filter, fn func(fib.Event)) error
	Stats() fib.Stats
}

var _ backend = (*fib.FIB)(nil)

// Server is fibd's gRPC service. Its methods are safe for concurrent use;
// the RPC methods implement fibdv1.FibServer and are called by gRPC.
type Server struct {
	fibdv1.UnimplementedFibServer

	cfg      Config
	fib      backend
	reserved map[string]bool
	started  time.Time
	health   *health.Server
	sessions *sessions

	// distMu guards cfg.Sources and cfg.DefaultDistance, which SetSources
	// replaces while the server runs.
	distMu sync.RWMutex
}

var _ fibdv1.FibServer = (*Server)(nil)

// New returns a Server for cfg.
func New(cfg Config) (*Server, error) {
	if cfg.FIB == nil {
		return nil, errors.New("create api server: missing FIB")
	}

	return newServer(cfg, cfg.FIB)
}

// newServer builds a Server over any backend, so that tests can use a
// FIB built some other way.
func newServer(cfg Config, b backend) (*Server, error) {
	if cfg.MaxBatch < 0 {
		return nil, fmt.Errorf("create api server: invalid max batch %d: must not be negative (0 means %d)", cfg.MaxBatch, DefaultMaxBatch)
	}

	if cfg.GracePeriod < 0 {
		return nil, fmt.Errorf("create api server: invalid grace period %s: must not be negative", cfg.GracePeriod)
	}

	if cfg.MaxBatch == 0 {
		cfg.MaxBatch = DefaultMaxBatch
	}

	if cfg.GracePeriod == 0 {
		cfg.GracePeriod = DefaultGracePeriod
	}

	if cfg.DefaultDistance == 0 {
		cfg.DefaultDistance = fib.DistanceGRPC
	}

	if cfg.Reserved == nil {
		cfg.Reserved = defaultReserved
	}

	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}

	s := &Server{
		cfg:      cfg,
		fib:      b,
		reserved: make(map[string]bool, len(cfg.Reserved)),
		started:  time.Now(),
		health:   health.NewServer(),
	}

	for _, name := range cfg.Reserved {
		s.reserved[name] = true
	}

	s.sessions = newSessions(b, cfg.GracePeriod, cfg.Logger)
	s.health.SetServingStatus("", healthpb.HealthCheckResponse_SERVING)
	s.health.SetServingStatus(fibdv1.Fib_ServiceDesc.ServiceName, healthpb.HealthCheckResponse_SERVING)

	return s, nil
}

// Register registers fibd's service, the standard health service and
// server reflection on gs, so that grpcurl and health probes work without
// fibd's proto files.
func (s *Server) Register(gs *grpc.Server) {
	fibdv1.RegisterFibServer(gs, s)
	healthpb.RegisterHealthServer(gs, s.health)
	reflection.Register(gs)
}

// Shutdown marks the service as not serving in the health service and
// stops the grace timers of ended sessions, keeping their routes. Sessions
// that end after Shutdown keep their routes too. fibd is exiting, and what
// happens to its routes then is the daemon's choice.
func (s *Server) Shutdown() {
	s.health.Shutdown()
	s.sessions.stop()
}

// distance returns the configured distance of a source.
func (s *Server) distance(source string) fib.Distance {
	s.distMu.RLock()
	defer s.distMu.RUnlock()

	if d, ok := s.cfg.Sources[source]; ok {
		return d
	}

	return s.cfg.DefaultDistance
}
