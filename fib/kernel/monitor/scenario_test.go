package monitor

import (
	"context"
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/fibd/fibd/fib"
	"github.com/fibd/fibd/fib/kernel"
	"github.com/fibd/fibd/internal/netnstest"
	"github.com/fibd/fibd/nexthop"
)

// stack is fibd's programming path in a namespace: the real FIB, the
// kernel dataplane and a Monitor, with v0 (198.51.100.1/24,
// 2001:db8:ffff::1/64) and v2 (192.0.2.1/24) linked to a peer namespace
// that holds the gateways .2 and ::2.
type stack struct {
	ns, peer *netnstest.NS
	k        *kernel.Kernel
	f        *fib.FIB
	m        *Monitor
}

var _ FIB = (*fib.FIB)(nil)

var (
	gw0  = nexthop.Hop{Family: nexthop.FamilyIPv4, Gateway: netip.MustParseAddr("198.51.100.2"), Device: "v0"}
	gw2  = nexthop.Hop{Family: nexthop.FamilyIPv4, Gateway: netip.MustParseAddr("192.0.2.2"), Device: "v2"}
	gw06 = nexthop.Hop{Family: nexthop.FamilyIPv6, Gateway: netip.MustParseAddr("2001:db8:ffff::2"), Device: "v0"}
)

func newStack(t *testing.T, cfg Config) *stack {
	t.Helper()

	return newStackRun(t, cfg, true)
}

// newStackRun builds a stack whose Monitor runs only with runMonitor, so
// that a test can make drift that no monitor repairs.
func newStackRun(t *testing.T, cfg Config, runMonitor bool) *stack {
	t.Helper()

	return newStackFIB(t, cfg, fib.Config{RetryMin: 50 * time.Millisecond, RetryMax: 200 * time.Millisecond}, runMonitor)
}

// newStackFIB builds a stack whose FIB has the configuration fcfg, and
// whose Monitor runs only with runMonitor.
func newStackFIB(t *testing.T, cfg Config, fcfg fib.Config, runMonitor bool) *stack {
	t.Helper()

	s := &stack{ns: netnstest.New(t), peer: netnstest.New(t)}
	s.links(t)

	k, err := kernel.Open(kernel.Config{NetNS: s.ns.FD(), Protocol: testProtocol})
	if err != nil {
		t.Fatalf("open kernel: %v", err)
	}
	t.Cleanup(func() { k.Close() })
	s.k = k

	fcfg.Dataplane = k
	f, err := fib.New(fcfg)
	if err != nil {
		t.Fatalf("new fib: %v", err)
	}
	s.f = f

	cfg.NetNS = s.ns.FD()
	cfg.Protocol = testProtocol
	cfg.Kernel = k
	cfg.FIB = f
	if cfg.ResyncInterval == 0 {
		cfg.ResyncInterval = 100 * time.Millisecond
	}

	m, err := New(cfg)
	if err != nil {
		t.Fatalf("new monitor: %v", err)
	}
	s.m = m

	s.start(t, runMonitor)

	return s
}

// links creates v0 and v2 with their addresses.
func (s *stack) links(t *testing.T) {
	t.Helper()

	s.ns.Veth("v0", s.peer, "p0")
	s.ns.Veth("v2", s.peer, "p2")
	s.ns.IP("addr", "add", "198.51.100.1/24", "dev", "v0")
	s.ns.IP("addr", "add", "2001:db8:ffff::1/64", "dev", "v0", "nodad")
	s.ns.IP("addr", "add", "192.0.2.1/24", "dev", "v2")
	s.peer.IP("addr", "add", "198.51.100.2/24", "dev", "p0")
	s.peer.IP("addr", "add", "2001:db8:ffff::2/64", "dev", "p0", "nodad")
	s.peer.IP("addr", "add", "192.0.2.2/24", "dev", "p2")
}

