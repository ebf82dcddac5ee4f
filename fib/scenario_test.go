package fib_test

import (
	"context"
	"net/netip"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/fibd/fibd/fib"
	"github.com/fibd/fibd/fib/fibtest"
	"github.com/fibd/fibd/nexthop"
)

var (
	gwA = netip.MustParseAddr("198.51.100.1")
	gwB = netip.MustParseAddr("198.51.100.2")
	gwC = netip.MustParseAddr("203.0.113.3")
)

func hop(gw netip.Addr, dev string) nexthop.Hop {
	return nexthop.Hop{Family: nexthop.FamilyOf(gw), Gateway: gw, Device: dev}
}

func hops(hs ...nexthop.Hop) nexthop.Set {
	var s nexthop.Set
	for _, h := range hs {
		s.Members = append(s.Members, nexthop.Member{Hop: h, Weight: 1})
	}

	return s
}

func route(prefix, source string, distance fib.Distance, metric uint32, set nexthop.Set) fib.Route {
	return fib.Route{
		Prefix:   netip.MustParsePrefix(prefix),
		Table:    fib.TableMain,
		Metric:   metric,
		Type:     fib.TypeUnicast,
		NextHops: set,
		Source:   source,
		Distance: distance,
	}
}

func key(prefix string) fib.Key {
	return fib.Key{Table: fib.TableMain, Prefix: netip.MustParsePrefix(prefix)}
}

// harness runs a FIB over a fake dataplane for one test.
type harness struct {
	t   *testing.T
	dp  *fibtest.Dataplane
	fib *fib.FIB
}

var testRange = nexthop.Range{First: 3_000_000_001, Last: 3_000_000_999}

func newHarness(t *testing.T, dp *fibtest.Dataplane, cfg fib.Config) *harness {
	t.Helper()

	if dp == nil {
		dp = &fibtest.Dataplane{}
	}

	cfg.Dataplane = dp
	if cfg.Nexthops == (nexthop.Range{}) {
		cfg.Nexthops = testRange
	}

	f, err := fib.New(cfg)
	if err != nil {
		t.Fatal(err)
	}

	return &harness{t: t, dp: dp, fib: f}
}

// run starts the loop until the test ends.
func (h *harness) run() {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- h.fib.Run(ctx) }()

	h.t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			h.t.Errorf("run: %v", err)
		}
	})
}

func (h *harness) update(routes ...fib.Route) {
	h.t.Helper()

	for i, err := range h.fib.Update(routes) {
		if err != nil {
			h.t.Fatalf("update route %d: %v", i, err)
		}
	}
}

func (h *harness) sync() {
	h.t.Helper()

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()

	if err := h.fib.Sync(ctx); err != nil {
		h.t.Fatal(err)
	}
}

// expect syncs and compares the fake kernel's state with want.
func (h *harness) expect(want string) {
	h.t.Helper()

	h.sync()
	got := h.dp.Render()
	want = strings.TrimLeft(want, "\n")
	if got != want {
		h.t.Errorf("kernel state:\n%s\nwant:\n%s", got, want)
	}

	h.checkStats()
}

// expectHead syncs and compares the first lines of the fake kernel's
// state with want, for tables too large to write out.
func (h *harness) expectHead(want string) {
	h.t.Helper()

	h.sync()
	want = strings.TrimLeft(want, "\n")
	got := h.dp.Render()
	if n := strings.Count(want, "\n"); strings.Count(got, "\n") >= n {
		lines := strings.SplitAfter(got, "\n")
		got = strings.Join(lines[:n], "")
	}

	if got != want {
		h.t.Errorf("kernel state begins:\n%s\nwant:\n%s", got, want)
	}

	h.checkStats()
}

// checkStats compares the counters of Stats with a count over Routes.
func (h *harness) checkStats() {
	h.t.Helper()

	var want fib.Stats
	want.SourcesRoutes = make(map[string]int)
	h.fib.Routes(fib.Filter{}, func(s fib.RouteState) bool {
		if len(s.Candidates) > 0 {
			want.Routes++
		}

		for _, c := range s.Candidates {
			want.SourcesRoutes[c.Source]++
		}

		if s.Installed != nil {
			want.Installed++
		}

		if s.Installed != nil && s.Adopted {
			want.Adopted++
		}

		switch {
		case s.Unresolved:
			want.Unresolved++
		case s.Conflict:
			want.Conflicts++
		case s.Err != nil:
			want.Failed++
		}

		return true
	})

	got := h.fib.Stats()
	if got.Routes != want.Routes || got.Installed != want.Installed || got.Adopted != want.Adopted || got.Unresolved != want.Unresolved || got.Failed != want.Failed || got.Conflicts != want.Conflicts {
		h.t.Errorf("stats routes/installed/adopted/unresolved/failed/conflicts = %d/%d/%d/%d/%d/%d, want %d/%d/%d/%d/%d/%d from the listing",
			got.Routes, got.Installed, got.Adopted, got.Unresolved, got.Failed, got.Conflicts,
			want.Routes, want.Installed, want.Adopted, want.Unresolved, want.Failed, want.Conflicts)
	}

	if len(got.SourcesRoutes) != len(want.SourcesRoutes) {
		h.t.Errorf("stats by source = %v, want %v", got.SourcesRoutes, want.SourcesRoutes)
	}

	for source, n := range want.SourcesRoutes {
		if got.SourcesRoutes[source] != n {
			h.t.Errorf("stats of source %s = %d, want %d", source, got.SourcesRoutes[source], n)
		}
	}
}

