package fib_test

import (
	"fmt"
	"net/netip"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/fibd/fibd/fib"
)

// peerRoutes returns n routes in 2001:db8::/32 through gateways A and B.
func peerRoutes(n int, set func(i int) fib.Route) []fib.Route {
	routes := make([]fib.Route, n)
	for i := range routes {
		routes[i] = set(i)
	}

	return routes
}

func prefix6(i int) string {
	return netip.PrefixFrom(netip.AddrFrom16([16]byte{0x20, 0x01, 0x0d, 0xb8, 0, 0, byte(i >> 8), byte(i)}), 64).String()
}

var (
	gw6A = netip.MustParseAddr("2001:db8:ffff::a")
	gw6B = netip.MustParseAddr("2001:db8:ffff::b")
)

func TestPeerDownShrinksGroupOnce(t *testing.T) {
	h := newHarness(t, nil, fib.Config{})
	h.run()

	both := func(i int) fib.Route {
		return route(prefix6(i), "bgp", fib.DistanceEBGP, 20, hops(hop(gw6A, "v0"), hop(gw6B, "v1")))
	}

	h.update(peerRoutes(10000, both)...)
	h.sync()

	if s := h.fib.Stats(); s.Installed != 10000 || s.Groups != 1 || s.Nexthops != 2 {
		t.Fatalf("installed = %d, groups = %d, hops = %d, want 10000, 1, 2", s.Installed, s.Groups, s.Nexthops)
	}

	// The peer behind B goes down: one replace moves 10,000 routes.
	h.dp.ResetCounts()
	h.fib.SetGatewayDown(gw6B, "bgp-peer", true)
	h.sync()

	if n, r := h.dp.Writes(), h.dp.Count(fib.OpNexthopReplace); n != 1 || r != 1 {
		t.Errorf("writes = %d, replaces = %d, want 1 and 1", n, r)
	}

	// BGP then withdraws B from every prefix: the group already forwards
	// like that, so nothing is written.
	onlyA := func(i int) fib.Route {
		return route(prefix6(i), "bgp", fib.DistanceEBGP, 20, hops(hop(gw6A, "v0")))
	}

	h.update(peerRoutes(10000, onlyA)...)
	h.sync()

	if n := h.dp.Writes(); n != 1 {
		t.Errorf("writes after the withdrawals = %d, want still 1", n)
	}

	st, _ := h.fib.Lookup(key(prefix6(7)))
	if st.Installed == nil || st.Installed.Nexthop != 3000000003 {
		t.Errorf("route 7 = %+v, want it on group 3000000003", st.Installed)
	}

	// The peer comes back but the routes request only A now: the group
	// waits for them, with no write.
	h.fib.SetGatewayDown(gw6B, "bgp-peer", false)
	h.sync()

	if n := h.dp.Writes(); n != 1 {
		t.Errorf("writes after the peer came back = %d, want still 1", n)
	}

	// BGP learns B again: the routes stay on the group, and B joins it
	// with one replace once the last route requests it.
	h.update(peerRoutes(10000, both)...)
	h.sync()

	if n, r := h.dp.Writes(), h.dp.Count(fib.OpNexthopReplace); n != 2 || r != 2 {
		t.Errorf("writes = %d, nexthop replaces = %d, want 2 and 2", n, r)
	}

	h.expectHead(`
id 3000000001 via 2001:db8:ffff::a dev v0 proto fibd
id 3000000002 via 2001:db8:ffff::b dev v1 proto fibd
id 3000000003 group 3000000001/3000000002 proto fibd
2001:db8::/64 nhid 3000000003 proto fibd metric 20
`)

	if s := h.fib.Stats(); s.Groups != 1 || s.Installed != 10000 {
		t.Errorf("groups = %d, installed = %d, want 1, 10000", s.Groups, s.Installed)
	}
}

