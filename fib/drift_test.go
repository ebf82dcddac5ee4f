package fib_test

import (
	"context"
	"fmt"
	"net/netip"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/fibd/fibd/fib"
	"github.com/fibd/fibd/fib/fibtest"
	"github.com/fibd/fibd/nexthop"
)

// startState is what a first run of fibd leaves in the kernel.
const startState = `
id 3000000001 via 198.51.100.1 dev v0 proto fibd
id 3000000002 via 198.51.100.2 dev v0 proto fibd
id 3000000003 group 3000000001/3000000002 proto fibd
id 3000000004 via 203.0.113.3 dev v1 proto fibd
192.0.2.0/25 nhid 3000000003 proto fibd metric 20
192.0.2.128/25 nhid 3000000003 proto fibd metric 20
blackhole 198.51.100.128/25 proto fibd metric 20
203.0.113.128/25 nhid 3000000004 proto fibd metric 20
`

func startRoutes() []fib.Route {
	return []fib.Route{
		route("192.0.2.0/25", "bgp", fib.DistanceEBGP, 20, hops(hop(gwA, "v0"), hop(gwB, "v0"))),
		route("192.0.2.128/25", "bgp", fib.DistanceEBGP, 20, hops(hop(gwA, "v0"), hop(gwB, "v0"))),
		{Prefix: netip.MustParsePrefix("198.51.100.128/25"), Table: fib.TableMain, Metric: 20, Type: fib.TypeBlackhole, Source: "bgp", Distance: fib.DistanceEBGP},
		route("203.0.113.128/25", "bgp", fib.DistanceEBGP, 20, hops(hop(gwC, "v1"))),
	}
}

// firstRun programs startRoutes on a fresh fake kernel and stops.
func firstRun(t *testing.T) *fibtest.Dataplane {
	t.Helper()

	dp := &fibtest.Dataplane{}
	f, err := fib.New(fib.Config{Dataplane: dp, Nexthops: testRange})
	if err != nil {
		t.Fatal(err)
	}

	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- f.Run(ctx) }()

	f.Update(startRoutes())
	if err := f.Sync(ctx); err != nil {
		t.Fatal(err)
	}

	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}

	if got, want := dp.Render(), strings.TrimLeft(startState, "\n"); got != want {
		t.Fatalf("first run left:\n%s\nwant:\n%s", got, want)
	}

	return dp
}

func TestRestartAdoptsWithoutWrites(t *testing.T) {
	dp := firstRun(t)
	dp.ResetCounts()

	h := newHarness(t, dp, fib.Config{Hold: []string{"bgp"}})
	h.fib.Reconcile(dp.Snapshot())
	h.run()

	// BGP offers the same table again, minus the last route.
	h.update(startRoutes()[:3]...)
	h.expect(startState)

	if n := dp.Writes(); n != 0 {
		t.Errorf("writes after the restart = %d, want 0", n)
	}

	st, _ := h.fib.Lookup(key("203.0.113.128/25"))
	if !st.Adopted || st.Installed == nil {
		t.Errorf("unwanted route = %+v, want adopted and kept until the sweep", st)
	}

	// Once BGP converged, the route and objects that no source requests
	// are deleted, the route first.
	h.fib.Converged("bgp")
	h.expect(`
id 3000000001 via 198.51.100.1 dev v0 proto fibd
id 3000000002 via 198.51.100.2 dev v0 proto fibd
id 3000000003 group 3000000001/3000000002 proto fibd
192.0.2.0/25 nhid 3000000003 proto fibd metric 20
192.0.2.128/25 nhid 3000000003 proto fibd metric 20
blackhole 198.51.100.128/25 proto fibd metric 20
`)

	if _, ok := h.fib.Lookup(key("203.0.113.128/25")); ok {
		t.Error("the swept key is still listed")
	}
}

func TestSweepAfterHoldTimeout(t *testing.T) {
	dp := firstRun(t)

	h := newHarness(t, dp, fib.Config{Hold: []string{"bgp", "grpc"}, HoldTimeout: 50 * time.Millisecond})
	h.fib.Reconcile(dp.Snapshot())
	h.fib.Converged("bgp")
	h.run()
	h.sync()

	if n := len(h.dp.Snapshot().Routes); n != 4 {
		t.Fatalf("routes before the timeout = %d, want 4 (grpc has not converged)", n)
	}

	deadline := time.Now().Add(5 * time.Second)
	for len(h.dp.Snapshot().Routes) > 0 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}

	h.expect("")
}

