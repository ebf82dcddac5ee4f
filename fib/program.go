package fib

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"time"

	"github.com/fibd/fibd/nexthop"
)

// action is the change a batch makes to the route of one key.
type action uint8

const (
	actionNone    action = iota // nothing to write
	actionProgram               // create or replace the route
	actionRemove                // delete the installed route
)

// plan is the intended change of one key within a batch.
type plan struct {
	idx    int32
	action action
	want   installed   // the route to program, without its nexthop id
	ref    nexthop.Ref // reference acquired for want; released unless the route moves to it
	reason error       // error that keeps the key from being programmed
	unres  bool        // reason is a lack of live or resolvable next hops
	keep   bool        // an adopted route kept until the sweep
}

// resolveError marks a failed resolution of a hop, so that the key counts
// as unresolved. Its text is the dataplane's, which names the hop.
type resolveError struct {
	err error
}

func (e *resolveError) Error() string { return e.err.Error() }

func (e *resolveError) Unwrap() error { return e.err }

func errNotResolved(h nexthop.Hop) error {
	return &resolveError{err: fmt.Errorf("resolve next hop %s: not resolved yet", h)}
}

// planLocked decides the change of each popped key, appending one plan
// per key still in use to plans: it resolves and interns the selected
// candidate's next hops.
func (f *FIB) planLocked(popped []int32, plans []plan) []plan {
	for _, i := range popped {
		e := f.store.at(i)
		if e.flags&flagUsed != 0 {
			plans = append(plans, f.planEntryLocked(i, e))
		}
	}

	return plans
}

func (f *FIB) planEntryLocked(i int32, e *entry) plan {
	p := plan{idx: i}
	c, ok := e.selected()
	if !ok {
		switch {
		case e.inst.ok && e.flags&flagAdopted != 0 && !f.hold.swept:
			p.keep = true
		case e.inst.ok:
			p.action = actionRemove
		}

		return p
	}

	// The route is programmed with the metric the kernel stores (see
	// kernelMetric), so that a route adopted after a restart matches
	// without a write.
	p.action = actionProgram
	p.want = installed{ok: true, typ: c.typ, metric: c.metric}
	if c.metric == 0 && !e.ck.is4 {
		p.want.metric = ip6DefaultMetric
	}

	if c.typ != TypeUnicast {
		return p
	}

	set, err := f.resolvedLocked(c.set)
	if err == nil {
		p.ref, err = f.table.Acquire(set, e.ref)
	}

	if err == nil {
		return p
	}

	var rerr *resolveError
	p.reason = fmt.Errorf("program route %s: %w", e.key(), err)
	p.unres = errors.Is(err, nexthop.ErrNoLiveHop) || errors.As(err, &rerr)

	switch {
	case p.unres && e.inst.ok:
		// Forwarding to next hops that are gone is worse than no route.
		p.action = actionRemove
	default:
		p.action = actionNone
	}

	return p
}

// routeOp ties an operation to the plan it comes from.
type routeOp struct {
	plan *plan
	old  installed // the route a metric change leaves behind
}

