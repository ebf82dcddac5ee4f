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
