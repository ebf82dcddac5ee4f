package kernel

import (
	"context"
	"encoding/binary"
	"fmt"
	"net/netip"

	"github.com/fibd/fibd/fib"
	"github.com/fibd/fibd/fib/kernel/nlmsg"
	"github.com/fibd/fibd/nexthop"
)

var _ fib.PathResolver = (*Kernel)(nil)

// ResolvePaths completes hop like Resolve, but returns every live path of
// a multipath route to the gateway, in the kernel's order and with the
// route's weights, so that a recursive next hop spreads over all of them
// as the kernel would. The first path is the one Resolve returns when the
// route has a single path, and it then has weight 1.
//
// A route that uses a nexthop group lists its paths only while
// net.ipv4.nexthop_compat_mode is on, the default. With it off, the
// kernel reports the group's id alone. In both modes the paths are read
// from the group's members, with their exact weights.
func (k *Kernel) ResolvePaths(ctx context.Context, hop nexthop.Hop) ([]nexthop.Member, error) {
	first, err := k.Resolve(ctx, hop)
	only := []nexthop.Member{{Hop: first, Weight: 1}}
	if err != nil || hop.Device != "" {
		return only, err
	}

	// The path the kernel picks still serves when the route entry cannot
	// be read, so an error of this second lookup is not the hop's.
	r, err := k.routeMatch(ctx, hop)
	if err != nil {
		return only, nil
	}

	paths, err := k.livePaths(ctx, hop, k.routePaths(ctx, hop, r))
	if err != nil || len(paths) < 2 {
		return only, nil
	}

	return paths, nil
}

// routePaths returns the paths of route r to the hop's gateway, or none
// when it has a single path or its group cannot be read.
//
// A route over a nexthop group is read from the group even when it lists
// RTA_MULTIPATH (nexthop_compat_mode on), because rtnh_hops keeps only the
// low 8 bits of weight-1. Linux 6.18 reports a member of weight 300 there
// as 44.
func (k *Kernel) routePaths(ctx context.Context, hop nexthop.Hop, r nlmsg.Route) []path {
	if r.NHID == 0 {
		return multipathPaths(r.Multipath)
	}

	paths, err := k.groupPaths(ctx, hop, r.NHID)
	if err != nil || len(paths) == 0 {
		return multipathPaths(r.Multipath)
	}

	return paths
}

// path is one path of the route to a gateway, from a next hop of its
// RTA_MULTIPATH or a member of its nexthop group.
type path struct {
	flags   uint32 // RTNH_F_*
	oif     uint32
	gateway netip.Addr
	weight  uint32 // 1 to nexthop.MaxWeight
}

// multipathPaths returns the next hops of RTA_MULTIPATH as paths. The
// kernel stores a next hop's weight minus one in rtnh_hops.
func multipathPaths(multipath []nlmsg.NextHop) []path {
	paths := make([]path, 0, len(multipath))
	for _, nh := range multipath {
		paths = append(paths, path{flags: uint32(nh.Flags), oif: nh.OIF, gateway: nh.Gateway, weight: uint32(nh.Hops) + 1})
	}

	return paths
}

// routeMatch returns the route entry that the kernel matches for the
// hop's gateway, with all its paths (RTM_F_FIB_MATCH), where routeGet
// returns only the path the kernel picks.
func (k *Kernel) routeMatch(ctx context.Context, hop nexthop.Hop) (nlmsg.Route, error) {
	b := nlmsg.AppendRouteGet(nil, nlmsg.Header{}, hop.Gateway, 0)

	// rtm_flags follows the eight single-byte fields of struct rtmsg.
	binary.NativeEndian.PutUint32(b[nlmsg.SizeofNlmsghdr+8:], nlmsg.RTM_F_FIB_MATCH)

	msgs, err := k.execute(ctx, requestMessage(b))
	if err != nil {
		return nlmsg.Route{}, fmt.Errorf("resolve next hop %s: look up the route entry to the gateway: %w", hop, err)
	}

	return firstRoute(hop, msgs)
}

// groupPaths returns the members of nexthop group id as the paths of a
// multipath route, in the group's order, each with its gateway, device,
// flags and weight. A single nexthop object has no paths to add.
func (k *Kernel) groupPaths(ctx context.Context, hop nexthop.Hop, id uint32) ([]path, error) {
	group, err := k.nexthopGet(ctx, hop, id)
	if err != nil || len(group.Group) == 0 {
		return nil, err
	}

	paths := make([]path, 0, len(group.Group))
	for _, m := range group.Group {
		n, err := k.nexthopGet(ctx, hop, m.ID)
		if err != nil {
			return nil, err
		}

		// The 16 bits of weight-1 decode to at most 65536, one more than
		// ResolvePaths returns and the kernel accepts.
		weight := min(m.Weight, nexthop.MaxWeight)
		paths = append(paths, path{flags: n.Flags, oif: n.OIF, gateway: n.Gateway, weight: weight})
	}

	return paths, nil
}

// nexthopGet returns the nexthop object with id, of any owner.
func (k *Kernel) nexthopGet(ctx context.Context, hop nexthop.Hop, id uint32) (nlmsg.Nexthop, error) {
	msgs, err := k.execute(ctx, requestMessage(nlmsg.AppendNexthopGet(nil, nlmsg.Header{}, id)))
	if err != nil {
		return nlmsg.Nexthop{}, fmt.Errorf("resolve next hop %s: look up nexthop %d of the route to the gateway: %w", hop, id, err)
	}

	for _, m := range msgs {
		if m.Header.Type != nlmsg.RTM_NEWNEXTHOP {
			continue
		}

		var n nlmsg.Nexthop
		if err := n.UnmarshalBinary(m.Data); err != nil {
			return nlmsg.Nexthop{}, fmt.Errorf("resolve next hop %s: nexthop %d: %w", hop, id, err)
		}

		return n, nil
	}

	return nlmsg.Nexthop{}, fmt.Errorf("resolve next hop %s: the kernel returned no nexthop %d", hop, id)
}

// livePaths converts the paths of the route to the gateway to weighted
// hops, leaving out paths the kernel marks dead or link-down. A path
// without a gateway reaches the hop's gateway directly.
func (k *Kernel) livePaths(ctx context.Context, hop nexthop.Hop, multipath []path) ([]nexthop.Member, error) {
	var paths []nexthop.Member
	for _, p := range multipath {
		if p.flags&(nlmsg.RTNH_F_DEAD|nlmsg.RTNH_F_LINKDOWN) != 0 {
			continue
		}

		device, err := k.links.name(ctx, p.oif)
		if err != nil {
			return nil, fmt.Errorf("resolve next hop %s: %w", hop, err)
		}

		if device == "" {
			continue
		}

		// A path without a gateway puts the hop's gateway directly on the
		// device. Over a route of another owner's group, Linux 6.18 rejects
		// such a gateway without onlink ("Nexthop has invalid gateway").
		gateway, onlink := hop.Gateway, true
		if p.gateway.IsValid() {
			gateway, onlink = p.gateway, false
		}

		h := nexthop.Hop{Family: nexthop.FamilyOf(gateway), Gateway: gateway, Device: device, Onlink: onlink}
		paths = append(paths, nexthop.Member{Hop: h, Weight: p.weight})
	}

	return paths, nil
}