// programRoutes plans the popped keys in slices of pipelineOps. The
// creates and replaces of each slice go to a routeStream as soon as the
// nexthop objects they use are in place, so that the dataplane applies
// one slice while the loop plans the next. While producers keep offering,
// the batch takes more dirty keys as it runs (see extendBatch), so a long
// run of offers streams without a pause between batches. The route deletes
// follow once every create has been applied, and each outcome is recorded.
// It returns the keys of the batch and their plans; the caller finishes
// the keys and clears the plans.
func (f *FIB) programRoutes(ctx context.Context, popped []int32) ([]int32, *planPages) {
	plans := &f.scratch.plans
	deletes, deleteOwners := f.scratch.deletes[:0], f.scratch.deleteOwners[:0]

	// Changes that need no route, such as a group that lost a hop, go
	// first.
	f.applyNexthops(ctx, nil)

	s := f.startStream(ctx)
	s.record = func(op *Op, o routeOp) {
		p := o.plan
		if old, moved := f.recordProgramLocked(p, *op); moved {
			deletes = append(deletes, Op{Kind: OpRouteDelete, Route: old.route(f.store.at(p.idx).key())})
			deleteOwners = append(deleteOwners, routeOp{old: old})
		}
	}

	// The first slice is small, so that the dataplane starts soon after
	// the batch does, and each next one twice as large: the loop plans a
	// slice in about half the time the dataplane takes to apply one, so
	// the dataplane finds the next slice ready.
	begin, removes := time.Now(), 0
	step := min(pipelineOps, f.cfg.BatchSize, firstSliceOps)
	for start, end := 0, 0; ; start = end {
		// Deletes, including those of metric changes, wait for the end
		// of the batch: a batch that has some ends, so that they are not
		// held back further.
		if start == len(popped) && removes == 0 {
			popped = f.extendBatch(ctx, popped, begin)
		}

		if start == len(popped) {
			break
		}

		if start > 0 {
			step = min(2*step, pipelineOps, f.cfg.BatchSize)
		}

		end = min(start+step, len(popped))
		f.mu.Lock()
		page, from := plans.next(step)
		*page = f.planLocked(popped[start:end], *page)
		f.mu.Unlock()

		// The routes of this slice may need new objects, which must be
		// in the kernel before them.
		f.applyNexthops(ctx, s.wait)

		f.mu.Lock()
		for k := from; k < len(*page); k++ {
			p := &(*page)[k]
			if p.action == actionRemove {
				removes++
			}

			// A create over an installed route changes its metric, and
			// the old route is deleted once the create succeeded.
			op, ok := f.routeOpLocked(p)
			if ok && op.Kind == OpRouteCreate && f.store.at(p.idx).inst.ok {
				removes++
			}

			if ok {
				s.add(op, routeOp{plan: p})
			}
		}
		f.mu.Unlock()

		s.send()
		s.collect(false)
	}

	s.close()

	f.mu.Lock()
	plans.each(func(p *plan) {
		if p.action == actionRemove {
			deletes = append(deletes, Op{Kind: OpRouteDelete, Route: f.store.at(p.idx).inst.route(f.store.at(p.idx).key())})
			deleteOwners = append(deleteOwners, routeOp{plan: p})
		}
	})

	for _, r := range f.stale {
		deletes = append(deletes, Op{Kind: OpRouteDelete, Route: r})
		deleteOwners = append(deleteOwners, routeOp{})
	}

	f.stale = nil
	f.mu.Unlock()

	f.apply(ctx, deletes)

	f.mu.Lock()
	defer f.mu.Unlock()

	for k, op := range deletes {
		f.recordDeleteLocked(deleteOwners[k], op)
	}

	f.countOpsLocked(deletes)

	// Keep the buffers for the next batch, without the errors and plans
	// they point to.
	clear(deletes)
	clear(deleteOwners)
	f.scratch.deletes, f.scratch.deleteOwners = deletes[:0], deleteOwners[:0]

	return popped, plans
}

// batchExtendTime bounds how long a batch keeps taking dirty keys (see
// extendBatch). The batch's changes count as done, for Sync and watchers,
// only when it ends.
const batchExtendTime = time.Second

// extendBatch pops up to BatchSize more dirty keys into a batch whose
// popped keys are all planned, and resolves the hops they need. It adds
// none once the batch has run for batchExtendTime, or when work that must
// not wait for more routes is queued: drift events, a re-resolution, routes
// to delete beside ours. Nor does it when a Sync call waits only for
// changes that the batch has already taken.
func (f *FIB) extendBatch(ctx context.Context, popped []int32, begin time.Time) []int32 {
	f.mu.Lock()
	if f.queue.len() == 0 || len(f.events) > 0 || f.reresolve || len(f.stale) > 0 || f.syncServedLocked() || time.Since(begin) >= batchExtendTime {
		f.mu.Unlock()

		return popped
	}

	n := len(popped)
	popped = f.appendPoppedLocked(popped, f.cfg.BatchSize)
	hops := f.hopsToResolveLocked(popped[n:], time.Now())
	f.mu.Unlock()

	if len(hops) > 0 {
		resolved := f.resolve(ctx, hops)

		f.mu.Lock()
		f.storeResolutionsLocked(resolved)
		f.mu.Unlock()
	}

	return popped
}

