package fib

import (
	"math/big"
	"math/rand/v2"
	"net/netip"
	"slices"
	"testing"

	"github.com/fibd/fibd/nexthop"
)

func TestExpandWeights(t *testing.T) {
	hop := func(gw, dev string) nexthop.Hop {
		return nexthop.Hop{Family: nexthop.FamilyIPv4, Gateway: netip.MustParseAddr(gw), Device: dev}
	}

	bare := func(gw string) nexthop.Hop {
		return nexthop.Hop{Family: nexthop.FamilyIPv4, Gateway: netip.MustParseAddr(gw)}
	}

	a, b, c := hop("198.51.100.2", "v0"), hop("203.0.113.2", "v2"), hop("198.51.100.3", "v0")
	even, single, weighted, equal, wide := bare("192.0.2.77"), bare("192.0.2.78"), bare("192.0.2.79"), bare("192.0.2.80"), bare("192.0.2.81")
	paths := map[nexthop.Hop][]nexthop.Member{
		even:     {{Hop: a, Weight: 1}, {Hop: b, Weight: 1}},
		single:   {{Hop: a, Weight: 1}},
		weighted: {{Hop: a, Weight: 3}, {Hop: b, Weight: 1}},
		equal:    {{Hop: a, Weight: 5}, {Hop: b, Weight: 5}},
		wide:     {{Hop: a, Weight: nexthop.MaxWeight}, {Hop: b, Weight: 1}},
	}
	resolved := func(h nexthop.Hop) []nexthop.Member {
		if p, ok := paths[h]; ok {
			return p
		}

		return []nexthop.Member{{Hop: h, Weight: 1}}
	}

	member := func(h nexthop.Hop, w uint32) nexthop.Member { return nexthop.Member{Hop: h, Weight: w} }
	tests := []struct {
		name string
		in   []nexthop.Member
		want []nexthop.Member
	}{
		// One path carries everything, whatever the member's weight.
		{"single path", []nexthop.Member{member(single, 3)}, []nexthop.Member{member(a, 1)}},
		{"two paths", []nexthop.Member{member(even, 1)}, []nexthop.Member{member(a, 1), member(b, 1)}},
		// The recursive member keeps half of the traffic.
		{"beside a direct hop", []nexthop.Member{member(even, 1), member(c, 1)}, []nexthop.Member{member(a, 1), member(b, 1), member(c, 2)}},
		// Two requested hops resolve to path a: their weights add up.
		{"shared path", []nexthop.Member{member(even, 1), member(single, 1)}, []nexthop.Member{member(a, 3), member(b, 1)}},
		{"member weight", []nexthop.Member{member(even, 3), member(c, 1)}, []nexthop.Member{member(a, 3), member(b, 3), member(c, 2)}},
		{"large member weight", []nexthop.Member{member(even, nexthop.MaxWeight)}, []nexthop.Member{member(a, 1), member(b, 1)}},
		{"weighted paths", []nexthop.Member{member(weighted, 1)}, []nexthop.Member{member(a, 3), member(b, 1)}},
		{"weighted paths beside a direct hop", []nexthop.Member{member(weighted, 1), member(c, 1)}, []nexthop.Member{member(a, 3), member(b, 1), member(c, 4)}},
		{"weighted paths times member weight", []nexthop.Member{member(weighted, 2), member(c, 1)}, []nexthop.Member{member(a, 3), member(b, 1), member(c, 2)}},
		{"equal path weights", []nexthop.Member{member(equal, 1)}, []nexthop.Member{member(a, 1), member(b, 1)}},
		{"zero weights count as 1", []nexthop.Member{member(weighted, 0), member(c, 0)}, []nexthop.Member{member(a, 3), member(b, 1), member(c, 4)}},
		// The exact weights 65535, 1 and 65536 do not fit, so they are
		// scaled down to MaxWeight and rounded.
		{"scaled down", []nexthop.Member{member(wide, 1), member(c, 1)}, []nexthop.Member{member(a, 65534), member(b, 1), member(c, nexthop.MaxWeight)}},
		// Path b's exact share, 1 in 65535 × 65536 + 65536, rounds up to 1.
		{"scaled down to 1", []nexthop.Member{member(wide, 1), member(c, nexthop.MaxWeight)}, []nexthop.Member{member(a, 1), member(b, 1), member(c, nexthop.MaxWeight)}},
	}

	for _, tt := range tests {
		got := expand(tt.in, resolved)
		if !slices.Equal(got, tt.want) {
			t.Errorf("%s: expand = %v, want %v", tt.name, got, tt.want)
		}
	}
}

// TestExpandShares checks on random members and paths, some with weights
// that need scaling down, that every path gets its share of the traffic
// within the rounding of the weights, and that the weights are in the
// kernel's range and reduced.
func TestExpandShares(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for i := range 2000 {
		members, resolved, want := randomMembers(rng, nexthop.MaxWeight)
		got := expand(members, resolved)
		checkShares(t, i, got, want)
	}
}

