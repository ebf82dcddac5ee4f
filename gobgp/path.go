package gobgp

// This file decodes GoBGP's API paths into the few fields fibd uses.

import (
	"fmt"
	"net/netip"

	api "github.com/osrg/gobgp/v3/api"
	"google.golang.org/protobuf/types/known/anypb"
)

// path is one decoded best path of an IPv4 or IPv6 unicast prefix.
type path struct {
	prefix netip.Prefix

	// nexthop is the next hop without zone; it is invalid when the path
	// carries none that fibd can use.
	nexthop netip.Addr

	// peer is the neighbor the path was learned from; it is invalid for a
	// path the speaker originated itself.
	peer   netip.Addr
	peerAS uint32

	withdraw bool
}

// endOfRIB is an End-of-RIB marker received from a peer.
type endOfRIB struct {
	peer   netip.Addr
	family family
}

// family is an address family of the unicast routes fibd imports.
type family uint8

// Families of imported routes.
const (
	familyIPv4 family = iota + 1
	familyIPv6
)

// String returns the family as GoBGP's configuration names it.
func (f family) String() string {
	switch f {
	case familyIPv4:
		return "ipv4-unicast"
	case familyIPv6:
		return "ipv6-unicast"
	}

	return fmt.Sprintf("family(%d)", uint8(f))
}

// familyOf returns the unicast family of an API family, or 0 for any
// other family.
func familyOf(f *api.Family) family {
	if f.GetSafi() != api.Family_SAFI_UNICAST {
		return 0
	}

	switch f.GetAfi() {
	case api.Family_AFI_IP:
		return familyIPv4
	case api.Family_AFI_IP6:
		return familyIPv6
	}

	return 0
}

// decodePath decodes an API path. It returns ok false for a path of
// another family, and sets eor for an End-of-RIB marker (a path without
// NLRI).
func decodePath(p *api.Path) (dp path, eor *endOfRIB, ok bool, err error) {
	f := familyOf(p.GetFamily())
	if f == 0 {
		return path{}, nil, false, nil
	}

	peer, _ := netip.ParseAddr(p.GetNeighborIp())
	peer = peer.Unmap().WithZone("")

	if p.GetNlri() == nil {
		return path{}, &endOfRIB{peer: peer, family: f}, false, nil
	}

	prefix, err := decodePrefix(p.GetNlri())
	if err != nil {
		return path{}, nil, false, err
	}

	nexthop, err := decodeNexthop(p.GetPattrs())
	if err != nil {
		return path{}, nil, false, fmt.Errorf("decode path %s: %w", prefix, err)
	}

	dp = path{
		prefix:   prefix,
		nexthop:  nexthop,
		peer:     peer,
		peerAS:   p.GetSourceAsn(),
		withdraw: p.GetIsWithdraw(),
	}

	return dp, nil, true, nil
}

func decodePrefix(nlri *anypb.Any) (netip.Prefix, error) {
	var ip api.IPAddressPrefix
	if err := nlri.UnmarshalTo(&ip); err != nil {
		return netip.Prefix{}, fmt.Errorf("decode NLRI %s: %w", nlri.GetTypeUrl(), err)
	}

	addr, err := netip.ParseAddr(ip.GetPrefix())
	if err != nil {
		return netip.Prefix{}, fmt.Errorf("decode NLRI prefix %q: %w", ip.GetPrefix(), err)
	}

	prefix, err := addr.Unmap().Prefix(int(ip.GetPrefixLen()))
	if err != nil {
		return netip.Prefix{}, fmt.Errorf("decode NLRI prefix %s/%d: %w", addr, ip.GetPrefixLen(), err)
	}

	return prefix, nil
}

// decodeNexthop returns the next hop of a path from its NEXT_HOP or
// MP_REACH_NLRI attribute. Of a global and a link-local IPv6 next hop
// (RFC 2545) it returns the global one, which the kernel can resolve
// without knowing the session's interface.
func decodeNexthop(attrs []*anypb.Any) (netip.Addr, error) {
	for _, a := range attrs {
		switch {
		case a.MessageIs((*api.NextHopAttribute)(nil)):
			var nh api.NextHopAttribute
			if err := a.UnmarshalTo(&nh); err != nil {
				return netip.Addr{}, fmt.Errorf("decode NEXT_HOP: %w", err)
			}

			return parseNexthop(nh.GetNextHop())

		case a.MessageIs((*api.MpReachNLRIAttribute)(nil)):
			var mp api.MpReachNLRIAttribute
			if err := a.UnmarshalTo(&mp); err != nil {
				return netip.Addr{}, fmt.Errorf("decode MP_REACH_NLRI: %w", err)
			}

			return pickNexthop(mp.GetNextHops())
		}
	}

	return netip.Addr{}, nil
}

func pickNexthop(hops []string) (netip.Addr, error) {
	var chosen netip.Addr
	for _, s := range hops {
		a, err := parseNexthop(s)
		if err != nil {
			return netip.Addr{}, err
		}

		if !a.IsValid() {
			continue
		}

		if !chosen.IsValid() || (chosen.IsLinkLocalUnicast() && !a.IsLinkLocalUnicast()) {
			chosen = a
		}
	}

	return chosen, nil
}

// parseNexthop parses a next hop; an unspecified address ("0.0.0.0",
// "::", what GoBGP shows for paths it originates) gives the invalid Addr.
func parseNexthop(s string) (netip.Addr, error) {
	if s == "" {
		return netip.Addr{}, nil
	}

	a, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Addr{}, fmt.Errorf("invalid next hop %q: %w", s, err)
	}

	a = a.Unmap().WithZone("")
	if a.IsUnspecified() {
		return netip.Addr{}, nil
	}

	return a, nil
}