// TestPeerUpMovesStragglers restores a group of 10,000 routes of which
// 9,990 request the returning peer again: after the restore wait, only
// the other 10 move, and the group gets the peer's hop back in place.
func TestPeerUpMovesStragglers(t *testing.T) {
	h := newHarness(t, nil, fib.Config{RestoreWait: 2 * time.Second})
	h.run()

	both := func(i int) fib.Route {
		return route(prefix6(i), "bgp", fib.DistanceEBGP, 20, hops(hop(gw6A, "v0"), hop(gw6B, "v1")))
	}

	onlyA := func(i int) fib.Route {
		return route(prefix6(i), "bgp", fib.DistanceEBGP, 20, hops(hop(gw6A, "v0")))
	}

	h.update(peerRoutes(10000, both)...)
	h.sync()
	h.fib.SetGatewayDown(gw6B, "bgp-peer", true)
	h.update(peerRoutes(10000, onlyA)...)
	h.sync()

	h.dp.ResetCounts()
	h.fib.SetGatewayDown(gw6B, "bgp-peer", false)
	h.update(peerRoutes(9990, both)...)
	h.sync()

	// Before the wait ends, nothing is written: B is not in the group,
	// because 10 routes on it do not request B.
	if n := h.dp.Writes(); n != 0 {
		t.Errorf("writes before the wait ended = %d, want 0", n)
	}

	if n := h.fib.Stats().Pending; n != 10000 {
		t.Errorf("pending during the wait = %d, want 10000 (the routes on the group)", n)
	}

	st, _ := h.fib.Lookup(key(prefix6(9995)))
	if st.Installed == nil || st.Installed.Nexthop != 3000000003 {
		t.Fatalf("straggler = %+v, want it on group 3000000003", st.Installed)
	}

	deadline := time.Now().Add(10 * time.Second)
	for h.dp.Count(fib.OpNexthopReplace) == 0 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}

	h.sync()

	if n := h.dp.Count(fib.OpRouteReplace); n != 10 {
		t.Errorf("route replaces = %d, want 10 (the stragglers)", n)
	}

	if n := h.dp.Count(fib.OpNexthopReplace); n != 1 {
		t.Errorf("nexthop replaces = %d, want 1 (B back in the group)", n)
	}

	if n := h.dp.Writes(); n != 11 {
		t.Errorf("writes = %d, want 11", n)
	}

	if n := h.fib.Stats().Pending; n != 0 {
		t.Errorf("pending after the restore = %d, want 0", n)
	}

	st, _ = h.fib.Lookup(key(prefix6(9995)))
	if st.Installed == nil || st.Installed.Nexthop != 3000000001 {
		t.Errorf("straggler = %+v, want it on A's object 3000000001", st.Installed)
	}

	h.expectHead(`
id 3000000001 via 2001:db8:ffff::a dev v0 proto fibd
id 3000000002 via 2001:db8:ffff::b dev v1 proto fibd
id 3000000003 group 3000000001/3000000002 proto fibd
2001:db8::/64 nhid 3000000003 proto fibd metric 20
`)
}

func TestPeerDownAndUpRestoresInPlace(t *testing.T) {
	h := newHarness(t, nil, fib.Config{})
	h.run()

	both := func(i int) fib.Route {
		return route(prefix6(i), "bgp", fib.DistanceEBGP, 20, hops(hop(gw6A, "v0"), hop(gw6B, "v1")))
	}

	h.update(peerRoutes(3, both)...)
	h.sync()

	h.fib.SetGatewayDown(gw6B, "bgp-peer", true)
	h.expect(`
id 3000000001 via 2001:db8:ffff::a dev v0 proto fibd
id 3000000002 via 2001:db8:ffff::b dev v1 proto fibd
id 3000000003 group 3000000001 proto fibd
2001:db8::/64 nhid 3000000003 proto fibd metric 20
2001:db8:0:1::/64 nhid 3000000003 proto fibd metric 20
2001:db8:0:2::/64 nhid 3000000003 proto fibd metric 20
`)

	h.dp.ResetCounts()
	h.fib.SetGatewayDown(gw6B, "bgp-peer", false)
	h.expect(`
id 3000000001 via 2001:db8:ffff::a dev v0 proto fibd
id 3000000002 via 2001:db8:ffff::b dev v1 proto fibd
id 3000000003 group 3000000001/3000000002 proto fibd
2001:db8::/64 nhid 3000000003 proto fibd metric 20
2001:db8:0:1::/64 nhid 3000000003 proto fibd metric 20
2001:db8:0:2::/64 nhid 3000000003 proto fibd metric 20
`)

	if n := h.dp.Writes(); n != 1 {
		t.Errorf("writes = %d, want 1 replace", n)
	}
}

