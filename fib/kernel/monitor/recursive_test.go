package monitor

import (
	"maps"
	"net/netip"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/fibd/fibd/fib"
	"github.com/fibd/fibd/nexthop"
)

// Hops of the recursive scenario: v0 reaches 198.51.100.2 and v2, moved to
// 203.0.113.1/24, reaches 203.0.113.2. The BGP next hop 192.0.2.77 is
// reachable only through a route of another owner to 192.0.2.0/24.
var (
	recursiveGateway = nexthop.Hop{Family: nexthop.FamilyIPv4, Gateway: netip.MustParseAddr("192.0.2.77")}
	viaV0            = nexthop.Hop{Family: nexthop.FamilyIPv4, Gateway: netip.MustParseAddr("198.51.100.2"), Device: "v0"}
	viaV2            = nexthop.Hop{Family: nexthop.FamilyIPv4, Gateway: netip.MustParseAddr("203.0.113.2"), Device: "v2"}
)

// newRecursiveStack builds a stack whose v2 is on 203.0.113.0/24, so that
// 192.0.2.0/24 is free for the route that covers the recursive gateway.
func newRecursiveStack(t *testing.T) *stack {
	t.Helper()

	return newRecursiveStackFIB(t, fib.Config{RetryMin: 50 * time.Millisecond, RetryMax: 200 * time.Millisecond})
}

// newRecursiveStackFIB builds the recursive scenario's stack with a FIB of
// configuration fcfg.
func newRecursiveStackFIB(t *testing.T, fcfg fib.Config) *stack {
	t.Helper()

	s := newStackFIB(t, Config{}, fcfg, true)
	s.ns.IP("addr", "flush", "dev", "v2")
	s.peer.IP("addr", "flush", "dev", "p2")
	s.ns.IP("addr", "add", "203.0.113.1/24", "dev", "v2")
	s.peer.IP("addr", "add", "203.0.113.2/24", "dev", "p2")

	return s
}

// usesHops returns a condition that holds when the route for p uses
// exactly hops: a group of them, or one object for a single hop.
func usesHops(p netip.Prefix, hops ...nexthop.Hop) func(fib.Snapshot) bool {
	return func(snap fib.Snapshot) bool {
		if len(hops) > 1 || hasGroup(p, hops...)(snap) {
			return hasGroup(p, hops...)(snap)
		}

		objects := objectsByID(snap.Nexthops)
		for _, r := range snap.Routes {
			if r.Prefix == p {
				o := objects[r.Nexthop]

				return !o.IsGroup() && o.Hop == hops[0]
			}
		}

		return false
	}
}

// hasNoRoute returns a condition that holds when the kernel has none of
// fibd's routes for p.
func hasNoRoute(p netip.Prefix) func(fib.Snapshot) bool {
	return func(snap fib.Snapshot) bool {
		for _, r := range snap.Routes {
			if r.Prefix == p {
				return false
			}
		}

		return true
	}
}

// hasWeights returns a condition that holds when the route for p uses a
// group whose members forward to the hops of weights with those weights.
func hasWeights(p netip.Prefix, weights map[nexthop.Hop]uint32) func(fib.Snapshot) bool {
	return func(snap fib.Snapshot) bool {
		objects := objectsByID(snap.Nexthops)
		for _, r := range snap.Routes {
			if r.Prefix != p {
				continue
			}

			got := make(map[nexthop.Hop]uint32)
			for _, m := range objects[r.Nexthop].Group {
				got[objects[m.ID].Hop] = m.Weight
			}

			return maps.Equal(got, weights)
		}

		return false
	}
}