// syncServedLocked reports whether a Sync call waits for no change left in
// the queue: ending the batch then lets it return, while taking more keys
// would only delay it. The queue must not be empty.
func (f *FIB) syncServedLocked() bool {
	for target := range f.syncs {
		if target < f.queue.front().seq {
			return true
		}
	}

	return false
}

// planPages holds the plans of a batch in pages that never move, so that
// the ops in flight can point to their plans while the batch grows.
type planPages struct {
	pages [][]plan
	used  int // pages in use; the last one may have room left
}

// next returns the page to append up to n plans to, and the length it
// has: the last page in use when it has room, or else an empty one.
func (pp *planPages) next(n int) (*[]plan, int) {
	if pp.used > 0 {
		page := &pp.pages[pp.used-1]
		if cap(*page)-len(*page) >= n {
			return page, len(*page)
		}
	}

	if pp.used == len(pp.pages) {
		pp.pages = append(pp.pages, prefaulted(make([]plan, 0, max(n, pipelineOps))))
	}

	page := &pp.pages[pp.used]
	pp.used++
	if cap(*page) < n {
		*page = prefaulted(make([]plan, 0, n))
	}

	return page, 0
}

// each calls fn for every plan of the batch, in order.
func (pp *planPages) each(fn func(*plan)) {
	for _, page := range pp.pages[:pp.used] {
		for k := range page {
			fn(&page[k])
		}
	}
}

// reset drops the plans, and the references they hold. It keeps keep
// pages for the next batch and lets the others go, so that the memory of
// one long batch is not held for good.
func (pp *planPages) reset(keep int) {
	for k := range pp.pages[:pp.used] {
		clear(pp.pages[k])
		pp.pages[k] = pp.pages[k][:0]
	}

	if len(pp.pages) > keep {
		clear(pp.pages[keep:])
		pp.pages = pp.pages[:keep]
	}

	pp.used = 0
}

// takeover replaces the routes of other owners that made creates fail
// with EEXIST, and sets each such op to the outcome of its replace.
func (f *FIB) takeover(ctx context.Context, ops []Op) {
	var replaces []Op
	var at []int
	for k, op := range ops {
		if isConflict(op) {
			replaces = append(replaces, Op{Kind: OpRouteReplace, Route: op.Route})
			at = append(at, k)
		}
	}

	if len(replaces) == 0 {
		return
	}

	f.apply(ctx, replaces)

	// The failed create counts as an operation; the replace takes its
	// place in the outcome.
	f.mu.Lock()
	f.countTakeoverLocked(ops, at)
	f.mu.Unlock()

	for n, k := range at {
		ops[k] = replaces[n]
	}
}

// isConflict reports whether op is a route create that failed because a
// route exists at its (table, prefix, metric).
func isConflict(op Op) bool {
	return op.Kind == OpRouteCreate && errors.Is(op.Err, fs.ErrExist)
}

// routeOpLocked returns the create or replace for a plan, or records its
// outcome at once when it needs no write or cannot be programmed.
func (f *FIB) routeOpLocked(p *plan) (Op, bool) {
	e := f.store.at(p.idx)
	switch p.action {
	case actionRemove:
		return Op{}, false
	case actionNone:
		f.settleLocked(p, e)

		return Op{}, false
	}

	want := p.want
	if want.typ == TypeUnicast {
		if ok, err := f.table.Installed(p.ref); !ok {
			if err == nil {
				err = errors.New("not created yet")
			}

			err = fmt.Errorf("program route %s: nexthop %d is not installed: %w", e.key(), p.ref.ID(), err)
			f.recordErrorLocked(err)
			f.failLocked(p, e, err, false)

			return Op{}, false
		}

		want.nexthop = p.ref.ID()
	}

	r := want.route(e.key())
	switch {
	case !e.inst.ok || e.inst.metric != want.metric:
		// A route fibd does not know as its own is created exclusively,
		// so that another owner's route is overwritten only by the
		// replace of a takeover (see takeover).
		return Op{Kind: OpRouteCreate, Route: r}, true
	case e.inst != want:
		return Op{Kind: OpRouteReplace, Route: r}, true
	}

	f.moveLocked(p, e, want)

	return Op{}, false
}

