package nexthop

import (
	"fmt"
	"net/netip"
	"slices"
	"strconv"
	"strings"
)

// ID is a kernel nexthop object id (NHA_ID). Zero means "no object".
type ID uint32

// Family is an address family, with the kernel's values (AF_INET, AF_INET6)
// so that it converts without a table at the wire boundary.
type Family uint8

// Address families of next hops.
const (
	FamilyIPv4 Family = 2  // AF_INET
	FamilyIPv6 Family = 10 // AF_INET6
)

// String returns "inet" or "inet6", as iproute2 prints them.
func (f Family) String() string {
	switch f {
	case FamilyIPv4:
		return "inet"
	case FamilyIPv6:
		return "inet6"
	}

	return "family(" + strconv.Itoa(int(f)) + ")"
}

// FamilyOf returns the family of an address.
func FamilyOf(a netip.Addr) Family {
	if a.Is4() {
		return FamilyIPv4
	}

	return FamilyIPv6
}

// Limits of kernel nexthop groups.
const (
	// MaxWeight is the largest member weight. The kernel stores weight - 1
	// in 16 bits since Linux 6.12 (NHA_GROUP weight_high), and rejects the
	// stored value 0xffff (weight 65536) as "Invalid value for weight"
	// (checked on Linux 6.18).
	MaxWeight = 65535

	// MaxWeight8 is the largest weight that kernels before 6.12 accept.
	MaxWeight8 = 256

	// MaxMembers is the largest number of members in a group, as the
	// kernel's MULTIPATH_MAX_PATHS (net/ipv4/nexthop.c) allows.
	MaxMembers = 256
)

// Hop is one next hop: the identity of one kernel nexthop object.
//
// Device names the output interface by name, so that a hop follows an
// interface that is deleted and created again with a new index. A hop with a
// gateway and no device must be resolved (its device found with the kernel's
// own lookup) before it is interned. Family is the family of the gateway, or
// for a device-only hop the family of the routes that use it.
type Hop struct {
	Family  Family
	Gateway netip.Addr
	Device  string
	Onlink  bool
}

// String formats the hop the way iproute2 prints a nexthop.
func (h Hop) String() string {
	var b strings.Builder
	if h.Gateway.IsValid() {
		b.WriteString("via ")
		b.WriteString(h.Gateway.String())
	}

	if h.Device != "" {
		if b.Len() > 0 {
			b.WriteByte(' ')
		}

		b.WriteString("dev ")
		b.WriteString(h.Device)
	}

	if h.Onlink {
		b.WriteString(" onlink")
	}

	if b.Len() == 0 {
		return "(empty)"
	}

	return b.String()
}

// Validate reports the first problem that makes the hop impossible to
// program: no gateway and no device, a family that does not match the
// gateway, or a link-local IPv6 gateway without a device.
func (h Hop) Validate() error {
	if !h.Gateway.IsValid() && h.Device == "" {
		return fmt.Errorf("invalid next hop: neither gateway nor device is set")
	}

	if h.Family != FamilyIPv4 && h.Family != FamilyIPv6 {
		return fmt.Errorf("invalid next hop %s: unknown family %d", h, h.Family)
	}

	if h.Gateway.IsValid() {
		if h.Gateway.Zone() != "" {
			return fmt.Errorf("invalid next hop %s: put the zone in the device, not in the gateway", h)
		}

		if FamilyOf(h.Gateway) != h.Family {
			return fmt.Errorf("invalid next hop %s: gateway is not of family %s", h, h.Family)
		}

		if h.Gateway.Is4In6() {
			return fmt.Errorf("invalid next hop %s: use the plain IPv4 form of the gateway", h)
		}

		if h.Gateway.IsUnspecified() || h.Gateway.IsMulticast() {
			return fmt.Errorf("invalid next hop %s: gateway must be a unicast address", h)
		}

		if h.Gateway.IsLinkLocalUnicast() && h.Gateway.Is6() && h.Device == "" {
			return fmt.Errorf("invalid next hop %s: a link-local gateway needs a device (interface)", h)
		}
	}

	return nil
}

// Member is one hop of a group with its weight (1 to MaxWeight).
type Member struct {
	Hop    Hop
	Weight uint32
}

