package fib

import (
	"slices"
	"time"

	"github.com/fibd/fibd/nexthop"
)

// maxLastErrors is the number of error texts Stats keeps.
const maxLastErrors = 10

// counters are kept up to date as entries change, so that Stats does not
// visit every route.
type counters struct {
	routes, installed, failed, unresolved, conflicts int

	// adopted counts installed routes from a previous run that no source
	// offers, kept until the sweep.
	adopted int

	sources  tally[string]
	tables   tally[uint32]
	families tally[nexthop.Family]

	ops, opErrors uint64
	opsByKind     [opKinds]uint64 // indexed by OpKind
	takeovers     uint64
	batches       uint64
}

func newCounters() counters {
	return counters{
		sources:  newTally[string](),
		tables:   newTally[uint32](),
		families: newTally[nexthop.Family](),
	}
}

// countLocked adds (d = 1) or removes (d = -1) the whole contribution of
// e to the counters: its key and candidates, and its state.
func (f *FIB) countLocked(e *entry, d int) {
	c := &f.count
	if e.hasFirst {
		c.routes += d
		c.tables.add(e.ck.table, d)
		c.families.add(e.ck.family(), d)
	}

	e.candidates(func(cand *candidate) bool {
		c.sources.add(cand.source, d)

		return true
	})

	f.countStateLocked(e, d)
}

// countStateLocked adds (d = 1) or removes (d = -1) the contribution of
// e's programming state: installed, adopted, failed and the like. Callers
// that change that state but not the candidates remove it before and add
// it after, which costs no map access.
func (f *FIB) countStateLocked(e *entry, d int) {
	c := &f.count
	if e.inst.ok {
		c.installed += d
	}

	if e.inst.ok && e.flags&flagAdopted != 0 && !e.hasFirst {
		c.adopted += d
	}

	// Each key counts in one of these states at most.
	switch {
	case e.flags&flagUnresolved != 0:
		c.unresolved += d
	case e.flags&flagConflict != 0:
		c.conflicts += d
	case e.err != nil:
		c.failed += d
	}
}

// countCandidateLocked counts a candidate of source added (d = 1) to or
// removed (d = -1) from e. selected reports whether e has a selected
// candidate apart from this one, and the key itself is counted only when
// it has none.
func (f *FIB) countCandidateLocked(e *entry, source string, selected bool, d int) {
	c := &f.count
	c.sources.add(source, d)
	if selected {
		return
	}

	c.routes += d
	c.tables.add(e.ck.table, d)
	c.families.add(e.ck.family(), d)

	// An adopted route that gains its first candidate is selected now,
	// and one that loses its last is adopted again.
	if e.inst.ok && e.flags&flagAdopted != 0 {
		c.adopted -= d
	}
}

// tally counts routes by a key, such as their source or table. It keeps
// the counter it changed last, because consecutive changes mostly name
// the same source and table: a full table then costs no map lookup per
// route.
type tally[K comparable] struct {
	m     map[K]*int
	lastK K
	last  *int
}

func newTally[K comparable]() tally[K] {
	return tally[K]{m: make(map[K]*int)}
}

// add adds d to k's count, and deletes k when the count reaches zero.
func (t *tally[K]) add(k K, d int) {
	n := t.last
	if n == nil || t.lastK != k {
		n = t.m[k]
		if n == nil {
			n = new(int)
			t.m[k] = n
		}

		t.lastK, t.last = k, n
	}

	*n += d
	if *n == 0 {
		delete(t.m, k)
		t.last = nil
	}
}

// snapshot returns the counts as a map of their own.
func (t *tally[K]) snapshot() map[K]int {
	m := make(map[K]int, len(t.m))
	for k, n := range t.m {
		m[k] = *n
	}

	return m
}

// opKinds is the length of an array indexed by OpKind.
const opKinds = int(OpRouteDelete) + 1

// opsByKindMap returns the operations counted by kind, without the kinds
// that have none.
func (c *counters) opsByKindMap() map[OpKind]uint64 {
	m := make(map[OpKind]uint64)
	for k, n := range c.opsByKind {
		if n > 0 {
			m[OpKind(k)] = n
		}
	}

	return m
}