func TestDriftRepair(t *testing.T) {
	dp := firstRun(t)

	h := newHarness(t, dp, fib.Config{})
	h.fib.Reconcile(dp.Snapshot())
	h.run()
	h.update(startRoutes()...)
	h.expect(startState)

	// Someone deletes a route: it comes back.
	gone := fib.KernelRoute{Table: fib.TableMain, Prefix: netip.MustParsePrefix("192.0.2.0/25"), Metric: 20, Type: fib.TypeUnicast, Nexthop: 3000000003}
	if err := dp.DeleteRoute(gone); err != nil {
		t.Fatal(err)
	}

	h.fib.RouteGone(gone)
	h.expect(startState)

	// Someone deletes a member of the group: the kernel shrinks the
	// group; fibd creates the hop again and restores the group.
	if err := dp.DeleteNexthop(3000000002); err != nil {
		t.Fatal(err)
	}

	h.fib.NexthopGone(3000000002)
	h.expect(startState)

	// Someone deletes the group, and the kernel its routes with it.
	if err := dp.DeleteNexthop(3000000003); err != nil {
		t.Fatal(err)
	}

	h.fib.NexthopGone(3000000003)
	h.expect(startState)

	// Drift that no notification reported is found by a dump.
	if err := dp.DeleteNexthop(3000000004); err != nil {
		t.Fatal(err)
	}

	h.fib.Reconcile(dp.Snapshot())
	h.expect(startState)
}

func TestRouteTakenByOtherOwner(t *testing.T) {
	dp := firstRun(t)

	h := newHarness(t, dp, fib.Config{RetryMin: time.Hour})
	h.fib.Reconcile(dp.Snapshot())
	h.run()
	h.update(startRoutes()...)
	h.sync()

	// Another daemon replaces our route with its own.
	ours := fib.KernelRoute{Table: fib.TableMain, Prefix: netip.MustParsePrefix("203.0.113.128/25"), Metric: 20, Type: fib.TypeUnicast, Nexthop: 3000000004}
	if err := dp.DeleteRoute(ours); err != nil {
		t.Fatal(err)
	}

	theirs := ours
	theirs.Type, theirs.Nexthop = fib.TypeUnreachable, 0
	if err := dp.AddRoute(theirs, "zebra"); err != nil {
		t.Fatal(err)
	}

	h.fib.RouteGone(ours)
	h.sync()

	if !strings.Contains(dp.Render(), "unreachable 203.0.113.128/25 proto zebra metric 20") {
		t.Errorf("the other owner's route was overwritten:\n%s", dp.Render())
	}

	st, _ := h.fib.Lookup(key("203.0.113.128/25"))
	if !st.Conflict || st.Installed != nil {
		t.Errorf("state = %+v, want a conflict and nothing installed", st)
	}
}

