package fib

import (
	"net/netip"
	"slices"
	"testing"

	"github.com/fibd/fibd/nexthop"
)

func TestExpandWeights(t *testing.T) {
	hop := func(gw, dev string) nexthop.Hop {
		return nexthop.Hop{Family: nexthop.FamilyIPv4, Gateway: netip.MustParseAddr(gw), Device: dev}
	}

	bare := nexthop.Hop{Family: nexthop.FamilyIPv4, Gateway: netip.MustParseAddr("192.0.2.77")}
	bare2 := nexthop.Hop{Family: nexthop.FamilyIPv4, Gateway: netip.MustParseAddr("192.0.2.78")}
	a, b, c := hop("198.51.100.2", "v0"), hop("203.0.113.2", "v2"), hop("198.51.100.3", "v0")
	paths := map[nexthop.Hop][]nexthop.Hop{bare: {a, b}, bare2: {a}}
	resolved := func(h nexthop.Hop) []nexthop.Hop {
		if p, ok := paths[h]; ok {
			return p
		}

		return []nexthop.Hop{h}
	}

	tests := []struct {
		name string
		in   []nexthop.Member
		want []nexthop.Member
	}{
		{"single path", []nexthop.Member{{Hop: bare2, Weight: 3}}, []nexthop.Member{{Hop: a, Weight: 3}}},
		{"two paths", []nexthop.Member{{Hop: bare, Weight: 1}}, []nexthop.Member{{Hop: a, Weight: 1}, {Hop: b, Weight: 1}}},
		// The recursive member keeps half of the traffic.
		{"beside a direct hop", []nexthop.Member{{Hop: bare, Weight: 1}, {Hop: c, Weight: 1}}, []nexthop.Member{{Hop: a, Weight: 1}, {Hop: b, Weight: 1}, {Hop: c, Weight: 2}}},
		// Two requested hops resolve to path a: their weights add up.
		{"shared path", []nexthop.Member{{Hop: bare, Weight: 1}, {Hop: bare2, Weight: 1}}, []nexthop.Member{{Hop: a, Weight: 3}, {Hop: b, Weight: 1}}},
		// Scaling would pass MaxWeight, so each path keeps the weight.
		{"weight too large", []nexthop.Member{{Hop: bare, Weight: nexthop.MaxWeight}}, []nexthop.Member{{Hop: a, Weight: nexthop.MaxWeight}, {Hop: b, Weight: nexthop.MaxWeight}}},
	}

	for _, tt := range tests {
		got := expand(tt.in, resolved)
		if !slices.Equal(got, tt.want) {
			t.Errorf("%s: expand = %v, want %v", tt.name, got, tt.want)
		}
	}
}
