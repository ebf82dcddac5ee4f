// Package fibtest provides an in-memory fib.Dataplane that follows the
// kernel's rules for nexthop objects and routes, for tests of package fib
// and of the components built on it.
//
// Like Linux, it stores an IPv6 route requested with metric 0 with metric
// 1024. Its state renders as sorted text in the style of `ip nexthop` and
// `ip route`, so that a test compares the whole forwarding state with a
// multi-line golden string. Faults are injected per operation kind, and a
// link going down removes what the kernel removes.
package fibtest

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net/netip"
	"sync"
	"syscall"

	"github.com/fibd/fibd/fib"
	"github.com/fibd/fibd/nexthop"
)

// Protocol is the protocol name that Render prints for objects and routes
// created through Apply.
const Protocol = "fibd"

// Dataplane is a fake fib.Dataplane. Its methods are safe for concurrent
// use. The zero Dataplane is empty and ready to use.
type Dataplane struct {
	mu sync.Mutex

	nexthops map[nexthop.ID]entryNexthop
	routes   map[routeKey]entryRoute
	down     map[string]bool
	gateways map[netip.Addr]string
	faults   []fault
	counts   map[fib.OpKind]int
	resolves int
}

var _ fib.Dataplane = (*Dataplane)(nil)

type entryNexthop struct {
	obj   nexthop.Object
	proto string
}

type routeKey struct {
	table  uint32
	prefix netip.Prefix
	metric uint32
}

type entryRoute struct {
	route fib.KernelRoute
	proto string
}

type fault struct {
	kind  fib.OpKind
	errno syscall.Errno
}

func (d *Dataplane) init() {
	if d.nexthops != nil {
		return
	}

	d.nexthops = make(map[nexthop.ID]entryNexthop)
	d.routes = make(map[routeKey]entryRoute)
	d.down = make(map[string]bool)
	d.gateways = make(map[netip.Addr]string)
	d.counts = make(map[fib.OpKind]int)
}

// Apply executes ops in order with the kernel's rules. Like the kernel
// package, it takes the deletion of an object or route that is already
// gone (ENOENT) as success.
func (d *Dataplane) Apply(ctx context.Context, ops []fib.Op) error {
	if err := ctx.Err(); err != nil {
		return err
	}

	d.mu.Lock()
	defer d.mu.Unlock()

	d.init()
	for i := range ops {
		op := &ops[i]
		d.counts[op.Kind]++
		op.Err = d.apply(op)

		deleting := op.Kind == fib.OpNexthopDelete || op.Kind == fib.OpRouteDelete
		if deleting && errors.Is(op.Err, fs.ErrNotExist) {
			op.Err = nil
		}
	}

	return nil
}

func (d *Dataplane) apply(op *fib.Op) error {
	if errno, ok := d.takeFault(op.Kind); ok {
		return fmt.Errorf("%s: injected fault: %w", op.Kind, errno)
	}

	switch op.Kind {
	case fib.OpNexthopCreate:
		return d.createNexthop(op.Nexthop, Protocol, false)
	case fib.OpNexthopReplace:
		return d.createNexthop(op.Nexthop, Protocol, true)
	case fib.OpNexthopDelete:
		return d.deleteNexthop(op.Nexthop.ID)
	case fib.OpRouteCreate:
		return d.addRoute(op.Route, Protocol, false)
	case fib.OpRouteReplace:
		return d.addRoute(op.Route, Protocol, true)
	case fib.OpRouteDelete:
		return d.deleteRoute(op.Route)
	}

	return fmt.Errorf("apply %s: %w", op.Kind, syscall.EOPNOTSUPP)
}

func (d *Dataplane) takeFault(kind fib.OpKind) (syscall.Errno, bool) {
	for i, f := range d.faults {
		if f.kind == kind {
			d.faults = append(d.faults[:i], d.faults[i+1:]...)

			return f.errno, true
		}
	}

	return 0, false
}

func (d *Dataplane) createNexthop(o nexthop.Object, proto string, replace bool) error {
	old, exists := d.nexthops[o.ID]
	switch {
	case exists && !replace:
		return fmt.Errorf("create nexthop %d: %w", o.ID, syscall.EEXIST)
	case !exists && replace:
		return fmt.Errorf("replace nexthop %d: %w", o.ID, syscall.ENOENT)
	case exists && old.obj.IsGroup() != o.IsGroup():
		return fmt.Errorf("replace nexthop %d: a group and a single object cannot replace each other: %w", o.ID, syscall.EINVAL)
	}

	if err := d.checkNexthop(o); err != nil {
		return err
	}

	o.Group = append([]nexthop.GroupMember(nil), o.Group...)
	d.nexthops[o.ID] = entryNexthop{obj: o, proto: proto}

	return nil
}

