package nexthop

import (
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"time"
)

// ErrNoLiveHop is returned by Acquire when every hop of the requested set is
// down, so that no kernel object can forward for it: the route is
// unresolved.
var ErrNoLiveHop = errors.New("no live next hop")

// Table interns next-hop sets into nexthop objects, counts their
// references, allocates their ids and tracks which hops are down.
//
// A single hop is one object. A set that IsGroup is one group object whose
// members are the single objects of its hops. Hop objects are referenced by
// the groups and routes that use them, groups by routes. The content of a
// group (Object.Group) is the live members of the set it was interned
// for, less the hops that came back while its routes requested less (see
// SetGatewayDown), so that a hop going down or up changes one group in
// place whatever the number of routes using it.
//
// The Table does no I/O. Setup and Teardown return the kernel changes to
// apply; the caller reports each outcome with Result.
//
// A Table is not safe for concurrent use. The zero Table is not usable;
// call NewTable.
type Table struct {
	ids idAllocator

	byID   map[ID]*object
	hops   map[Hop]*object    // interned single objects by hop
	groups map[string]*object // interned group objects by set key
	wants  map[string]*wanted // desired sets by key, shared by references

	// lastWant and lastHop are the records that want and hopObject
	// returned last. Routes arrive in runs that share a set, so the next
	// call most likely requests them again and skips a map lookup.
	lastWant   *wanted
	lastHop    Hop
	lastHopObj *object

	// recent holds the records that want returned for the last distinct
	// sets it was passed, by the set's members array. Routes that take
	// turns between a few sets, as a table spread over several groups
	// does, then skip the key and the map lookup.
	recent     [recentWants]recentWant
	recentNext int

	linkDown    map[string]bool                // devices whose link is down
	gatewayDown map[netip.Addr]map[string]bool // gateways down, by reason

	dirty     map[*object]struct{} // objects whose kernel state may differ
	idle      map[*object]struct{} // objects that may have no references left
	retire    map[*object]struct{} // hop objects to delete with their routes
	restoring map[*object]struct{} // groups with masked hops (see mask)

	restoreWait time.Duration
	restored    bool // a group was unmasked since the last Restored

	buf []byte
}

// DefaultRestoreWait is how long a group waits for its routes to request
// its whole set again after a hop came back (see SetRestoreWait).
const DefaultRestoreWait = 5 * time.Second

// object is one interned nexthop object and its kernel state.
type object struct {
	id     ID
	single bool
	hop    Hop

	// base is the set a group was interned for, members are the single
	// objects of base's hops in the same order, and key is base's key. An
	// opaque group adopted from the kernel with unknown members has no
	// base.
	base    Set
	members []*object
	key     string
	opaque  bool

	// interned is set while the object is the one that Acquire hands out
	// for its key.
	interned bool

	have      Object // content in the kernel, valid when installed
	installed bool
	err       error // last failed change

	refs    int             // routes, holds and groups
	desires map[*wanted]int // references of routes by the set they desire
	held    bool            // adopted and kept until ReleaseHeld
	dropped bool

	// masked holds the hops of base that came back while routes on the
	// group requested less than base. The content leaves them out until
	// every route requests base again, or until deadline has passed and
	// expired moved the other routes away (see mask).
	masked   map[Hop]bool
	deadline time.Time
	expired  bool
}

// wanted is a desired set shared by every reference that desires it.
type wanted struct {
	key  string
	set  Set
	refs int
}

// Ref is one route's reference to an object: the object it uses and the
// set it desires. The zero Ref references nothing. A Ref stays valid when
// the object gets a new id (see Result), so read the id with ID.
type Ref struct {
	obj  *object
	want *wanted
}

// ID returns the current id of the referenced object, or zero.
func (r Ref) ID() ID {
	if r.obj == nil {
		return 0
	}

	return r.obj.id
}

// IsZero reports whether r references nothing.
func (r Ref) IsZero() bool {
	return r.obj == nil
}

// Same reports whether r and o reference the same object with the same
// desired set.
func (r Ref) Same(o Ref) bool {
	return r == o
}

