package monitor

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/fibd/fibd/fib"
	"github.com/fibd/fibd/internal/netnstest"
	"github.com/fibd/fibd/nexthop"
)

// recorder is a FIB that records the hooks called, one line each.
type recorder struct {
	mu    sync.Mutex
	calls []string
}

func (r *recorder) record(format string, args ...any) {
	r.mu.Lock()
	r.calls = append(r.calls, fmt.Sprintf(format, args...))
	r.mu.Unlock()
}

func (r *recorder) Reconcile(s fib.Snapshot) { r.record("reconcile %d routes", len(s.Routes)) }
func (r *recorder) RouteGone(kr fib.KernelRoute) {
	r.record("route-gone %s table %d metric %d", kr.Prefix, kr.Table, kr.Metric)
}
func (r *recorder) NexthopGone(id nexthop.ID)          { r.record("nexthop-gone %d", id) }
func (r *recorder) LinkChanged(device string, up bool) { r.record("link %s up=%t", device, up) }
func (r *recorder) Reresolve()                         { r.record("reresolve") }
func (r *recorder) Sync(context.Context) error         { return nil }
func (r *recorder) Lookup(fib.Key) (fib.RouteState, bool) {
	return fib.RouteState{}, false
}
func (r *recorder) Expected() fib.ExpectedState { return fib.ExpectedState{} }

// waitCall waits until a recorded call equals want.
func (r *recorder) waitCall(t *testing.T, want string) {
	t.Helper()

	deadline := time.Now().Add(3 * time.Second)
	for time.Now().Before(deadline) {
		r.mu.Lock()
		for _, c := range r.calls {
			if c == want {
				r.mu.Unlock()

				return
			}
		}
		r.mu.Unlock()
		time.Sleep(5 * time.Millisecond)
	}

	r.mu.Lock()
	defer r.mu.Unlock()
	t.Fatalf("no call %q within 3s; calls:\n%s", want, strings.Join(r.calls, "\n"))
}

// emptyKernel is a Kernel whose dumps find nothing.
type emptyKernel struct{}

func (emptyKernel) Dump(context.Context) (fib.Snapshot, error) { return fib.Snapshot{}, nil }

// startMonitor runs a Monitor over a recorder in ns until the test ends.
func startMonitor(t *testing.T, ns *netnstest.NS, cfg Config) (*Monitor, *recorder) {
	t.Helper()

	rec := &recorder{}
	cfg.NetNS = ns.FD()
	cfg.Kernel = emptyKernel{}
	cfg.FIB = rec
	cfg.ReresolveDelay = 10 * time.Millisecond
	cfg.ResyncDelay = 10 * time.Millisecond

	m, err := New(cfg)
	if err != nil {
		t.Fatalf("new monitor: %v", err)
	}

	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- m.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("run: %v", err)
		}
	})

	return m, rec
}

// linkedPair returns a namespace with v0 (198.51.100.1/24) linked to p0 in
// a peer namespace.
func linkedPair(t *testing.T) *netnstest.NS {
	t.Helper()

	ns, peer := netnstest.New(t), netnstest.New(t)
	ns.Veth("v0", peer, "p0")
	ns.IP("addr", "add", "198.51.100.1/24", "dev", "v0")
	peer.IP("addr", "add", "198.51.100.2/24", "dev", "p0")

	return ns
}

func TestRunLinkFlap(t *testing.T) {
	ns := linkedPair(t)
	_, rec := startMonitor(t, ns, Config{})

	ns.IP("link", "set", "v0", "down")
	rec.waitCall(t, "link v0 up=false")

	ns.IP("link", "set", "v0", "up")
	rec.waitCall(t, "link v0 up=true")
}

func TestRunDeletions(t *testing.T) {
	ns := linkedPair(t)
	ns.IP("nexthop", "add", "id", "3000000001", "via", "198.51.100.2", "dev", "v0", "proto", "201")
	ns.IP("nexthop", "add", "id", "3000000002", "via", "198.51.100.3", "dev", "v0", "proto", "201")
	ns.IP("route", "add", "203.0.113.0/26", "nhid", "3000000001", "proto", "201", "metric", "20")
	_, rec := startMonitor(t, ns, Config{})

	ns.IP("route", "del", "203.0.113.0/26", "proto", "201", "metric", "20")
	rec.waitCall(t, "route-gone 203.0.113.0/26 table 254 metric 20")

	ns.IP("nexthop", "del", "id", "3000000002")
	rec.waitCall(t, "nexthop-gone 3000000002")
}

func TestRunAddressRemoved(t *testing.T) {
	ns := linkedPair(t)
	m, rec := startMonitor(t, ns, Config{ResyncInterval: time.Millisecond})

	ns.IP("addr", "del", "198.51.100.1/24", "dev", "v0")
	rec.waitCall(t, "reconcile 0 routes")
	rec.waitCall(t, "reresolve")

	if st := m.Status(); st.Resyncs != 1 || st.LastResyncReason != "address removed from v0" {
		t.Errorf("status after address removal = %+v, want 1 resync for v0", st)
	}
}

func TestRunOverrun(t *testing.T) {
	ns := netnstest.New(t)
	m, rec := startMonitor(t, ns, Config{ReadBuffer: 4 << 10})

	batch := filepath.Join(t.TempDir(), "routes")
	var b strings.Builder
	for i := range 5000 {
		fmt.Fprintf(&b, "route add blackhole 2001:db8:%x::/48 proto static\n", i)
	}

	if err := os.WriteFile(batch, []byte(b.String()), 0o600); err != nil {
		t.Fatal(err)
	}

	ns.IP("-batch", batch)
	rec.waitCall(t, "reconcile 0 routes")

	st := m.Status()
	if st.Overruns == 0 {
		t.Errorf("status after 5000 routes into a 4 KiB buffer = %+v, want an overrun", st)
	}

	if st.LastResyncReason != "notification overrun" {
		t.Errorf("last resync reason = %q, want notification overrun", st.LastResyncReason)
	}
}
