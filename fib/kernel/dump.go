package kernel

import (
	"context"
	"encoding/binary"
	"fmt"

	"github.com/mdlayher/netlink"

	"github.com/fibd/fibd/fib"
	"github.com/fibd/fibd/fib/kernel/nlmsg"
	"github.com/fibd/fibd/nexthop"
)

// Dump returns fibd's routes of both families in all tables, fibd's
// nexthop objects, and the ids of nexthop objects that other protocols own
// (within Config.Range when it is set). The kernel filters routes by
// protocol, since the sockets set NETLINK_GET_STRICT_CHK.
func (k *Kernel) Dump(ctx context.Context) (fib.Snapshot, error) {
	var s fib.Snapshot
	for _, family := range []uint8{nlmsg.AF_INET, nlmsg.AF_INET6} {
		start := len(s.Routes)
		err := k.walkRoutes(ctx, family, k.cfg.Protocol, func() {
			s.Routes = s.Routes[:start]
		}, func(r *nlmsg.Route) {
			s.Routes = append(s.Routes, kernelRoute(r))
		})
		if err != nil {
			return fib.Snapshot{}, err
		}
	}

	nexthops, err := k.DumpNexthops(ctx)
	if err != nil {
		return fib.Snapshot{}, err
	}

	for i := range nexthops {
		if err := k.addNexthop(ctx, &s, &nexthops[i]); err != nil {
			return fib.Snapshot{}, err
		}
	}

	return s, nil
}

// DumpRoutes returns the routes of family (nlmsg.AF_INET or AF_INET6) in
// all tables, of protocol or of every protocol when it is zero. Unlike Dump
// it includes other owners' routes. The caller owns the returned slice.
func (k *Kernel) DumpRoutes(ctx context.Context, family, protocol uint8) ([]nlmsg.Route, error) {
	var routes []nlmsg.Route
	err := k.walkRoutes(ctx, family, protocol, func() {
		routes = routes[:0]
	}, func(r *nlmsg.Route) {
		routes = append(routes, *r)
	})

	return routes, err
}

// DumpNexthops returns every nexthop object of the namespace, of every
// protocol. The caller owns the returned slice.
func (k *Kernel) DumpNexthops(ctx context.Context) ([]nlmsg.Nexthop, error) {
	req := requestMessage(nlmsg.AppendNexthopDump(nil, nlmsg.Header{}, nlmsg.AF_UNSPEC))

	var nexthops []nlmsg.Nexthop
	err := k.dumpRetry(ctx, req, func() {
		nexthops = nexthops[:0]
	}, func(m netlink.Message) error {
		if m.Header.Type != nlmsg.RTM_NEWNEXTHOP {
			return nil
		}

		var n nlmsg.Nexthop
		if err := n.UnmarshalBinary(m.Data); err != nil {
			return err
		}

		nexthops = append(nexthops, n)

		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("dump nexthops: %w", err)
	}

	return nexthops, nil
}

// walkRoutes dumps the routes of family and protocol and calls fn for each.
// reset is called before every attempt of the dump.
func (k *Kernel) walkRoutes(ctx context.Context, family, protocol uint8, reset func(), fn func(*nlmsg.Route)) error {
	req := requestMessage(nlmsg.AppendRouteDump(nil, nlmsg.Header{}, family, protocol, nlmsg.RT_TABLE_UNSPEC))

	var r nlmsg.Route
	err := k.dumpRetry(ctx, req, reset, func(m netlink.Message) error {
		if m.Header.Type != nlmsg.RTM_NEWROUTE {
			return nil
		}

		if err := r.UnmarshalBinary(m.Data); err != nil {
			return err
		}

		// The kernel filters by protocol only with strict checking;
		// check again in case it did not.
		if protocol != 0 && r.Protocol != protocol || r.Flags&nlmsg.RTM_F_CLONED != 0 {
			return nil
		}

		fn(&r)

		return nil
	})
	if err != nil {
		return fmt.Errorf("dump routes of family %d protocol %d: %w", family, protocol, err)
	}

	return nil
}

func kernelRoute(r *nlmsg.Route) fib.KernelRoute {
	return fib.KernelRoute{
		Table:   r.Table,
		Prefix:  r.Prefix().Masked(),
		Metric:  r.Priority,
		Type:    fib.Type(r.Type),
		Nexthop: nexthop.ID(r.NHID),
	}
}

// addNexthop adds n to the snapshot: as an object when fibd owns it, and as
// a foreign id otherwise.
func (k *Kernel) addNexthop(ctx context.Context, s *fib.Snapshot, n *nlmsg.Nexthop) error {
	id := nexthop.ID(n.ID)
	if n.Protocol != k.cfg.Protocol {
		if r := k.cfg.Range; r == (nexthop.Range{}) || id >= r.First && id <= r.Last {
			s.ForeignNexthops = append(s.ForeignNexthops, id)
		}

		return nil
	}

	o, err := k.object(ctx, n)
	if err != nil {
		return err
	}

	s.Nexthops = append(s.Nexthops, o)

	return nil
}

// object converts a dumped nexthop of fibd to the form fib programs.
func (k *Kernel) object(ctx context.Context, n *nlmsg.Nexthop) (nexthop.Object, error) {
	o := nexthop.Object{ID: nexthop.ID(n.ID)}
	if len(n.Group) > 0 {
		o.Group = make([]nexthop.GroupMember, len(n.Group))
		for i, m := range n.Group {
			o.Group[i] = nexthop.GroupMember{ID: nexthop.ID(m.ID), Weight: m.Weight}
		}

		if r := n.Resilient; n.GroupType == nlmsg.NEXTHOP_GRP_TYPE_RES && r != nil {
			o.Resilient = &nexthop.Resilient{
				Buckets:         r.Buckets,
				IdleTimer:       r.IdleTimer / nlmsg.USER_HZ,
				UnbalancedTimer: r.UnbalancedTimer / nlmsg.USER_HZ,
			}
		}

		return o, nil
	}

	o.Hop = nexthop.Hop{
		Family:  nexthop.Family(n.Family),
		Gateway: n.Gateway,
		Onlink:  n.Flags&nlmsg.RTNH_F_ONLINK != 0,
	}

	if n.OIF != 0 {
		name, err := k.links.name(ctx, n.OIF)
		if err != nil {
			return nexthop.Object{}, fmt.Errorf("dump nexthop %d: %w", n.ID, err)
		}

		o.Hop.Device = name
	}

	return o, nil
}

// requestMessage converts an encoded request to a netlink.Message, whose
// length, sequence number and port id netlink.Conn fills in.
func requestMessage(b []byte) netlink.Message {
	return netlink.Message{
		Header: netlink.Header{
			Type:  netlink.HeaderType(binary.NativeEndian.Uint16(b[4:])),
			Flags: netlink.HeaderFlags(binary.NativeEndian.Uint16(b[6:])),
		},
		Data: b[nlmsg.SizeofNlmsghdr:],
	}
}