// NewTable returns an empty Table that allocates ids from r; the zero Range
// means DefaultRange.
func NewTable(r Range) (*Table, error) {
	if r == (Range{}) {
		r = DefaultRange
	}

	if r.First == 0 || r.Last < r.First {
		return nil, fmt.Errorf("invalid nexthop id range %s: first must be at least 1 and not above last", r)
	}

	t := &Table{
		byID:        make(map[ID]*object),
		hops:        make(map[Hop]*object),
		groups:      make(map[string]*object),
		wants:       make(map[string]*wanted),
		linkDown:    make(map[string]bool),
		gatewayDown: make(map[netip.Addr]map[string]bool),
		dirty:       make(map[*object]struct{}),
		idle:        make(map[*object]struct{}),
		retire:      make(map[*object]struct{}),
		restoring:   make(map[*object]struct{}),
		restoreWait: DefaultRestoreWait,
	}
	t.ids.init(r, t.byID)

	return t, nil
}

// String formats the range as "FIRST-LAST".
func (r Range) String() string {
	return fmt.Sprintf("%d-%d", r.First, r.Last)
}

// Reserve marks id as taken by another owner, so that it is never
// allocated. Reserving an id twice, or one outside the range, is harmless.
func (t *Table) Reserve(id ID) {
	t.ids.reserve(id)
}

// Acquire returns a reference for a route that requests the canonical set
// desired and currently uses the object of current (the zero Ref if none).
//
// It keeps current's object when that object already forwards exactly like
// the live members of desired, so that a route whose request shrank to
// what its group already holds needs no kernel write. Otherwise it returns
// the object interned for desired, creating it (and its hop objects) when
// needed. The new reference counts on top of current, so the caller
// releases exactly one of the two once the route's change succeeded or
// failed.
//
// The error wraps ErrNoLiveHop when every hop of desired is down, or names
// the id range when it is exhausted.
func (t *Table) Acquire(desired Set, current Ref) (Ref, error) {
	w := t.want(desired)
	if !t.anyLive(w.set) {
		t.unwant(w)

		return Ref{}, fmt.Errorf("acquire nexthop for %s: %w", desired, ErrNoLiveHop)
	}

	o := current.obj
	if o == nil || o.dropped || !t.keeps(o, w) {
		var err error

		o, err = t.intern(w)
		if err != nil {
			t.unwant(w)

			return Ref{}, err
		}
	}

	o.refs++
	o.addDesire(w)
	t.restoreIfDesired(o)

	return Ref{obj: o, want: w}, nil
}

// keeps reports whether a route that uses o and requests w stays on o.
// A group with masked hops keeps the routes that request its whole set,
// since it forwards to a part of that set and gets the rest back in
// place. Until its deadline it also keeps the routes that its content
// forwards for exactly.
func (t *Table) keeps(o *object, w *wanted) bool {
	if o.masked != nil {
		if o.key == w.key {
			return len(t.content(o).Group) > 0
		}

		if o.expired {
			return false
		}
	}

	return t.forwardsLike(o, w.set)
}

// Hold returns a reference to the object with id without a desired set, for
// a route adopted from the kernel that still uses it. It returns the zero
// Ref when the Table has no such object.
func (t *Table) Hold(id ID) Ref {
	o := t.byID[id]
	if o == nil {
		return Ref{}
	}

	o.refs++
	o.addDesire(nil)

	return Ref{obj: o}
}

// Release drops a reference. An object without references is deleted by a
// later Teardown, after the routes have left it. Releasing the zero Ref does
// nothing.
func (t *Table) Release(r Ref) {
	if r.obj == nil {
		return
	}

	o := r.obj
	o.refs--
	o.removeDesire(r.want)
	t.restoreIfDesired(o)

	if r.want != nil {
		t.unwant(r.want)
	}

	if o.refs <= 0 {
		t.idle[o] = struct{}{}
	}
}

// Installed reports whether the referenced object exists in the kernel
// with the content it should have, so that a route may point at it. When
// it does not, the error explains why (the last failed change), or is nil
// if the change was not tried yet.
func (t *Table) Installed(r Ref) (bool, error) {
	o := r.obj
	if o == nil || o.dropped {
		return false, nil
	}

	if !o.installed {
		return false, o.err
	}

	if o.single {
		return true, nil
	}

	// A group must hold at least one member in the kernel.
	return len(o.have.Group) > 0, o.err
}

