package nexthop

import (
	"errors"
	"io/fs"
	"net/netip"
	"slices"
	"time"
)

// Reasons for which a hop is down.
const (
	// ReasonLink is the reason of hops whose device is down. The kernel
	// deletes such hop objects itself, with the routes that use them, and
	// removes them from groups.
	ReasonLink = "link"

	// ReasonPeer is the usual reason of hops whose BGP session is down.
	ReasonPeer = "bgp-peer"
)

// IsDown reports whether hop h is down for at least one reason.
func (t *Table) IsDown(h Hop) bool {
	if len(t.linkDown) == 0 && len(t.gatewayDown) == 0 {
		return false
	}

	if h.Device != "" && t.linkDown[h.Device] {
		return true
	}

	return h.Gateway.IsValid() && len(t.gatewayDown[h.Gateway]) > 0
}

// DownReasons returns the sorted reasons for which h is down, nil if it is
// up. The caller owns the slice.
func (t *Table) DownReasons(h Hop) []string {
	var reasons []string
	if h.Device != "" && t.linkDown[h.Device] {
		reasons = append(reasons, ReasonLink)
	}

	for r := range t.gatewayDown[h.Gateway] {
		reasons = append(reasons, r)
	}

	slices.Sort(reasons)

	return reasons
}

// SetGatewayDown marks every hop with gateway addr as down for reason, or
// clears that reason. It returns the ids of the objects whose routes must be
// looked at again (see Acquire): routes whose object lost its last live hop,
// and routes that a hop coming back no longer fits.
//
// A hop going down makes each group that contains it shrink in place: the
// next Setup returns one replace per group, whatever the number of routes.
// A hop coming back restores a group in place when every route on it
// still desires the group's whole set. Otherwise the hop stays masked out
// of the group until they all do again (see mask and ExpireRestores).
func (t *Table) SetGatewayDown(addr netip.Addr, reason string, down bool) []ID {
	match := func(h Hop) bool { return h.Gateway == addr }

	return t.relive(match, func() {
		reasons := t.gatewayDown[addr]
		if down {
			if reasons == nil {
				reasons = make(map[string]bool, 1)
				t.gatewayDown[addr] = reasons
			}

			reasons[reason] = true

			return
		}

		delete(reasons, reason)
		if len(reasons) == 0 {
			delete(t.gatewayDown, addr)
		}
	})
}

// SetLinkDown marks every hop on device as down (reason ReasonLink), or up
// again, and returns the ids of the objects whose routes must be looked at
// again, as SetGatewayDown does.
//
// On link down it also records what the kernel did by itself: hop objects
// on the device are gone, their members are gone from groups, groups left
// empty are gone, and so are the routes that used any of them. The
// returned ids include those objects, whose routes the caller must take as
// deleted.
func (t *Table) SetLinkDown(device string, down bool) []ID {
	match := func(h Hop) bool { return h.Device == device }
	affected := t.relive(match, func() {
		if down {
			t.linkDown[device] = true
		} else {
			delete(t.linkDown, device)
		}
	})

	if !down {
		return affected
	}

	set := idSet(affected)
	for _, o := range t.byID {
		if o.single && o.hop.Device == device && o.installed {
			t.lost(o, set)
		}
	}

	return sortedIDs(set)
}

// Lost records that the kernel no longer has the object id, because it or
// another process deleted it. As the kernel does, a lost hop object also
// leaves the groups that contain it, and a group left empty is lost too.
// It returns the ids of the lost objects, whose routes the kernel deleted.
// The objects are created again by the next Setup while they are used.
func (t *Table) Lost(id ID) []ID {
	o := t.byID[id]
	if o == nil || !o.installed {
		return nil
	}

	set := make(map[ID]struct{})
	t.lost(o, set)

	return sortedIDs(set)
}

func (t *Table) lost(o *object, affected map[ID]struct{}) {
	o.installed = false
	o.have = Object{}
	t.dirty[o] = struct{}{}
	affected[o.id] = struct{}{}

	if !o.single {
		return
	}

	for _, g := range t.byID {
		if g.single || !g.installed {
			continue
		}

		i := slices.IndexFunc(g.have.Group, func(m GroupMember) bool { return m.ID == o.id })
		if i < 0 {
			continue
		}

		g.have.Group = slices.Delete(slices.Clone(g.have.Group), i, i+1)
		t.dirty[g] = struct{}{}
		if len(g.have.Group) == 0 {
			t.lost(g, affected)
		}
	}
}