// TestExpandExact checks on random members and paths of small weights
// that the weights are exactly the shares in lowest terms whenever those
// fit in MaxWeight.
func TestExpandExact(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	exact := 0
	for i := range 2000 {
		members, resolved, want := randomMembers(rng, 8)
		got := expand(members, resolved)
		checkShares(t, i, got, want)

		weights, ok := lowestTerms(want)
		if !ok {
			continue
		}

		exact++
		for _, m := range got {
			if w := weights[m.Hop]; uint64(m.Weight) != w {
				t.Errorf("set %d: path %s weight %d (weights %v), want %d", i, m.Hop, m.Weight, got, w)
			}
		}
	}

	if exact < 1000 {
		t.Errorf("%d of 2000 sets fit in exact weights, want at least 1000 so that the exact check covers most sets", exact)
	}
}

// randomMembers returns up to four members of random weights, each a
// recursive hop with up to four random paths from a pool of six, and the
// share of the traffic each path should get. Weights are 1 to 8, or one
// time in four up to wide.
func randomMembers(rng *rand.Rand, wide uint32) ([]nexthop.Member, func(nexthop.Hop) []nexthop.Member, map[nexthop.Hop]*big.Rat) {
	weight := func() uint32 {
		if rng.IntN(4) == 0 {
			return 1 + rng.Uint32N(wide)
		}

		return 1 + rng.Uint32N(8)
	}

	paths := make(map[nexthop.Hop][]nexthop.Member)
	var members []nexthop.Member
	for m := range 1 + rng.IntN(4) {
		h := nexthop.Hop{Family: nexthop.FamilyIPv4, Gateway: netip.AddrFrom4([4]byte{192, 0, 2, byte(m)})}
		members = append(members, nexthop.Member{Hop: h, Weight: weight()})
		for range 1 + rng.IntN(4) {
			gw := netip.AddrFrom4([4]byte{198, 51, 100, byte(rng.IntN(6))})
			paths[h] = append(paths[h], nexthop.Member{Hop: nexthop.Hop{Family: nexthop.FamilyIPv4, Gateway: gw, Device: "v0"}, Weight: weight()})
		}
	}

	return members, func(h nexthop.Hop) []nexthop.Member { return paths[h] }, shares(members, paths)
}

// shares returns the exact share of the traffic of each path: its member's
// share of all members' weights, split by the path weights.
func shares(members []nexthop.Member, paths map[nexthop.Hop][]nexthop.Member) map[nexthop.Hop]*big.Rat {
	var total int64
	for _, m := range members {
		total += int64(m.Weight)
	}

	want := make(map[nexthop.Hop]*big.Rat)
	for _, m := range members {
		var sum int64
		for _, p := range paths[m.Hop] {
			sum += int64(p.Weight)
		}

		for _, p := range paths[m.Hop] {
			share := big.NewRat(int64(m.Weight)*int64(p.Weight), total*sum)
			if want[p.Hop] == nil {
				want[p.Hop] = new(big.Rat)
			}

			want[p.Hop].Add(want[p.Hop], share)
		}
	}

	return want
}

// lowestTerms returns the smallest whole weights in the ratio of shares,
// and false when one of them exceeds MaxWeight.
func lowestTerms(shares map[nexthop.Hop]*big.Rat) (map[nexthop.Hop]uint64, bool) {
	multiple := big.NewInt(1)
	for _, r := range shares {
		g := new(big.Int).GCD(nil, nil, multiple, r.Denom())
		multiple.Mul(multiple, new(big.Int).Quo(r.Denom(), g))
	}

	scaled := make(map[nexthop.Hop]*big.Int)
	divisor := new(big.Int)
	for h, r := range shares {
		n := new(big.Int).Mul(r.Num(), new(big.Int).Quo(multiple, r.Denom()))
		scaled[h] = n
		divisor.GCD(nil, nil, divisor, n)
	}

	weights := make(map[nexthop.Hop]uint64)
	for h, n := range scaled {
		w := new(big.Int).Quo(n, divisor)
		if !w.IsUint64() || w.Uint64() > nexthop.MaxWeight {
			return nil, false
		}

		weights[h] = w.Uint64()
	}

	return weights, true
}

// checkShares checks that the weights are in range and reduced, and that
// each path's share of the total weight is its expected share. Rounding
// moves each weight by less than 1, and so a share by less than (n+1)/G
// for n paths of total weight G.
func checkShares(t *testing.T, i int, got []nexthop.Member, want map[nexthop.Hop]*big.Rat) {
	t.Helper()

	if len(got) != len(want) {
		t.Fatalf("set %d: %d paths (weights %v), want %d", i, len(got), got, len(want))
	}

	var total float64
	divisor := uint64(0)
	for _, m := range got {
		total += float64(m.Weight)
		divisor = gcd(divisor, uint64(m.Weight))
		if m.Weight < 1 || m.Weight > nexthop.MaxWeight {
			t.Errorf("set %d: path %s weight %d, want 1 to %d", i, m.Hop, m.Weight, nexthop.MaxWeight)
		}
	}

	if divisor != 1 {
		t.Errorf("set %d: weights %v have common divisor %d, want them reduced", i, got, divisor)
	}

	tolerance := float64(len(got)+1) / total
	for _, m := range got {
		share := float64(m.Weight) / total
		expected, _ := want[m.Hop].Float64()
		if diff := share - expected; diff > tolerance || diff < -tolerance {
			t.Errorf("set %d: path %s share %.9f (weights %v), want %.9f", i, m.Hop, share, got, expected)
		}
	}
}
