package kernel

import (
	"net/netip"
	"slices"
	"testing"

	"github.com/fibd/fibd/fib"
	"github.com/fibd/fibd/nexthop"
)

// TestNetnsResolvePathsWeights resolves gateways over weighted routes of
// another owner in the kernel: a route over a nexthop group with a weight
// above 256, read with net.ipv4.nexthop_compat_mode on and off, and a
// route with RTA_MULTIPATH weights.
func TestNetnsResolvePathsWeights(t *testing.T) {
	l := newLab(t, Config{})
	other := l.foreign(t, Config{})
	mustApply(t, other, []fib.Op{
		nexthopOp(fib.OpNexthopCreate, nexthop.Object{ID: 71, Hop: hop4("198.51.100.2")}),
		nexthopOp(fib.OpNexthopCreate, nexthop.Object{ID: 72, Hop: hop4("198.51.100.3")}),
		nexthopOp(fib.OpNexthopCreate, nexthop.Object{ID: 73, Group: []nexthop.GroupMember{{ID: 71, Weight: 300}, {ID: 72, Weight: 1}}}),
		routeOp(fib.OpRouteCreate, netip.MustParsePrefix("192.0.2.0/24"), fib.TableMain, 20, 73),
	})
	l.ns.IP("route", "add", "203.0.113.0/24", "proto", "static", "nexthop", "via", "198.51.100.2", "weight", "3", "nexthop", "via", "198.51.100.3", "weight", "1")

	gateway := func(s string) nexthop.Hop {
		return nexthop.Hop{Family: nexthop.FamilyIPv4, Gateway: netip.MustParseAddr(s)}
	}

	tests := []struct {
		name   string
		compat string
		hop    nexthop.Hop
		want   []nexthop.Member
	}{
		{"group", "0", gateway("192.0.2.7"), []nexthop.Member{{Hop: hop4("198.51.100.2"), Weight: 300}, {Hop: hop4("198.51.100.3"), Weight: 1}}},
		{"group compat", "1", gateway("192.0.2.7"), []nexthop.Member{{Hop: hop4("198.51.100.2"), Weight: 300}, {Hop: hop4("198.51.100.3"), Weight: 1}}},
		{"multipath", "1", gateway("203.0.113.7"), []nexthop.Member{{Hop: hop4("198.51.100.2"), Weight: 3}, {Hop: hop4("198.51.100.3"), Weight: 1}}},
	}

	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l.ns.Sysctl("net.ipv4.nexthop_compat_mode", tt.compat)
			got, err := l.k.ResolvePaths(testContext(t), tt.hop)
			if err != nil {
				t.Fatalf("ResolvePaths(%s): %v", tt.hop, err)
			}

			if !slices.Equal(got, tt.want) {
				t.Errorf("ResolvePaths(%s) = %v, want %v", tt.hop, got, tt.want)
			}
		})
	}
}
