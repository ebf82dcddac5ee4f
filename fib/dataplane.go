package fib

import (
	"context"
	"net/netip"

	"github.com/fibd/fibd/nexthop"
)

// Dataplane programs the forwarding state that fib computes. The kernel
// package implements it over netlink; package fibtest has an in-memory fake.
type Dataplane interface {
	// Apply executes ops in order and sets each op's Err to the outcome of
	// that op. Deleting an object that is already gone succeeds. It returns
	// a non-nil error only when the ops could not be attempted at all (the
	// socket failed); the ops' Err fields are then undefined.
	Apply(ctx context.Context, ops []Op) error

	// Resolve completes a hop that names a gateway without a device by the
	// kernel's own route lookup, and checks that a named device exists. An
	// error names the hop and the reason.
	Resolve(ctx context.Context, hop nexthop.Hop) (nexthop.Hop, error)
}

// OpKind is the kind of a dataplane operation.
type OpKind uint8

// Operations on the dataplane.
const (
	// OpNexthopCreate creates a nexthop object or group. It must fail with
	// an error for which errors.Is(err, fs.ErrExist) holds when the id is
	// taken.
	OpNexthopCreate OpKind = iota + 1
	// OpNexthopReplace changes an existing object in place: the members
	// of a group, or the hop of an object that another process changed.
	OpNexthopReplace
	// OpNexthopDelete deletes a nexthop object or group.
	OpNexthopDelete
	// OpRouteCreate adds a route that must not exist yet (an existing route
	// of another owner is not overwritten).
	OpRouteCreate
	// OpRouteReplace replaces a route that fibd installed, or with
	// Config.TakeoverConflicts a route of another owner at the same
	// (table, prefix, metric).
	OpRouteReplace
	// OpRouteDelete deletes a route.
	OpRouteDelete
)

// String names the kind for logs and metrics.
func (k OpKind) String() string {
	switch k {
	case OpNexthopCreate:
		return "nexthop-create"
	case OpNexthopReplace:
		return "nexthop-replace"
	case OpNexthopDelete:
		return "nexthop-delete"
	case OpRouteCreate:
		return "route-create"
	case OpRouteReplace:
		return "route-replace"
	case OpRouteDelete:
		return "route-delete"
	}

	return "op(unknown)"
}

// Op is one operation on the dataplane.
type Op struct {
	Kind OpKind

	// Nexthop is the object of a nexthop operation.
	Nexthop nexthop.Object

	// Route is the route of a route operation.
	Route KernelRoute

	// Err is set by Dataplane.Apply.
	Err error
}

// KernelRoute is a route as the kernel holds it. The kernel identifies a
// route by (table, prefix, metric).
type KernelRoute struct {
	Table   uint32
	Prefix  netip.Prefix
	Metric  uint32
	Type    Type
	Nexthop nexthop.ID // zero for types other than unicast
}

// Snapshot is the result of a kernel dump: fibd's own routes and nexthop
// objects (those with fibd's protocol), and the ids in fibd's range that
// other owners hold.
type Snapshot struct {
	Routes          []KernelRoute
	Nexthops        []nexthop.Object
	ForeignNexthops []nexthop.ID
}