func TestAllPeersDownUnresolved(t *testing.T) {
	h := newHarness(t, nil, fib.Config{})
	h.run()

	h.update(route("192.0.2.0/24", "bgp", fib.DistanceEBGP, 20, hops(hop(gwA, "v0"), hop(gwB, "v0"))))
	h.sync()

	h.fib.SetGatewayDown(gwA, "bgp-peer", true)
	h.fib.SetGatewayDown(gwB, "bgp-peer", true)
	h.expect("")

	st, _ := h.fib.Lookup(key("192.0.2.0/24"))
	if !st.Unresolved || st.Installed != nil || st.Err == nil {
		t.Errorf("state = %+v, want unresolved, not installed, with an error", st)
	}

	if s := h.fib.Stats(); s.Unresolved != 1 || s.Routes != 1 {
		t.Errorf("unresolved = %d, routes = %d, want 1, 1", s.Unresolved, s.Routes)
	}

	// Only B comes back: A's object is not created while A is down.
	h.fib.SetGatewayDown(gwB, "bgp-peer", false)
	h.expect(`
id 3000000005 via 198.51.100.2 dev v0 proto fibd
id 3000000006 group 3000000005 proto fibd
192.0.2.0/24 nhid 3000000006 proto fibd metric 20
`)
}

func TestLinkDownAndUp(t *testing.T) {
	h := newHarness(t, nil, fib.Config{})
	h.run()

	h.update(
		route("192.0.2.0/25", "bgp", fib.DistanceEBGP, 20, hops(hop(gwA, "v0"))),
		route("192.0.2.128/25", "bgp", fib.DistanceEBGP, 20, hops(hop(gwA, "v0"), hop(gwC, "v1"))),
	)
	h.expect(`
id 3000000001 via 198.51.100.1 dev v0 proto fibd
id 3000000002 via 203.0.113.3 dev v1 proto fibd
id 3000000003 group 3000000001/3000000002 proto fibd
192.0.2.0/25 nhid 3000000001 proto fibd metric 20
192.0.2.128/25 nhid 3000000003 proto fibd metric 20
`)

	// The kernel removes what used v0 by itself; fibd writes nothing.
	h.dp.SetLinkDown("v0", true)
	h.dp.ResetCounts()
	h.fib.LinkChanged("v0", false)
	h.expect(`
id 3000000002 via 203.0.113.3 dev v1 proto fibd
id 3000000003 group 3000000002 proto fibd
192.0.2.128/25 nhid 3000000003 proto fibd metric 20
`)

	if n := h.dp.Writes(); n != 0 {
		t.Errorf("writes on link down = %d, want 0", n)
	}

	if st, _ := h.fib.Lookup(key("192.0.2.0/25")); !st.Unresolved {
		t.Errorf("route on the down link = %+v, want unresolved", st)
	}

	// The group kept its reference to the hop, which comes back with its
	// id.
	h.dp.SetLinkDown("v0", false)
	h.fib.LinkChanged("v0", true)
	h.expect(`
id 3000000001 via 198.51.100.1 dev v0 proto fibd
id 3000000002 via 203.0.113.3 dev v1 proto fibd
id 3000000003 group 3000000001/3000000002 proto fibd
192.0.2.0/25 nhid 3000000001 proto fibd metric 20
192.0.2.128/25 nhid 3000000003 proto fibd metric 20
`)
}