func TestForeignNexthopID(t *testing.T) {
	foreign := nexthop.Object{ID: 3000000001, Hop: hop(gwC, "v1")}

	t.Run("reserved", func(t *testing.T) {
		dp := &fibtest.Dataplane{}
		if err := dp.AddNexthop(foreign, "zebra"); err != nil {
			t.Fatal(err)
		}

		h := newHarness(t, dp, fib.Config{})
		h.fib.Reconcile(dp.Snapshot())
		h.run()
		h.update(route("192.0.2.0/24", "bgp", fib.DistanceEBGP, 20, hops(hop(gwA, "v0"))))
		h.expect(`
id 3000000001 via 203.0.113.3 dev v1 proto zebra
id 3000000002 via 198.51.100.1 dev v0 proto fibd
192.0.2.0/24 nhid 3000000002 proto fibd metric 20
`)
	})

	t.Run("found on create", func(t *testing.T) {
		dp := &fibtest.Dataplane{}
		if err := dp.AddNexthop(foreign, "zebra"); err != nil {
			t.Fatal(err)
		}

		h := newHarness(t, dp, fib.Config{})
		h.run()
		h.update(route("192.0.2.0/24", "bgp", fib.DistanceEBGP, 20, hops(hop(gwA, "v0"))))
		h.expect(`
id 3000000001 via 203.0.113.3 dev v1 proto zebra
id 3000000002 via 198.51.100.1 dev v0 proto fibd
192.0.2.0/24 nhid 3000000002 proto fibd metric 20
`)

		if st, _ := h.fib.Lookup(key("192.0.2.0/24")); st.Err != nil {
			t.Errorf("route error = %v, want none after the new id", st.Err)
		}
	})

	// Ids taken one after another since the start cost one batch, not a
	// failed route and a retry.
	t.Run("many found on create", func(t *testing.T) {
		dp := &fibtest.Dataplane{}
		for id := nexthop.ID(3000000001); id <= 3000000010; id++ {
			if err := dp.AddNexthop(nexthop.Object{ID: id, Hop: hop(gwC, "v1")}, "zebra"); err != nil {
				t.Fatal(err)
			}
		}

		h := newHarness(t, dp, fib.Config{})
		h.run()
		h.update(route("192.0.2.0/24", "bgp", fib.DistanceEBGP, 20, hops(hop(gwA, "v0"))))
		h.sync()

		st, _ := h.fib.Lookup(key("192.0.2.0/24"))
		if st.Err != nil || st.Installed == nil || st.Installed.Nexthop != 3000000011 {
			t.Errorf("state = %+v, want installed on nexthop 3000000011 at the first try", st)
		}
	})
}

