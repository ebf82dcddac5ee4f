package fib

import (
	"time"

	"github.com/fibd/fibd/nexthop"
)

// This file contains the hooks through which the kernel side reports what
// changed behind the FIB's back. Each queues its work for the loop and
// counts as a change for Sync.

// Reconcile makes the FIB's view of what is installed equal s, a dump of
// the kernel: fibd's own routes and objects, and the ids in its range that
// other owners hold.
//
// Objects and routes the FIB does not know are adopted with their ids, so
// that those matching the desired state stay as they are, with no write.
// Routes no source wants are kept until the sweep (see Config.Hold), then
// deleted. Every key whose kernel route differs from what the FIB took as
// installed is marked dirty and repaired. The ids of other owners are
// never allocated. An object of the FIB's that another owner took over in
// place (its id is in ForeignNexthops) is never written again: the FIB
// creates the object with a fresh id and moves its routes and groups there.
//
// The first call is the adoption after a restart: queue it before Run. The
// hold timeout counts from it. Later calls repair drift, for example after
// a netlink overrun.
func (f *FIB) Reconcile(s Snapshot) {
	f.enqueue(func() { f.reconcileLocked(s) })
}

// RouteGone reports that the FIB's route r was deleted or replaced by
// someone else; the route is installed again. A route r on another
// nexthop object than the installed one is a report from before the FIB's
// latest replace, and changes nothing. If another owner holds the
// route now, the FIB's create fails and the key shows a conflict.
//
// For a key whose route at r's metric is not installed, such as a
// conflict whose other owner's route was just deleted, the key is tried
// again at once if its last try failed, instead of after the retry
// delay.
func (f *FIB) RouteGone(r KernelRoute) {
	f.enqueue(func() {
		k := Key{Table: r.Table, Prefix: r.Prefix.Masked()}
		i, ok := f.index.get(compactOf(k))
		if !ok {
			return
		}

		e := f.store.at(i)
		if !e.inst.ok || e.inst.metric != kernelMetric(k.Prefix, r.Metric) {
			if e.err != nil {
				f.markDirtyLocked(i)
			}

			return
		}

		// A route of another type or on another object is one the FIB
		// has replaced since: the replace created the route again if it
		// was gone.
		if r.Type != e.inst.typ || r.Nexthop != 0 && e.inst.nexthop != 0 && r.Nexthop != e.inst.nexthop {
			return
		}

		// The reference stays, so that the route comes back on its object.
		f.countStateLocked(e, -1)
		e.inst = installed{}
		f.countStateLocked(e, 1)
		f.markDirtyLocked(i)
	})
}

// NexthopGone reports that the kernel or another process deleted the
// FIB's object id. The kernel deleted the routes that used it too (and removed a
// hop object from its groups): the object is created again and those
// routes installed again. It visits every key, as this event is rare.
func (f *FIB) NexthopGone(id nexthop.ID) {
	f.enqueue(func() {
		f.markUsersLocked(f.table.Lost(id), true)
	})
}

// LinkChanged reports that device went down or up.
//
// On link down the kernel has already deleted the hop objects on the
// device, the routes that used them, and those hops' membership in groups
// (groups left empty with their routes). The FIB marks those hops down
// (reason "link") and records the same deletions without a write. Keys
// whose next hops are all on the device stay desired and unresolved until
// the link is up. On link up the hop objects are created again, groups are
// restored in place, and the unresolved keys are programmed again.
func (f *FIB) LinkChanged(device string, up bool) {
	f.enqueue(func() {
		affected := f.table.SetLinkDown(device, !up)
		f.markUsersLocked(affected, !up)
		if up {
			f.markUnresolvedLocked()
		}
	})
}

// Reresolve runs every cached resolution of hops without a device again
// (next-hop tracking) and programs again the keys whose resolved hops
// changed.
func (f *FIB) Reresolve() {
	f.enqueue(func() { f.reresolve = true })
}

