package monitor

import (
	"fmt"

	"github.com/fibd/fibd/fib"
	"github.com/fibd/fibd/fib/kernel/nlmsg"
	"github.com/fibd/fibd/nexthop"
)

// actionKind is the kind of repair a notification calls for.
type actionKind uint8

const (
	// actRouteGone reports to the FIB that one of its routes left the kernel.
	actRouteGone actionKind = iota + 1
	// actNexthopGone reports to the FIB that one of its nexthop objects
	// left the kernel, together with every route that used it.
	actNexthopGone
	// actLinkChanged reports to the FIB that a device went down or came up.
	actLinkChanged
	// actResync requests a dump of the kernel and a reconcile.
	actResync
	// actReresolve requests that the FIB resolve its gateways again,
	// because a route of another owner changed.
	actReresolve
	// actRefreshLinks requests that the dataplane drop its cached
	// interface indexes.
	actRefreshLinks
)

func (k actionKind) String() string {
	switch k {
	case actRouteGone:
		return "route-gone"
	case actNexthopGone:
		return "nexthop-gone"
	case actLinkChanged:
		return "link-changed"
	case actResync:
		return "resync"
	case actReresolve:
		return "reresolve"
	case actRefreshLinks:
		return "refresh-links"
	}

	return fmt.Sprintf("action(%d)", uint8(k))
}

// action is one thing to do about a notification.
type action struct {
	kind actionKind

	// route is the route of actRouteGone.
	route fib.KernelRoute
	// conflict marks an actRouteGone caused by another owner's route that
	// took the place of fibd's, or an actResync caused by another owner's
	// nexthop object in fibd's id range.
	conflict bool

	// nexthop is the object of actNexthopGone.
	nexthop nexthop.ID

	// device and up describe actLinkChanged.
	device string
	up     bool

	// reason explains why an actResync was requested.
	reason string
}

// lookupFunc returns the FIB's state of one key.
type lookupFunc func(fib.Key) (fib.RouteState, bool)

// translator turns kernel notifications into actions. It tracks the
// interfaces it has seen, so that it can tell a change of state from a
// repeated notification. It is not safe for concurrent use.
type translator struct {
	protocol uint8
	ids      nexthop.Range
	ownPorts map[uint32]bool
	lookup   lookupFunc
	links    map[uint32]link
}

func newTranslator(protocol uint8, ids nexthop.Range, ownPorts []uint32, lookup lookupFunc) *translator {
	t := &translator{
		protocol: protocol,
		ids:      ids,
		ownPorts: make(map[uint32]bool),
		lookup:   lookup,
		links:    make(map[uint32]link),
	}

	for _, p := range ownPorts {
		t.ownPorts[p] = true
	}

	return t
}

// translate appends the actions for one notification to acts. Messages of
// kinds the monitor does not follow add nothing.
func (t *translator) translate(acts []action, h nlmsg.Header, payload []byte) ([]action, error) {
	switch h.Type {
	case nlmsg.RTM_NEWROUTE, nlmsg.RTM_DELROUTE:
		if t.ownPorts[h.PID] {
			return acts, nil
		}

		return t.route(acts, h, payload)
	case nlmsg.RTM_NEWNEXTHOP, nlmsg.RTM_DELNEXTHOP:
		if t.ownPorts[h.PID] {
			return acts, nil
		}

		return t.nexthop(acts, h, payload)
	case nlmsg.RTM_NEWLINK, nlmsg.RTM_DELLINK:
		return t.link(acts, h, payload)
	case nlmsg.RTM_NEWADDR, nlmsg.RTM_DELADDR:
		return t.address(acts, h, payload)
	}

	return acts, nil
}