func (d *Dataplane) checkNexthop(o nexthop.Object) error {
	if !o.IsGroup() {
		if o.Hop.Device != "" && d.down[o.Hop.Device] {
			return fmt.Errorf("create nexthop %d: device %s is down: %w", o.ID, o.Hop.Device, syscall.ENETDOWN)
		}

		return nil
	}

	if len(o.Group) == 0 {
		return fmt.Errorf("create nexthop group %d: no members: %w", o.ID, syscall.EINVAL)
	}

	for _, m := range o.Group {
		// Linux rejects a missing member with EINVAL ("Invalid nexthop
		// id"), not ENOENT, which for a replace means the group is gone.
		member, ok := d.nexthops[m.ID]
		if !ok {
			return fmt.Errorf("create nexthop group %d: invalid nexthop id %d: %w", o.ID, m.ID, syscall.EINVAL)
		}

		if member.obj.IsGroup() {
			return fmt.Errorf("create nexthop group %d: member %d is a group: %w", o.ID, m.ID, syscall.EINVAL)
		}
	}

	return nil
}

// deleteNexthop deletes an object as the kernel does: the routes that use
// it go too, and a hop object leaves the groups that contain it, which go
// when they are left empty.
func (d *Dataplane) deleteNexthop(id nexthop.ID) error {
	if _, ok := d.nexthops[id]; !ok {
		return fmt.Errorf("delete nexthop %d: %w", id, syscall.ENOENT)
	}

	delete(d.nexthops, id)
	for k, r := range d.routes {
		if r.route.Nexthop == id {
			delete(d.routes, k)
		}
	}

	for gid, g := range d.nexthops {
		if !g.obj.IsGroup() {
			continue
		}

		kept := g.obj.Group[:0:0]
		for _, m := range g.obj.Group {
			if m.ID != id {
				kept = append(kept, m)
			}
		}

		if len(kept) == len(g.obj.Group) {
			continue
		}

		if len(kept) == 0 {
			_ = d.deleteNexthop(gid)

			continue
		}

		g.obj.Group = kept
		d.nexthops[gid] = g
	}

	return nil
}

// ip6DefaultMetric is the metric Linux stores for an IPv6 route requested
// with metric 0 (IP6_RT_PRIO_USER in include/net/ip6_route.h).
const ip6DefaultMetric = 1024

// storedMetric returns the metric the kernel stores for r. A delete of an
// IPv6 route with metric 0 matches the route at 1024 here, where Linux
// deletes the first route of any metric.
func storedMetric(r fib.KernelRoute) uint32 {
	if r.Metric == 0 && r.Prefix.Addr().Is6() {
		return ip6DefaultMetric
	}

	return r.Metric
}

func (d *Dataplane) addRoute(r fib.KernelRoute, proto string, replace bool) error {
	r.Metric = storedMetric(r)
	k := routeKey{table: r.Table, prefix: r.Prefix, metric: r.Metric}
	if _, exists := d.routes[k]; exists && !replace {
		return fmt.Errorf("create route %s table %d metric %d: %w", r.Prefix, r.Table, r.Metric, syscall.EEXIST)
	}

	if r.Type == fib.TypeUnicast {
		// Linux returns EINVAL ("Nexthop id does not exist").
		if _, ok := d.nexthops[r.Nexthop]; !ok {
			return fmt.Errorf("create route %s table %d: nexthop %d does not exist: %w", r.Prefix, r.Table, r.Nexthop, syscall.EINVAL)
		}
	}

	d.routes[k] = entryRoute{route: r, proto: proto}

	return nil
}

func (d *Dataplane) deleteRoute(r fib.KernelRoute) error {
	k := routeKey{table: r.Table, prefix: r.Prefix, metric: storedMetric(r)}
	if _, ok := d.routes[k]; !ok {
		return fmt.Errorf("delete route %s table %d metric %d: %w", r.Prefix, r.Table, r.Metric, syscall.ENOENT)
	}

	delete(d.routes, k)

	return nil
}

// Resolve completes a hop without a device with the device set by
// SetGateway, and fails with ENETUNREACH for other gateways. A hop that
// names a device is returned unchanged.
func (d *Dataplane) Resolve(ctx context.Context, hop nexthop.Hop) (nexthop.Hop, error) {
	d.mu.Lock()
	defer d.mu.Unlock()

	d.init()
	d.resolves++
	if hop.Device != "" {
		return hop, nil
	}

	dev, ok := d.gateways[hop.Gateway]
	if !ok {
		return hop, fmt.Errorf("resolve next hop %s: no route to the gateway: %w", hop, syscall.ENETUNREACH)
	}

	hop.Device = dev

	return hop, nil
}
