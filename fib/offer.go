package fib

import (
	"cmp"
	"encoding/binary"
	"slices"

	"github.com/fibd/fibd/nexthop"
)

// canonical returns s in canonical order, copying it only when it is not.
func canonical(s nexthop.Set) nexthop.Set {
	if s.IsCanonical() {
		return s
	}

	return s.Canonical()
}

// offerLocked stores a validated candidate and returns the set it
// interned, nil for a route without next hops. setKey is the key of its
// canonical next-hop set. interned, if not nil, is the set interned for
// an earlier route with the same key, which saves the lookup while the
// set still has references.
func (f *FIB) offerLocked(r Route, setKey []byte, interned *requested) *requested {
	ck := compactOf(r.Key())
	i, ok := f.index.get(ck)
	if !ok {
		i = f.store.alloc()
		e := f.store.at(i)
		e.ck = ck
		e.flags = flagUsed
		f.index.put(ck, i)
	}

	e := f.store.at(i)
	c := candidate{source: r.Source, metric: r.Metric, typ: r.Type, distance: r.Distance}
	switch {
	case r.Type != TypeUnicast:
	case interned != nil && interned.refs > 0:
		interned.refs++
		c.set = interned
	default:
		c.set = f.internLocked(r.NextHops, setKey)
	}

	selected := e.hasFirst
	old, had := e.put(c)
	if !had {
		// A new candidate; replacing a source's candidate changes no count.
		f.countCandidateLocked(e, c.source, selected, 1)
	}

	if had {
		f.unrefSetLocked(old.set)
		if old == c {
			// The same offer again: nothing to program.
			return c.set
		}
	}

	f.markDirtyLocked(i)

	return c.set
}

// withdrawLocked removes the candidate of source from the entry at i and
// reports whether there was one.
func (f *FIB) withdrawLocked(i int32, source string) bool {
	e := f.store.at(i)
	old, had := e.remove(source)
	if !had {
		return false
	}

	f.countCandidateLocked(e, source, e.hasFirst, -1)

	f.unrefSetLocked(old.set)
	f.markDirtyLocked(i)

	return true
}

// internLocked returns the shared record of a requested set, counting one
// more reference.
func (f *FIB) internLocked(s nexthop.Set, key []byte) *requested {
	if rs := f.lastSet; rs != nil && rs.key == string(key) {
		rs.refs++

		return rs
	}

	if rs, ok := f.sets[string(key)]; ok {
		rs.refs++
		f.lastSet = rs

		return rs
	}

	// The producer may reuse its slices: keep a copy.
	s.Members = slices.Clone(s.Members)
	if s.Resilient != nil {
		r := *s.Resilient
		s.Resilient = &r
	}

	rs := &requested{key: string(key), set: s, refs: 1}
	f.sets[rs.key] = rs
	f.lastSet = rs
	for _, m := range s.Members {
		if needsResolve(m.Hop) {
			f.hopRefs[m.Hop]++
		}
	}

	return rs
}

func (f *FIB) unrefSetLocked(rs *requested) {
	if rs == nil {
		return
	}

	rs.refs--
	if rs.refs > 0 {
		return
	}

	delete(f.sets, rs.key)
	if f.lastSet == rs {
		f.lastSet = nil
	}
	for _, m := range rs.set.Members {
		if needsResolve(m.Hop) {
			f.unrefHopLocked(m.Hop)
		}
	}
}

// unrefHopLocked counts one requested set less that names h, and drops
// h's resolution once no set names it.
func (f *FIB) unrefHopLocked(h nexthop.Hop) {
	f.hopRefs[h]--
	if f.hopRefs[h] > 0 {
		return
	}

	delete(f.hopRefs, h)
	if _, ok := f.hops[h]; ok {
		delete(f.hops, h)
		f.tracked = coverage{}
	}
}

// markDirtyLocked queues the entry at i for the loop, once.
func (f *FIB) markDirtyLocked(i int32) {
	e := f.store.at(i)
	if e.flags&flagDirty != 0 {
		return
	}

	e.flags |= flagDirty
	f.queue.push(queued{idx: i, seq: f.seq})
}

// signal wakes the loop without blocking.
func (f *FIB) signal() {
	select {
	case f.wake <- struct{}{}:
	default:
	}
}

// enqueue queues work for the loop, as one more change for Sync.
func (f *FIB) enqueue(run func()) {
	f.mu.Lock()
	defer f.mu.Unlock()

	f.seq++
	f.events = append(f.events, event{seq: f.seq, run: run})
	f.signal()
}

