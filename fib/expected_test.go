package fib_test

import (
	"context"
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/fibd/fibd/fib"
	"github.com/fibd/fibd/fib/fibtest"
	"github.com/fibd/fibd/nexthop"
)

func TestExpected(t *testing.T) {
	dp := firstRun(t)
	if err := dp.AddRoute(fib.KernelRoute{Table: fib.TableMain, Prefix: netip.MustParsePrefix("203.0.113.0/25"), Metric: 20, Type: fib.TypeUnreachable}, "zebra"); err != nil {
		t.Fatal(err)
	}

	h := newHarness(t, dp, fib.Config{Hold: []string{"bgp"}, RetryMin: time.Hour})
	h.fib.Reconcile(dp.Snapshot())
	h.run()

	// The first three routes as before, the fourth kept from the previous
	// run, one in conflict and one without a live next hop.
	h.update(startRoutes()[:3]...)
	h.update(route("203.0.113.0/25", "bgp", fib.DistanceEBGP, 20, hops(hop(gwC, "v1"))))
	h.update(route("2001:db8:1::/48", "bgp", fib.DistanceEBGP, 0, hops(hop(netip.MustParseAddr("2001:db8:ffff::2"), "v0"))))
	h.fib.SetGatewayDown(netip.MustParseAddr("2001:db8:ffff::2"), nexthop.ReasonPeer, true)
	h.sync()

	got := h.fib.Expected()
	lines := make([]string, 0, len(got.Routes))
	for _, r := range got.Routes {
		line := formatKernelRoute(r.Route) + " hops " + nexthop.Set{Members: r.NextHops}.String()
		if r.Err != nil {
			line += " err"
		}

		if r.Unresolved {
			line += " unresolved"
		}

		lines = append(lines, line)
	}

	slices.Sort(lines)
	want := []string{
		"192.0.2.0/25 table 254 metric 20 unicast nhid 3000000003 hops nexthop via 198.51.100.1 dev v0 weight 1 nexthop via 198.51.100.2 dev v0 weight 1",
		"192.0.2.128/25 table 254 metric 20 unicast nhid 3000000003 hops nexthop via 198.51.100.1 dev v0 weight 1 nexthop via 198.51.100.2 dev v0 weight 1",
		"198.51.100.128/25 table 254 metric 20 blackhole nhid 0 hops ",
		"2001:db8:1::/48 table 254 metric 1024 unicast nhid 0 hops  err unresolved",
		"203.0.113.0/25 table 254 metric 20 unicast nhid 0 hops via 203.0.113.3 dev v1 err",
		"203.0.113.128/25 table 254 metric 20 unicast nhid 3000000004 hops via 203.0.113.3 dev v1",
	}

	if !slices.Equal(lines, want) {
		t.Errorf("expected routes:\n%s\nwant:\n%s", strings.Join(lines, "\n"), strings.Join(want, "\n"))
	}

	ids := make([]nexthop.ID, 0, len(got.Nexthops))
	for _, o := range got.Nexthops {
		ids = append(ids, o.ID)
	}

	if want := []nexthop.ID{3000000001, 3000000002, 3000000003, 3000000004}; !slices.Equal(ids, want) {
		t.Errorf("expected nexthops = %v, want %v", ids, want)
	}

	// The route kept from the previous run counts as adopted, not as
	// selected.
	h.checkStats()
	if st := h.fib.Stats(); st.Adopted != 1 || st.Routes != 5 || st.Installed != 4 {
		t.Errorf("stats adopted/routes/installed = %d/%d/%d, want 1/5/4", st.Adopted, st.Routes, st.Installed)
	}

	if sw := h.fib.Stats().Sweep; !sw.At.IsZero() {
		t.Errorf("sweep before the source converged: %+v", sw)
	}

	// After the sweep, the route no source offers is not expected any more.
	h.fib.Converged("bgp")
	h.sync()
	h.checkStats()
	if st := h.fib.Stats(); st.Adopted != 0 {
		t.Errorf("stats adopted after the sweep = %d, want 0", st.Adopted)
	}

	if sw := h.fib.Stats().Sweep; sw.At.IsZero() || sw.Routes != 1 || sw.TimedOut {
		t.Errorf("sweep = %+v, want one route swept after the source converged", sw)
	}

	for _, r := range h.fib.Expected().Routes {
		if r.Route.Prefix == netip.MustParsePrefix("203.0.113.128/25") {
			t.Errorf("swept route still expected: %+v", r)
		}
	}
}

func formatKernelRoute(r fib.KernelRoute) string {
	return fmt.Sprintf("%s table %d metric %d %s nhid %d", r.Prefix, r.Table, r.Metric, r.Type, r.Nexthop)
}

// BenchmarkExpected measures Expected against the listing that Verify
// used before, Routes and Nexthops, on 100,000 routes over 16 groups.
func BenchmarkExpected(b *testing.B) {
	dp := &fibtest.Dataplane{}
	f, err := fib.New(fib.Config{Dataplane: dp, Nexthops: testRange})
	if err != nil {
		b.Fatal(err)
	}

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() { _ = f.Run(ctx) }()

	f.Update(benchRoutes(100_000))
	if err := f.Sync(ctx); err != nil {
		b.Fatal(err)
	}

	b.Run("expected", func(b *testing.B) {
		for b.Loop() {
			if s := f.Expected(); len(s.Routes) != 100_000 {
				b.Fatalf("expected routes = %d", len(s.Routes))
			}
		}
	})

	b.Run("routes and nexthops", func(b *testing.B) {
		for b.Loop() {
			var routes []fib.RouteState
			f.Routes(fib.Filter{}, func(rs fib.RouteState) bool {
				routes = append(routes, rs)

				return true
			})
			_ = f.Nexthops()
		}
	})
}