func TestOwnersByDistance(t *testing.T) {
	h := newHarness(t, nil, fib.Config{})
	h.run()

	h.update(route("192.0.2.0/24", "bgp", fib.DistanceEBGP, 20, hops(hop(gwA, "v0"))))
	h.sync()
	h.update(route("192.0.2.0/24", "static", fib.DistanceStatic, 20, hops(hop(gwB, "v0"))))
	h.expect(`
id 3000000002 via 198.51.100.2 dev v0 proto fibd
192.0.2.0/24 nhid 3000000002 proto fibd metric 20
`)

	// The winner leaves: the next one takes its place with a replace.
	h.dp.ResetCounts()
	h.fib.Withdraw("static", []fib.Key{key("192.0.2.0/24")})
	h.expect(`
id 3000000003 via 198.51.100.1 dev v0 proto fibd
192.0.2.0/24 nhid 3000000003 proto fibd metric 20
`)

	if n := h.dp.Count(fib.OpRouteDelete); n != 0 {
		t.Errorf("route deletes = %d, want 0 (replace without a gap)", n)
	}

	if n := h.dp.Count(fib.OpRouteReplace); n != 1 {
		t.Errorf("route replaces = %d, want 1", n)
	}

	h.fib.Withdraw("bgp", []fib.Key{key("192.0.2.0/24")})
	h.expect("")
}

func TestConflictWithForeignRoute(t *testing.T) {
	dp := &fibtest.Dataplane{}
	foreign := fib.KernelRoute{Table: fib.TableMain, Prefix: netip.MustParsePrefix("192.0.2.0/24"), Metric: 20, Type: fib.TypeBlackhole}
	if err := dp.AddRoute(foreign, "static"); err != nil {
		t.Fatal(err)
	}

	h := newHarness(t, dp, fib.Config{RetryMin: time.Hour})
	h.run()

	h.update(route("192.0.2.0/24", "bgp", fib.DistanceEBGP, 20, hops(hop(gwA, "v0"))))
	h.expect(`
id 3000000001 via 198.51.100.1 dev v0 proto fibd
blackhole 192.0.2.0/24 proto static metric 20
`)

	st, ok := h.fib.Lookup(key("192.0.2.0/24"))
	if !ok || !st.Conflict || st.Err == nil || !strings.Contains(st.Err.Error(), "exists with another owner") {
		t.Errorf("lookup = %+v, want a conflict naming another owner", st)
	}

	if s := h.fib.Stats(); s.Conflicts != 1 || s.Failed != 0 {
		t.Errorf("stats conflicts = %d, failed = %d, want 1, 0: a conflict counts once", s.Conflicts, s.Failed)
	}
}

func TestFailedOpRetried(t *testing.T) {
	dp := &fibtest.Dataplane{}
	h := newHarness(t, dp, fib.Config{RetryMin: 10 * time.Millisecond, RetryMax: 20 * time.Millisecond})
	dp.FailNext(fib.OpRouteCreate, syscall.ENOBUFS)
	h.run()

	h.update(route("192.0.2.0/24", "bgp", fib.DistanceEBGP, 20, hops(hop(gwA, "v0"))))
	h.sync()

	st, _ := h.fib.Lookup(key("192.0.2.0/24"))
	if st.Err == nil || st.Installed != nil {
		t.Fatalf("after the fault: err = %v, installed = %v, want an error and no route", st.Err, st.Installed)
	}

	if s := h.fib.Stats(); s.Failed != 1 || len(s.LastErrors) != 1 {
		t.Errorf("stats failed = %d, errors = %q, want 1 and 1", s.Failed, s.LastErrors)
	}

	deadline := time.Now().Add(5 * time.Second)
	for st.Err != nil && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
		st, _ = h.fib.Lookup(key("192.0.2.0/24"))
	}

	h.expect(`
id 3000000001 via 198.51.100.1 dev v0 proto fibd
192.0.2.0/24 nhid 3000000001 proto fibd metric 20
`)
}

func TestWithdrawFailedRouteRemoved(t *testing.T) {
	dp := &fibtest.Dataplane{}
	h := newHarness(t, dp, fib.Config{RetryMin: time.Hour, RetryMax: time.Hour})
	dp.FailNext(fib.OpRouteCreate, syscall.ENOBUFS)
	h.run()

	h.update(route("192.0.2.0/24", "bgp", fib.DistanceEBGP, 20, hops(hop(gwA, "v0"))))
	h.sync()

	if st, _ := h.fib.Lookup(key("192.0.2.0/24")); st.Err == nil {
		t.Fatalf("after the fault: err = nil, want the injected error")
	}

	// The retry is an hour away: the withdrawal alone must remove the key.
	h.fib.Withdraw("bgp", []fib.Key{key("192.0.2.0/24")})
	h.expect("")

	if st, ok := h.fib.Lookup(key("192.0.2.0/24")); ok {
		t.Errorf("lookup after the withdrawal = %+v, want no entry", st)
	}

	n := 0
	h.fib.Routes(fib.Filter{}, func(fib.RouteState) bool { n++; return true })
	if n != 0 {
		t.Errorf("routes listed = %d, want 0", n)
	}
}