func (o *object) addDesire(w *wanted) {
	if o.desires == nil {
		o.desires = make(map[*wanted]int, 1)
	}

	o.desires[w]++
}

func (o *object) removeDesire(w *wanted) {
	if n := o.desires[w]; n > 1 {
		o.desires[w] = n - 1
	} else {
		delete(o.desires, w)
	}
}

// recentWants is the number of records Table.recent holds, enough for a
// table spread over 16 groups.
const recentWants = 16

// recentWant is a record that want returned and the first member of the
// set it was passed.
type recentWant struct {
	first *Member
	w     *wanted
}

// want returns the shared record of a desired set, counting one more
// reference to it.
func (t *Table) want(s Set) *wanted {
	w := t.lastWant
	if w == nil || !sameMembers(s, w.set) {
		w = t.lookupWant(s)
	}

	w.refs++
	t.lastWant = w

	return w
}

// lookupWant returns the record of set s, created with no reference when
// there is none. A record in recent for the same members array is
// compared with s rather than trusted, since the caller may have changed
// the members since.
func (t *Table) lookupWant(s Set) *wanted {
	if len(s.Members) > 0 {
		first := &s.Members[0]
		for _, r := range t.recent {
			if r.first == first && sameMembers(s, r.w.set) {
				return r.w
			}
		}
	}

	t.buf = AppendSetKey(t.buf[:0], s)
	w, ok := t.wants[string(t.buf)]
	if !ok {
		w = &wanted{key: string(t.buf), set: s.Canonical()}
		t.wants[w.key] = w
	}

	if len(s.Members) > 0 {
		t.recent[t.recentNext] = recentWant{first: &s.Members[0], w: w}
		t.recentNext = (t.recentNext + 1) % recentWants
	}

	return w
}

// sameMembers reports whether the canonical sets a and b are equal.
func sameMembers(a, b Set) bool {
	if !slices.Equal(a.Members, b.Members) {
		return false
	}

	if a.Resilient == nil || b.Resilient == nil {
		return a.Resilient == b.Resilient
	}

	return *a.Resilient == *b.Resilient
}

func (t *Table) unwant(w *wanted) {
	w.refs--
	if w.refs > 0 {
		return
	}

	delete(t.wants, w.key)
	if t.lastWant == w {
		t.lastWant = nil
	}

	for i := range t.recent {
		if t.recent[i].w == w {
			t.recent[i] = recentWant{}
		}
	}
}

// intern returns the object interned for w, creating it.
func (t *Table) intern(w *wanted) (*object, error) {
	if !w.set.IsGroup() {
		return t.hopObject(w.set.Members[0].Hop)
	}

	if o := t.groups[w.key]; o != nil {
		return o, nil
	}

	return t.newGroup(w.set, w.key)
}

func (t *Table) hopObject(h Hop) (*object, error) {
	if t.lastHopObj != nil && t.lastHop == h {
		return t.lastHopObj, nil
	}

	if o := t.hops[h]; o != nil {
		t.lastHop, t.lastHopObj = h, o

		return o, nil
	}

	id, err := t.ids.allocate()
	if err != nil {
		return nil, fmt.Errorf("create nexthop %s: %w", h, err)
	}

	o := &object{id: id, single: true, hop: h, interned: true}
	t.add(o)
	t.hops[h] = o

	return o, nil
}

func (t *Table) newGroup(s Set, key string) (*object, error) {
	members := make([]*object, len(s.Members))
	for i, m := range s.Members {
		h, err := t.hopObject(m.Hop)
		if err != nil {
			t.releaseMembers(members[:i])

			return nil, err
		}

		h.refs++
		members[i] = h
	}

	id, err := t.ids.allocate()
	if err != nil {
		t.releaseMembers(members)

		return nil, fmt.Errorf("create nexthop group %s: %w", s, err)
	}

	o := &object{id: id, base: s, members: members, key: key, interned: true}
	t.add(o)
	t.groups[key] = o

	return o, nil
}

func (t *Table) releaseMembers(members []*object) {
	for _, h := range members {
		h.refs--
		if h.refs <= 0 {
			t.idle[h] = struct{}{}
		}
	}
}

func (t *Table) add(o *object) {
	t.ids.take(o.id)
	t.byID[o.id] = o
	t.dirty[o] = struct{}{}
	t.idle[o] = struct{}{}
}

