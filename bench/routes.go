package bench

import (
	"fmt"
	"net/netip"
	"strconv"
	"strings"
)

// Workload is the set of routes a scenario installs: how many, of which
// family, over one or two next hops, and over how many groups.
type Workload struct {
	// Family is 4 or 6.
	Family int `json:"family"`

	// Routes is the number of prefixes.
	Routes int `json:"routes"`

	// ECMP spreads every route over both next hops; otherwise every route
	// uses the first next hop only.
	ECMP bool `json:"ecmp"`

	// Groups, with ECMP, spreads the routes over this many nexthop groups
	// of both next hops, which differ in hop0's weight (see Weights).
	// Zero means one group, both hops of weight 1.
	Groups int `json:"groups,omitempty"`
}

// MaxGroups is the largest Workload.Groups: hop0's weight then stays
// within the 8 bits that RTA_MULTIPATH carries it in.
const MaxGroups = 255

// Group returns the index of the group that route i uses: 0 to Groups-1,
// or 0 without groups.
func (w Workload) Group(i int) int {
	if w.Groups == 0 {
		return 0
	}

	return i % w.Groups
}

// Weights returns the weights of hop0 and hop1 in group g: hop0 weighs
// g+1 and hop1 weighs 1, so that no two groups have the same members.
func (w Workload) Weights(g int) (hop0, hop1 uint32) {
	return uint32(g + 1), 1
}

// GroupCount returns the number of distinct next-hop sets of an ECMP
// workload: Groups, or 1 without groups.
func (w Workload) GroupCount() int {
	return max(w.Groups, 1)
}

// String names the workload as the results page does, e.g. "1M IPv4 ECMP".
func (w Workload) String() string {
	paths := "1 hop"
	switch {
	case w.Groups > 0:
		paths = fmt.Sprintf("%d groups", w.Groups)
	case w.ECMP:
		paths = "ECMP"
	}

	return fmt.Sprintf("%s IPv%d %s", FormatCount(w.Routes), w.Family, paths)
}

// FormatCount prints a route count as 20k, 100k or 1M.
func FormatCount(n int) string {
	switch {
	case n >= 1_000_000 && n%1_000_000 == 0:
		return strconv.Itoa(n/1_000_000) + "M"
	case n >= 1000 && n%1000 == 0:
		return strconv.Itoa(n/1000) + "k"
	}

	return strconv.Itoa(n)
}

// ParseSize parses a size such as "v4:100k", "v6:200k" or "v4:1M".
func ParseSize(s string) (family, routes int, err error) {
	fam, count, ok := strings.Cut(s, ":")
	if !ok {
		return 0, 0, fmt.Errorf("parse size %q: want FAMILY:COUNT such as v4:100k", s)
	}

	switch fam {
	case "v4", "4", "ipv4":
		family = 4
	case "v6", "6", "ipv6":
		family = 6
	default:
		return 0, 0, fmt.Errorf("parse size %q: family must be v4 or v6", s)
	}

	mult := 1
	switch {
	case strings.HasSuffix(count, "k"):
		mult, count = 1000, strings.TrimSuffix(count, "k")
	case strings.HasSuffix(count, "M"):
		mult, count = 1_000_000, strings.TrimSuffix(count, "M")
	}

	n, err := strconv.Atoi(count)
	if err != nil || n <= 0 {
		return 0, 0, fmt.Errorf("parse size %q: invalid route count", s)
	}

	if n*mult > MaxRoutes(family) {
		return 0, 0, fmt.Errorf("parse size %q: at most %d routes for IPv%d", s, MaxRoutes(family), family)
	}

	return family, n * mult, nil
}

// MaxRoutes is the number of distinct prefixes Prefix can generate.
func MaxRoutes(family int) int {
	if family == 6 {
		return 1 << 24
	}

	return 1 << 22
}

// Prefix returns the i-th prefix of a workload's family.
//
// IPv4 prefixes are /24s counted up from 16.0.0.0, so 1M routes fill
// 16.0.0.0/4. No documentation range is large enough for a million
// prefixes; the routes only ever exist inside the benchmark's own
// namespaces and no packet is sent to them. IPv6 prefixes are /56s inside
// the documentation prefix 2001:db8::/32.
func Prefix(family, i int) netip.Prefix {
	if family == 6 {
		var b [16]byte
		b[0], b[1], b[2], b[3] = 0x20, 0x01, 0x0d, 0xb8
		b[4], b[5], b[6] = byte(i>>16), byte(i>>8), byte(i)

		return netip.PrefixFrom(netip.AddrFrom16(b), 56)
	}

	v := uint32(16)<<24 + uint32(i)<<8

	return netip.PrefixFrom(netip.AddrFrom4([4]byte{byte(v >> 24), byte(v >> 16), byte(v >> 8), byte(v)}), 24)
}

// PrefixIndex returns the index i for which Prefix(family, i) is p, and
// false when no index gives p.
func PrefixIndex(family int, p netip.Prefix) (int, bool) {
	a := p.Addr()
	if family == 6 {
		b := a.As16()
		if !a.Is6() || p.Bits() != 56 || b[0] != 0x20 || b[1] != 0x01 || b[2] != 0x0d || b[3] != 0xb8 || [9]byte(b[7:]) != [9]byte{} {
			return 0, false
		}

		return int(b[4])<<16 | int(b[5])<<8 | int(b[6]), true
	}

	if !a.Is4() {
		return 0, false
	}

	b := a.As4()
	v := uint32(b[0])<<24 | uint32(b[1])<<16 | uint32(b[2])<<8 | uint32(b[3])
	if p.Bits() != 24 || v&0xff != 0 || v < 16<<24 {
		return 0, false
	}

	i := int(v-16<<24) >> 8
	if i >= MaxRoutes(4) {
		return 0, false
	}

	return i, true
}