// checkIPWeights checks the weights of the group that fibd's route for p
// uses, as `ip -j route` and `ip -j nexthop` print them.
func (s *stack) checkIPWeights(t *testing.T, p netip.Prefix, want map[nexthop.Hop]uint32) {
	t.Helper()

	var routes []struct {
		NHID uint32 `json:"nhid"`
	}
	s.ns.JSON(&routes, "route", "show", p.String(), "proto", strconv.Itoa(testProtocol))
	if len(routes) != 1 {
		t.Fatalf("ip route show %s: %d routes of fibd, want 1", p, len(routes))
	}

	var objects []struct {
		ID      uint32   `json:"id"`
		Gateway string   `json:"gateway"`
		Dev     string   `json:"dev"`
		Flags   []string `json:"flags"`
		Group   []struct {
			ID     uint32 `json:"id"`
			Weight uint32 `json:"weight"` // left out for weight 1
		} `json:"group"`
	}
	s.ns.JSON(&objects, "nexthop", "show")
	byID := make(map[uint32]int)
	for i, o := range objects {
		byID[o.ID] = i
	}

	got := make(map[nexthop.Hop]uint32)
	for _, m := range objects[byID[routes[0].NHID]].Group {
		o := objects[byID[m.ID]]
		gw := netip.MustParseAddr(o.Gateway)
		h := nexthop.Hop{Family: nexthop.FamilyOf(gw), Gateway: gw, Device: o.Dev, Onlink: slices.Contains(o.Flags, "onlink")}
		got[h] = max(m.Weight, 1)
	}

	if !maps.Equal(got, want) {
		t.Errorf("ip nexthop: group %d of the route for %s has weights %v, want %v", routes[0].NHID, p, got, want)
	}
}

// TestRecursiveMove follows the route of another owner that covers a
// recursive gateway as it moves, leaves, falls back to a less specific
// route, returns and becomes multipath.
func TestRecursiveMove(t *testing.T) {
	s := newRecursiveStack(t)
	p := netip.MustParsePrefix("198.18.0.0/24")
	s.ns.IP("route", "add", "192.0.2.0/24", "via", "198.51.100.2", "proto", "static")

	s.update(t, []fib.Route{route(p.String(), recursiveGateway)})
	s.waitKernel(t, "install via v0", 5*time.Second, usesHops(p, viaV0))
	s.verifyClean(t)

	limit := time.Second
	weighted := []string{"route", "replace", "192.0.2.0/24", "proto", "static", "nexthop", "via", "198.51.100.2", "weight", "3", "nexthop", "via", "203.0.113.2", "weight", "1"}
	steps := []struct {
		name    string
		ip      []string
		hops    []nexthop.Hop
		weights map[nexthop.Hop]uint32 // of fibd's group, when not nil
		limit   time.Duration
	}{
		{"move to v2", []string{"route", "replace", "192.0.2.0/24", "via", "203.0.113.2", "proto", "static"}, []nexthop.Hop{viaV2}, nil, limit},
		{"covering route deleted", []string{"route", "del", "192.0.2.0/24"}, nil, nil, limit},
		{"less specific route", []string{"route", "add", "192.0.0.0/16", "via", "203.0.113.2", "proto", "static"}, []nexthop.Hop{viaV2}, nil, limit},
		{"covering route back", []string{"route", "add", "192.0.2.0/24", "via", "198.51.100.2", "proto", "static"}, []nexthop.Hop{viaV0}, nil, limit},
		{"multipath", []string{"route", "replace", "192.0.2.0/24", "proto", "static", "nexthop", "via", "198.51.100.2", "nexthop", "via", "203.0.113.2"}, []nexthop.Hop{viaV0, viaV2}, map[nexthop.Hop]uint32{viaV0: 1, viaV2: 1}, limit},
		{"weighted multipath", weighted, []nexthop.Hop{viaV0, viaV2}, map[nexthop.Hop]uint32{viaV0: 3, viaV2: 1}, limit},
		{"multipath member down", []string{"link", "set", "v0", "down"}, []nexthop.Hop{viaV2}, nil, limit},
		{"multipath member up", []string{"link", "set", "v0", "up"}, []nexthop.Hop{viaV0, viaV2}, map[nexthop.Hop]uint32{viaV0: 3, viaV2: 1}, limit},
		{"single path", []string{"route", "replace", "192.0.2.0/24", "via", "203.0.113.2", "proto", "static"}, []nexthop.Hop{viaV2}, nil, limit},
		{"every covering route deleted", []string{"route", "flush", "proto", "static"}, nil, nil, limit},
	}

	for _, st := range steps {
		cond := hasNoRoute(p)
		if len(st.hops) > 0 {
			cond = usesHops(p, st.hops...)
		}

		if st.weights != nil {
			cond = hasWeights(p, st.weights)
		}

		start := time.Now()
		s.ns.IP(st.ip...)
		took := s.waitKernelSince(t, start, st.name, 5*time.Second, cond)
		t.Logf("%s: kernel route for %s updated %v after `ip %v`", st.name, p, took, st.ip)
		if took > st.limit {
			t.Errorf("%s: took %v, want under %v", st.name, took, st.limit)
		}

		if st.weights != nil {
			s.checkIPWeights(t, p, st.weights)
		}

		// An unresolved route is a difference that Verify may list.
		if len(st.hops) > 0 {
			s.verifyClean(t)
		}
	}
}