func (f *FIB) reconcileLocked(s Snapshot) {
	if !f.hold.adopted {
		f.hold.adopted = true
		f.hold.since = time.Now()
	}

	// An object of the FIB that another owner took over in place keeps
	// fibd's routes on it. They move to a fresh object of the FIB's own.
	var disowned []nexthop.ID
	for _, id := range s.ForeignNexthops {
		if f.table.Disown(id) {
			disowned = append(disowned, id)
		}
	}

	f.markUsersLocked(disowned, false)
	f.table.Reconcile(s.Nexthops)

	kernel := make(map[Key][]KernelRoute, len(s.Routes))
	for _, r := range s.Routes {
		k := Key{Table: r.Table, Prefix: r.Prefix.Masked()}
		kernel[k] = append(kernel[k], r)
	}

	f.eachLocked(func(i int32, e *entry) {
		if e.inst.ok {
			f.compareInstalledLocked(i, e, kernel)
		}
	})

	for k, routes := range kernel {
		f.preferSelectedLocked(k, routes)
		for _, r := range routes {
			f.adoptLocked(k, r)
		}
	}
}

// preferSelectedLocked moves the kernel route whose metric is that of the
// key's selected candidate to the front of routes, so that it is the one
// adopted and the others are deleted as stale. Without it, a route at
// another metric could be adopted first, and the create at the selected
// metric would fail with EEXIST on fibd's own route.
func (f *FIB) preferSelectedLocked(k Key, routes []KernelRoute) {
	if len(routes) < 2 {
		return
	}

	i, ok := f.index.get(compactOf(k))
	if !ok {
		return
	}

	c, ok := f.store.at(i).selected()
	if !ok {
		return
	}

	want := kernelMetric(k.Prefix, c.metric)
	for n, r := range routes {
		if r.Metric == want {
			routes[0], routes[n] = routes[n], routes[0]

			return
		}
	}
}

// compareInstalledLocked checks the route the FIB took as installed for a
// key against the kernel's and consumes the kernel's from the map.
func (f *FIB) compareInstalledLocked(i int32, e *entry, kernel map[Key][]KernelRoute) {
	routes := kernel[e.key()]
	for n, r := range routes {
		if r.Metric != e.inst.metric {
			continue
		}

		kernel[e.key()] = append(routes[:n:n], routes[n+1:]...)
		if r.Type == e.inst.typ && r.Nexthop == e.inst.nexthop {
			return
		}

		f.countStateLocked(e, -1)
		e.inst.typ, e.inst.nexthop = r.Type, r.Nexthop
		f.countStateLocked(e, 1)
		f.markDirtyLocked(i)

		return
	}

	f.countStateLocked(e, -1)
	e.inst = installed{}
	f.countStateLocked(e, 1)
	f.markDirtyLocked(i)
}

// adoptLocked takes a kernel route of fibd's protocol that the FIB does not
// have as installed. A route at another metric than the selected
// candidate's is not kept in its place: the loop creates the route at the
// candidate's metric, then deletes the adopted one.
func (f *FIB) adoptLocked(k Key, r KernelRoute) {
	i, ok := f.index.get(compactOf(k))
	if !ok {
		i = f.store.alloc()
		e := f.store.at(i)
		e.ck = compactOf(k)
		e.flags = flagUsed
		f.index.put(compactOf(k), i)
	}

	e := f.store.at(i)
	if e.inst.ok {
		// A second route of ours for the key, at another metric.
		f.stale = append(f.stale, r)

		return
	}

	f.countStateLocked(e, -1)
	e.inst = installed{ok: true, typ: r.Type, metric: r.Metric, nexthop: r.Nexthop}
	if e.ref.IsZero() && r.Type == TypeUnicast {
		e.ref = f.table.Hold(r.Nexthop)
	}

	e.flags |= flagAdopted
	f.countStateLocked(e, 1)
	f.markDirtyLocked(i)
}