// recordProgramLocked records the outcome of a create or replace. It
// returns the route left behind by a metric change, to delete.
func (f *FIB) recordProgramLocked(p *plan, op Op) (installed, bool) {
	e := f.store.at(p.idx)
	if op.Err != nil {
		conflict := isConflict(op)
		err := fmt.Errorf("program route %s metric %d: %w", e.key(), op.Route.Metric, op.Err)
		if conflict {
			err = fmt.Errorf("create route %s metric %d: the route exists with another owner and is left unchanged: %w", e.key(), op.Route.Metric, op.Err)
		}

		f.failLocked(p, e, err, conflict)

		return installed{}, false
	}

	old := e.inst
	f.moveLocked(p, e, installed{ok: true, typ: op.Route.Type, metric: op.Route.Metric, nexthop: op.Route.Nexthop})

	return old, old.ok && old.metric != op.Route.Metric
}

// recordDeleteLocked records the outcome of a route delete.
func (f *FIB) recordDeleteLocked(o routeOp, op Op) {
	switch {
	case o.plan != nil:
		e := f.store.at(o.plan.idx)
		if op.Err != nil {
			f.failLocked(&plan{idx: o.plan.idx}, e, fmt.Errorf("delete route %s metric %d: %w", e.key(), op.Route.Metric, op.Err), false)

			return
		}

		f.countStateLocked(e, -1)
		e.inst = installed{}
		f.table.Release(e.ref)
		e.ref = nexthop.Ref{}
		e.flags &^= flagAdopted
		f.countStateLocked(e, 1)
		f.settleLocked(o.plan, e)
	case op.Err != nil:
		// A route left behind by a metric change, or found beside ours:
		// try again with the next batch.
		f.stale = append(f.stale, op.Route)
	}
}

// moveLocked records that the key's route is in the kernel as want, on the
// plan's reference, and releases the reference it used before.
func (f *FIB) moveLocked(p *plan, e *entry, want installed) {
	f.countStateLocked(e, -1)
	e.inst = want
	f.table.Release(e.ref)
	e.ref = p.ref
	p.ref = nexthop.Ref{}
	e.err = nil
	e.flags &^= flagConflict | flagUnresolved | flagAdopted
	e.backoff = 0
	delete(f.unresolved, p.idx)
	f.countStateLocked(e, 1)
}

// settleLocked records the state of a key that needed no write: kept until
// the sweep, with nothing left, or unresolved.
func (f *FIB) settleLocked(p *plan, e *entry) {
	if p.keep {
		return
	}

	f.countStateLocked(e, -1)
	defer f.countStateLocked(e, 1)

	if !e.inst.ok {
		// No route uses the object any more.
		f.table.Release(e.ref)
		e.ref = nexthop.Ref{}
	}

	e.flags &^= flagConflict
	if p.reason == nil {
		e.err = nil
		e.flags &^= flagUnresolved
		e.backoff = 0
		delete(f.unresolved, p.idx)

		return
	}

	e.err = p.reason
	if p.unres {
		e.flags |= flagUnresolved
		f.unresolved[p.idx] = struct{}{}
	}

	// A hop coming back marks unresolved keys dirty; anything else, such
	// as a failed resolution or an exhausted id range, is retried.
	if !errors.Is(p.reason, nexthop.ErrNoLiveHop) {
		f.recordErrorLocked(p.reason)
		f.retryLocked(p.idx, e)
	}
}

// failLocked records a failed try of a key and schedules a retry.
func (f *FIB) failLocked(p *plan, e *entry, err error, conflict bool) {
	if e.inst.ok {
		// The installed route still uses its object.
		f.table.Release(p.ref)
	} else {
		// Keep the object the route is to use, so that it is not deleted
		// and created again between two tries.
		f.table.Release(e.ref)
		e.ref = p.ref
	}

	p.ref = nexthop.Ref{}

	f.countStateLocked(e, -1)
	e.err = err
	e.flags &^= flagConflict | flagUnresolved
	delete(f.unresolved, p.idx)
	if conflict {
		e.flags |= flagConflict
	}
	f.countStateLocked(e, 1)

	f.retryLocked(p.idx, e)
}

// renumberRounds bounds how often applyNexthops runs Setup again after a
// create found its id taken by another owner. Each round moves every such
// object to the next free id, so a run of that many ids taken since the
// start costs one batch, not a failed route and a retry.
const renumberRounds = 64