// TestRecursiveOwnRoute follows a recursive gateway covered by another of
// fibd's own routes, whose notifications the monitor does not see.
func TestRecursiveOwnRoute(t *testing.T) {
	s := newRecursiveStack(t)
	p := netip.MustParsePrefix("198.18.0.0/24")
	cover := netip.MustParsePrefix("192.0.2.0/24")
	s.update(t, []fib.Route{route(cover.String(), viaV0)})
	s.update(t, []fib.Route{route(p.String(), recursiveGateway)})
	s.waitKernel(t, "install via v0", 5*time.Second, usesHops(p, viaV0))

	start := time.Now()
	s.update(t, []fib.Route{route(cover.String(), viaV2)})
	took := s.waitKernelSince(t, start, "move to v2", 5*time.Second, usesHops(p, viaV2))
	t.Logf("move to v2: kernel route for %s updated %v after Update of %s", p, took, cover)
	if took > time.Second {
		t.Errorf("move to v2: took %v, want under 1s", took)
	}

	start = time.Now()
	s.update(t, []fib.Route{route(cover.String(), viaV0, viaV2)})
	took = s.waitKernelSince(t, start, "multipath", 5*time.Second, usesHops(p, viaV0, viaV2))
	t.Logf("multipath: kernel route for %s updated %v after Update of %s", p, took, cover)
	if took > time.Second {
		t.Errorf("multipath: took %v, want under 1s", took)
	}

	start = time.Now()
	s.f.Withdraw("test", []fib.Key{{Table: 254, Prefix: cover}})
	took = s.waitKernelSince(t, start, "covering route withdrawn", 5*time.Second, hasNoRoute(p))
	t.Logf("covering route withdrawn: kernel route for %s removed %v after Withdraw of %s", p, took, cover)
	if took > time.Second {
		t.Errorf("covering route withdrawn: took %v, want under 1s", took)
	}
}

// TestRecursiveAudit checks that the audit resolves gateways again: a
// policy rule changes the resolution without a notification the monitor
// follows.
func TestRecursiveAudit(t *testing.T) {
	s := newRecursiveStack(t)
	p := netip.MustParsePrefix("198.18.0.0/24")
	s.ns.IP("route", "add", "192.0.2.0/24", "via", "198.51.100.2", "proto", "static")
	s.ns.IP("route", "add", "192.0.2.0/24", "via", "203.0.113.2", "proto", "static", "table", "100")
	s.update(t, []fib.Route{route(p.String(), recursiveGateway)})
	s.waitKernel(t, "install via v0", 5*time.Second, usesHops(p, viaV0))

	// Let the re-resolution that the route in table 100 requested run
	// first. Without the audit the route then stays on v0.
	time.Sleep(300 * time.Millisecond)
	s.ns.IP("rule", "add", "to", "192.0.2.0/24", "lookup", "100", "pref", "100")
	time.Sleep(300 * time.Millisecond)
	s.waitKernel(t, "still via v0", time.Second, usesHops(p, viaV0))

	start := time.Now()
	var st schedule
	s.m.audit(t.Context(), &st)
	took := s.waitKernelSince(t, start, "move to v2 after an audit", 5*time.Second, usesHops(p, viaV2))
	t.Logf("audit: kernel route for %s moved %v after the start of the audit", p, took)
}

