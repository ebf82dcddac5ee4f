package nexthop

import (
	"slices"
)

// Reconcile makes the Table's view of the kernel equal objs, the objects
// of fibd's protocol that a dump found, and returns the ids of objects the
// Table took as installed that the kernel no longer has (their routes are
// gone too).
//
// An object the Table does not know is adopted with its id, marked held
// (kept without references until ReleaseHeld) and, when no other object
// has its set yet, interned, so that routes that request the same set use
// it without a kernel write. A known object whose kernel content differs is
// replaced by the next Setup. Call Reconcile first with the dump taken at
// start, then whenever a dump shows drift.
func (t *Table) Reconcile(objs []Object) []ID {
	inKernel := make(map[ID]bool, len(objs))
	for _, k := range objs {
		inKernel[k.ID] = true
	}

	affected := make(map[ID]struct{})
	for _, o := range t.byID {
		if o.installed && !inKernel[o.id] {
			o.installed = false
			o.have = Object{}
			t.dirty[o] = struct{}{}
			affected[o.id] = struct{}{}
		}
	}

	// Hop objects first, so that groups find their members.
	for _, k := range objs {
		if !k.IsGroup() {
			t.reconcileObject(k)
		}
	}

	for _, k := range objs {
		if k.IsGroup() {
			t.reconcileObject(k)
		}
	}

	return sortedIDs(affected)
}

func (t *Table) reconcileObject(k Object) {
	if o := t.byID[k.ID]; o != nil {
		o.installed = true
		o.have = k
		t.dirty[o] = struct{}{}

		return
	}

	if k.IsGroup() {
		t.adoptGroup(k)
	} else {
		t.adoptHop(k)
	}
}

func (t *Table) adoptHop(k Object) {
	o := &object{id: k.ID, single: true, hop: k.Hop, installed: true, have: k, held: true}
	if t.hops[k.Hop] == nil {
		o.interned = true
		t.hops[k.Hop] = o
	}

	t.add(o)
}

func (t *Table) adoptGroup(k Object) {
	o := &object{id: k.ID, installed: true, have: k, held: true}

	type pair struct {
		member Member
		obj    *object
	}

	pairs := make([]pair, 0, len(k.Group))
	for _, g := range k.Group {
		h := t.byID[g.ID]
		if h == nil || !h.single {
			// A member that is not one of our hop objects: keep the group
			// as it is until nothing uses it.
			o.opaque = true
			t.add(o)

			return
		}

		pairs = append(pairs, pair{member: Member{Hop: h.hop, Weight: g.Weight}, obj: h})
	}

	slices.SortFunc(pairs, func(a, b pair) int { return compareHops(a.member.Hop, b.member.Hop) })
	for _, p := range pairs {
		o.base.Members = append(o.base.Members, p.member)
		o.members = append(o.members, p.obj)
		p.obj.refs++
	}

	if k.Resilient != nil {
		r := *k.Resilient
		o.base.Resilient = &r
	}

	o.key = string(AppendSetKey(nil, o.base))
	if t.groups[o.key] == nil && o.base.IsGroup() {
		o.interned = true
		t.groups[o.key] = o
	}

	t.add(o)
}

// State describes one object for listing.
type State struct {
	// Object is the content the object has, or is to have, in the kernel.
	Object Object

	// Refs counts the references of routes and groups; Routes counts those
	// of routes only.
	Refs   int
	Routes int

	// Installed reports whether the object is in the kernel; Err is the
	// last failed change, nil once a change succeeded.
	Installed bool
	Err       error

	// Down lists the reasons for which a hop object is down.
	Down []string

	// Held marks an object adopted from the kernel and kept until
	// ReleaseHeld. Orphan marks a group that serves the routes left on it
	// after a hop came back, and that no new route gets.
	Held   bool
	Orphan bool
}

// Objects returns the state of every object, by id. The caller owns the
// slice.
func (t *Table) Objects() []State {
	states := make([]State, 0, len(t.byID))
	for _, o := range t.byID {
		s := State{
			Object:    t.content(o),
			Refs:      o.refs,
			Installed: o.installed,
			Err:       o.err,
			Held:      o.held,
			Orphan:    !o.single && !o.interned,
		}

		for _, n := range o.desires {
			s.Routes += n
		}

		if o.single {
			s.Down = t.DownReasons(o.hop)
		}

		states = append(states, s)
	}

	slices.SortFunc(states, func(a, b State) int {
		return int(int64(a.Object.ID) - int64(b.Object.ID))
	})

	return states
}

// Len returns the number of hop objects and of group objects.
func (t *Table) Len() (hops, groups int) {
	for _, o := range t.byID {
		if o.single {
			hops++
		} else {
			groups++
		}
	}

	return hops, groups
}