// Retire returns the deletes of installed hop objects that went down while
// routes used them directly, by id. Deleting such an object makes the
// kernel delete those routes and remove the hop from the groups that
// contain it, in one operation, where the routes would otherwise be deleted
// one by one. Apply them before the route changes and report each outcome
// with Retired. A hop that came back before Retire is not deleted. The
// caller owns the returned slice.
func (t *Table) Retire() []Change {
	var changes []Change
	for o := range t.retire {
		if o.single && o.installed && !o.dropped && t.IsDown(o.hop) {
			changes = append(changes, Change{Kind: Delete, Object: Object{ID: o.id, Hop: o.hop}})
		}
	}

	clear(t.retire)
	sortChanges(changes)

	return changes
}

// Retired records the outcome of a delete returned by Retire and returns
// the ids of the objects whose routes the kernel deleted with it: the hop
// object and the groups it left empty, as Lost does. The object stays in
// the Table and is created again when its hop is up. After a failure the
// routes are still in the kernel and nothing is returned.
func (t *Table) Retired(c Change, err error) []ID {
	o := t.byID[c.Object.ID]
	if o == nil {
		return nil
	}

	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		o.err = err

		return nil
	}

	o.err = nil
	if !o.installed {
		return nil
	}

	set := make(map[ID]struct{})
	t.lost(o, set)

	return sortedIDs(set)
}

// relive applies a change of liveness and handles the hops that it turned
// down or up.
func (t *Table) relive(match func(Hop) bool, change func()) []ID {
	was := make(map[Hop]bool)
	for h := range t.hops {
		if match(h) {
			was[h] = t.IsDown(h)
		}
	}

	for _, w := range t.wants {
		for _, m := range w.set.Members {
			if match(m.Hop) {
				was[m.Hop] = t.IsDown(m.Hop)
			}
		}
	}

	change()

	down := make(map[Hop]bool)
	up := make(map[Hop]bool)
	for h, d := range was {
		switch now := t.IsDown(h); {
		case now && !d:
			down[h] = true
		case !now && d:
			up[h] = true
		}
	}

	affected := make(map[ID]struct{})
	if len(down) > 0 {
		t.wentDown(down, affected)
	}

	if len(up) > 0 {
		t.cameUp(up, affected)
	}

	return sortedIDs(affected)
}

func (t *Table) wentDown(hops map[Hop]bool, affected map[ID]struct{}) {
	for _, o := range t.byID {
		if o.single {
			// Routes that point at the hop directly have nothing left.
			// Deleting the object removes them in one kernel operation
			// (see Retire).
			if hops[o.hop] && len(o.desires) > 0 {
				affected[o.id] = struct{}{}
				if o.installed {
					t.retire[o] = struct{}{}
				}
			}

			continue
		}

		if !o.containsAny(hops) {
			continue
		}

		// A masked hop that goes down again is simply down; the group
		// forwards like its live members again once none is masked.
		for h := range hops {
			delete(o.masked, h)
		}

		if o.masked != nil && len(o.masked) == 0 {
			t.unmask(o)
		}

		t.dirty[o] = struct{}{}
		if len(t.content(o).Group) == 0 {
			affected[o.id] = struct{}{}
		}
	}
}

func (t *Table) cameUp(hops map[Hop]bool, affected map[ID]struct{}) {
	for _, o := range t.byID {
		if o.single && hops[o.hop] {
			t.dirty[o] = struct{}{}
		}

		if !o.single && o.containsAny(hops) {
			t.dirty[o] = struct{}{}
			if !o.allDesireBase() {
				// The routes that request another set than the
				// group's are looked at again: those whose request
				// the group no longer forwards for move at once.
				t.mask(o, hops)
				affected[o.id] = struct{}{}
			}
		}

		// Routes that desire the hop but use an object without it must move.
		for w := range o.desires {
			if w != nil && w.containsAny(hops) && !o.containsAny(hops) {
				affected[o.id] = struct{}{}
			}
		}
	}
}

