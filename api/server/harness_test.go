package server

import (
	"context"
	"net/netip"
	"path/filepath"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/fibd/fibd/api/fibdv1"
	"github.com/fibd/fibd/fib"
)

// harness is a Server on a unix socket in a temp dir with a client.
type harness struct {
	fib    backend
	fake   *fakeFIB // nil when fib is a real *fib.FIB
	server *Server
	client fibdv1.FibClient
	conn   *grpc.ClientConn
	socket string
}

// testDevices are the interfaces that the tests' Devices lookup accepts.
var testDevices = map[string]bool{"v0": true, "v1": true}

func newHarness(t *testing.T, cfg Config) *harness {
	t.Helper()

	fake := newFakeFIB()
	h := serve(t, cfg, fake)
	h.fake = fake

	return h
}

// serve starts a Server over b on a unix socket and dials it.
func serve(t *testing.T, cfg Config, b backend) *harness {
	t.Helper()

	if cfg.MaxBatch == 0 {
		cfg.MaxBatch = 16
	}

	if cfg.Devices == nil {
		cfg.Devices = func(name string) bool { return testDevices[name] }
	}

	h := &harness{fib: b, socket: filepath.Join(t.TempDir(), "fibd.sock")}

	srv, err := newServer(cfg, h.fib)
	if err != nil {
		t.Fatalf("new server: %v", err)
	}

	h.server = srv

	listeners, opts, err := Listen(ListenConfig{Socket: h.socket})
	if err != nil {
		t.Fatalf("listen: %v", err)
	}

	gs := grpc.NewServer(opts...)
	srv.Register(gs)

	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = gs.Serve(listeners[0])
	}()

	t.Cleanup(func() {
		srv.Shutdown()
		gs.Stop()
		<-done
	})

	conn, err := grpc.NewClient("unix://"+h.socket, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatalf("dial %s: %v", h.socket, err)
	}

	t.Cleanup(func() { conn.Close() })
	h.conn = conn
	h.client = fibdv1.NewFibClient(conn)

	return h
}

func testContext(t *testing.T) context.Context {
	t.Helper()

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	t.Cleanup(cancel)

	return ctx
}

// unicast returns a route to prefix via gateway on device v0.
func unicast(prefix, gateway string) *fibdv1.Route {
	return &fibdv1.Route{Prefix: prefix, Nexthops: []*fibdv1.Nexthop{{Gateway: gateway, Device: "v0"}}}
}

// add offers routes for source and fails the test on error.
func (h *harness) add(t *testing.T, source string, routes ...*fibdv1.Route) []*fibdv1.RouteResult {
	t.Helper()

	resp, err := h.client.AddRoutes(testContext(t), &fibdv1.AddRoutesRequest{Source: source, Routes: routes})
	if err != nil {
		t.Fatalf("add routes for %s: %v", source, err)
	}

	return resp.GetResults()
}

// list returns every route state.
func (h *harness) list(t *testing.T, filter *fibdv1.RouteFilter) []*fibdv1.RouteState {
	t.Helper()

	stream, err := h.client.ListRoutes(testContext(t), &fibdv1.ListRoutesRequest{Filter: filter})
	if err != nil {
		t.Fatalf("list routes: %v", err)
	}

	var out []*fibdv1.RouteState
	for {
		msg, err := stream.Recv()
		if err != nil {
			break
		}

		out = append(out, msg.GetRoutes()...)
	}

	return out
}

// snapshot returns the FIB's candidates, to check that a request changed
// nothing.
func (h *harness) snapshot() map[fib.Key][]fib.Route {
	out := make(map[fib.Key][]fib.Route)
	h.fib.Routes(fib.Filter{}, func(rs fib.RouteState) bool {
		out[rs.Key] = rs.Candidates

		return true
	})

	return out
}

func ptr[T any](v T) *T { return &v }

func contextWithCancel(t *testing.T) (context.Context, context.CancelFunc) {
	t.Helper()

	return context.WithTimeout(context.Background(), 10*time.Second)
}

func mustPrefix(s string) netip.Prefix { return netip.MustParsePrefix(s) }

// eachBackend runs fn once on the in-memory fake FIB and once on the real
// fib.FIB over the fake dataplane; start serves a harness on that backend.
func eachBackend(t *testing.T, fn func(t *testing.T, start func(Config) *harness)) {
	t.Run("fake", func(t *testing.T) {
		fn(t, func(cfg Config) *harness { return newHarness(t, cfg) })
	})

	t.Run("fib", func(t *testing.T) {
		fn(t, func(cfg Config) *harness {
			h, _ := newFIBHarness(t, cfg)

			return h
		})
	})
}
