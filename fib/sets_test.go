package fib_test

import (
	"net/netip"
	"strings"
	"testing"

	"github.com/fibd/fibd/fib"
	"github.com/fibd/fibd/nexthop"
)

// TestUpdateSharedMembers offers routes whose sets share one backing
// array at different lengths, and a set whose members the caller changes
// between two Updates, and checks that each route keeps its own set.
func TestUpdateSharedMembers(t *testing.T) {
	h := newHarness(t, nil, fib.Config{})
	h.run()

	members := []nexthop.Member{
		{Hop: hop(gwA, "v0"), Weight: 1},
		{Hop: hop(gwB, "v0"), Weight: 1},
		{Hop: hop(gwC, "v1"), Weight: 1},
	}

	firstTwo := nexthop.Set{Members: members[:2]}
	firstOne := nexthop.Set{Members: members[:1]}
	allThree := nexthop.Set{Members: members[:3]}
	res := &nexthop.Resilient{Buckets: 32}
	firstTwoResilient := nexthop.Set{Members: members[:2], Resilient: res}
	h.update(
		route("192.0.2.0/26", "bgp", fib.DistanceEBGP, 0, firstTwo),
		route("192.0.2.64/26", "bgp", fib.DistanceEBGP, 0, firstOne),
		route("192.0.2.128/26", "bgp", fib.DistanceEBGP, 0, allThree),
		route("192.0.2.192/26", "bgp", fib.DistanceEBGP, 0, firstTwo),
		route("198.51.100.128/25", "bgp", fib.DistanceEBGP, 0, firstTwoResilient),
	)

	// The caller reuses its array for the next Update.
	members[1] = nexthop.Member{Hop: hop(gwC, "v1"), Weight: 2}
	h.update(route("203.0.113.0/25", "bgp", fib.DistanceEBGP, 0, nexthop.Set{Members: members[:2]}))
	h.sync()

	want := map[string]int{
		"192.0.2.0/26":      2,
		"192.0.2.64/26":     1,
		"192.0.2.128/26":    3,
		"192.0.2.192/26":    2,
		"198.51.100.128/25": 2,
		"203.0.113.0/25":    2,
	}

	for prefix, n := range want {
		st, ok := h.fib.Lookup(key(prefix))
		if !ok || len(st.Candidates) != 1 {
			t.Fatalf("lookup %s: %+v, %t; want one candidate", prefix, st, ok)
		}

		got := st.Candidates[0].NextHops
		if len(got.Members) != n {
			t.Errorf("%s: %d next hops, want %d", prefix, len(got.Members), n)
		}
	}

	checkMember := func(prefix string, gw netip.Addr, weight uint32) {
		t.Helper()

		st, _ := h.fib.Lookup(key(prefix))
		for _, m := range st.Candidates[0].NextHops.Members {
			if m.Hop.Gateway == gw && m.Weight == weight {
				return
			}
		}

		t.Errorf("%s: next hops %+v lack %s weight %d", prefix, st.Candidates[0].NextHops.Members, gw, weight)
	}

	checkMember("192.0.2.0/26", gwB, 1)
	checkMember("192.0.2.192/26", gwB, 1)
	checkMember("203.0.113.0/25", gwC, 2)

	st, _ := h.fib.Lookup(key("198.51.100.128/25"))
	if st.Candidates[0].NextHops.Resilient == nil {
		t.Error("198.51.100.128/25 lost its resilient parameters to the previous route's set")
	}

	render := h.dp.Render()
	if !strings.Contains(render, "203.0.113.0/25") {
		t.Errorf("kernel state lacks 203.0.113.0/25:\n%s", render)
	}

	h.checkStats()
}

// TestSetReofferedAfterLastWithdraw withdraws the only route of a set,
// which drops the set's cached record, and offers the same set again for
// another prefix in the same and in a later Sync.
func TestSetReofferedAfterLastWithdraw(t *testing.T) {
	h := newHarness(t, nil, fib.Config{})
	h.run()

	set := hops(hop(gwA, "v0"), hop(gwB, "v0"))
	h.update(route("192.0.2.0/24", "bgp", fib.DistanceEBGP, 0, set))
	h.sync()

	h.fib.Withdraw("bgp", []fib.Key{key("192.0.2.0/24")})
	h.update(route("198.51.100.0/24", "bgp", fib.DistanceEBGP, 0, set))
	h.sync()

	h.fib.Withdraw("bgp", []fib.Key{key("198.51.100.0/24")})
	h.sync()
	h.update(route("203.0.113.0/24", "bgp", fib.DistanceEBGP, 0, set))
	h.sync()

	if _, ok := h.fib.Lookup(key("192.0.2.0/24")); ok {
		t.Error("192.0.2.0/24 still present after its withdraw")
	}

	st, ok := h.fib.Lookup(key("203.0.113.0/24"))
	if !ok || st.Installed == nil {
		t.Fatalf("203.0.113.0/24 = %+v, %t; want installed", st, ok)
	}

	if got := len(st.Candidates[0].NextHops.Members); got != 2 {
		t.Errorf("203.0.113.0/24: %d next hops, want 2", got)
	}

	h.checkStats()
}
