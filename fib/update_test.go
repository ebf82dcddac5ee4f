package fib_test

import (
	"net/netip"
	"testing"

	"github.com/fibd/fibd/fib"
)

// TestUpdateLargeSynced offers more routes than one chunk of Update while
// the loop runs, and checks that Sync waits for every one of them.
func TestUpdateLargeSynced(t *testing.T) {
	h := newHarness(t, nil, fib.Config{BatchSize: 1000})
	h.run()

	set := hops(hop(netip.MustParseAddr("2001:db8:ffff::1"), "v0"))
	routes := make([]fib.Route, 10_000)
	for i := range routes {
		a := netip.AddrFrom16([16]byte{0x20, 0x01, 0x0d, 0xb8, 6: byte(i >> 8), 7: byte(i)})
		routes[i] = route(netip.PrefixFrom(a, 64).String(), "bgp", fib.DistanceEBGP, 0, set)
	}

	routes[5000].Prefix = netip.Prefix{}
	errs := h.fib.Update(routes)
	for i, err := range errs {
		if err != nil && i != 5000 {
			t.Errorf("update route %d: %v", i, err)
		}
	}

	if errs[5000] == nil {
		t.Error("update route 5000 with an invalid prefix: no error")
	}

	h.sync()
	st := h.fib.Stats()
	if st.Installed != len(routes)-1 {
		t.Errorf("installed = %d after sync, want %d", st.Installed, len(routes)-1)
	}

	if st.Pending != 0 {
		t.Errorf("pending = %d after sync, want 0", st.Pending)
	}

	h.checkStats()
}

// TestUpdateInterleavedSets offers routes whose sets alternate, as a table
// spread over several groups does, and a set that loses its only route
// before a later route of the same Update names it again.
func TestUpdateInterleavedSets(t *testing.T) {
	h := newHarness(t, nil, fib.Config{})
	h.run()

	setA := hops(hop(gwA, "v0"))
	setB := hops(hop(gwB, "v0"))
	setAB := hops(hop(gwA, "v0"), hop(gwB, "v0"))
	setC := hops(hop(gwC, "v1"))
	h.update(
		route("192.0.2.0/29", "bgp", fib.DistanceEBGP, 20, setA),
		route("192.0.2.8/29", "bgp", fib.DistanceEBGP, 20, setB),
		route("192.0.2.16/29", "bgp", fib.DistanceEBGP, 20, setAB),
		route("192.0.2.24/29", "bgp", fib.DistanceEBGP, 20, setA),
		route("192.0.2.32/29", "bgp", fib.DistanceEBGP, 20, setB),
		route("192.0.2.40/29", "bgp", fib.DistanceEBGP, 20, setAB),

		// setC's only route moves to setA, so setC has no reference
		// left when 198.51.100.64/26 names it.
		route("198.51.100.0/26", "bgp", fib.DistanceEBGP, 20, setC),
		route("198.51.100.0/26", "bgp", fib.DistanceEBGP, 20, setA),
		route("198.51.100.64/26", "bgp", fib.DistanceEBGP, 20, setC),
	)

	h.expect(`
id 3000000001 via 198.51.100.1 dev v0 proto fibd
id 3000000002 via 198.51.100.2 dev v0 proto fibd
id 3000000003 group 3000000001/3000000002 proto fibd
id 3000000004 via 203.0.113.3 dev v1 proto fibd
192.0.2.0/29 nhid 3000000001 proto fibd metric 20
192.0.2.8/29 nhid 3000000002 proto fibd metric 20
192.0.2.16/29 nhid 3000000003 proto fibd metric 20
192.0.2.24/29 nhid 3000000001 proto fibd metric 20
192.0.2.32/29 nhid 3000000002 proto fibd metric 20
192.0.2.40/29 nhid 3000000003 proto fibd metric 20
198.51.100.0/26 nhid 3000000001 proto fibd metric 20
198.51.100.64/26 nhid 3000000004 proto fibd metric 20
`)

	if n := h.fib.WithdrawSource("bgp"); n != 8 {
		t.Errorf("withdrawn routes = %d, want 8", n)
	}

	h.expect("")

	if st := h.fib.Stats(); st.Groups != 0 || st.Nexthops != 0 {
		t.Errorf("groups/nexthops = %d/%d after the withdraw, want 0/0", st.Groups, st.Nexthops)
	}
}

// TestUpdateSharedSetValidation offers routes that share one set, which
// Update checks once: an invalid shared set fails every route that names
// it, and a valid one still fails the route of the wrong family.
func TestUpdateSharedSetValidation(t *testing.T) {
	h := newHarness(t, nil, fib.Config{})
	h.run()

	bad := hops(hop(gwA, "v0"), hop(gwA, "v0"))
	good := hops(hop(gwA, "v0"))
	routes := []fib.Route{
		route("192.0.2.0/29", "bgp", fib.DistanceEBGP, 20, bad),
		route("192.0.2.8/29", "bgp", fib.DistanceEBGP, 20, good),
		route("192.0.2.16/29", "bgp", fib.DistanceEBGP, 20, bad),
		route("2001:db8:1::/48", "bgp", fib.DistanceEBGP, 20, good),
		route("192.0.2.24/29", "bgp", fib.DistanceEBGP, 20, good),
		route("192.0.2.32/29", "bgp", fib.DistanceEBGP, 20, bad),
	}

	errs := h.fib.Update(routes)
	for i, wantErr := range []bool{true, false, true, true, false, true} {
		if (errs[i] != nil) != wantErr {
			t.Errorf("route %s: error %v, want error %v", routes[i].Prefix, errs[i], wantErr)
		}
	}

	h.sync()
	if st := h.fib.Stats(); st.Installed != 2 {
		t.Errorf("installed = %d, want 2", st.Installed)
	}
}
