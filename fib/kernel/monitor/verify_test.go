package monitor

import (
	"errors"
	"net/netip"
	"slices"
	"strings"
	"testing"

	"github.com/fibd/fibd/fib"
	"github.com/fibd/fibd/nexthop"
)

var (
	hopV0 = nexthop.Hop{Family: nexthop.FamilyIPv4, Gateway: netip.MustParseAddr("198.51.100.2"), Device: "v0"}
	hopV2 = nexthop.Hop{Family: nexthop.FamilyIPv4, Gateway: netip.MustParseAddr("192.0.2.2"), Device: "v2"}
)

// verifyFixture is a FIB state with one single-hop route over object 1 and
// one multipath route over group 3 of objects 1 and 2, and the kernel
// state that matches it.
func verifyFixture() (fib.ExpectedState, fib.Snapshot) {
	single := netip.MustParsePrefix("203.0.113.0/26")
	multi := netip.MustParsePrefix("203.0.113.64/26")

	route := func(p netip.Prefix, id nexthop.ID, hops ...nexthop.Hop) fib.ExpectedRoute {
		var set nexthop.Set
		for _, h := range hops {
			set.Members = append(set.Members, nexthop.Member{Hop: h, Weight: 1})
		}

		return fib.ExpectedRoute{
			Route:    fib.KernelRoute{Table: 254, Prefix: p, Metric: 20, Type: fib.TypeUnicast, Nexthop: id},
			NextHops: set.Canonical().Members,
		}
	}

	objects := []nexthop.Object{
		{ID: 3000000001, Hop: hopV0},
		{ID: 3000000002, Hop: hopV2},
		{ID: 3000000003, Group: []nexthop.GroupMember{{ID: 3000000001, Weight: 1}, {ID: 3000000002, Weight: 1}}},
	}

	want := fib.ExpectedState{
		Routes: []fib.ExpectedRoute{
			route(single, 3000000001, hopV0),
			route(multi, 3000000003, hopV0, hopV2),
		},
		Nexthops: slices.Clone(objects),
	}

	got := fib.Snapshot{
		Routes: []fib.KernelRoute{
			want.Routes[0].Route,
			want.Routes[1].Route,
		},
		Nexthops: slices.Clone(objects),
	}

	return want, got
}

