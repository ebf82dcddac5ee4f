package kernel

import (
	"context"
	"fmt"
	"net/netip"
	"strconv"
	"syscall"

	"github.com/fibd/fibd/fib"
	"github.com/fibd/fibd/fib/kernel/nlmsg"
	"github.com/fibd/fibd/nexthop"
)

// maxMessageBytes bounds one encoded request: a group of
// nexthop.MaxMembers members is the largest (8 bytes a member plus about
// 100 bytes of header and attributes).
const maxMessageBytes = 8*nexthop.MaxMembers + 256

// encoder turns ops into rtnetlink requests. It resolves device names
// through the link cache, which it refreshes at the first name of an Apply,
// so that a device deleted and created again is programmed with its new
// index. It remembers names that are missing, so that one Apply dumps the
// links at most once more for each unknown name.
type encoder struct {
	k         *Kernel
	ctx       context.Context
	refreshed bool
	missing   map[string]bool
}

// appendOp appends the request for op with sequence number seq and header
// flags extra (NLM_F_ACK or zero). It returns b unchanged and an error when
// the op cannot be encoded, such as a hop on an unknown device.
func (e *encoder) appendOp(b []byte, op *fib.Op, seq uint32, extra uint16) ([]byte, error) {
	h := nlmsg.Header{Seq: seq, Flags: nlmsg.NLM_F_REQUEST | extra}
	switch op.Kind {
	case fib.OpRouteCreate, fib.OpRouteReplace, fib.OpRouteDelete:
		if !op.Route.Prefix.IsValid() {
			return b, &OpError{Op: opName(op.Kind), Object: objectName(op), Errno: syscall.EINVAL, Message: "invalid prefix"}
		}

		return appendRouteOp(b, h, op.Kind, &op.Route, e.k.cfg.Protocol), nil
	case fib.OpNexthopCreate, fib.OpNexthopReplace:
		return e.appendNexthopOp(b, h, op)
	case fib.OpNexthopDelete:
		h.Type = nlmsg.RTM_DELNEXTHOP
		n := nlmsg.Nexthop{ID: uint32(op.Nexthop.ID)}

		return nlmsg.AppendNexthop(b, h, &n), nil
	}

	return b, &OpError{Op: "apply", Object: fmt.Sprintf("op of kind %d", op.Kind), Errno: syscall.EINVAL, Message: "unknown operation kind"}
}

// appendRouteOp appends a route request. Every request carries fibd's
// protocol, so that a delete never matches another owner's route on the
// same prefix and metric.
func appendRouteOp(b []byte, h nlmsg.Header, kind fib.OpKind, r *fib.KernelRoute, protocol uint8) []byte {
	m := nlmsg.Route{
		Family:   familyOf(r.Prefix),
		DstLen:   uint8(r.Prefix.Bits()),
		Table:    r.Table,
		Protocol: protocol,
		Scope:    nlmsg.RT_SCOPE_UNIVERSE,
		Type:     uint8(r.Type),
		Dst:      r.Prefix.Addr(),
		Priority: r.Metric,
	}

	switch kind {
	case fib.OpRouteCreate:
		h.Type = nlmsg.RTM_NEWROUTE
		h.Flags |= nlmsg.NLM_F_CREATE | nlmsg.NLM_F_EXCL
	case fib.OpRouteReplace:
		h.Type = nlmsg.RTM_NEWROUTE
		h.Flags |= nlmsg.NLM_F_CREATE | nlmsg.NLM_F_REPLACE
	case fib.OpRouteDelete:
		// As with iproute2, scope NOWHERE and type UNSPEC match a route of
		// any scope and type. A stale type would otherwise make the delete
		// miss the route and report it as already gone.
		h.Type = nlmsg.RTM_DELROUTE
		m.Scope = nlmsg.RT_SCOPE_NOWHERE
		m.Type = nlmsg.RTN_UNSPEC

		return nlmsg.AppendRoute(b, h, &m)
	}

	if m.Type == nlmsg.RTN_UNSPEC {
		m.Type = nlmsg.RTN_UNICAST
	}

	if m.Type == nlmsg.RTN_UNICAST {
		m.NHID = uint32(r.Nexthop)
	}

	return nlmsg.AppendRoute(b, h, &m)
}

