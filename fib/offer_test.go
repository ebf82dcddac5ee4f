package fib

import (
	"net/netip"
	"testing"

	"github.com/fibd/fibd/nexthop"
)

// TestUpdateSetRefs checks that every candidate's set is the one interned
// for its key and counts one reference per candidate, after an Update in
// which a set loses its only route before a later route names it again.
func TestUpdateSetRefs(t *testing.T) {
	f, _ := newRecordedFIB(t)
	setOf := func(gw string) nexthop.Set {
		a := netip.MustParseAddr(gw)
		return nexthop.Set{Members: []nexthop.Member{{Hop: nexthop.Hop{Family: nexthop.FamilyIPv4, Gateway: a, Device: "v0"}, Weight: 1}}}
	}

	routeOf := func(prefix string, set nexthop.Set) Route {
		return Route{Prefix: netip.MustParsePrefix(prefix), Table: TableMain, Type: TypeUnicast, NextHops: set, Source: "bgp", Distance: DistanceEBGP}
	}

	setA, setC := setOf("198.51.100.1"), setOf("203.0.113.3")
	routes := []Route{
		routeOf("192.0.2.0/26", setC),
		routeOf("192.0.2.0/26", setA),
		routeOf("192.0.2.64/26", setC),
		routeOf("192.0.2.128/26", setA),
	}

	for i, err := range f.Update(routes) {
		if err != nil {
			t.Fatalf("update route %d: %v", i, err)
		}
	}

	f.mu.Lock()
	defer f.mu.Unlock()

	users := make(map[*requested]int)
	f.eachLocked(func(_ int32, e *entry) {
		if e.hasFirst {
			users[e.first.set]++
		}

		for _, c := range e.rest {
			users[c.set]++
		}
	})

	for rs, n := range users {
		if f.sets[rs.key] != rs {
			t.Errorf("set %s of a candidate is not the interned one", rs.set)
		}

		if rs.refs != n {
			t.Errorf("set %s has %d references, want %d candidates", rs.set, rs.refs, n)
		}
	}

	if len(f.sets) != len(users) {
		t.Errorf("interned sets = %d, want %d in use", len(f.sets), len(users))
	}
}