// TestLinkUpMasksHop flaps a link under a group, one of whose routes
// changes its request to the other hop while the link is down: when the
// link is up, the group waits with the hop left out, and after the wait
// that route moves and the hop rejoins the group.
func TestLinkUpMasksHop(t *testing.T) {
	h := newHarness(t, nil, fib.Config{RestoreWait: 500 * time.Millisecond})
	h.run()

	h.update(
		route("192.0.2.0/25", "bgp", fib.DistanceEBGP, 20, hops(hop(gwA, "v0"), hop(gwC, "v1"))),
		route("192.0.2.128/25", "bgp", fib.DistanceEBGP, 20, hops(hop(gwA, "v0"), hop(gwC, "v1"))),
	)
	h.sync()

	h.dp.SetLinkDown("v0", true)
	h.fib.LinkChanged("v0", false)
	h.update(route("192.0.2.128/25", "bgp", fib.DistanceEBGP, 20, hops(hop(gwC, "v1"))))
	h.sync()

	h.dp.SetLinkDown("v0", false)
	h.fib.LinkChanged("v0", true)
	h.expect(`
id 3000000001 via 198.51.100.1 dev v0 proto fibd
id 3000000002 via 203.0.113.3 dev v1 proto fibd
id 3000000003 group 3000000002 proto fibd
192.0.2.0/25 nhid 3000000003 proto fibd metric 20
192.0.2.128/25 nhid 3000000003 proto fibd metric 20
`)

	if n := h.fib.Stats().Pending; n != 2 {
		t.Errorf("pending during the wait = %d, want 2", n)
	}

	deadline := time.Now().Add(10 * time.Second)
	for h.fib.Stats().Pending != 0 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}

	h.expect(`
id 3000000001 via 198.51.100.1 dev v0 proto fibd
id 3000000002 via 203.0.113.3 dev v1 proto fibd
id 3000000003 group 3000000001/3000000002 proto fibd
192.0.2.0/25 nhid 3000000003 proto fibd metric 20
192.0.2.128/25 nhid 3000000002 proto fibd metric 20
`)
}

func TestCoalesceUpdates(t *testing.T) {
	h := newHarness(t, nil, fib.Config{})

	// Before the loop runs, a million updates of one key make one route.
	r := route("192.0.2.0/24", "bgp", fib.DistanceEBGP, 20, hops(hop(gwA, "v0")))
	for i := range 1_000_000 {
		r.Metric = uint32(i%7 + 1)
		h.fib.Update([]fib.Route{r})
	}

	h.run()
	h.expect(fmt.Sprintf(`
id 3000000001 via 198.51.100.1 dev v0 proto fibd
192.0.2.0/24 nhid 3000000001 proto fibd metric %d
`, r.Metric))

	if n := h.dp.Writes(); n != 2 {
		t.Errorf("writes = %d, want 2 (one object, one route)", n)
	}
}

func TestMetricChangeCreatesFirst(t *testing.T) {
	h := newHarness(t, nil, fib.Config{})
	h.run()

	h.update(route("192.0.2.0/24", "bgp", fib.DistanceEBGP, 20, hops(hop(gwA, "v0"))))
	h.sync()
	h.dp.ResetCounts()

	h.update(route("192.0.2.0/24", "bgp", fib.DistanceEBGP, 30, hops(hop(gwA, "v0"))))
	h.expect(`
id 3000000001 via 198.51.100.1 dev v0 proto fibd
192.0.2.0/24 nhid 3000000001 proto fibd metric 30
`)

	if c, d := h.dp.Count(fib.OpRouteCreate), h.dp.Count(fib.OpRouteDelete); c != 1 || d != 1 {
		t.Errorf("creates = %d, deletes = %d, want 1 and 1", c, d)
	}
}

func TestBlackholeAndTables(t *testing.T) {
	h := newHarness(t, nil, fib.Config{})
	h.run()

	bh := fib.Route{Prefix: netip.MustParsePrefix("203.0.113.0/24"), Table: 100, Metric: 5, Type: fib.TypeBlackhole, Source: "grpc", Distance: fib.DistanceGRPC}
	h.update(bh, route("2001:db8:1::/48", "bgp", fib.DistanceEBGP, 20, hops(hop(gw6A, "v0"))))
	h.expect(`
id 3000000001 via 2001:db8:ffff::a dev v0 proto fibd
blackhole 203.0.113.0/24 table 100 proto fibd metric 5
2001:db8:1::/48 nhid 3000000001 proto fibd metric 20
`)

	s := h.fib.Stats()
	if s.TablesRoutes[100] != 1 || s.TablesRoutes[fib.TableMain] != 1 {
		t.Errorf("routes by table = %v, want one in 100 and one in 254", s.TablesRoutes)
	}

	if s.SourcesRoutes["grpc"] != 1 || s.SourcesRoutes["bgp"] != 1 {
		t.Errorf("routes by source = %v, want one each", s.SourcesRoutes)
	}

	if n := h.fib.WithdrawSource("grpc"); n != 1 {
		t.Errorf("withdraw source = %d, want 1", n)
	}

	h.expect(`
id 3000000001 via 2001:db8:ffff::a dev v0 proto fibd
2001:db8:1::/48 nhid 3000000001 proto fibd metric 20
`)
}

