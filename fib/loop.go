package fib

import (
	"cmp"
	"container/heap"
	"context"
	"errors"
	"time"

	"github.com/fibd/fibd/nexthop"
)

// Run programs the dataplane until ctx is cancelled. Cancellation is not an
// error. Run may be called once. Queue the adoption (Reconcile) before it,
// so that the routes and objects of a previous run are adopted before
// anything is written.
func (f *FIB) Run(ctx context.Context) error {
	f.mu.Lock()
	if f.running {
		f.mu.Unlock()

		return errors.New("run fib: already running")
	}

	f.running = true
	f.mu.Unlock()

	timer := time.NewTimer(time.Hour)
	defer timer.Stop()

	for {
		wait, busy := f.prepare(time.Now())
		if busy {
			f.batch(ctx)
		} else {
			timer.Reset(wait)
			select {
			case <-ctx.Done():
			case <-f.wake:
			case <-timer.C:
			}
		}

		if ctx.Err() != nil {
			return nil
		}
	}
}

// prepare moves due retries into the queue, sweeps when the hold ended and
// ends the restore waits that are due.
// It reports whether there is work, or else how long the loop may sleep.
func (f *FIB) prepare(now time.Time) (time.Duration, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()

	for len(f.retries) > 0 && !f.retries[0].at.After(now) {
		it := heap.Pop(&f.retries).(retryItem)
		if e, ok := f.retryingLocked(it); ok {
			e.flags &^= flagRetry
			f.markDirtyLocked(it.idx)
		}
	}

	if f.hold.due(now, f.cfg.HoldTimeout) {
		f.sweepLocked()
	}

	// Groups that waited long enough for their routes to request a
	// returning hop: the routes that still request less move away.
	if ids := f.table.ExpireRestores(now); len(ids) > 0 {
		f.markUsersLocked(ids, false)
	}

	tableDue := f.table.Pending() && !now.Before(f.tableRetry.at)
	if f.queue.len() > 0 || len(f.events) > 0 || len(f.stale) > 0 || tableDue || f.reresolve {
		return 0, true
	}

	f.markDoneLocked()

	wait := time.Hour
	if len(f.retries) > 0 {
		wait = min(wait, f.retries[0].at.Sub(now))
	}

	if at, ok := f.hold.deadline(f.cfg.HoldTimeout); ok {
		wait = min(wait, at.Sub(now))
	}

	if f.table.Pending() {
		wait = min(wait, f.tableRetry.at.Sub(now))
	}

	if at, ok := f.table.RestoreDeadline(); ok {
		wait = min(wait, at.Sub(now))
	}

	return max(wait, time.Millisecond), false
}

// batch runs queued events, then programs up to BatchSize dirty keys.
func (f *FIB) batch(ctx context.Context) {
	f.mu.Lock()
	for len(f.events) > 0 {
		evs := f.events
		f.events = nil
		for _, ev := range evs {
			ev.run()
		}
	}

	reresolve := f.reresolve
	f.reresolve = false
	retire := f.table.Retire()
	f.mu.Unlock()

	if len(retire) > 0 {
		f.applyRetire(ctx, retire)
	}

	if reresolve {
		f.reresolveAll(ctx)
	}

	f.mu.Lock()
	popped := f.popLocked(f.cfg.BatchSize)
	hops := f.hopsToResolveLocked(popped, time.Now())
	f.mu.Unlock()

	resolved := f.resolve(ctx, hops)

	f.mu.Lock()
	f.storeResolutionsLocked(resolved)
	f.mu.Unlock()

	popped, plans := f.programRoutes(ctx, popped)
	f.applyRestores(ctx)
	f.applyTeardown(ctx)

	f.mu.Lock()
	f.finishLocked(popped)
	if len(popped) > 0 {
		f.count.batches++
	}
	f.mu.Unlock()

	// Drop the references the reused buffers hold, and keep the pages
	// that a batch of BatchSize keys needs.
	plans.reset((f.cfg.BatchSize + pipelineOps - 1) / pipelineOps)
	f.scratch.popped = popped[:0]
}

// applyRestores replaces the groups that the routes of this batch let
// restore, once those routes have left or now request the whole group, so
// that Sync returns after the restore.
func (f *FIB) applyRestores(ctx context.Context) {
	f.mu.Lock()
	restored := f.table.Restored()
	f.mu.Unlock()

	if restored {
		f.applyNexthops(ctx, nil)
	}
}

// popLocked takes up to n dirty entries from the queue.
func (f *FIB) popLocked(n int) []int32 {
	return f.appendPoppedLocked(f.scratch.popped[:0], n)
}