func TestNexthopCreateFailure(t *testing.T) {
	dp := &fibtest.Dataplane{}
	h := newHarness(t, dp, fib.Config{RetryMin: 10 * time.Millisecond, RetryMax: 10 * time.Millisecond})
	dp.FailNext(fib.OpNexthopCreate, syscall.ENETDOWN)
	h.run()

	h.update(route("192.0.2.0/24", "bgp", fib.DistanceEBGP, 20, hops(hop(gwA, "v0"))))
	h.sync()

	st, _ := h.fib.Lookup(key("192.0.2.0/24"))
	if st.Err == nil || !strings.Contains(st.Err.Error(), "nexthop 3000000001 is not installed") {
		t.Errorf("route error = %v, want one naming the nexthop", st.Err)
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

func TestResolveGateway(t *testing.T) {
	dp := &fibtest.Dataplane{}
	dp.SetGateway(gwA, "v0")
	h := newHarness(t, dp, fib.Config{RetryMin: 10 * time.Millisecond, RetryMax: 10 * time.Millisecond})
	h.run()

	bare := nexthop.Hop{Family: nexthop.FamilyIPv4, Gateway: gwA}
	h.update(route("192.0.2.0/24", "bgp", fib.DistanceEBGP, 20, hops(bare)))
	h.update(route("192.0.2.0/25", "bgp", fib.DistanceEBGP, 20, hops(bare)))
	h.expect(`
id 3000000001 via 198.51.100.1 dev v0 proto fibd
192.0.2.0/24 nhid 3000000001 proto fibd metric 20
192.0.2.0/25 nhid 3000000001 proto fibd metric 20
`)

	if n := dp.Resolves(); n != 1 {
		t.Errorf("resolves = %d, want 1 (cached per hop)", n)
	}

	// The gateway moves to another interface (next-hop tracking).
	dp.SetGateway(gwA, "v1")
	h.fib.Reresolve()
	h.expect(`
id 3000000002 via 198.51.100.1 dev v1 proto fibd
192.0.2.0/24 nhid 3000000002 proto fibd metric 20
192.0.2.0/25 nhid 3000000002 proto fibd metric 20
`)

	// A gateway without a route is unresolved until it gets one.
	bareB := nexthop.Hop{Family: nexthop.FamilyIPv4, Gateway: gwB}
	h.update(route("203.0.113.0/24", "bgp", fib.DistanceEBGP, 20, hops(bareB)))
	h.sync()

	st, _ := h.fib.Lookup(key("203.0.113.0/24"))
	if !st.Unresolved || st.Err == nil || !strings.Contains(st.Err.Error(), "resolve next hop via 198.51.100.2") {
		t.Errorf("state = %+v, want unresolved with the resolution error", st)
	}

	dp.SetGateway(gwB, "v0")
	deadline := time.Now().Add(5 * time.Second)
	for st.Err != nil && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
		st, _ = h.fib.Lookup(key("203.0.113.0/24"))
	}

	if st.Installed == nil {
		t.Errorf("route not installed after the gateway became reachable: %+v", st)
	}
}

func TestResolutionDroppedWithLastRoute(t *testing.T) {
	dp := &fibtest.Dataplane{}
	dp.SetGateway(gwA, "v0")
	h := newHarness(t, dp, fib.Config{})
	h.run()

	bare := nexthop.Hop{Family: nexthop.FamilyIPv4, Gateway: gwA}
	h.update(route("192.0.2.0/24", "bgp", fib.DistanceEBGP, 20, hops(bare)))
	h.sync()

	h.fib.Withdraw("bgp", []fib.Key{key("192.0.2.0/24")})
	h.sync()

	// No route names the gateway, so nothing is resolved again.
	h.fib.Reresolve()
	h.sync()

	if n := dp.Resolves(); n != 1 {
		t.Errorf("resolves after the re-resolution = %d, want 1 (the cache dropped the gateway)", n)
	}

	// The object went with the route, so the route comes back on a new id.
	h.update(route("192.0.2.0/24", "bgp", fib.DistanceEBGP, 20, hops(bare)))
	h.expect(`
id 3000000002 via 198.51.100.1 dev v0 proto fibd
192.0.2.0/24 nhid 3000000002 proto fibd metric 20
`)

	if n := dp.Resolves(); n != 2 {
		t.Errorf("resolves after the route came back = %d, want 2", n)
	}
}

func TestSweepAnyConvergedWithoutHold(t *testing.T) {
	dp := firstRun(t)

	h := newHarness(t, dp, fib.Config{})
	h.fib.Reconcile(dp.Snapshot())
	h.run()
	h.update(startRoutes()[3])
	h.sync()

	if n := len(dp.Snapshot().Routes); n != 4 {
		t.Fatalf("routes before any source converged = %d, want 4", n)
	}

	h.fib.Converged("grpc")
	h.expect(`
id 3000000004 via 203.0.113.3 dev v1 proto fibd
203.0.113.128/25 nhid 3000000004 proto fibd metric 20
`)
}

func TestMetricChangeConflictKeepsOld(t *testing.T) {
	dp := &fibtest.Dataplane{}
	h := newHarness(t, dp, fib.Config{RetryMin: time.Hour})
	h.run()

	h.update(route("192.0.2.0/24", "bgp", fib.DistanceEBGP, 20, hops(hop(gwA, "v0"))))
	h.sync()

	taken := fib.KernelRoute{Table: fib.TableMain, Prefix: netip.MustParsePrefix("192.0.2.0/24"), Metric: 30, Type: fib.TypeProhibit}
	if err := dp.AddRoute(taken, "zebra"); err != nil {
		t.Fatal(err)
	}

	h.update(route("192.0.2.0/24", "bgp", fib.DistanceEBGP, 30, hops(hop(gwA, "v0"))))
	h.expect(`
id 3000000001 via 198.51.100.1 dev v0 proto fibd
192.0.2.0/24 nhid 3000000001 proto fibd metric 20
prohibit 192.0.2.0/24 proto zebra metric 30
`)

	st, _ := h.fib.Lookup(key("192.0.2.0/24"))
	if !st.Conflict || st.Installed == nil || st.Installed.Metric != 20 {
		t.Errorf("state = %+v, want a conflict with metric 20 still installed", st)
	}
}

func TestTakeoverConflicts(t *testing.T) {
	foreign := fib.KernelRoute{Table: fib.TableMain, Prefix: netip.MustParsePrefix("192.0.2.0/24"), Metric: 20, Type: fib.TypeUnreachable}
	want := `
id 3000000001 via 198.51.100.1 dev v0 proto fibd
192.0.2.0/24 nhid 3000000001 proto fibd metric 20
`

	t.Run("on create", func(t *testing.T) {
		dp := &fibtest.Dataplane{}
		if err := dp.AddRoute(foreign, "zebra"); err != nil {
			t.Fatal(err)
		}

		h := newHarness(t, dp, fib.Config{RetryMin: time.Hour, TakeoverConflicts: true})
		h.run()
		h.update(route("192.0.2.0/24", "bgp", fib.DistanceEBGP, 20, hops(hop(gwA, "v0"))))
		h.expect(want)

		st, _ := h.fib.Lookup(key("192.0.2.0/24"))
		if st.Conflict || st.Err != nil || st.Installed == nil {
			t.Errorf("state = %+v, want installed without a conflict", st)
		}

		stats := h.fib.Stats()
		if stats.Takeovers != 1 || stats.Conflicts != 0 || stats.OpErrors != 0 {
			t.Errorf("stats takeovers %d, conflicts %d, op errors %d; want 1, 0, 0", stats.Takeovers, stats.Conflicts, stats.OpErrors)
		}

		if n := dp.Count(fib.OpRouteReplace); n != 1 {
			t.Errorf("route replaces = %d, want 1", n)
		}
	})

	t.Run("after route gone", func(t *testing.T) {
		dp := &fibtest.Dataplane{}
		h := newHarness(t, dp, fib.Config{RetryMin: time.Hour, TakeoverConflicts: true})
		h.run()
		h.update(route("192.0.2.0/24", "bgp", fib.DistanceEBGP, 20, hops(hop(gwA, "v0"))))
		h.expect(want)

		// Another daemon replaces fibd's route in place.
		ours := foreign
		ours.Type, ours.Nexthop = fib.TypeUnicast, 3000000001
		if err := dp.DeleteRoute(ours); err != nil {
			t.Fatal(err)
		}

		if err := dp.AddRoute(foreign, "zebra"); err != nil {
			t.Fatal(err)
		}

		h.fib.RouteGone(ours)
		h.expect(want)
	})

	t.Run("off", func(t *testing.T) {
		dp := &fibtest.Dataplane{}
		if err := dp.AddRoute(foreign, "zebra"); err != nil {
			t.Fatal(err)
		}

		h := newHarness(t, dp, fib.Config{RetryMin: time.Hour})
		h.run()
		h.update(route("192.0.2.0/24", "bgp", fib.DistanceEBGP, 20, hops(hop(gwA, "v0"))))
		h.expect(`
id 3000000001 via 198.51.100.1 dev v0 proto fibd
unreachable 192.0.2.0/24 proto zebra metric 20
`)

		st, _ := h.fib.Lookup(key("192.0.2.0/24"))
		if !st.Conflict || st.Installed != nil {
			t.Errorf("state = %+v, want a conflict and nothing installed", st)
		}

		if n := dp.Count(fib.OpRouteReplace); n != 0 {
			t.Errorf("route replaces = %d, want 0", n)
		}
	})
}

func TestNexthopTakenOver(t *testing.T) {
	dp := firstRun(t)

	h := newHarness(t, dp, fib.Config{})
	h.fib.Reconcile(dp.Snapshot())
	h.run()
	h.update(startRoutes()...)
	h.expect(startState)
	dp.ResetCounts()

	// Another owner replaces the hop object of a route and a member of a
	// group, both in place.
	if err := dp.ReplaceNexthop(nexthop.Object{ID: 3000000004, Hop: hop(gwB, "v1")}, "zebra"); err != nil {
		t.Fatal(err)
	}

	if err := dp.ReplaceNexthop(nexthop.Object{ID: 3000000001, Hop: hop(gwB, "v1")}, "zebra"); err != nil {
		t.Fatal(err)
	}

	h.fib.Reconcile(dp.Snapshot())
	h.expect(`
id 3000000001 via 198.51.100.2 dev v1 proto zebra
id 3000000002 via 198.51.100.2 dev v0 proto fibd
id 3000000003 group 3000000005/3000000002 proto fibd
id 3000000004 via 198.51.100.2 dev v1 proto zebra
id 3000000005 via 198.51.100.1 dev v0 proto fibd
id 3000000006 via 203.0.113.3 dev v1 proto fibd
192.0.2.0/25 nhid 3000000003 proto fibd metric 20
192.0.2.128/25 nhid 3000000003 proto fibd metric 20
blackhole 198.51.100.128/25 proto fibd metric 20
203.0.113.128/25 nhid 3000000006 proto fibd metric 20
`)

	// 2 creates, 1 group replace, 1 route replace; the other owner's
	// objects are left alone.
	if n := dp.Writes(); n != 4 {
		t.Errorf("writes = %d, want 4", n)
	}

	if n := dp.Count(fib.OpNexthopDelete); n != 0 {
		t.Errorf("nexthop deletes = %d, want 0", n)
	}

	for _, n := range h.fib.Nexthops() {
		if n.Object.ID == 3000000001 || n.Object.ID == 3000000004 {
			t.Errorf("the FIB still holds nexthop %d, which another owner took over", n.Object.ID)
		}
	}

	// A later dump changes nothing.
	h.fib.Reconcile(dp.Snapshot())
	h.sync()
	if n := dp.Writes(); n != 4 {
		t.Errorf("writes after a second reconcile = %d, want 4", n)
	}
}

func TestRouteGoneRetriesConflict(t *testing.T) {
	foreign := fib.KernelRoute{Table: fib.TableMain, Prefix: netip.MustParsePrefix("192.0.2.0/24"), Metric: 20, Type: fib.TypeUnreachable}
	dp := &fibtest.Dataplane{}
	if err := dp.AddRoute(foreign, "zebra"); err != nil {
		t.Fatal(err)
	}

	// The retry delay is far beyond the test's length.
	h := newHarness(t, dp, fib.Config{RetryMin: time.Hour})
	h.run()
	h.update(route("192.0.2.0/24", "bgp", fib.DistanceEBGP, 20, hops(hop(gwA, "v0"))))
	h.sync()

	if st, _ := h.fib.Lookup(key("192.0.2.0/24")); !st.Conflict {
		t.Fatalf("state = %+v, want a conflict", st)
	}

	// The other owner's route leaves.
	if err := dp.DeleteRoute(foreign); err != nil {
		t.Fatal(err)
	}

	h.fib.RouteGone(foreign)
	h.expect(`
id 3000000001 via 198.51.100.1 dev v0 proto fibd
192.0.2.0/24 nhid 3000000001 proto fibd metric 20
`)

	if st, _ := h.fib.Lookup(key("192.0.2.0/24")); st.Conflict || st.Err != nil {
		t.Errorf("state = %+v, want no conflict and no error", st)
	}
}

func TestRouteGoneRetriesMetricChange(t *testing.T) {
	dp := &fibtest.Dataplane{}
	h := newHarness(t, dp, fib.Config{RetryMin: time.Hour})
	h.run()
	h.update(route("192.0.2.0/24", "bgp", fib.DistanceEBGP, 20, hops(hop(gwA, "v0"))))
	h.sync()

	taken := fib.KernelRoute{Table: fib.TableMain, Prefix: netip.MustParsePrefix("192.0.2.0/24"), Metric: 30, Type: fib.TypeProhibit}
	if err := dp.AddRoute(taken, "zebra"); err != nil {
		t.Fatal(err)
	}

	h.update(route("192.0.2.0/24", "bgp", fib.DistanceEBGP, 30, hops(hop(gwA, "v0"))))
	h.sync()

	if err := dp.DeleteRoute(taken); err != nil {
		t.Fatal(err)
	}

	h.fib.RouteGone(taken)
	h.expect(`
id 3000000001 via 198.51.100.1 dev v0 proto fibd
192.0.2.0/24 nhid 3000000001 proto fibd metric 30
`)
}

func TestAdoptOtherMetric(t *testing.T) {
	dp := firstRun(t)
	dp.ResetCounts()

	h := newHarness(t, dp, fib.Config{Hold: []string{"bgp"}})
	h.fib.Reconcile(dp.Snapshot())
	h.run()

	// BGP offers the last route at metric 30: fibd creates it, then
	// deletes the adopted route at metric 20.
	routes := startRoutes()
	routes[3].Metric = 30
	h.update(routes...)
	h.expect(strings.Replace(startState, "nhid 3000000004 proto fibd metric 20", "nhid 3000000004 proto fibd metric 30", 1))

	if n, d := dp.Count(fib.OpRouteCreate), dp.Count(fib.OpRouteDelete); n != 1 || d != 1 || dp.Writes() != 2 {
		t.Errorf("route creates %d, deletes %d, writes %d; want 1, 1, 2", n, d, dp.Writes())
	}

	st, _ := h.fib.Lookup(key("203.0.113.128/25"))
	if st.Installed == nil || st.Installed.Metric != 30 || st.Adopted || st.Err != nil {
		t.Errorf("state = %+v, want installed at metric 30", st)
	}
}

func TestAdoptPrefersSelectedMetric(t *testing.T) {
	for _, metric := range []uint32{20, 30} {
		dp := &fibtest.Dataplane{}
		if err := dp.AddNexthop(nexthop.Object{ID: 3000000001, Hop: hop(gwA, "v0")}, fibtest.Protocol); err != nil {
			t.Fatal(err)
		}

		for _, m := range []uint32{20, 30} {
			r := fib.KernelRoute{Table: fib.TableMain, Prefix: netip.MustParsePrefix("192.0.2.0/24"), Metric: m, Type: fib.TypeUnicast, Nexthop: 3000000001}
			if err := dp.AddRoute(r, fibtest.Protocol); err != nil {
				t.Fatal(err)
			}
		}

		// The candidate is there before the dump is adopted, so the
		// adopted route is the one at its metric and the other is deleted.
		h := newHarness(t, dp, fib.Config{RetryMin: time.Hour})
		h.update(route("192.0.2.0/24", "bgp", fib.DistanceEBGP, metric, hops(hop(gwA, "v0"))))
		h.fib.Reconcile(dp.Snapshot())
		h.run()
		h.expect(fmt.Sprintf(`
id 3000000001 via 198.51.100.1 dev v0 proto fibd
192.0.2.0/24 nhid 3000000001 proto fibd metric %d
`, metric))

		if dp.Writes() != 1 || dp.Count(fib.OpRouteDelete) != 1 {
			t.Errorf("metric %d: writes %d, want 1 route delete", metric, dp.Writes())
		}

		if st, _ := h.fib.Lookup(key("192.0.2.0/24")); st.Conflict || st.Err != nil {
			t.Errorf("metric %d: state = %+v, want no conflict and no error", metric, st)
		}
	}
}

func TestAdoptIPv6DefaultMetric(t *testing.T) {
	v6 := func() fib.Route {
		gw := netip.MustParseAddr("2001:db8:ffff::2")
		return route("2001:db8:1::/48", "bgp", fib.DistanceEBGP, 0, hops(hop(gw, "v0")))
	}

	dp := &fibtest.Dataplane{}
	first := newHarness(t, dp, fib.Config{})
	first.update(v6())
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- first.fib.Run(ctx) }()
	first.sync()
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}

	want := `
id 3000000001 via 2001:db8:ffff::2 dev v0 proto fibd
2001:db8:1::/48 nhid 3000000001 proto fibd metric 1024
`
	dp.ResetCounts()

	// A restart adopts the route that the kernel stores at metric 1024
	// for the offer at metric 0, without a write.
	h := newHarness(t, dp, fib.Config{RetryMin: time.Hour})
	h.fib.Reconcile(dp.Snapshot())
	h.run()
	h.update(v6())
	h.expect(want)

	if n := dp.Writes(); n != 0 {
		t.Errorf("writes after the restart = %d, want 0", n)
	}

	// So does a later dump, and the route gone is put back.
	h.fib.Reconcile(dp.Snapshot())
	gone := fib.KernelRoute{Table: fib.TableMain, Prefix: netip.MustParsePrefix("2001:db8:1::/48"), Metric: 1024, Type: fib.TypeUnicast, Nexthop: 3000000001}
	if err := dp.DeleteRoute(gone); err != nil {
		t.Fatal(err)
	}

	h.fib.RouteGone(gone)
	h.expect(want)

	if st, _ := h.fib.Lookup(key("2001:db8:1::/48")); st.Conflict || st.Err != nil || st.Installed == nil {
		t.Errorf("state = %+v, want installed without a conflict", st)
	}
}