func TestPeerDownDeletesDirectHop(t *testing.T) {
	h := newHarness(t, nil, fib.Config{})
	h.run()

	var routes []fib.Route
	for i := range 100 {
		routes = append(routes, route(netip.PrefixFrom(netip.AddrFrom4([4]byte{203, 0, 113, byte(i)}), 32).String(), "bgp", fib.DistanceEBGP, 20, hops(hop(gwA, "v0"))))
	}

	routes = append(routes, route("192.0.2.0/24", "bgp", fib.DistanceEBGP, 20, hops(hop(gwA, "v0"), hop(gwB, "v0"))))
	h.update(routes...)
	h.sync()
	h.dp.ResetCounts()

	// One delete of the hop object removes its 100 routes and its place
	// in the group, in the kernel.
	h.fib.SetGatewayDown(gwA, "bgp-peer", true)
	h.expect(`
id 3000000002 via 198.51.100.2 dev v0 proto fibd
id 3000000003 group 3000000002 proto fibd
192.0.2.0/24 nhid 3000000003 proto fibd metric 20
`)

	if n, d := h.dp.Writes(), h.dp.Count(fib.OpNexthopDelete); n != 1 || d != 1 {
		t.Errorf("writes = %d, nexthop deletes = %d, want 1 and 1", n, d)
	}

	if s := h.fib.Stats(); s.Unresolved != 100 || s.Installed != 1 || s.Routes != 101 {
		t.Errorf("unresolved %d, installed %d, routes %d; want 100, 1, 101", s.Unresolved, s.Installed, s.Routes)
	}

	// The hop comes back with its id: the object, the group in place and
	// the routes.
	h.dp.ResetCounts()
	h.fib.SetGatewayDown(gwA, "bgp-peer", false)
	want := `
id 3000000001 via 198.51.100.1 dev v0 proto fibd
id 3000000002 via 198.51.100.2 dev v0 proto fibd
id 3000000003 group 3000000001/3000000002 proto fibd
`
	h.sync()
	if got := h.dp.Render(); !strings.HasPrefix(got, strings.TrimLeft(want, "\n")) {
		t.Errorf("objects after the hop came back:\n%s\nwant:\n%s", got, want)
	}

	if n, c := h.dp.Writes(), h.dp.Count(fib.OpRouteCreate); n != 102 || c != 100 {
		t.Errorf("writes = %d, route creates = %d, want 102 and 100", n, c)
	}

	if s := h.fib.Stats(); s.Unresolved != 0 || s.Installed != 101 {
		t.Errorf("unresolved %d, installed %d; want 0, 101", s.Unresolved, s.Installed)
	}
}

func TestPeerDownDeleteFailure(t *testing.T) {
	h := newHarness(t, nil, fib.Config{})
	h.run()
	h.update(route("203.0.113.0/24", "bgp", fib.DistanceEBGP, 20, hops(hop(gwA, "v0"))))
	h.sync()

	// The hop object's delete fails: the route is deleted on its own.
	h.dp.FailNext(fib.OpNexthopDelete, syscall.EBUSY)
	h.fib.SetGatewayDown(gwA, "bgp-peer", true)
	h.sync()

	if got := h.dp.Render(); strings.Contains(got, "203.0.113.0/24") {
		t.Errorf("route still in the kernel after the hop went down:\n%s", got)
	}

	if st, _ := h.fib.Lookup(key("203.0.113.0/24")); !st.Unresolved || st.Installed != nil {
		t.Errorf("state = %+v, want unresolved and not installed", st)
	}
}