// start adopts the kernel's state and runs the FIB, and the Monitor with
// runMonitor, until the test ends.
func (s *stack) start(t *testing.T, runMonitor bool) {
	t.Helper()

	ctx, cancel := context.WithCancel(context.Background())
	snap, err := s.k.Dump(ctx)
	if err != nil {
		t.Fatalf("dump: %v", err)
	}

	s.f.Reconcile(snap)

	done := make(chan error, 2)
	go func() { done <- s.f.Run(ctx) }()
	if runMonitor {
		go func() { done <- s.m.Run(ctx) }()
	} else {
		done <- nil
	}

	t.Cleanup(func() {
		cancel()
		for range 2 {
			if err := <-done; err != nil {
				t.Errorf("run: %v", err)
			}
		}
	})
}

// update offers routes and waits until the FIB has tried them.
func (s *stack) update(t *testing.T, routes []fib.Route) {
	t.Helper()

	for i, err := range s.f.Update(routes) {
		if err != nil {
			t.Fatalf("update %s: %v", routes[i].Prefix, err)
		}
	}

	s.sync(t)
}

func (s *stack) sync(t *testing.T) {
	t.Helper()

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := s.f.Sync(ctx); err != nil {
		t.Fatalf("sync fib: %v", err)
	}
}

// waitKernel polls the kernel until cond holds on a dump and returns how
// long it took.
func (s *stack) waitKernel(t *testing.T, what string, timeout time.Duration, cond func(fib.Snapshot) bool) time.Duration {
	t.Helper()

	return s.waitKernelSince(t, time.Now(), what, timeout, cond)
}

// waitKernelSince polls the kernel until cond holds on a dump and returns
// the time since start.
func (s *stack) waitKernelSince(t *testing.T, start time.Time, what string, timeout time.Duration, cond func(fib.Snapshot) bool) time.Duration {
	t.Helper()

	var snap fib.Snapshot
	for time.Since(start) < timeout {
		var err error
		snap, err = s.k.Dump(context.Background())
		if err != nil {
			t.Fatalf("dump: %v", err)
		}

		if cond(snap) {
			return time.Since(start)
		}

		time.Sleep(5 * time.Millisecond)
	}

	t.Fatalf("%s: not within %v; kernel has %d routes and %d nexthops", what, timeout, len(snap.Routes), len(snap.Nexthops))

	return 0
}

// verifyClean waits until Verify finds no difference.
func (s *stack) verifyClean(t *testing.T) {
	t.Helper()

	var report Report
	for range 100 {
		s.sync(t)

		var err error
		report, err = s.m.Verify(context.Background())
		if err != nil {
			t.Fatalf("verify: %v", err)
		}

		if len(report.Differences) == 0 {
			return
		}

		time.Sleep(20 * time.Millisecond)
	}

	t.Fatalf("verify: %d differences, first ones:\n%v", len(report.Differences), report.Differences[:min(10, len(report.Differences))])
}

func route(p string, hops ...nexthop.Hop) fib.Route {
	var set nexthop.Set
	for _, h := range hops {
		set.Members = append(set.Members, nexthop.Member{Hop: h, Weight: 1})
	}

	return fib.Route{
		Prefix:   netip.MustParsePrefix(p),
		Table:    254,
		Metric:   20,
		Type:     fib.TypeUnicast,
		NextHops: set.Canonical(),
		Source:   "test",
		Distance: fib.DistanceGRPC,
	}
}

// manyRoutes returns n IPv6 routes 2001:db8:N::/48 over gw06 on v0.
func manyRoutes(n int) []fib.Route {
	routes := make([]fib.Route, n)
	for i := range routes {
		routes[i] = route(fmt.Sprintf("2001:db8:%x::/48", i), gw06)
	}

	return routes
}

// hasRoutes returns a condition that holds when the kernel has n of
// fibd's routes and, for n > 0, nexthop objects.
func hasRoutes(n int) func(fib.Snapshot) bool {
	return func(s fib.Snapshot) bool {
		return len(s.Routes) == n && (n == 0 || len(s.Nexthops) > 0)
	}
}