// Resilient holds the parameters of a resilient group (NHA_RES_GROUP).
// Timers are in seconds, as iproute2 takes them.
type Resilient struct {
	Buckets         uint16
	IdleTimer       uint32
	UnbalancedTimer uint32
}

// Set is the next-hop set that a route requests: one or more members, and
// optionally a resilient group. A set of one member that is not resilient
// is programmed as a plain nexthop object without a group.
//
// Members are kept in canonical order (see Canonical); the zero Set is
// empty and requests nothing.
type Set struct {
	Members   []Member
	Resilient *Resilient
}

// Canonical returns a copy of s with members sorted, so that two sets with
// the same members in another order have the same Key. Weights of zero are
// taken as 1.
func (s Set) Canonical() Set {
	c := Set{Members: slices.Clone(s.Members)}
	if s.Resilient != nil {
		r := *s.Resilient
		c.Resilient = &r
	}

	for i := range c.Members {
		if c.Members[i].Weight == 0 {
			c.Members[i].Weight = 1
		}
	}

	slices.SortFunc(c.Members, func(a, b Member) int {
		return compareHops(a.Hop, b.Hop)
	})

	return c
}

// IsGroup reports whether the set needs a group object.
func (s Set) IsGroup() bool {
	return len(s.Members) > 1 || s.Resilient != nil
}

// Validate checks a canonical set: at least one member, no more than
// MaxMembers, weights in range, no duplicate hops, and valid hops.
func (s Set) Validate() error {
	if len(s.Members) == 0 {
		return fmt.Errorf("invalid next-hop set: no next hops")
	}

	if len(s.Members) > MaxMembers {
		return fmt.Errorf("invalid next-hop set: %d next hops, more than the kernel's limit of %d", len(s.Members), MaxMembers)
	}

	for i, m := range s.Members {
		if err := m.Hop.Validate(); err != nil {
			return err
		}

		if m.Weight < 1 || m.Weight > MaxWeight {
			return fmt.Errorf("invalid weight %d for next hop %s: must be 1 to %d", m.Weight, m.Hop, MaxWeight)
		}

		if i > 0 && s.Members[i-1].Hop == m.Hop {
			return fmt.Errorf("invalid next-hop set: next hop %s appears twice", m.Hop)
		}
	}

	if r := s.Resilient; r != nil && r.Buckets == 0 {
		return fmt.Errorf("invalid resilient group: buckets must be at least 1")
	}

	return nil
}

// Key returns a string that identifies the canonical set, for use as a map
// key. Two sets have the same key exactly when they program the same
// object.
func (s Set) Key() string {
	var b strings.Builder
	for _, m := range s.Members {
		b.WriteString(m.Hop.Key())
		b.WriteByte('*')
		b.WriteString(strconv.FormatUint(uint64(m.Weight), 10))
		b.WriteByte(';')
	}

	if r := s.Resilient; r != nil {
		fmt.Fprintf(&b, "res/%d/%d/%d", r.Buckets, r.IdleTimer, r.UnbalancedTimer)
	}

	return b.String()
}

// Key returns a string that identifies the hop, for use as a map key.
func (h Hop) Key() string {
	onlink := ""
	if h.Onlink {
		onlink = "/onlink"
	}

	return fmt.Sprintf("%d/%s/%s%s", h.Family, h.Gateway, h.Device, onlink)
}

// String formats the set like iproute2's multipath next hops.
func (s Set) String() string {
	if len(s.Members) == 1 && s.Resilient == nil {
		return s.Members[0].Hop.String()
	}

	parts := make([]string, 0, len(s.Members))
	for _, m := range s.Members {
		parts = append(parts, fmt.Sprintf("nexthop %s weight %d", m.Hop, m.Weight))
	}

	if s.Resilient != nil {
		parts = append(parts, fmt.Sprintf("resilient buckets %d", s.Resilient.Buckets))
	}

	return strings.Join(parts, " ")
}

func compareHops(a, b Hop) int {
	if c := int(a.Family) - int(b.Family); c != 0 {
		return c
	}

	if c := a.Gateway.Compare(b.Gateway); c != 0 {
		return c
	}

	if c := strings.Compare(a.Device, b.Device); c != 0 {
		return c
	}

	switch {
	case a.Onlink == b.Onlink:
		return 0
	case a.Onlink:
		return 1
	default:
		return -1
	}
}