func (e *encoder) appendNexthopOp(b []byte, h nlmsg.Header, op *fib.Op) ([]byte, error) {
	h.Type = nlmsg.RTM_NEWNEXTHOP
	h.Flags |= nlmsg.NLM_F_CREATE | nlmsg.NLM_F_EXCL
	if op.Kind == fib.OpNexthopReplace {
		h.Flags = h.Flags&^nlmsg.NLM_F_EXCL | nlmsg.NLM_F_REPLACE
	}

	o := &op.Nexthop
	n := nlmsg.Nexthop{ID: uint32(o.ID), Protocol: e.k.cfg.Protocol}
	if o.IsGroup() {
		setGroup(&n, o)

		return nlmsg.AppendNexthop(b, h, &n), nil
	}

	if err := e.setHop(&n, op); err != nil {
		return b, err
	}

	return nlmsg.AppendNexthop(b, h, &n), nil
}

// setGroup fills a group: the kernel requires family AF_UNSPEC for it.
func setGroup(n *nlmsg.Nexthop, o *nexthop.Object) {
	n.Family = nlmsg.AF_UNSPEC
	n.Group = make([]nlmsg.GroupMember, len(o.Group))
	for i, m := range o.Group {
		n.Group[i] = nlmsg.GroupMember{ID: uint32(m.ID), Weight: m.Weight}
	}

	n.GroupType = nlmsg.NEXTHOP_GRP_TYPE_MPATH
	if r := o.Resilient; r != nil {
		n.GroupType = nlmsg.NEXTHOP_GRP_TYPE_RES
		n.Resilient = &nlmsg.Resilient{
			Buckets:         r.Buckets,
			IdleTimer:       r.IdleTimer * nlmsg.USER_HZ,
			UnbalancedTimer: r.UnbalancedTimer * nlmsg.USER_HZ,
		}
	}
}

// setHop fills a single nexthop. The kernel needs the device of every
// nexthop that is not a blackhole, so a hop without one was not resolved.
func (e *encoder) setHop(n *nlmsg.Nexthop, op *fib.Op) error {
	hop := op.Nexthop.Hop
	n.Family = uint8(hop.Family)
	n.Gateway = hop.Gateway
	if hop.Onlink {
		n.Flags |= nlmsg.RTNH_F_ONLINK
	}

	if hop.Device == "" {
		return &OpError{Op: opName(op.Kind), Object: objectName(op), Errno: syscall.EINVAL, Message: "next hop " + hop.String() + " has no device; resolve it first"}
	}

	oif, err := e.index(hop.Device)
	if err != nil {
		return fmt.Errorf("%s %s: %w", opName(op.Kind), objectName(op), err)
	}

	if oif == 0 {
		return &OpError{Op: opName(op.Kind), Object: objectName(op), Errno: syscall.ENODEV, Message: "device " + hop.Device + " not found"}
	}

	n.OIF = oif

	return nil
}

func (e *encoder) index(name string) (uint32, error) {
	if !e.refreshed {
		e.k.links.invalidate()
		e.refreshed = true
	}

	if i, ok := e.k.links.cachedIndex(name); ok {
		return i, nil
	}

	if e.missing[name] {
		return 0, nil
	}

	i, err := e.k.links.index(e.ctx, name)
	if err != nil || i != 0 {
		return i, err
	}

	if e.missing == nil {
		e.missing = make(map[string]bool)
	}

	e.missing[name] = true

	return 0, nil
}

func familyOf(p netip.Prefix) uint8 {
	if p.Addr().Is4() {
		return nlmsg.AF_INET
	}

	return nlmsg.AF_INET6
}

// opName returns the verb of an op kind for errors.
func opName(kind fib.OpKind) string {
	switch kind {
	case fib.OpNexthopCreate, fib.OpRouteCreate:
		return "create"
	case fib.OpNexthopReplace, fib.OpRouteReplace:
		return "replace"
	case fib.OpNexthopDelete, fib.OpRouteDelete:
		return "delete"
	}

	return "apply"
}

// objectName names the object of op for errors, as
// "route 192.0.2.0/24 table 254 metric 20" or "nexthop 3000000001".
func objectName(op *fib.Op) string {
	switch op.Kind {
	case fib.OpNexthopCreate, fib.OpNexthopReplace, fib.OpNexthopDelete:
		return "nexthop " + strconv.FormatUint(uint64(op.Nexthop.ID), 10)
	}

	r := &op.Route

	return fmt.Sprintf("route %s table %d metric %d", r.Prefix, r.Table, r.Metric)
}