// TestRouteGoneOnOldObjectIgnored checks that the report of a route
// deleted while it used an object the FIB has since moved it away from
// changes nothing: the FIB's replace created the route again.
func TestRouteGoneOnOldObjectIgnored(t *testing.T) {
	checkStaleRouteGone(t, func(r *fib.Route) {
		r.NextHops = hops(hop(gwB, "v0"))
	}, func(before, after *fib.KernelRoute) bool {
		return before.Nexthop != after.Nexthop
	})
}

// TestRouteGoneOfOldTypeIgnored covers the report of a route deleted
// before the FIB replaced it with a route of another type. The replace
// created the route again, so the report changes nothing. Taken as the
// route gone, the FIB would create it exclusively and fail on its own
// route.
func TestRouteGoneOfOldTypeIgnored(t *testing.T) {
	checkStaleRouteGone(t, func(r *fib.Route) {
		r.Type, r.NextHops = fib.TypeUnreachable, nexthop.Set{}
	}, func(before, after *fib.KernelRoute) bool {
		return after.Type == fib.TypeUnreachable
	})
}

// checkStaleRouteGone installs a route, changes it with change, and
// reports the route as it was before as deleted. moved reports whether
// the change gave the kernel another route. The report must cause no
// write and leave the changed route installed.
func checkStaleRouteGone(t *testing.T, change func(*fib.Route), moved func(before, after *fib.KernelRoute) bool) {
	t.Helper()

	h := newHarness(t, nil, fib.Config{})
	h.run()

	r := route("192.0.2.0/24", "bgp", fib.DistanceEBGP, 20, hops(hop(gwA, "v0")))
	h.update(r)
	h.sync()
	before, _ := h.fib.Lookup(key("192.0.2.0/24"))

	change(&r)
	h.update(r)
	h.sync()
	after, _ := h.fib.Lookup(key("192.0.2.0/24"))
	if before.Installed == nil || after.Installed == nil || !moved(before.Installed, after.Installed) {
		t.Fatalf("installed before and after the change: %+v, %+v", before.Installed, after.Installed)
	}

	h.dp.ResetCounts()
	h.fib.RouteGone(*before.Installed)
	h.sync()

	if n := h.dp.Writes(); n != 0 {
		t.Errorf("%d writes after the report of the old route, want 0", n)
	}

	if got, _ := h.fib.Lookup(key("192.0.2.0/24")); got.Installed == nil || *got.Installed != *after.Installed {
		t.Errorf("installed after the report: %+v, want %+v", got.Installed, after.Installed)
	}

	h.checkStats()
}