// drop removes an object that has no references and is not in the kernel.
func (t *Table) drop(o *object) {
	o.dropped = true
	delete(t.byID, o.id)
	t.ids.free(o.id)
	delete(t.dirty, o)
	delete(t.idle, o)
	delete(t.retire, o)
	delete(t.restoring, o)

	if o.single && t.hops[o.hop] == o {
		delete(t.hops, o.hop)
	}

	if t.lastHopObj == o {
		t.lastHopObj = nil
	}

	if o.interned && !o.single && t.groups[o.key] == o {
		delete(t.groups, o.key)
	}

	t.releaseMembers(o.members)
}

// content returns what the object should hold in the kernel: for a group,
// the members of its base whose hops are up.
func (t *Table) content(o *object) Object {
	if o.single {
		return Object{ID: o.id, Hop: o.hop}
	}

	if o.opaque {
		c := o.have
		c.ID = o.id

		return c
	}

	c := Object{ID: o.id, Group: make([]GroupMember, 0, len(o.members)), Resilient: o.base.Resilient}
	for i, m := range o.base.Members {
		if !t.IsDown(m.Hop) && !o.masked[m.Hop] {
			c.Group = append(c.Group, GroupMember{ID: o.members[i].id, Weight: m.Weight})
		}
	}

	return c
}

// anyLive reports whether at least one hop of s is up.
func (t *Table) anyLive(s Set) bool {
	for _, m := range s.Members {
		if !t.IsDown(m.Hop) {
			return true
		}
	}

	return false
}

// forwardsLike reports whether o's content forwards exactly like the live
// members of s: the same hops with the same weights, the same resilient
// parameters. One hop alone forwards the same whatever its weight, so a
// single object equals a one-member non-resilient set.
//
// NOTE: weights are compared as given, so weights 2 and 2 differ from 1 and
// 1 although they forward alike, and a route moves to another group.
func (t *Table) forwardsLike(o *object, s Set) bool {
	if t.sameBase(o, s) {
		return true
	}

	got, res, ok := t.forwarding(o)
	if !ok {
		return false
	}

	want := make([]Member, 0, len(s.Members))
	for _, m := range s.Members {
		if !t.IsDown(m.Hop) {
			want = append(want, m)
		}
	}

	if !sameResilient(res, s.Resilient) || len(got) != len(want) {
		return false
	}

	if len(got) == 1 && res == nil {
		return got[0].Hop == want[0].Hop
	}

	return slices.Equal(got, want)
}

// sameBase reports without allocating whether o serves exactly s: a hop
// object for a one-hop set, or a group without masked hops whose set is
// s. Its content is then the live members of s.
func (t *Table) sameBase(o *object, s Set) bool {
	if o.single {
		return len(s.Members) == 1 && s.Resilient == nil && s.Members[0].Hop == o.hop
	}

	if o.opaque || len(o.masked) > 0 || len(o.base.Members) != len(s.Members) || !sameResilient(o.base.Resilient, s.Resilient) {
		return false
	}

	for i, m := range s.Members {
		if o.base.Members[i] != m {
			return false
		}
	}

	return true
}

// Forwarding returns the hops and weights that the object id forwards to,
// the live members of a group, in canonical order. It returns false when
// the Table has no object id or a member of the group is missing. The
// caller owns the slice.
func (t *Table) Forwarding(id ID) ([]Member, bool) {
	o := t.byID[id]
	if o == nil {
		return nil, false
	}

	got, _, ok := t.forwarding(o)
	if !ok {
		return nil, false
	}

	return Set{Members: got}.Canonical().Members, true
}

// forwarding returns the hops and weights that o's content forwards to.
func (t *Table) forwarding(o *object) ([]Member, *Resilient, bool) {
	if o.single {
		return []Member{{Hop: o.hop, Weight: 1}}, nil, true
	}

	c := t.content(o)
	got := make([]Member, 0, len(c.Group))
	for _, g := range c.Group {
		h := t.byID[g.ID]
		if h == nil || !h.single {
			return nil, nil, false
		}

		got = append(got, Member{Hop: h.hop, Weight: g.Weight})
	}

	return got, c.Resilient, true
}

func sameResilient(a, b *Resilient) bool {
	if a == nil || b == nil {
		return a == b
	}

	return *a == *b
}