// TestScenarioLinkFlap flaps v0 under 10,000 IPv6 routes and 256 IPv4
// routes over nexthops on v0, with net.ipv4.nexthop_compat_mode on and off.
func TestScenarioLinkFlap(t *testing.T) {
	for _, compat := range []string{"1", "0"} {
		t.Run("compat "+compat, func(t *testing.T) {
			testLinkFlap(t, compat)
		})
	}
}

func testLinkFlap(t *testing.T, compat string) {
	routes := manyRoutes(10_000)
	for i := range 256 {
		routes = append(routes, route(fmt.Sprintf("203.0.113.%d/32", i), gw0))
	}

	n := len(routes)
	s := newStack(t, Config{})
	s.ns.Sysctl("net.ipv4.nexthop_compat_mode", compat)
	start := time.Now()
	s.update(t, routes)
	took := s.waitKernelSince(t, start, "initial install", 5*time.Second, hasRoutes(n))
	t.Logf("%d routes installed %v after Update", n, took)

	s.ns.IP("link", "set", "v0", "down")
	s.waitKernel(t, "routes gone with v0", 5*time.Second, hasRoutes(0))

	start = time.Now()
	s.ns.IP("link", "set", "v0", "up")
	took = s.waitKernelSince(t, start, "routes back with v0", 5*time.Second, hasRoutes(n))
	t.Logf("%d routes and their 2 nexthops back %v after the start of `ip link set v0 up` (fib %+v)", n, took, s.f.Stats())

	limit := time.Second
	if raceEnabled {
		limit = 10 * time.Second
	}

	if took > limit {
		t.Errorf("repair after link up took %v, want under %v", took, limit)
	}

	s.verifyClean(t)
}

// groupHops returns the hops of the group used by the route for p.
func groupHops(snap fib.Snapshot, p netip.Prefix) []nexthop.Hop {
	objects := objectsByID(snap.Nexthops)
	for _, r := range snap.Routes {
		if r.Prefix != p {
			continue
		}

		var hops []nexthop.Hop
		for _, m := range objects[r.Nexthop].Group {
			hops = append(hops, objects[m.ID].Hop)
		}

		return hops
	}

	return nil
}

// hasGroup returns a condition that holds when the route for p uses a
// group of exactly hops, in any order.
func hasGroup(p netip.Prefix, hops ...nexthop.Hop) func(fib.Snapshot) bool {
	return func(snap fib.Snapshot) bool {
		got := groupHops(snap, p)
		if len(got) != len(hops) {
			return false
		}

		for _, h := range hops {
			if !slices.Contains(got, h) {
				return false
			}
		}

		return true
	}
}

func TestScenarioGroupMemberDown(t *testing.T) {
	s := newStack(t, Config{})
	p := netip.MustParsePrefix("203.0.113.0/24")
	s.update(t, []fib.Route{route(p.String(), gw0, gw2)})
	s.waitKernel(t, "group with both members", 5*time.Second, hasGroup(p, gw0, gw2))

	start := time.Now()
	s.ns.IP("link", "set", "v2", "down")
	took := s.waitKernelSince(t, start, "group with the v0 member", 5*time.Second, hasGroup(p, gw0))
	t.Logf("route over the v0 member %v after the start of `ip link set v2 down`", took)
	s.verifyClean(t)

	if out := s.ns.IP("route", "get", "203.0.113.1"); !strings.Contains(out, "via 198.51.100.2 dev v0") {
		t.Errorf("ip route get 203.0.113.1 with v2 down = %q, want via 198.51.100.2 dev v0", out)
	}

	start = time.Now()
	s.ns.IP("link", "set", "v2", "up")
	took = s.waitKernelSince(t, start, "group with both members again", 5*time.Second, hasGroup(p, gw0, gw2))
	t.Logf("group with both members %v after the start of `ip link set v2 up`", took)

	s.verifyClean(t)
}