// mask keeps the hops coming back out of the group's content while some
// of its routes request less than its set, as BGP routes do until the
// returning peer sends them again. The group leaves interning, so that
// routes new to the set get a group that forwards to all of it.
//
// The group gets its hops back in place, with one replace, once every
// route on it requests its whole set (see restoreIfDesired). Routes that
// move to the whole set stay on the group meanwhile, with no kernel
// write. A route never forwards to a hop it does not request: the masked
// hops join only when no route on the group lacks them.
func (t *Table) mask(o *object, hops map[Hop]bool) {
	if o.masked == nil {
		o.masked = make(map[Hop]bool, len(hops))
		o.deadline = time.Now().Add(t.restoreWait)
		o.expired = false
		t.restoring[o] = struct{}{}
	}

	for _, m := range o.base.Members {
		if hops[m.Hop] {
			o.masked[m.Hop] = true
		}
	}

	if o.interned && t.groups[o.key] == o {
		delete(t.groups, o.key)
	}

	o.interned = false
}

// restoreIfDesired unmasks a group once every route on it requests its
// whole set, or once it has no route left.
func (t *Table) restoreIfDesired(o *object) {
	if o.masked == nil || (o.refs > 0 && !o.allDesireBase()) {
		return
	}

	t.unmask(o)
}

// unmask ends the masking of a group: its content is again the live
// members of its set, and the next Setup replaces it when that differs
// from the kernel's.
func (t *Table) unmask(o *object) {
	o.masked = nil
	o.expired = false
	delete(t.restoring, o)
	t.dirty[o] = struct{}{}
	t.restored = true

	if !o.dropped && t.groups[o.key] == nil {
		t.groups[o.key] = o
		o.interned = true
	}
}

// Restored reports whether a group was unmasked since the last call, so
// that the caller may run Setup again after the route changes that made
// the restore possible.
func (t *Table) Restored() bool {
	r := t.restored
	t.restored = false

	return r
}

// SetRestoreWait sets how long a group with masked hops waits for its
// routes to request its whole set again (see ExpireRestores). Zero or
// less means DefaultRestoreWait.
func (t *Table) SetRestoreWait(d time.Duration) {
	if d <= 0 {
		d = DefaultRestoreWait
	}

	t.restoreWait = d
}

// ExpireRestores ends the wait of the groups with masked hops whose
// deadline is not after now, and returns their ids. The caller looks at
// those groups' routes again (Acquire): the routes that request less than
// the group's set move to another object, with one route write each, and
// the group gets its hops back once the last of them has left.
func (t *Table) ExpireRestores(now time.Time) []ID {
	var ids []ID
	for o := range t.restoring {
		if o.expired || now.Before(o.deadline) {
			continue
		}

		o.expired = true
		ids = append(ids, o.id)
	}

	slices.Sort(ids)

	return ids
}

// Masked returns the number of route references on groups with masked
// hops: routes that forward to less than their group's set until the
// group is restored.
func (t *Table) Masked() int {
	n := 0
	for o := range t.restoring {
		n += o.refs
	}

	return n
}

// RestoreDeadline returns the earliest deadline of the groups that wait
// for their routes (see ExpireRestores), and false when none waits.
func (t *Table) RestoreDeadline() (time.Time, bool) {
	var at time.Time
	found := false
	for o := range t.restoring {
		if o.expired || (found && !o.deadline.Before(at)) {
			continue
		}

		at, found = o.deadline, true
	}

	return at, found
}

func (o *object) containsAny(hops map[Hop]bool) bool {
	for _, m := range o.base.Members {
		if hops[m.Hop] {
			return true
		}
	}

	return false
}

func (w *wanted) containsAny(hops map[Hop]bool) bool {
	for _, m := range w.set.Members {
		if hops[m.Hop] {
			return true
		}
	}

	return false
}

// allDesireBase reports whether every route on the group desires its whole
// set. References of adopted routes, which desire nothing yet, count as
// desiring it.
func (o *object) allDesireBase() bool {
	for w := range o.desires {
		if w != nil && w.key != o.key {
			return false
		}
	}

	return true
}

func idSet(ids []ID) map[ID]struct{} {
	set := make(map[ID]struct{}, len(ids))
	for _, id := range ids {
		set[id] = struct{}{}
	}

	return set
}

func sortedIDs(set map[ID]struct{}) []ID {
	ids := make([]ID, 0, len(set))
	for id := range set {
		ids = append(ids, id)
	}

	slices.Sort(ids)

	return ids
}