// applyNexthops applies the nexthop creates and replaces that the routes
// of this batch need. It runs Setup again after ids were renumbered. When
// there is a change to apply, it first calls before, if set, so that the
// dataplane is not asked for two things at once.
func (f *FIB) applyNexthops(ctx context.Context, before func()) {
	for range renumberRounds {
		f.mu.Lock()
		changes := f.table.Setup()
		f.mu.Unlock()

		if len(changes) == 0 {
			return
		}

		if before != nil {
			before()
		}

		if !f.applyChanges(ctx, changes) {
			return
		}
	}
}

// applyTeardown deletes the nexthop objects that no route uses any more,
// groups before their hops.
func (f *FIB) applyTeardown(ctx context.Context) {
	for range 3 {
		f.mu.Lock()
		changes := f.table.Teardown()
		f.mu.Unlock()

		if len(changes) == 0 {
			return
		}

		f.applyChanges(ctx, changes)
	}
}

// applyRetire deletes hop objects that went down while routes used them
// directly. The kernel deletes those routes with each object, so the
// routes are recorded as gone before the batch is planned: they stay
// desired and unresolved, with no route delete, until a hop is up. A
// failed delete leaves the routes to be deleted one by one.
//
// NOTE: the kernel deletes the routes within the one request, so the
// request takes as long as the route deletes it replaces. With 10,000 to
// 50,000 IPv6 routes on Linux 6.18 both ways took about the same wall time
// (TestScenarioGatewayDown); the kernel's lock is then held for the whole
// request rather than for many short ones.
func (f *FIB) applyRetire(ctx context.Context, changes []nexthop.Change) {
	ops := make([]Op, len(changes))
	for k, c := range changes {
		ops[k] = Op{Kind: OpNexthopDelete, Nexthop: c.Object}
	}

	f.apply(ctx, ops)

	f.mu.Lock()
	defer f.mu.Unlock()

	for k, c := range changes {
		f.markUsersLocked(f.table.Retired(c, ops[k].Err), true)
	}

	f.countOpsLocked(ops)
}

// applyChanges applies nexthop changes and records their outcome. It
// reports whether one failed because its id was taken, so that the next
// Setup creates that object with a new id.
func (f *FIB) applyChanges(ctx context.Context, changes []nexthop.Change) bool {
	ops := make([]Op, len(changes))
	for k, c := range changes {
		ops[k] = Op{Kind: opKind(c.Kind), Nexthop: c.Object}
	}

	f.apply(ctx, ops)

	f.mu.Lock()
	defer f.mu.Unlock()

	failed, renumbered := false, false
	for k, c := range changes {
		f.table.Result(c, ops[k].Err)
		if err := ops[k].Err; err != nil {
			failed = true
			renumbered = renumbered || (c.Kind == nexthop.Create && errors.Is(err, fs.ErrExist))
		}
	}

	f.countOpsLocked(ops)
	if failed {
		f.tableRetry.failed(time.Now(), f.cfg.RetryMin, f.cfg.RetryMax)
	} else {
		f.tableRetry = backoff{}
	}

	return renumbered
}

func opKind(k nexthop.ChangeKind) OpKind {
	switch k {
	case nexthop.Create:
		return OpNexthopCreate
	case nexthop.Replace:
		return OpNexthopReplace
	}

	return OpNexthopDelete
}

// apply hands ops to the dataplane in slices of BatchSize and records the
// duration of each call. When the dataplane cannot attempt a slice, each
// of its ops gets that error.
func (f *FIB) apply(ctx context.Context, ops []Op) {
	for start := 0; start < len(ops); start += f.cfg.BatchSize {
		chunk := ops[start:min(start+f.cfg.BatchSize, len(ops))]
		f.applyChunk(ctx, chunk)
		f.trackRouteOps(chunk)
	}
}

// applyChunk hands at most BatchSize ops to the dataplane in one call,
// without the lock held.
func (f *FIB) applyChunk(ctx context.Context, chunk []Op) {
	begin := time.Now()
	err := f.dp.Apply(ctx, chunk)
	f.applies.observe(time.Since(begin))
	if err != nil {
		for k := range chunk {
			chunk[k].Err = fmt.Errorf("apply %s: %w", chunk[k].Kind, err)
		}
	}
}