// appendPoppedLocked takes up to n dirty entries from the queue and
// appends them to popped. It stops at an entry that the batch popped
// before, which is dirty again: its first change may still be in flight,
// so the next batch plans the second.
func (f *FIB) appendPoppedLocked(popped []int32, n int) []int32 {
	for range min(n, f.queue.len()) {
		i := f.queue.front().idx
		e := f.store.at(i)
		if e.flags&flagBatch != 0 {
			break
		}

		f.queue.pop()
		popped = append(popped, i)
		e.flags = e.flags&^flagDirty | flagBatch
	}

	return popped
}

// markDoneLocked advances the watermark of tried changes to just before the
// oldest change still waiting, and wakes Sync callers.
func (f *FIB) markDoneLocked() {
	// A re-resolution that the routes just programmed requested (see
	// trackRouteOps) is part of their change: the batch that runs it
	// advances the watermark.
	if f.reresolve {
		return
	}

	done := f.seq
	if f.queue.len() > 0 {
		done = min(done, f.queue.front().seq-1)
	}

	if len(f.events) > 0 {
		done = min(done, f.events[0].seq-1)
	}

	if done > f.done {
		f.done = done
		close(f.doneCh)
		f.doneCh = make(chan struct{})
	}
}

// finishLocked notifies watchers of the processed entries, removes the
// entries that have no candidate and no route left, and advances the Sync
// watermark.
//
// An entry still waiting for a retry is removed too: a retry programs a
// candidate or deletes an installed route, and an empty entry has
// neither. Its item stays in the heap until due, and prepare skips it.
func (f *FIB) finishLocked(popped []int32) {
	for _, i := range popped {
		e := f.store.at(i)
		e.flags &^= flagBatch
		if e.flags&flagUsed == 0 {
			continue
		}

		empty := !e.hasFirst && !e.inst.ok && e.ref.IsZero() && e.flags&flagDirty == 0
		if empty {
			f.notifyLocked(e, EventDelete)
			f.removeLocked(i)

			continue
		}

		f.notifyLocked(e, EventUpdate)
	}

	f.markDoneLocked()
}

func (f *FIB) removeLocked(i int32) {
	e := f.store.at(i)
	f.countLocked(e, -1)
	f.index.delete(e.ck)
	delete(f.unresolved, i)
	f.store.release(i)
}

// backoff is the retry state of work that is not one route's.
type backoff struct {
	at    time.Time
	tries int
}

// failed schedules the next try, doubling the delay from min up to max.
func (b *backoff) failed(now time.Time, minDelay, maxDelay time.Duration) {
	delay := minDelay << min(b.tries, 16)
	if delay <= 0 || delay > maxDelay {
		delay = maxDelay
	}

	b.tries++
	b.at = now.Add(delay)
}

// retryLocked schedules another try of the entry at i, with a delay that
// doubles from RetryMin up to RetryMax.
func (f *FIB) retryLocked(i int32, e *entry) {
	delay := f.cfg.RetryMin << min(e.backoff, 16)
	if delay <= 0 || delay > f.cfg.RetryMax {
		delay = f.cfg.RetryMax
	}

	if e.backoff < 255 {
		e.backoff++
	}

	if e.flags&flagRetry != 0 {
		return
	}

	e.flags |= flagRetry
	heap.Push(&f.retries, retryItem{at: time.Now().Add(delay), idx: i, ck: e.ck})
}

// retryingLocked returns the entry that a retry item schedules, unless the
// entry was removed since. A slot that a removed entry freed may hold
// another key by now; the same key again gets one early try at most.
func (f *FIB) retryingLocked(it retryItem) (*entry, bool) {
	e := f.store.at(it.idx)
	if e.flags&(flagUsed|flagRetry) != flagUsed|flagRetry || e.ck != it.ck {
		return nil, false
	}

	return e, true
}

// sweepLocked ends the hold on what a previous run left: adopted objects
// are released and adopted routes that no source wants are deleted.
func (f *FIB) sweepLocked() {
	f.recordSweepLocked(time.Now())
	f.hold.swept = true
	f.table.ReleaseHeld()
	f.eachLocked(func(i int32, e *entry) {
		if e.flags&flagAdopted != 0 {
			f.markDirtyLocked(i)
		}
	})
}

// resolution is the cached outcome of resolving one requested hop. It is
// dropped when no requested set names the hop any more.
type resolution struct {
	hop   nexthop.Hop      // the hop of the first path
	paths []nexthop.Member // every path of a multipath route to the gateway, with its weight
	err   error
	at    time.Time
}