// eachLocked calls fn for every entry.
func (f *FIB) eachLocked(fn func(i int32, e *entry)) {
	for i := int32(0); i < f.store.n; i++ {
		if e := f.store.at(i); e.flags&flagUsed != 0 {
			fn(i, e)
		}
	}
}

// markUsersLocked marks dirty the entries whose route uses one of ids.
// With gone set, those routes are taken as deleted from the kernel. It
// visits every key, which the rare events that call it (objects lost,
// links changed, groups left without live hops) can afford.
func (f *FIB) markUsersLocked(ids []nexthop.ID, gone bool) {
	if len(ids) == 0 {
		return
	}

	set := make(map[nexthop.ID]bool, len(ids))
	for _, id := range ids {
		set[id] = true
	}

	f.eachLocked(func(i int32, e *entry) {
		onIt := e.inst.ok && e.inst.typ == TypeUnicast && set[e.inst.nexthop]
		if !onIt && !set[e.ref.ID()] {
			return
		}

		if onIt && gone {
			f.countStateLocked(e, -1)
			e.inst = installed{}
			f.countStateLocked(e, 1)
		}

		f.markDirtyLocked(i)
	})
}

// markUnresolvedLocked marks dirty every unresolved entry, after a hop came
// back.
func (f *FIB) markUnresolvedLocked() {
	for i := range f.unresolved {
		f.markDirtyLocked(i)
	}
}

// stateLocked returns the public state of an entry. The candidates' next
// hops are copies.
func (f *FIB) stateLocked(e *entry) RouteState {
	s := RouteState{
		Key:        e.key(),
		Err:        e.err,
		Unresolved: e.flags&flagUnresolved != 0,
		Conflict:   e.flags&flagConflict != 0,
		Adopted:    e.flags&flagAdopted != 0 && !e.hasFirst,
	}

	e.candidates(func(c *candidate) bool {
		r := Route{Prefix: s.Key.Prefix, Table: s.Key.Table, Metric: c.metric, Type: c.typ, Source: c.source, Distance: c.distance}
		if c.set != nil {
			r.NextHops = c.set.set.Canonical()
		}

		s.Candidates = append(s.Candidates, r)

		return true
	})

	if e.inst.ok {
		r := e.inst.route(e.key())
		s.Installed = &r
	}

	return s
}

func (f *FIB) matchLocked(e *entry, filter Filter) bool {
	if filter.Table != 0 && e.ck.table != filter.Table {
		return false
	}

	if filter.Prefix.IsValid() && e.key().Prefix != filter.Prefix.Masked() {
		return false
	}

	if filter.Family != 0 && e.ck.family() != filter.Family {
		return false
	}

	if filter.Source == "" {
		return true
	}

	found := false
	e.candidates(func(c *candidate) bool {
		found = c.source == filter.Source

		return !found
	})

	return found
}

// sortedLocked returns the entries that match filter in (table, prefix)
// order: by table, IPv4 before IPv6, then by address and length. The sort
// compares copies of the keys in one array, not the entries, which makes a
// listing of a million keys that arrived in random order about three times
// faster (BenchmarkRoutes1M).
func (f *FIB) sortedLocked(filter Filter) []int32 {
	if filter.Prefix.IsValid() && filter.Table != 0 {
		i, ok := f.index.get(compactOf(Key{Table: filter.Table, Prefix: filter.Prefix.Masked()}))
		if !ok || !f.matchLocked(f.store.at(i), filter) {
			return nil
		}

		return []int32{i}
	}

	var items []sortItem
	f.eachLocked(func(i int32, e *entry) {
		if f.matchLocked(e, filter) {
			items = append(items, sortItemOf(e.ck, i))
		}
	})

	slices.SortFunc(items, compareSortItems)

	out := make([]int32, len(items))
	for k, it := range items {
		out[k] = it.slot
	}

	return out
}

// sortItem is a key in the listing order and the slot of its entry. The
// first word is the table and the family, the next two the address, which
// for IPv4 is in its IPv4-mapped form.
type sortItem struct {
	table, hi, lo uint64
	bits          uint8
	slot          int32
}

func sortItemOf(ck compactKey, slot int32) sortItem {
	family := uint64(1)
	if ck.is4 {
		family = 0
	}

	return sortItem{
		table: uint64(ck.table)<<1 | family,
		hi:    binary.BigEndian.Uint64(ck.addr[:8]),
		lo:    binary.BigEndian.Uint64(ck.addr[8:]),
		bits:  ck.bits,
		slot:  slot,
	}
}

func compareSortItems(a, b sortItem) int {
	return cmp.Or(
		cmp.Compare(a.table, b.table),
		cmp.Compare(a.hi, b.hi),
		cmp.Compare(a.lo, b.lo),
		cmp.Compare(a.bits, b.bits),
	)
}
