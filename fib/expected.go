package fib

import (
	"github.com/fibd/fibd/nexthop"
)

// ExpectedState is the forwarding state that the FIB expects in the
// kernel, for a comparison with a dump (see Expected).
type ExpectedState struct {
	// Routes lists the routes the FIB expects, in no particular order.
	Routes []ExpectedRoute

	// Nexthops lists the objects the FIB has installed, with the content
	// each should have, by id.
	Nexthops []nexthop.Object
}

// ExpectedRoute is one route that the FIB expects in the kernel.
type ExpectedRoute struct {
	// Route is the table, prefix, type and metric (as the kernel stores
	// it) of the route. Its Nexthop is the id of the object the FIB
	// installed the route on, and zero when the route is not installed or
	// not unicast.
	Route KernelRoute

	// NextHops are the hops and weights a unicast route forwards to, in
	// canonical order: the live content of the object it is installed on,
	// or the requested set when it is not installed. It is nil when the
	// FIB does not hold the object the route is installed on, or cannot
	// expand it (a group adopted with members of other owners). The slice
	// may be shared with other routes and must not be modified.
	NextHops []nexthop.Member

	// Err is the key's last programming error, nil when in sync.
	Err error

	// Unresolved marks a selected route that has no live or resolvable
	// next hop, so the FIB does not install it; Err holds the reason. Its
	// Route has no nexthop and NextHops is nil.
	Unresolved bool
}

// Expected returns the state the FIB expects in the kernel: every selected
// route (those without a live next hop marked Unresolved), every route
// adopted from a previous run that is kept until the sweep, and every
// installed nexthop object.
// Changes in flight show as differences from the kernel, so call Sync
// first. It visits every key once with the lock held, and expands each
// object once however many routes use it. The caller owns the slices
// but not the NextHops of the routes.
func (f *FIB) Expected() ExpectedState {
	f.mu.Lock()
	defer f.mu.Unlock()

	s := ExpectedState{Routes: make([]ExpectedRoute, 0, f.count.routes)}
	expanded := make(map[nexthop.ID][]nexthop.Member)
	f.eachLocked(func(_ int32, e *entry) {
		if r, ok := f.expectedRouteLocked(e, expanded); ok {
			s.Routes = append(s.Routes, r)
		}
	})

	for _, o := range f.table.Objects() {
		if o.Installed {
			s.Nexthops = append(s.Nexthops, o.Object)
		}
	}

	return s
}

// expectedRouteLocked returns the route expected for e, if any. expanded
// caches the hops of each object.
func (f *FIB) expectedRouteLocked(e *entry, expanded map[nexthop.ID][]nexthop.Member) (ExpectedRoute, bool) {
	k := e.key()
	c, ok := e.selected()
	switch {
	case !ok && e.inst.ok && e.flags&flagAdopted != 0 && !f.hold.swept:
		// Kept as it is until the sweep.
		r := ExpectedRoute{Route: e.inst.route(k), Err: e.err}
		if e.inst.typ == TypeUnicast {
			r.NextHops = f.expandLocked(e.inst.nexthop, expanded)
		}

		return r, true
	case !ok:
		return ExpectedRoute{}, false
	}

	r := ExpectedRoute{
		Route: KernelRoute{Table: k.Table, Prefix: k.Prefix, Metric: kernelMetric(k.Prefix, c.metric), Type: c.typ},
		Err:   e.err,
	}

	if e.flags&flagUnresolved != 0 {
		r.Unresolved = true

		return r, true
	}

	if c.typ != TypeUnicast {
		return r, true
	}

	if e.inst.ok && e.inst.typ == TypeUnicast && e.inst.nexthop != 0 {
		r.Route.Nexthop = e.inst.nexthop
		r.NextHops = f.expandLocked(e.inst.nexthop, expanded)

		return r, true
	}

	r.NextHops = c.set.set.Members

	return r, true
}

// expandLocked returns the hops that the FIB's object id forwards to, nil
// when the FIB does not hold it.
func (f *FIB) expandLocked(id nexthop.ID, expanded map[nexthop.ID][]nexthop.Member) []nexthop.Member {
	if hops, ok := expanded[id]; ok {
		return hops
	}

	hops, _ := f.table.Forwarding(id)
	expanded[id] = hops

	return hops
}