// hopsToResolveLocked lists the hops of the popped entries that need the
// dataplane's lookup: never resolved, or failed longer than RetryMin ago.
//
// TODO: hops that name a device are not passed to Dataplane.Resolve, so a
// missing device shows only as a failed nexthop create.
func (f *FIB) hopsToResolveLocked(popped []int32, now time.Time) []nexthop.Hop {
	var hops []nexthop.Hop
	seen := make(map[nexthop.Hop]bool)
	for _, i := range popped {
		c, ok := f.store.at(i).selected()
		if !ok || c.set == nil || (c.set.gen == f.gen && c.set.err == nil && c.set.gen != 0) {
			continue
		}

		for _, m := range c.set.set.Members {
			h := m.Hop
			if !needsResolve(h) || seen[h] {
				continue
			}

			r, ok := f.hops[h]
			if !ok || (r.err != nil && now.Sub(r.at) >= f.cfg.RetryMin) {
				seen[h] = true
				hops = append(hops, h)
			}
		}
	}

	return hops
}

// resolve calls Dataplane.Resolve for each hop, without the lock held.
func (f *FIB) resolve(ctx context.Context, hops []nexthop.Hop) map[nexthop.Hop]resolution {
	out := make(map[nexthop.Hop]resolution, len(hops))
	for _, h := range hops {
		r := f.resolveHop(ctx, h)
		r.at = time.Now()
		out[h] = r
	}

	return out
}

func (f *FIB) storeResolutionsLocked(rs map[nexthop.Hop]resolution) {
	for h, r := range rs {
		if f.hopRefs[h] == 0 {
			// Every set that named h left while it was resolved.
			continue
		}

		old, had := f.hops[h]
		f.hops[h] = r
		if !had || !sameResolution(old, r) {
			// Cached resolved sets may hold the old result.
			f.gen++
		}
	}
}

// resolvedLocked returns the set with every hop's device found.
func (f *FIB) resolvedLocked(rs *requested) (nexthop.Set, error) {
	if rs.gen == f.gen && rs.gen != 0 && rs.err == nil {
		return rs.resolved, nil
	}

	s := rs.set
	need := false
	for _, m := range s.Members {
		need = need || needsResolve(m.Hop)
	}

	if need {
		failed, firstErr := 0, error(nil)
		for _, m := range rs.set.Members {
			if !needsResolve(m.Hop) {
				continue
			}

			r, ok := f.hops[m.Hop]
			if !ok {
				return nexthop.Set{}, errNotResolved(m.Hop)
			}

			if r.err != nil {
				failed++
				firstErr = cmp.Or(firstErr, r.err)
			}
		}

		// A hop whose gateway has no usable route leaves the set while
		// another member remains, as a hop whose link is down leaves its
		// group. The route keeps forwarding over the members that resolve.
		if failed == len(rs.set.Members) {
			rs.err = &resolveError{err: firstErr}

			return nexthop.Set{}, rs.err
		}

		// A recursive hop becomes every path of the route to its gateway,
		// and the paths split the hop's weight by their own (see expand).
		s.Members = expand(rs.set.Members, func(h nexthop.Hop) []nexthop.Member {
			if !needsResolve(h) {
				return []nexthop.Member{{Hop: h, Weight: 1}}
			}

			if r := f.hops[h]; r.err == nil {
				return r.paths
			}

			return nil
		})
		s = s.Canonical()
		if err := s.Validate(); err != nil {
			return nexthop.Set{}, err
		}
	}

	if f.gen == 0 {
		f.gen = 1
	}

	rs.resolved, rs.gen, rs.err = s, f.gen, nil

	return s, nil
}

// reresolveAll runs every cached resolution again and marks dirty the
// entries whose resolved hops changed.
func (f *FIB) reresolveAll(ctx context.Context) {
	f.mu.Lock()
	hops := make([]nexthop.Hop, 0, len(f.hops))
	for h := range f.hops {
		hops = append(hops, h)
	}
	f.mu.Unlock()

	results := f.resolve(ctx, hops)

	f.mu.Lock()
	defer f.mu.Unlock()

	changed := make(map[nexthop.Hop]bool)
	for h, r := range results {
		old := f.hops[h]
		if !sameResolution(old, r) {
			changed[h] = true
		}
	}

	f.storeResolutionsLocked(results)
	if len(changed) == 0 {
		return
	}

	f.eachLocked(func(i int32, e *entry) {
		c, ok := e.selected()
		if !ok || c.set == nil {
			return
		}

		for _, m := range c.set.set.Members {
			if changed[m.Hop] {
				f.markDirtyLocked(i)

				return
			}
		}
	})
}