func TestScenarioNexthopDeleted(t *testing.T) {
	s := newStack(t, Config{})
	s.update(t, []fib.Route{route("203.0.113.0/25", gw0), route("203.0.113.128/25", gw0), route("198.51.100.128/25", gw2)})
	s.waitKernel(t, "initial install", 5*time.Second, hasRoutes(3))

	snap, err := s.k.Dump(context.Background())
	if err != nil {
		t.Fatalf("dump: %v", err)
	}

	var id nexthop.ID
	for _, o := range snap.Nexthops {
		if o.Hop == gw0 {
			id = o.ID
		}
	}

	start := time.Now()
	s.ns.IP("nexthop", "del", "id", fmt.Sprint(id))
	took := s.waitKernelSince(t, start, "routes back", 5*time.Second, func(snap fib.Snapshot) bool {
		return hasRoutes(3)(snap) && len(groupHops(snap, netip.MustParsePrefix("203.0.113.0/25"))) == 0 && slices.ContainsFunc(snap.Nexthops, func(o nexthop.Object) bool { return o.Hop == gw0 })
	})
	t.Logf("nexthop and its 2 routes back %v after the start of `ip nexthop del id %d`", took, id)

	s.verifyClean(t)
}

func TestScenarioOverrun(t *testing.T) {
	const n = 5000
	s := newStack(t, Config{ReadBuffer: 4 << 10})
	s.update(t, manyRoutes(n))
	s.waitKernel(t, "initial install", 5*time.Second, hasRoutes(n))

	// Another process deletes every route of fibd's in one burst.
	batch := t.TempDir() + "/delete"
	var b []byte
	for i := range n {
		b = fmt.Appendf(b, "route del 2001:db8:%x::/48 proto %d metric 20\n", i, testProtocol)
	}

	writeFile(t, batch, b)
	start := time.Now()
	s.ns.IP("-batch", batch)

	took := s.waitKernelSince(t, start, "routes back", 10*time.Second, hasRoutes(n))
	t.Logf("%d routes back %v after the start of `ip -batch` that deleted them (status %+v)", n, took, s.m.Status())

	if st := s.m.Status(); st.Overruns == 0 || st.Resyncs == 0 {
		t.Errorf("status = %+v, want an overrun and a resync", st)
	}

	s.verifyClean(t)
}

func TestScenarioLinkRecreated(t *testing.T) {
	s := newStack(t, Config{})
	s.update(t, []fib.Route{route("203.0.113.0/24", gw0)})
	s.waitKernel(t, "initial install", 5*time.Second, hasRoutes(1))

	s.ns.IP("link", "del", "v0")
	s.waitKernel(t, "route gone with v0", 5*time.Second, hasRoutes(0))

	start := time.Now()
	s.ns.Veth("v0", s.peer, "p0")
	s.ns.IP("addr", "add", "198.51.100.1/24", "dev", "v0")
	s.peer.IP("addr", "add", "198.51.100.2/24", "dev", "p0")

	took := s.waitKernelSince(t, start, "route back on the new v0", 5*time.Second, hasRoutes(1))
	t.Logf("route back %v after the start of creating v0 again", took)

	s.verifyClean(t)
}

func TestScenarioForeignRoute(t *testing.T) {
	s := newStack(t, Config{})
	s.update(t, []fib.Route{route("203.0.113.0/24", gw0)})
	s.waitKernel(t, "initial install", 5*time.Second, hasRoutes(1))

	s.ns.IP("route", "replace", "203.0.113.0/24", "via", "192.0.2.2", "proto", "static", "metric", "20")

	deadline := time.Now().Add(3 * time.Second)
	for s.m.Status().Conflicts == 0 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}

	if st := s.m.Status(); st.Conflicts != 1 {
		t.Fatalf("status = %+v, want 1 conflict", st)
	}

	// fibd must not fight: the static route stays.
	time.Sleep(300 * time.Millisecond)
	s.sync(t)
	out := s.ns.IP("route", "show", "203.0.113.0/24")
	if want := "203.0.113.0/24 via 192.0.2.2 dev v2 proto static metric 20 \n"; out != want {
		t.Errorf("ip route show 203.0.113.0/24 = %q, want %q", out, want)
	}
}