// TestRecursiveForeignNexthop follows a covering route of another owner
// whose nexthop object is replaced in place. Linux 6.18 announces the
// routes that use the object too, even with nexthop_compat_mode off.
func TestRecursiveForeignNexthop(t *testing.T) {
	s := newRecursiveStack(t)
	s.ns.Sysctl("net.ipv4.nexthop_compat_mode", "0")
	p := netip.MustParsePrefix("198.18.0.0/24")
	s.ns.IP("nexthop", "add", "id", "77", "via", "198.51.100.2", "dev", "v0", "proto", "static")
	s.ns.IP("route", "add", "192.0.2.0/24", "nhid", "77", "proto", "static")
	s.update(t, []fib.Route{route(p.String(), recursiveGateway)})
	s.waitKernel(t, "install via v0", 5*time.Second, usesHops(p, viaV0))

	start := time.Now()
	s.ns.IP("nexthop", "replace", "id", "77", "via", "203.0.113.2", "dev", "v2", "proto", "static")
	took := s.waitKernelSince(t, start, "move to v2", 5*time.Second, usesHops(p, viaV2))
	t.Logf("move to v2: kernel route for %s updated %v after `ip nexthop replace id 77`", p, took)
	if took > time.Second {
		t.Errorf("move to v2: took %v, want under 1s", took)
	}

	s.verifyClean(t)
}

// TestRecursiveForeignGroup resolves a recursive gateway over a route of
// another owner that uses a weighted nexthop group, with
// nexthop_compat_mode off: the kernel then reports the route with the
// group's id only, and fibd reads the members and their weights from the
// group. It follows the group as a member leaves and returns, as the
// weights change, and as a member's link loses its carrier, which drops
// the member for good, and gets it back.
func TestRecursiveForeignGroup(t *testing.T) {
	restoreWait := 200 * time.Millisecond
	s := newRecursiveStackFIB(t, fib.Config{RetryMin: 50 * time.Millisecond, RetryMax: 200 * time.Millisecond, RestoreWait: restoreWait})
	s.ns.Sysctl("net.ipv4.nexthop_compat_mode", "0")
	p := netip.MustParsePrefix("198.18.0.0/24")
	s.ns.IP("nexthop", "add", "id", "77", "via", "198.51.100.2", "dev", "v0", "proto", "static")
	s.ns.IP("nexthop", "add", "id", "78", "via", "203.0.113.2", "dev", "v2", "proto", "static")
	s.ns.IP("nexthop", "add", "id", "79", "group", "77,3/78", "proto", "static")
	s.ns.IP("route", "add", "192.0.2.0/24", "nhid", "79", "proto", "static")
	weighted := map[nexthop.Hop]uint32{viaV0: 3, viaV2: 1}
	s.installWeighted(t, p, weighted)

	steps := []struct {
		name    string
		ip      []string
		onPeer  bool // run ip in the peer's namespace
		hops    []nexthop.Hop
		weights map[nexthop.Hop]uint32 // of fibd's group, when not nil
	}{
		{"member left", []string{"nexthop", "replace", "id", "79", "group", "78", "proto", "static"}, false, []nexthop.Hop{viaV2}, nil},
		{"member back", []string{"nexthop", "replace", "id", "79", "group", "77,3/78", "proto", "static"}, false, []nexthop.Hop{viaV0, viaV2}, weighted},
		{"weights changed", []string{"nexthop", "replace", "id", "79", "group", "77/78,2", "proto", "static"}, false, []nexthop.Hop{viaV0, viaV2}, map[nexthop.Hop]uint32{viaV0: 1, viaV2: 2}},
		{"member carrier lost", []string{"link", "set", "p0", "down"}, true, []nexthop.Hop{viaV2}, nil},
	}

	// A lost carrier took about 0.8 s to move the route in runs on Linux
	// 6.18, against 0.1 s for a group change, so the limit leaves room.
	limit := 2 * time.Second
	for _, st := range steps {
		start := time.Now()
		if st.onPeer {
			s.peer.IP(st.ip...)
		} else {
			s.ns.IP(st.ip...)
		}

		cond := usesHops(p, st.hops...)
		if st.weights != nil {
			cond = hasWeights(p, st.weights)
		}

		took := s.waitKernelSince(t, start, st.name, 5*time.Second, cond)
		t.Logf("%s: kernel route for %s updated %v after `ip %v`", st.name, p, took, st.ip)
		if took > limit {
			t.Errorf("%s: took %v, want under %v", st.name, took, limit)
		}

		if st.weights != nil {
			s.checkIPWeights(t, p, st.weights)
		}
	}

	// The kernel does not put the member back into the group, so fibd
	// must not take v0 back once its carrier returns.
	s.peer.IP("link", "set", "p0", "up")
	time.Sleep(restoreWait + time.Second)
	s.waitKernel(t, "member carrier back", time.Second, usesHops(p, viaV2))
	s.verifyClean(t)
}

