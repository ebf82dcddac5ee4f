package bench

import (
	"net/netip"
	"testing"
)

func TestPrefixIndexInvertsPrefix(t *testing.T) {
	for _, family := range []int{4, 6} {
		for _, i := range []int{0, 1, 255, 256, 65535, 1_000_000, MaxRoutes(family) - 1} {
			got, ok := PrefixIndex(family, Prefix(family, i))
			if !ok || got != i {
				t.Errorf("IPv%d: PrefixIndex(Prefix(%d)) = %d, %v", family, i, got, ok)
			}
		}
	}
}

func TestPrefixIndexRejectsOtherPrefixes(t *testing.T) {
	cases := []struct {
		family int
		prefix string
	}{
		{4, "15.255.255.0/24"},
		{4, "16.0.0.0/23"},
		{4, "16.0.0.1/32"},
		{4, "80.0.0.0/24"},
		{4, "2001:db8::/56"},
		{6, "2001:db8::/48"},
		{6, "2001:db9::/56"},
		{6, "2001:db8:0:1::/64"},
		{6, "192.0.2.0/24"},
	}

	for _, c := range cases {
		if i, ok := PrefixIndex(c.family, netip.MustParsePrefix(c.prefix)); ok {
			t.Errorf("IPv%d: PrefixIndex(%s) = %d, want none", c.family, c.prefix, i)
		}
	}
}

func TestRouteMapWorkloadAndOtherPrefixes(t *testing.T) {
	rm := newRouteMap(4)
	inside := Prefix(4, 70_000)
	outside := netip.MustParsePrefix("192.0.2.0/24")

	if _, had := rm.put(inside, routeRef{nhid: 7}); had {
		t.Fatal("put of a new workload prefix reported a previous route")
	}

	if _, had := rm.put(outside, routeRef{mask: 1}); had {
		t.Fatal("put of a new other prefix reported a previous route")
	}

	if old, had := rm.put(inside, routeRef{nhid: 8}); !had || old.nhid != 7 {
		t.Fatalf("replace returned %+v, %v, want nhid 7", old, had)
	}

	if rm.len() != 2 {
		t.Fatalf("len = %d, want 2", rm.len())
	}

	if ref, ok := rm.get(inside); !ok || ref.nhid != 8 {
		t.Fatalf("get(%s) = %+v, %v", inside, ref, ok)
	}

	if _, ok := rm.get(Prefix(4, 3_000_000)); ok {
		t.Fatal("get beyond the array found a route")
	}

	rm.delete(inside)
	rm.delete(inside)
	rm.delete(outside)
	if rm.len() != 0 {
		t.Fatalf("len after deletes = %d, want 0", rm.len())
	}
}