func TestScenarioVerifyDrift(t *testing.T) {
	s := newStackRun(t, Config{}, false)
	s.update(t, []fib.Route{route("203.0.113.0/25", gw0), route("203.0.113.128/25", gw0, gw2)})
	s.verifyClean(t)

	// Drift that no running monitor repairs.
	s.ns.IP("route", "del", "203.0.113.0/25", "proto", "201", "metric", "20")
	s.ns.IP("route", "add", "blackhole", "198.51.100.128/25", "proto", "201", "metric", "7")

	report, err := s.m.Verify(context.Background())
	if err != nil {
		t.Fatalf("verify: %v", err)
	}

	want := []string{
		"extra route 198.51.100.128/25 table 254 metric 7",
		"missing route 203.0.113.0/25 table 254 metric 20",
	}
	if !slices.Equal(report.Differences, want) {
		t.Errorf("differences:\n%s\nwant:\n%s", strings.Join(report.Differences, "\n"), strings.Join(want, "\n"))
	}
}

func TestScenarioRouteDeleted(t *testing.T) {
	s := newStack(t, Config{})

	// Metric 0 becomes 1024 in the kernel for IPv6.
	r := route("2001:db8:1::/48", gw06)
	r.Metric = 0
	s.update(t, []fib.Route{r})
	s.waitKernel(t, "initial install", 5*time.Second, hasRoutes(1))

	start := time.Now()
	s.ns.IP("-6", "route", "del", "2001:db8:1::/48", "proto", "201")
	took := s.waitKernelSince(t, start, "route back", 5*time.Second, hasRoutes(1))
	t.Logf("route back %v after the start of `ip -6 route del`", took)

	if st := s.m.Status(); st.Resyncs != 0 {
		t.Errorf("status = %+v, want a repair without a resync", st)
	}

	s.verifyClean(t)
}

func TestScenarioAudit(t *testing.T) {
	s := newStack(t, Config{AuditInterval: 100 * time.Millisecond})
	s.update(t, []fib.Route{route("203.0.113.0/24", gw0)})
	s.waitKernel(t, "initial install", 5*time.Second, hasRoutes(1))

	// A delete through fibd's own socket is filtered as an echo, so only
	// the audit can notice it.
	ops := []fib.Op{{Kind: fib.OpRouteDelete, Route: fib.KernelRoute{
		Table: 254, Prefix: netip.MustParsePrefix("203.0.113.0/24"), Metric: 20, Type: fib.TypeUnicast,
	}}}
	if err := s.k.Apply(context.Background(), ops); err != nil || ops[0].Err != nil {
		t.Fatalf("delete behind the FIB's back: %v, %v", err, ops[0].Err)
	}

	took := s.waitKernel(t, "route back", 5*time.Second, hasRoutes(1))
	t.Logf("route back %v after the delete (status %+v)", took, s.m.Status())

	if st := s.m.Status(); st.Audits == 0 || st.Resyncs == 0 || st.LastResyncReason != "audit found 1 difference: missing route 203.0.113.0/24 table 254 metric 20" {
		t.Errorf("status = %+v, want an audit that found 1 difference and a resync", st)
	}
}

