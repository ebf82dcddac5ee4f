package monitor

import (
	"net/netip"

	"fmt"

	"github.com/fibd/fibd/fib"
	"github.com/fibd/fibd/fib/kernel/nlmsg"
	"github.com/fibd/fibd/nexthop"
)

// ip6DefaultMetric is the metric the kernel gives an IPv6 route requested
// with metric 0 (IP6_RT_PRIO_USER in include/net/ip6_route.h).
const ip6DefaultMetric = 1024

// normalMetric returns the metric the kernel stores for a route of prefix
// requested with metric.
func normalMetric(prefix netip.Prefix, metric uint32) uint32 {
	if metric == 0 && prefix.Addr().Is6() {
		return ip6DefaultMetric
	}

	return metric
}

// route translates RTM_NEWROUTE and RTM_DELROUTE.
//
// A route of fibd's protocol that is deleted by someone else is gone. A new
// route of fibd's protocol is an echo of fibd's own programming or the work
// of another writer with fibd's protocol, and is ignored either way. A
// route of another protocol that replaces fibd's route at the same (table,
// prefix, metric) removed fibd's route without a delete notification: the
// FIB learns that its route is gone, and the conflict is counted. Every
// change of another owner's route may change how gateways resolve.
func (t *translator) route(acts []action, h nlmsg.Header, payload []byte) ([]action, error) {
	var r nlmsg.Route
	if err := r.UnmarshalBinary(payload); err != nil {
		return acts, fmt.Errorf("decode route notification: %w", err)
	}

	// Cached clones and source-specific routes are not fibd's business.
	if r.Flags&nlmsg.RTM_F_CLONED != 0 || r.SrcLen != 0 {
		return acts, nil
	}

	kr := fib.KernelRoute{
		Table:   r.Table,
		Prefix:  r.Prefix().Masked(),
		Metric:  r.Priority,
		Type:    fib.Type(r.Type),
		Nexthop: nexthop.ID(r.NHID),
	}

	if r.Protocol == t.protocol {
		if h.Type == nlmsg.RTM_DELROUTE {
			acts = append(acts, action{kind: actRouteGone, route: t.installedAs(kr)})
		}

		return acts, nil
	}

	acts = t.foreignRoute(acts, h, kr)

	return append(acts, action{kind: actReresolve}), nil
}

// installedAs returns the FIB's installed route that the kernel's route kr
// is, so that the FIB recognises its own metric: the kernel reports an
// IPv6 route requested with metric 0 with metric 1024.
func (t *translator) installedAs(kr fib.KernelRoute) fib.KernelRoute {
	if t.lookup == nil {
		return kr
	}

	st, ok := t.lookup(fib.Key{Table: kr.Table, Prefix: kr.Prefix})
	if !ok || st.Installed == nil || normalMetric(kr.Prefix, st.Installed.Metric) != normalMetric(kr.Prefix, kr.Metric) {
		return kr
	}

	// The type and object are the kernel's: the FIB ignores the report
	// of a route it has replaced with another type or object since.
	in := *st.Installed
	in.Type = kr.Type
	if kr.Nexthop != 0 {
		in.Nexthop = kr.Nexthop
	}

	return in
}

// foreignRoute adds the repairs a route of another owner calls for.
func (t *translator) foreignRoute(acts []action, h nlmsg.Header, kr fib.KernelRoute) []action {
	if t.lookup == nil {
		return acts
	}

	st, ok := t.lookup(fib.Key{Table: kr.Table, Prefix: kr.Prefix})
	if !ok {
		return acts
	}

	metric := normalMetric(st.Key.Prefix, kr.Metric)

	switch {
	case h.Type == nlmsg.RTM_NEWROUTE && h.Flags&nlmsg.NLM_F_REPLACE != 0:
		// The kernel replaced fibd's route in place and sent no delete.
		if in := st.Installed; in != nil && normalMetric(st.Key.Prefix, in.Metric) == metric {
			acts = append(acts, action{kind: actRouteGone, route: *in, conflict: true})
		}
	case h.Type == nlmsg.RTM_DELROUTE:
		// A route that blocked fibd's own at this metric left: let the FIB
		// try again at once. A conflict of a metric change has the old
		// route still installed.
		if (st.Installed == nil || st.Conflict) && len(st.Candidates) > 0 && normalMetric(st.Key.Prefix, st.Candidates[0].Metric) == metric {
			c := st.Candidates[0]
			acts = append(acts, action{kind: actRouteGone, route: fib.KernelRoute{
				Table:  c.Table,
				Prefix: c.Prefix,
				Metric: c.Metric,
				Type:   c.Type,
			}})
		}
	}

	return acts
}

// nexthop translates RTM_NEWNEXTHOP and RTM_DELNEXTHOP.
//
// The deletion of one of fibd's objects by someone else is announced once,
// without a delete for the routes that used the object, and so is a group
// that lost its last member with it. A group that lost one member is
// announced as an RTM_NEWNEXTHOP, which needs nothing more than the
// member's own deletion. An object of another protocol in fibd's id range
// is a conflict. Any other change of another owner's object may move the
// routes that use it. With net.ipv4.nexthop_compat_mode off, the kernel
// announces no change of those routes, so gateways resolve again.
func (t *translator) nexthop(acts []action, h nlmsg.Header, payload []byte) ([]action, error) {
	var n nlmsg.Nexthop
	if err := n.UnmarshalBinary(payload); err != nil {
		return acts, fmt.Errorf("decode nexthop notification: %w", err)
	}

	id := nexthop.ID(n.ID)
	switch {
	case n.Protocol == t.protocol:
		if h.Type == nlmsg.RTM_DELNEXTHOP {
			acts = append(acts, action{kind: actNexthopGone, nexthop: id})
		}
	case h.Type == nlmsg.RTM_NEWNEXTHOP && t.ids.First <= id && id <= t.ids.Last:
		// Another owner created or replaced an object in fibd's range. A
		// replace takes the object over, with fibd's routes on it, and a
		// dump is the way to learn which of fibd's objects it was.
		acts = append(acts, action{kind: actResync, conflict: true, reason: fmt.Sprintf("nexthop %d taken by protocol %d", id, n.Protocol)})
	default:
		acts = append(acts, action{kind: actReresolve})
	}

	return acts, nil
}
