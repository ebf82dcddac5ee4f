package fib

import (
	"fmt"
	"net/netip"

	"github.com/fibd/fibd/nexthop"
)

// Type is the kernel route type (rtm_type) of a route.
type Type uint8

// Route types fibd programs, with the kernel's values (RTN_*).
const (
	TypeUnicast     Type = 1 // RTN_UNICAST
	TypeBlackhole   Type = 6 // RTN_BLACKHOLE
	TypeUnreachable Type = 7 // RTN_UNREACHABLE
	TypeProhibit    Type = 8 // RTN_PROHIBIT
)

// String returns the type as iproute2 names it.
func (t Type) String() string {
	switch t {
	case TypeUnicast:
		return "unicast"
	case TypeBlackhole:
		return "blackhole"
	case TypeUnreachable:
		return "unreachable"
	case TypeProhibit:
		return "prohibit"
	}

	return fmt.Sprintf("type(%d)", uint8(t))
}

// Kernel routing tables with special meaning.
const (
	TableUnspec  uint32 = 0   // RT_TABLE_UNSPEC: not a table
	TableCompat  uint32 = 252 // RT_TABLE_COMPAT
	TableDefault uint32 = 253 // RT_TABLE_DEFAULT
	TableMain    uint32 = 254 // RT_TABLE_MAIN
	TableLocal   uint32 = 255 // RT_TABLE_LOCAL: the kernel's own local and broadcast routes
)

// Key identifies a route in the desired state: one prefix in one table.
type Key struct {
	Table  uint32
	Prefix netip.Prefix
}

// String formats the key as "PREFIX table N".
func (k Key) String() string {
	return fmt.Sprintf("%s table %d", k.Prefix, k.Table)
}

// Distance is an administrative distance: the lower, the more preferred.
type Distance uint8

// Default administrative distances, as zebra has them.
const (
	DistanceConnected Distance = 0
	DistanceStatic    Distance = 1
	DistanceEBGP      Distance = 20
	DistanceIBGP      Distance = 200
	DistanceGRPC      Distance = 10
)

// Route is a candidate route offered by one source.
//
// NextHops is required for TypeUnicast and must be empty for the other
// types. Next hops may name a gateway without a device; the device is then
// found with the kernel's lookup before the route is programmed.
type Route struct {
	Prefix   netip.Prefix
	Table    uint32
	Metric   uint32
	Type     Type
	NextHops nexthop.Set

	// Source names the producer of the route ("bgp", a gRPC client name).
	Source string

	// Distance ranks this candidate against other sources' candidates for
	// the same key.
	Distance Distance
}

// ip6DefaultMetric is the metric the kernel stores for an IPv6 route
// requested with metric 0 (IP6_RT_PRIO_USER in include/net/ip6_route.h).
const ip6DefaultMetric = 1024

// kernelMetric returns the metric the kernel stores for a route of prefix
// requested with metric, so that a dump matches what the FIB installed.
func kernelMetric(prefix netip.Prefix, metric uint32) uint32 {
	if metric == 0 && prefix.Addr().Is6() {
		return ip6DefaultMetric
	}

	return metric
}

// Key returns the (table, prefix) the route is for.
func (r Route) Key() Key {
	return Key{Table: r.Table, Prefix: r.Prefix}
}

// Validate reports the first problem with r, naming the value that is
// wrong: a prefix that is invalid or has host bits set, a reserved table, an
// unknown type, next hops on a route type that takes none, or an invalid
// next-hop set. It expects r.NextHops in canonical order.
func (r Route) Validate() error {
	return r.validate(false)
}

// validate checks r as Validate does. With setValid set, it skips
// nexthop.Set.Validate of the set, which the caller has already run.
func (r Route) validate(setValid bool) error {
	if !r.Prefix.IsValid() {
		return fmt.Errorf("invalid prefix %s", r.Prefix)
	}

	if r.Prefix.Addr().Zone() != "" {
		return fmt.Errorf("invalid prefix %s: a prefix has no zone", r.Prefix)
	}

	if r.Prefix.Addr().Is4In6() {
		return fmt.Errorf("invalid prefix %s: use the plain IPv4 form", r.Prefix)
	}

	if masked := r.Prefix.Masked(); masked != r.Prefix {
		return fmt.Errorf("invalid prefix %s: host bits are set, use %s", r.Prefix, masked)
	}

	switch r.Table {
	case TableUnspec, TableCompat, TableDefault, TableLocal:
		return fmt.Errorf("invalid table %d for %s: the kernel reserves it, use 254 (main) or a table from 1 to 251 or above 255", r.Table, r.Prefix)
	}

	if r.Source == "" {
		return fmt.Errorf("invalid route %s: missing source name", r.Prefix)
	}

	switch r.Type {
	case TypeUnicast:
		return r.validateNextHops(setValid)
	case TypeBlackhole, TypeUnreachable, TypeProhibit:
		if len(r.NextHops.Members) > 0 {
			return fmt.Errorf("invalid route %s: a %s route takes no next hops", r.Prefix, r.Type)
		}

		return nil
	}

	return fmt.Errorf("invalid route %s: unknown type %d, use unicast, blackhole, unreachable or prohibit", r.Prefix, r.Type)
}

func (r Route) validateNextHops(setValid bool) error {
	if !setValid {
		if err := r.NextHops.Validate(); err != nil {
			return fmt.Errorf("route %s: %w", r.Prefix, err)
		}
	}

	for _, m := range r.NextHops.Members {
		// An IPv4 route may use an IPv6 gateway (RFC 5549), never the reverse.
		if r.Prefix.Addr().Is6() && m.Hop.Family == nexthop.FamilyIPv4 {
			return fmt.Errorf("invalid next hop %s for IPv6 route %s: the next hop is IPv4", m.Hop, r.Prefix)
		}
	}

	return nil
}
