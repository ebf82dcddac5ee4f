package nexthop

import (
	"errors"
	"fmt"
	"io/fs"
	"slices"
)

// ChangeKind is the kind of a kernel change to a nexthop object.
type ChangeKind uint8

// Kinds of changes.
const (
	// Create creates an object. It must fail with an error for which
	// errors.Is(err, fs.ErrExist) holds when the id is taken.
	Create ChangeKind = iota + 1
	// Replace changes an existing object in place: the members of a
	// group, or the hop of an object that another process changed.
	Replace
	// Delete deletes an object; deleting one that is gone succeeds.
	Delete
)

// String names the kind.
func (k ChangeKind) String() string {
	switch k {
	case Create:
		return "create"
	case Replace:
		return "replace"
	case Delete:
		return "delete"
	}

	return "change(unknown)"
}

// Change is one kernel change to a nexthop object, with the full content
// the object must have.
type Change struct {
	Kind   ChangeKind
	Object Object
}

// Setup returns the creates and replaces that bring the kernel to the
// objects that routes use, in make-before-break order: hop objects, then
// groups, each by id. Apply them before the route changes and report each
// outcome with Result. A change that fails is returned again by the next
// Setup.
//
// A hop that is down is not created. A group whose hops are all down is not
// created nor replaced: the routes that use it are unresolved and leave
// it. The caller owns the returned slice.
func (t *Table) Setup() []Change {
	t.forgetIdle()

	var hops, groups []Change
	for o := range t.dirty {
		c, ok := t.setupChange(o)
		if !ok {
			delete(t.dirty, o)

			continue
		}

		if o.single {
			hops = append(hops, c)
		} else {
			groups = append(groups, c)
		}
	}

	sortChanges(hops)
	sortChanges(groups)

	return append(hops, groups...)
}

// forgetIdle drops the objects that nothing references and that are not in
// the kernel, so that Setup does not create what no route uses.
func (t *Table) forgetIdle() {
	for dropped := true; dropped; {
		dropped = false
		for o := range t.idle {
			if o.refs <= 0 && !o.held && !o.installed && !o.dropped {
				t.drop(o)
				dropped = true
			}
		}
	}
}

func (t *Table) setupChange(o *object) (Change, bool) {
	if o.dropped || (o.refs <= 0 && !o.held) {
		return Change{}, false
	}

	want := t.content(o)
	if o.single {
		switch {
		case o.installed && !sameContent(o.have, want):
			// Another process replaced the object: put the hop back.
			return Change{Kind: Replace, Object: want}, true
		case o.installed || t.IsDown(o.hop):
			return Change{}, false
		}

		return Change{Kind: Create, Object: want}, true
	}

	switch {
	case len(want.Group) == 0:
		return Change{}, false
	case !o.installed:
		return Change{Kind: Create, Object: want}, true
	case !sameContent(o.have, want):
		return Change{Kind: Replace, Object: want}, true
	}

	return Change{}, false
}

// Teardown returns the deletes of objects that nothing references any
// more: groups first, then hop objects, each by id. Call it after the
// route changes were applied, and again after reporting the outcomes,
// since the hop objects of a deleted group become free only then. Objects
// that are not in the kernel are forgotten without a change. Adopted
// objects are kept until ReleaseHeld. The caller owns the returned slice.
func (t *Table) Teardown() []Change {
	var hops, groups []Change
	for o := range t.idle {
		if o.refs > 0 || o.held || o.dropped {
			delete(t.idle, o)

			continue
		}

		if !o.installed {
			t.drop(o)

			continue
		}

		c := Change{Kind: Delete, Object: Object{ID: o.id, Hop: o.hop, Group: o.have.Group, Resilient: o.have.Resilient}}
		if o.single {
			hops = append(hops, c)
		} else {
			groups = append(groups, c)
		}
	}

	sortChanges(hops)
	sortChanges(groups)

	return append(groups, hops...)
}

