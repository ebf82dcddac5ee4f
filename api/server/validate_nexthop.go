package server

import (
	"fmt"
	"net/netip"

	"github.com/fibd/fibd/api/fibdv1"
	"github.com/fibd/fibd/fib"
	"github.com/fibd/fibd/nexthop"
)

// parseNexthops converts and validates a route's next hops and resilient
// group parameters into a canonical set.
func (s *Server) parseNexthops(v *violations, field string, route fib.Route, r *fibdv1.Route) nexthop.Set {
	hops := r.GetNexthops()
	if route.Type != fib.TypeUnicast {
		if len(hops) > 0 {
			v.add(field+".nexthops", "a %s route takes no next hops, but %d are set; remove them or make the route unicast", route.Type, len(hops))
		}

		if r.GetResilient() != nil {
			v.add(field+".resilient", "a %s route takes no resilient group; remove it", route.Type)
		}

		return nexthop.Set{}
	}

	if len(hops) == 0 {
		v.add(field+".nexthops", "route %s has no next hops; a unicast route needs at least one (or set type blackhole, unreachable or prohibit)", route.Prefix)

		return nexthop.Set{}
	}

	if len(hops) > nexthop.MaxMembers {
		v.add(field+".nexthops", "route %s has %d next hops, more than the kernel's limit of %d; drop some or merge them with weights", route.Prefix, len(hops), nexthop.MaxMembers)

		return nexthop.Set{}
	}

	set := nexthop.Set{Members: make([]nexthop.Member, 0, len(hops))}
	seen := make(map[nexthop.Hop]int, len(hops))

	for i, h := range hops {
		f := fmt.Sprintf("%s.nexthops[%d]", field, i)
		m, ok := s.parseMember(v, f, route.Prefix, h)
		if !ok {
			continue
		}

		if j, dup := seen[m.Hop]; dup {
			v.add(f, "next hop %s repeats %s.nexthops[%d]; list each next hop once and use weight for unequal shares", m.Hop, field, j)

			continue
		}

		seen[m.Hop] = i
		set.Members = append(set.Members, m)
	}

	set.Resilient = parseResilient(v, field+".resilient", r.GetResilient())

	return set.Canonical()
}

// parseMember converts and validates one next hop of a route to prefix.
func (s *Server) parseMember(v *violations, field string, prefix netip.Prefix, h *fibdv1.Nexthop) (nexthop.Member, bool) {
	before := v.total
	hop := nexthop.Hop{Device: h.GetDevice(), Onlink: h.GetOnlink()}

	if h.GetGateway() != "" {
		hop.Gateway = s.parseGateway(v, field, prefix, h, &hop)
	}

	if hop.Device != "" {
		s.checkDevice(v, field+".device", hop.Device)
	}

	switch {
	case hop.Gateway.IsValid():
		hop.Family = nexthop.FamilyOf(hop.Gateway)
	case hop.Device != "":
		hop.Family = nexthop.FamilyOf(prefix.Addr())
	case h.GetGateway() != "":
		// parseGateway reported the invalid gateway.
	default:
		v.add(field, "next hop has neither gateway nor device; set at least one")
	}

	if hop.Onlink && hop.Device == "" {
		v.add(field+".onlink", "onlink needs a device; set device (dev) for gateway %s", hop.Gateway)
	}

	weight := uint32(1)
	if h.Weight != nil {
		weight = *h.Weight
		if weight < 1 || weight > nexthop.MaxWeight {
			v.add(field+".weight", "weight %d is out of range; use 1 to %d (unset means 1)", weight, nexthop.MaxWeight)
		}
	}

	if v.total > before {
		return nexthop.Member{}, false
	}

	return nexthop.Member{Hop: hop, Weight: weight}, true
}

// parseGateway parses a gateway; a zone ("fe80::1%eth0") names the device.
func (s *Server) parseGateway(v *violations, field string, prefix netip.Prefix, h *fibdv1.Nexthop, hop *nexthop.Hop) netip.Addr {
	text := h.GetGateway()
	gw, err := netip.ParseAddr(text)
	if err != nil {
		v.add(field+".gateway", "invalid gateway %q: %v; write an address like 198.51.100.2 or 2001:db8::2", text, err)

		return netip.Addr{}
	}

	if zone := gw.Zone(); zone != "" {
		if hop.Device != "" && hop.Device != zone {
			v.add(field+".gateway", "gateway %s names interface %q but device is %q; use one interface", text, zone, hop.Device)
		}

		hop.Device = zone
		gw = gw.WithZone("")
	}

	switch {
	case gw.Is4In6():
		v.add(field+".gateway", "gateway %s is an IPv4-mapped IPv6 address; use the plain IPv4 form %s", text, gw.Unmap())
	case gw.IsUnspecified() || gw.IsMulticast():
		v.add(field+".gateway", "gateway %s is not a unicast address; use the neighbor's unicast address", text)
	case prefix.Addr().Is6() && gw.Is4():
		v.add(field+".gateway", "gateway %s is IPv4 but prefix %s is IPv6; use an IPv6 gateway", gw, prefix)
	case gw.Is6() && gw.IsLinkLocalUnicast() && hop.Device == "":
		v.add(field+".gateway", "gateway %s is link-local and needs an interface; set device (dev) or write %s%%IFNAME", gw, gw)
	}

	return gw
}

// checkDevice checks an interface name against the kernel's rules and the
// configured device lookup.
func (s *Server) checkDevice(v *violations, field, name string) {
	switch {
	case len(name) > maxDeviceLen:
		v.add(field, "interface name %q is longer than the kernel's limit of %d characters", name, maxDeviceLen)
	case s.cfg.Devices != nil && !s.cfg.Devices(name):
		v.add(field, "unknown interface %q; check the name with `ip link` or create the interface first", name)
	}
}

// parseResilient converts resilient group parameters; nil stays nil.
func parseResilient(v *violations, field string, r *fibdv1.ResilientGroup) *nexthop.Resilient {
	if r == nil {
		return nil
	}

	if r.GetBuckets() < 1 || r.GetBuckets() > 65535 {
		v.add(field+".buckets", "buckets %d is out of range; use 1 to 65535", r.GetBuckets())

		return nil
	}

	return &nexthop.Resilient{
		Buckets:         uint16(r.GetBuckets()),
		IdleTimer:       r.GetIdleTimer(),
		UnbalancedTimer: r.GetUnbalancedTimer(),
	}
}

// parseKeys converts and validates the keys of a delete request.
func parseKeys(v *violations, field string, in []*fibdv1.RouteKey) []fib.Key {
	keys := make([]fib.Key, 0, len(in))
	for i, k := range in {
		f := fmt.Sprintf("%s[%d]", field, i)
		before := v.total

		prefix, ok := parsePrefix(v, f+".prefix", k.GetPrefix())
		if !ok {
			continue
		}

		table := parseTable(v, f+".table", k.Table)
		if v.total == before {
			keys = append(keys, fib.Key{Table: table, Prefix: prefix})
		}
	}

	return keys
}