func TestScenarioForeignNexthop(t *testing.T) {
	s := newStack(t, Config{})
	s.update(t, []fib.Route{route("203.0.113.0/24", gw0)})
	s.waitKernel(t, "initial install", 5*time.Second, hasRoutes(1))

	snap, err := s.k.Dump(context.Background())
	if err != nil {
		t.Fatalf("dump: %v", err)
	}

	id := snap.Routes[0].Nexthop
	s.ns.IP("nexthop", "replace", "id", fmt.Sprint(id), "via", "198.51.100.3", "dev", "v0", "proto", "static")

	deadline := time.Now().Add(3 * time.Second)
	for s.m.Status().Resyncs == 0 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}

	if st := s.m.Status(); st.Conflicts != 1 || st.Resyncs != 1 {
		t.Fatalf("status = %+v, want 1 conflict and 1 resync", st)
	}

	if out := s.ns.IP("nexthop", "show", "id", fmt.Sprint(id)); !strings.Contains(out, "via 198.51.100.3 dev v0") {
		t.Errorf("ip nexthop show id %d = %q, want the other owner's object left unchanged", id, out)
	}

	// The route leaves the foreign object for one of fibd's with the
	// requested gateway.
	onFibd := func(snap fib.Snapshot) bool {
		objects := objectsByID(snap.Nexthops)

		return len(snap.Routes) == 1 && snap.Routes[0].Nexthop != id && objects[snap.Routes[0].Nexthop].Hop == gw0
	}

	took := s.waitKernel(t, "route on a nexthop of fibd's", 5*time.Second, onFibd)
	t.Logf("route moved to a new nexthop %v after the resync", took)

	if out := s.ns.IP("nexthop", "show", "id", fmt.Sprint(id)); !strings.Contains(out, "via 198.51.100.3 dev v0") {
		t.Errorf("ip nexthop show id %d = %q, want the other owner's object left unchanged", id, out)
	}

	s.verifyClean(t)
}

func TestScenarioCarrierLoss(t *testing.T) {
	s := newStack(t, Config{})
	s.update(t, []fib.Route{route("203.0.113.0/24", gw0), route("2001:db8:1::/48", gw06)})
	s.waitKernel(t, "initial install", 5*time.Second, hasRoutes(2))

	// v0 stays administratively up and loses its carrier.
	s.peer.IP("link", "set", "p0", "down")
	s.waitKernel(t, "routes gone with the carrier", 5*time.Second, hasRoutes(0))

	start := time.Now()
	s.peer.IP("link", "set", "p0", "up")
	took := s.waitKernelSince(t, start, "routes back with the carrier", 5*time.Second, hasRoutes(2))
	t.Logf("routes back %v after the start of `ip link set p0 up` in the peer", took)

	s.verifyClean(t)
}

func TestScenarioTakeover(t *testing.T) {
	const static = "203.0.113.0/24 via 192.0.2.2 dev v2 proto static metric 20 \n"
	for _, takeover := range []bool{true, false} {
		t.Run(fmt.Sprint("takeover ", takeover), func(t *testing.T) {
			s := newStackFIB(t, Config{TakeoverConflicts: takeover}, fib.Config{RetryMin: time.Hour, TakeoverConflicts: takeover}, true)
			s.ns.IP("route", "add", "203.0.113.0/24", "via", "192.0.2.2", "proto", "static", "metric", "20")

			s.update(t, []fib.Route{route("203.0.113.0/24", gw0)})
			out := s.ns.IP("route", "show", "203.0.113.0/24")
			st, _ := s.f.Lookup(fib.Key{Table: 254, Prefix: netip.MustParsePrefix("203.0.113.0/24")})

			if !takeover {
				if out != static {
					t.Errorf("ip route show 203.0.113.0/24 = %q, want the static route left alone", out)
				}

				if !st.Conflict {
					t.Errorf("state = %+v, want a conflict", st)
				}

				return
			}

			if !strings.Contains(out, "via 198.51.100.2 dev v0") || strings.Contains(out, "static") {
				t.Errorf("ip route show 203.0.113.0/24 = %q, want fibd's route in place of the static one", out)
			}

			if st.Conflict || st.Installed == nil {
				t.Errorf("state = %+v, want installed without a conflict", st)
			}

			// The other owner replaces fibd's route, and fibd takes it back.
			s.ns.IP("route", "replace", "203.0.113.0/24", "via", "192.0.2.2", "proto", "static", "metric", "20")
			s.waitKernel(t, "fibd's route back", 5*time.Second, hasRoutes(1))

			if st := s.m.Status(); st.Conflicts != 0 || st.Takeovers != 1 {
				t.Errorf("status = %+v, want 1 takeover and no conflict", st)
			}

			s.verifyClean(t)
		})
	}
}