// TestRecursiveForeignDeviceMember resolves a recursive gateway over a
// group of another owner whose second member names a device and no
// gateway: that path reaches the gateway directly, as an onlink hop, and
// keeps its weight.
func TestRecursiveForeignDeviceMember(t *testing.T) {
	s := newRecursiveStack(t)
	s.ns.Sysctl("net.ipv4.nexthop_compat_mode", "0")
	p := netip.MustParsePrefix("198.18.0.0/24")
	s.ns.IP("nexthop", "add", "id", "77", "via", "198.51.100.2", "dev", "v0", "proto", "static")
	s.ns.IP("nexthop", "add", "id", "83", "dev", "v2", "proto", "static")
	s.ns.IP("nexthop", "add", "id", "84", "group", "77/83,2", "proto", "static")
	s.ns.IP("route", "add", "192.0.2.0/24", "nhid", "84", "proto", "static")
	direct := nexthop.Hop{Family: nexthop.FamilyIPv4, Gateway: recursiveGateway.Gateway, Device: "v2", Onlink: true}
	s.installWeighted(t, p, map[nexthop.Hop]uint32{viaV0: 1, direct: 2})
}

// TestRecursiveForeignGroupCompat resolves a recursive gateway over a
// route of another owner that uses a weighted nexthop group, with
// nexthop_compat_mode on. The kernel then also lists the group's paths in
// RTA_MULTIPATH, and fibd's group takes the group's weights.
func TestRecursiveForeignGroupCompat(t *testing.T) {
	s := newRecursiveStack(t)
	s.ns.Sysctl("net.ipv4.nexthop_compat_mode", "1")
	p := netip.MustParsePrefix("198.18.0.0/24")
	s.ns.IP("nexthop", "add", "id", "77", "via", "198.51.100.2", "dev", "v0", "proto", "static")
	s.ns.IP("nexthop", "add", "id", "78", "via", "203.0.113.2", "dev", "v2", "proto", "static")
	s.ns.IP("nexthop", "add", "id", "79", "group", "77,3/78", "proto", "static")
	s.ns.IP("route", "add", "192.0.2.0/24", "nhid", "79", "proto", "static")
	s.installWeighted(t, p, map[nexthop.Hop]uint32{viaV0: 3, viaV2: 1})
}

// installWeighted offers p via the recursive gateway and checks that the
// kernel, and ip -j as an independent observer, show it over a group of
// the given weights, with nothing else of fibd's left.
func (s *stack) installWeighted(t *testing.T, p netip.Prefix, weights map[nexthop.Hop]uint32) {
	t.Helper()

	s.update(t, []fib.Route{route(p.String(), recursiveGateway)})
	s.waitKernel(t, "install via the group", 5*time.Second, hasWeights(p, weights))
	s.checkIPWeights(t, p, weights)
	s.verifyClean(t)
}