func TestDiff(t *testing.T) {
	tests := []struct {
		name   string
		change func(*fib.ExpectedState, *fib.Snapshot)
		want   []string
	}{
		{"in sync", func(*fib.ExpectedState, *fib.Snapshot) {}, nil},
		{"missing route", func(_ *fib.ExpectedState, s *fib.Snapshot) {
			s.Routes = s.Routes[1:]
		}, []string{"missing route 203.0.113.0/26 table 254 metric 20"}},
		{"missing route with error", func(d *fib.ExpectedState, s *fib.Snapshot) {
			s.Routes = s.Routes[1:]
			d.Routes[0].Route.Nexthop = 0
			d.Routes[0].Err = errors.New("route exists with another owner")
		}, []string{"missing route 203.0.113.0/26 table 254 metric 20: route exists with another owner"}},
		{"extra route", func(_ *fib.ExpectedState, s *fib.Snapshot) {
			s.Routes = append(s.Routes, fib.KernelRoute{Table: 254, Prefix: netip.MustParsePrefix("192.0.2.0/24"), Metric: 20, Type: fib.TypeBlackhole})
		}, []string{"extra route 192.0.2.0/24 table 254 metric 20"}},
		{"route not expected", func(d *fib.ExpectedState, s *fib.Snapshot) {
			s.Routes = s.Routes[1:]
			d.Routes = d.Routes[1:]
		}, nil},
		{"type differs", func(_ *fib.ExpectedState, s *fib.Snapshot) {
			s.Routes[0].Type = fib.TypeBlackhole
			s.Routes[0].Nexthop = 0
		}, []string{"route 203.0.113.0/26 table 254 metric 20 type differs: kernel blackhole, expected unicast"}},
		{"route on other nexthop", func(_ *fib.ExpectedState, s *fib.Snapshot) {
			s.Routes[0].Nexthop = 3000000002
		}, []string{
			"route 203.0.113.0/26 table 254 metric 20 next hops differ: kernel via 192.0.2.2 dev v2, expected via 198.51.100.2 dev v0",
			"route 203.0.113.0/26 table 254 metric 20 uses nexthop 3000000002, expected 3000000001",
		}},
		{"group lost member", func(_ *fib.ExpectedState, s *fib.Snapshot) {
			s.Nexthops[2].Group = s.Nexthops[2].Group[:1]
		}, []string{
			"nexthop 3000000003 members 3000000001,3000000002 differ: kernel 3000000001",
			"route 203.0.113.64/26 table 254 metric 20 next hops differ: kernel via 198.51.100.2 dev v0, expected via 192.0.2.2 dev v2 weight 1, via 198.51.100.2 dev v0 weight 1",
		}},
		{"missing nexthop", func(_ *fib.ExpectedState, s *fib.Snapshot) {
			s.Nexthops = s.Nexthops[:2]
		}, []string{
			"missing nexthop 3000000003",
			"route 203.0.113.64/26 table 254 metric 20 uses nexthop 3000000003, which is not one of fibd's objects in the kernel",
		}},
		{"route on a foreign nexthop", func(d *fib.ExpectedState, s *fib.Snapshot) {
			d.Routes, d.Nexthops = d.Routes[:1], d.Nexthops[:2]
			s.Routes, s.Nexthops = s.Routes[:1], s.Nexthops[1:2]
			s.ForeignNexthops = []nexthop.ID{3000000001}
		}, []string{
			"nexthop 3000000001 is held by another owner",
			"route 203.0.113.0/26 table 254 metric 20 uses nexthop 3000000001, which is not one of fibd's objects in the kernel",
		}},
		{"route on a nexthop unknown to the FIB", func(d *fib.ExpectedState, s *fib.Snapshot) {
			d.Routes, d.Nexthops = d.Routes[:1], d.Nexthops[1:2]
			d.Routes[0].NextHops = nil
			s.Routes, s.Nexthops = s.Routes[:1], s.Nexthops[:2]
		}, []string{
			"extra nexthop 3000000001",
			"route 203.0.113.0/26 table 254 metric 20 is installed on nexthop 3000000001, which the FIB does not hold",
		}},
		{"nexthop held by another owner", func(d *fib.ExpectedState, s *fib.Snapshot) {
			s.Nexthops = s.Nexthops[:2]
			s.ForeignNexthops = []nexthop.ID{3000000003}
			s.Routes = s.Routes[:1]
			d.Routes = d.Routes[:1]
		}, []string{"nexthop 3000000003 is held by another owner"}},
		{"hop differs", func(_ *fib.ExpectedState, s *fib.Snapshot) {
			s.Nexthops[0].Hop.Device = "v9"
		}, []string{
			"nexthop 3000000001 differs: kernel via 198.51.100.2 dev v9, expected via 198.51.100.2 dev v0",
			"route 203.0.113.0/26 table 254 metric 20 next hops differ: kernel via 198.51.100.2 dev v9, expected via 198.51.100.2 dev v0",
			"route 203.0.113.64/26 table 254 metric 20 next hops differ: kernel via 192.0.2.2 dev v2 weight 1, via 198.51.100.2 dev v9 weight 1, expected via 192.0.2.2 dev v2 weight 1, via 198.51.100.2 dev v0 weight 1",
		}},
		{"extra nexthop", func(_ *fib.ExpectedState, s *fib.Snapshot) {
			s.Nexthops = append(s.Nexthops, nexthop.Object{ID: 3000000009, Hop: hopV2})
		}, []string{"extra nexthop 3000000009"}},
		{"unresolved gateway matches any device", func(d *fib.ExpectedState, _ *fib.Snapshot) {
			d.Routes[0].Route.Nexthop = 0
			d.Routes[0].NextHops[0].Hop.Device = ""
		}, nil},
		{"unresolved route", func(d *fib.ExpectedState, s *fib.Snapshot) {
			d.Routes[0] = fib.ExpectedRoute{
				Route:      fib.KernelRoute{Table: 254, Prefix: d.Routes[0].Route.Prefix, Metric: 20, Type: fib.TypeUnicast},
				Err:        errors.New("no live next hop"),
				Unresolved: true,
			}
			s.Routes = s.Routes[1:]
		}, []string{"missing route 203.0.113.0/26 table 254 metric 20: unresolved: no live next hop"}},
		{"unresolved route without error", func(d *fib.ExpectedState, s *fib.Snapshot) {
			d.Routes[0].Unresolved, d.Routes[0].Route.Nexthop, d.Routes[0].NextHops = true, 0, nil
			s.Routes = s.Routes[1:]
		}, []string{"missing route 203.0.113.0/26 table 254 metric 20: unresolved: no live next hop"}},
		{"unresolved route still in the kernel", func(d *fib.ExpectedState, _ *fib.Snapshot) {
			d.Routes[0].Unresolved, d.Routes[0].Route.Nexthop, d.Routes[0].NextHops = true, 0, nil
		}, []string{"route 203.0.113.0/26 table 254 metric 20 is in the kernel, but unresolved in the FIB: no live next hop"}},
		{"failed change keeps older route", func(d *fib.ExpectedState, _ *fib.Snapshot) {
			d.Routes[0].Err = errors.New("create nexthop 3000000004: no such device")
		}, []string{"failed route 203.0.113.0/26 table 254 metric 20: create nexthop 3000000004: no such device; the kernel keeps the route installed before"}},
		{"conflict on own route", func(d *fib.ExpectedState, _ *fib.Snapshot) {
			d.Routes[1].Err = errors.New("the route exists with another owner")
		}, []string{"failed route 203.0.113.64/26 table 254 metric 20: the route exists with another owner; the kernel keeps the route installed before"}},
		{"IPv6 default metric", func(d *fib.ExpectedState, s *fib.Snapshot) {
			p := netip.MustParsePrefix("2001:db8:1::/48")
			d.Routes = append(d.Routes, fib.ExpectedRoute{Route: fib.KernelRoute{Table: 254, Prefix: p, Type: fib.TypeBlackhole}})
			s.Routes = append(s.Routes, fib.KernelRoute{Table: 254, Prefix: p, Metric: 1024, Type: fib.TypeBlackhole})
		}, nil},
	}

	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			want, got := verifyFixture()
			tt.change(&want, &got)

			diffs := diff(want, got)
			if !slices.Equal(diffs, tt.want) {
				t.Errorf("differences:\n%s\nwant:\n%s", strings.Join(diffs, "\n"), strings.Join(tt.want, "\n"))
			}
		})
	}
}

func TestDedupe(t *testing.T) {
	_, snap := verifyFixture()
	snap.Routes = append(snap.Routes, snap.Routes[1], snap.Routes[0])
	snap.Nexthops = append(snap.Nexthops, snap.Nexthops[2])

	got := dedupe(snap)
	if len(got.Routes) != 2 || len(got.Nexthops) != 3 {
		t.Fatalf("dedupe kept %d routes and %d nexthops, want 2 and 3", len(got.Routes), len(got.Nexthops))
	}

	if got.Routes[0].Prefix != netip.MustParsePrefix("203.0.113.0/26") {
		t.Errorf("first route = %v, want the first of the dump", got.Routes[0])
	}
}