func TestScenarioConflictCleared(t *testing.T) {
	// The retry delay is far beyond the test's length.
	s := newStackFIB(t, Config{}, fib.Config{RetryMin: time.Hour}, true)
	s.ns.IP("route", "add", "203.0.113.0/24", "via", "192.0.2.2", "proto", "static", "metric", "20")
	s.update(t, []fib.Route{route("203.0.113.0/24", gw0)})

	if st, _ := s.f.Lookup(fib.Key{Table: 254, Prefix: netip.MustParsePrefix("203.0.113.0/24")}); !st.Conflict {
		t.Fatalf("state = %+v, want a conflict", st)
	}

	start := time.Now()
	s.ns.IP("route", "del", "203.0.113.0/24", "proto", "static", "metric", "20")
	took := s.waitKernelSince(t, start, "fibd's route in place of the static one", 2*time.Second, hasRoutes(1))
	t.Logf("fibd's route installed %v after the start of `ip route del` of the static one", took)

	s.verifyClean(t)
}

func TestScenarioResyncDefaultMetric(t *testing.T) {
	s := newStack(t, Config{})

	// Metric 0 becomes 1024 in the kernel for IPv6.
	r := route("2001:db8:1::/48", gw06)
	r.Metric = 0
	s.update(t, []fib.Route{r})
	s.waitKernel(t, "initial install", 5*time.Second, hasRoutes(1))

	// A resync hands the route at metric 1024 to the FIB, which must take
	// it as its own and not create it again.
	snap, err := s.k.Dump(context.Background())
	if err != nil {
		t.Fatalf("dump: %v", err)
	}

	s.f.Reconcile(snap)
	s.sync(t)

	st, _ := s.f.Lookup(fib.Key{Table: 254, Prefix: r.Prefix})
	if st.Conflict || st.Err != nil || st.Installed == nil {
		t.Errorf("state after the resync = %+v, want installed without a conflict", st)
	}

	if stats := s.f.Stats(); stats.OpErrors != 0 {
		t.Errorf("fib stats = %+v, want no operation error", stats)
	}

	s.verifyClean(t)
}

// TestScenarioGatewayDown marks the gateway of 10,000 IPv6 routes that
// use its nexthop directly down, as a BGP session loss does: fibd deletes
// the nexthop object and the kernel its routes with it.
func TestScenarioGatewayDown(t *testing.T) {
	const n = 10_000
	s := newStack(t, Config{})
	s.update(t, manyRoutes(n))
	s.waitKernel(t, "initial install", 5*time.Second, hasRoutes(n))

	ops := s.f.Stats().Ops
	start := time.Now()
	s.f.SetGatewayDown(gw06.Gateway, nexthop.ReasonPeer, true)
	s.sync(t)
	synced := time.Since(start)
	took := s.waitKernelSince(t, start, "routes gone", 5*time.Second, hasRoutes(0))
	t.Logf("%d routes gone from the kernel %v after SetGatewayDown, which the FIB finished in %v with %d operations", n, took, synced, s.f.Stats().Ops-ops)

	if st := s.f.Stats(); st.Unresolved != n || st.Installed != 0 {
		t.Errorf("fib unresolved %d, installed %d; want %d, 0", st.Unresolved, st.Installed, n)
	}

	start = time.Now()
	s.f.SetGatewayDown(gw06.Gateway, nexthop.ReasonPeer, false)
	took = s.waitKernelSince(t, start, "routes back", 5*time.Second, hasRoutes(n))
	t.Logf("%d routes back %v after the gateway came up", n, took)

	s.verifyClean(t)
}