func (f *FIB) countOpsLocked(ops []Op) {
	for _, op := range ops {
		f.count.ops++
		f.count.opsByKind[op.Kind]++
		if op.Err != nil {
			f.count.opErrors++
			f.recordErrorLocked(op.Err)
		}
	}
}

// countTakeoverLocked counts the creates at indexes at of ops, which
// failed with EEXIST and are taken over by a replace. They count as
// operations but not as errors, since the replace decides the outcome.
func (f *FIB) countTakeoverLocked(ops []Op, at []int) {
	for _, k := range at {
		f.count.ops++
		f.count.opsByKind[ops[k].Kind]++
		f.count.takeovers++
	}
}

func (f *FIB) recordErrorLocked(err error) {
	f.errs = append(f.errs, err.Error())
	if len(f.errs) > maxLastErrors {
		f.errs = slices.Delete(f.errs, 0, len(f.errs)-maxLastErrors)
	}
}

func (f *FIB) statsLocked() Stats {
	hops, groups := f.table.Len()

	return Stats{
		Routes:         f.count.routes,
		Installed:      f.count.installed,
		Adopted:        f.count.adopted,
		Sweep:          f.hold.sweep,
		Failed:         f.count.failed,
		Unresolved:     f.count.unresolved,
		Nexthops:       hops,
		Groups:         groups,
		Ops:            f.count.ops,
		OpErrors:       f.count.opErrors,
		Pending:        f.pendingLocked(),
		LastErrors:     slices.Clone(f.errs),
		SourcesRoutes:  f.count.sources.snapshot(),
		Conflicts:      f.count.conflicts,
		TablesRoutes:   f.count.tables.snapshot(),
		FamiliesRoutes: f.count.families.snapshot(),
		OpsByKind:      f.count.opsByKindMap(),
		Takeovers:      f.count.takeovers,
		Batches:        f.count.batches,
		ApplyDuration:  f.applies.snapshot(),
	}
}

// pendingLocked counts the keys waiting for the loop, those waiting for a
// retry that still have an error, and those on groups that wait for a
// returning hop (see Config.RestoreWait).
func (f *FIB) pendingLocked() int {
	n := f.queue.len() + f.table.Masked()
	for _, it := range f.retries {
		e, ok := f.retryingLocked(it)
		if ok && e.flags&flagDirty == 0 && e.err != nil {
			n++
		}
	}

	return n
}

// holdState decides when routes adopted from a previous run and wanted by
// no source are deleted (the sweep).
type holdState struct {
	sources   []string
	converged map[string]bool
	since     time.Time // first Reconcile
	adopted   bool      // Reconcile was called
	swept     bool
	sweep     Sweep // set by the sweep, for Stats
}

// Sweep describes the end of the hold on routes adopted from a previous
// run (see Config.Hold).
type Sweep struct {
	// At is when the hold ended, zero while it lasts.
	At time.Time

	// Routes counts the adopted routes that no source offered again,
	// which the sweep deletes.
	Routes int

	// TimedOut is set when Config.HoldTimeout ended the hold, not the
	// convergence of the held sources.
	TimedOut bool
}

// recordSweepLocked records the sweep that starts now for Stats.
func (f *FIB) recordSweepLocked(now time.Time) {
	f.hold.sweep = Sweep{
		At:       now,
		Routes:   f.count.adopted,
		TimedOut: !now.Before(f.hold.since.Add(f.cfg.HoldTimeout)),
	}
}

func newHoldState(sources []string) holdState {
	return holdState{sources: sources, converged: make(map[string]bool)}
}

// due reports whether the sweep should happen now: after the first
// Reconcile, once every source in Hold converged (any source, with an
// empty Hold) or the timeout passed.
func (h *holdState) due(now time.Time, timeout time.Duration) bool {
	if !h.adopted || h.swept {
		return false
	}

	if !now.Before(h.since.Add(timeout)) {
		return true
	}

	if len(h.sources) == 0 {
		return len(h.converged) > 0
	}

	for _, s := range h.sources {
		if !h.converged[s] {
			return false
		}
	}

	return true
}

// deadline returns when the hold times out, and false when no sweep is
// pending.
func (h *holdState) deadline(timeout time.Duration) (time.Time, bool) {
	if !h.adopted || h.swept {
		return time.Time{}, false
	}

	return h.since.Add(timeout), true
}