// Result records the outcome of a change returned by Setup or Teardown.
//
// A create that fails because the id is taken reserves that id for its
// other owner and gives the object a new id, which the next Setup creates.
// References follow the object to its new id. A replace that fails because the
// object is gone marks it for creation. Any other failure is kept (see
// Installed) and the change is returned again by the next Setup or
// Teardown.
func (t *Table) Result(c Change, err error) {
	o := t.byID[c.Object.ID]
	if o == nil {
		return
	}

	switch c.Kind {
	case Create:
		t.created(o, c, err)
	case Replace:
		t.replaced(o, c, err)
	case Delete:
		t.deleted(o, err)
	}
}

func (t *Table) created(o *object, c Change, err error) {
	if err == nil {
		o.installed = true
		o.have = c.Object
		o.err = nil

		return
	}

	o.err = err
	if errors.Is(err, fs.ErrExist) {
		t.Reserve(o.id)
		t.renumber(o)
	}
}

func (t *Table) replaced(o *object, c Change, err error) {
	if err == nil {
		o.have = c.Object
		o.err = nil

		return
	}

	o.err = err
	if errors.Is(err, fs.ErrNotExist) {
		o.installed = false
		o.have = Object{}
	}
}

func (t *Table) deleted(o *object, err error) {
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		o.err = err

		return
	}

	o.installed = false
	o.have = Object{}
	o.err = nil
	if o.refs <= 0 && !o.held {
		t.drop(o)
	}
}

// renumber moves an object to a fresh id after its id turned out to be
// taken. The groups that contain it change with it.
func (t *Table) renumber(o *object) {
	id, err := t.ids.allocate()
	if err != nil {
		o.err = fmt.Errorf("renumber nexthop %d: %w", o.id, err)

		return
	}

	delete(t.byID, o.id)
	t.ids.free(o.id)
	t.ids.take(id)
	o.id = id
	t.byID[id] = o
	t.dirty[o] = struct{}{}

	if !o.single {
		return
	}

	for _, g := range t.byID {
		if slices.Contains(g.members, o) {
			t.dirty[g] = struct{}{}
		}
	}
}

// Disown records that another owner took over the object id in place,
// for example with `ip nexthop replace id N ... proto static`, and
// reports whether the Table had an object with that id. The id is
// reserved for its new owner and never changed or deleted again. The
// object gets a fresh id and is created by the next Setup, and the
// groups that contain it are replaced with the new member. The routes
// that use id must move to the object's new id.
func (t *Table) Disown(id ID) bool {
	t.Reserve(id)

	o := t.byID[id]
	if o == nil {
		return false
	}

	o.installed = false
	o.have = Object{}
	t.renumber(o)

	return true
}

// ReleaseHeld ends the hold on objects adopted from the kernel, so that
// those no route uses are deleted by the next Teardown.
func (t *Table) ReleaseHeld() {
	for _, o := range t.byID {
		if !o.held {
			continue
		}

		o.held = false
		if o.refs <= 0 {
			t.idle[o] = struct{}{}
		}
	}
}

func sameContent(a, b Object) bool {
	if a.IsGroup() != b.IsGroup() || !sameResilient(a.Resilient, b.Resilient) {
		return false
	}

	if !a.IsGroup() {
		return a.Hop == b.Hop
	}

	// The kernel keeps members in the order they were given; the order
	// does not change forwarding.
	return slices.Equal(sortedMembers(a.Group), sortedMembers(b.Group))
}

func sortedMembers(g []GroupMember) []GroupMember {
	if slices.IsSortedFunc(g, compareMembers) {
		return g
	}

	return slices.SortedFunc(slices.Values(g), compareMembers)
}

func compareMembers(a, b GroupMember) int {
	switch {
	case a.ID < b.ID:
		return -1
	case a.ID > b.ID:
		return 1
	}

	return int(int64(a.Weight) - int64(b.Weight))
}

func sortChanges(cs []Change) {
	slices.SortFunc(cs, func(a, b Change) int {
		switch {
		case a.Object.ID < b.Object.ID:
			return -1
		case a.Object.ID > b.Object.ID:
			return 1
		}

		return 0
	})
}

// Pending reports whether Setup, Teardown or Retire may have changes to
// return.
func (t *Table) Pending() bool {
	return len(t.dirty) > 0 || len(t.idle) > 0 || len(t.retire) > 0
}
