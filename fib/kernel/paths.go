package kernel

import (
	"context"
	"encoding/binary"
	"fmt"

	"github.com/fibd/fibd/fib"
	"github.com/fibd/fibd/fib/kernel/nlmsg"
	"github.com/fibd/fibd/nexthop"
)

var _ fib.PathResolver = (*Kernel)(nil)

// ResolvePaths completes hop like Resolve, but returns every live path of
// a multipath route to the gateway, in the kernel's order, so that a
// recursive next hop spreads over all of them. The first path is the one
// Resolve returns when the route has a single path.
//
// A route that uses a nexthop group lists its paths only while
// net.ipv4.nexthop_compat_mode is on, the default. With it off, the
// kernel reports the group's id alone, and the paths are read from the
// group's members.
func (k *Kernel) ResolvePaths(ctx context.Context, hop nexthop.Hop) ([]nexthop.Hop, error) {
	first, err := k.Resolve(ctx, hop)
	if err != nil || hop.Device != "" {
		return []nexthop.Hop{first}, err
	}

	// The path the kernel picks still serves when the route entry cannot
	// be read, so an error of this second lookup is not the hop's.
	r, err := k.routeMatch(ctx, hop)
	if err != nil {
		return []nexthop.Hop{first}, nil
	}

	multipath := r.Multipath
	if len(multipath) == 0 && r.NHID != 0 {
		multipath, err = k.groupPaths(ctx, hop, r.NHID)
		if err != nil {
			return []nexthop.Hop{first}, nil
		}
	}

	paths, err := k.livePaths(ctx, hop, multipath)
	if err != nil || len(paths) < 2 {
		return []nexthop.Hop{first}, nil
	}

	return paths, nil
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
// multipath route, in the group's order, each with its gateway, device
// and flags. A single nexthop object has no paths to add.
func (k *Kernel) groupPaths(ctx context.Context, hop nexthop.Hop, id uint32) ([]nlmsg.NextHop, error) {
	group, err := k.nexthopGet(ctx, hop, id)
	if err != nil || len(group.Group) == 0 {
		return nil, err
	}

	paths := make([]nlmsg.NextHop, 0, len(group.Group))
	for _, m := range group.Group {
		n, err := k.nexthopGet(ctx, hop, m.ID)
		if err != nil {
			return nil, err
		}

		paths = append(paths, nlmsg.NextHop{Flags: uint8(n.Flags), OIF: n.OIF, Gateway: n.Gateway})
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

// livePaths converts the paths of a multipath route to hops, leaving out
// paths the kernel marks dead or link-down. A path without a gateway
// reaches the hop's gateway directly.
func (k *Kernel) livePaths(ctx context.Context, hop nexthop.Hop, multipath []nlmsg.NextHop) ([]nexthop.Hop, error) {
	var paths []nexthop.Hop
	for _, nh := range multipath {
		if nh.Flags&(nlmsg.RTNH_F_DEAD|nlmsg.RTNH_F_LINKDOWN) != 0 {
			continue
		}

		device, err := k.links.name(ctx, nh.OIF)
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
		if nh.Gateway.IsValid() {
			gateway, onlink = nh.Gateway, false
		}

		paths = append(paths, nexthop.Hop{Family: nexthop.FamilyOf(gateway), Gateway: gateway, Device: device, Onlink: onlink})
	}

	return paths, nil
}