// TestResolvePartialSet checks that a route keeps forwarding over the
// members that resolve when one recursive gateway has no route, and gets
// that member back once its gateway resolves again.
func TestResolvePartialSet(t *testing.T) {
	dp := &fibtest.Dataplane{}
	dp.SetGateway(gwA, "v0")
	h := newHarness(t, dp, fib.Config{RetryMin: 10 * time.Millisecond, RetryMax: 10 * time.Millisecond})
	h.run()

	bareA := nexthop.Hop{Family: nexthop.FamilyIPv4, Gateway: gwA}
	bareB := nexthop.Hop{Family: nexthop.FamilyIPv4, Gateway: gwB}
	h.update(route("192.0.2.0/24", "bgp", fib.DistanceEBGP, 20, hops(bareA, bareB)))
	h.expect(`
id 3000000001 via 198.51.100.1 dev v0 proto fibd
192.0.2.0/24 nhid 3000000001 proto fibd metric 20
`)

	if st, _ := h.fib.Lookup(key("192.0.2.0/24")); st.Unresolved || st.Err != nil {
		t.Errorf("state = %+v, want installed without an error", st)
	}

	dp.SetGateway(gwB, "v1")
	h.fib.Reresolve()
	h.expect(`
id 3000000001 via 198.51.100.1 dev v0 proto fibd
id 3000000002 via 198.51.100.2 dev v1 proto fibd
id 3000000003 group 3000000001/3000000002 proto fibd
192.0.2.0/24 nhid 3000000003 proto fibd metric 20
`)

	// With no member resolving, the route is unresolved.
	h.update(route("203.0.113.0/24", "bgp", fib.DistanceEBGP, 20, hops(nexthop.Hop{Family: nexthop.FamilyIPv4, Gateway: gwC})))
	h.sync()
	if st, _ := h.fib.Lookup(key("203.0.113.0/24")); !st.Unresolved || st.Err == nil {
		t.Errorf("state = %+v, want unresolved with the resolution error", st)
	}
}
