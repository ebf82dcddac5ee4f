package fib

// This file declares the public surface of FIB that producers (gRPC API,
// GoBGP) and the daemon program against.

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"sync"
	"time"

	"github.com/fibd/fibd/nexthop"
)

// Defaults of Config.
const (
	DefaultBatchSize   = 65536
	DefaultHoldTimeout = 5 * time.Minute
	DefaultRetryMin    = time.Second
	DefaultRetryMax    = time.Minute
	DefaultWatchBuffer = 4096
)

// Config configures a FIB. The zero value of each field has the meaning its
// comment gives.
type Config struct {
	// Dataplane receives the operations. Required.
	Dataplane Dataplane

	// Nexthops is the range of nexthop ids to allocate from; the zero value
	// means nexthop.DefaultRange.
	Nexthops nexthop.Range

	// BatchSize is the largest number of operations handed to the
	// dataplane in one Apply call, and the number of dirty keys that a
	// batch takes at a time (see the package documentation); zero means
	// 65536.
	BatchSize int

	// Hold lists the sources that must declare convergence (Converged)
	// before routes adopted from a previous run and not wanted any more are
	// deleted. HoldTimeout bounds the wait from the first Reconcile; zero
	// means 5 minutes. With an empty Hold, the first Converged of any
	// source ends the wait.
	Hold        []string
	HoldTimeout time.Duration

	// RetryMin and RetryMax bound the delay before a failed route is tried
	// again: it starts at RetryMin and doubles up to RetryMax. Zero means
	// 1 second and 1 minute.
	RetryMin time.Duration
	RetryMax time.Duration

	// RestoreWait is how long a group that a returning next hop would
	// rejoin waits for its routes to request that hop again. Until then,
	// routes that request the group's whole set stay on it with no kernel
	// write, and the hop joins the group in place with one replace once
	// every route on it requests it. After the wait, the routes that still
	// request less move to other objects one by one, and the hop joins
	// then. Zero means nexthop.DefaultRestoreWait (5 seconds).
	RestoreWait time.Duration

	// WatchBuffer is the number of events a watcher may fall behind before
	// it is cut off; zero means 4096.
	WatchBuffer int

	// TakeoverConflicts makes the FIB replace a route of another owner
	// that holds the (table, prefix, metric) it programs: a create that
	// fails with EEXIST is followed by a replace in the same batch. When
	// false, the FIB never overwrites such a route, marks the key as a
	// conflict and tries the create again with the retry delay.
	TakeoverConflicts bool
}

func (c Config) withDefaults() Config {
	if c.BatchSize <= 0 {
		c.BatchSize = DefaultBatchSize
	}

	if c.HoldTimeout <= 0 {
		c.HoldTimeout = DefaultHoldTimeout
	}

	if c.RetryMin <= 0 {
		c.RetryMin = DefaultRetryMin
	}

	if c.RetryMax <= 0 {
		c.RetryMax = DefaultRetryMax
	}

	if c.RetryMax < c.RetryMin {
		c.RetryMax = c.RetryMin
	}

	if c.WatchBuffer <= 0 {
		c.WatchBuffer = DefaultWatchBuffer
	}

	return c
}

// FIB is the desired forwarding state and its programmer. Its methods are
// safe for concurrent use.
//
// Producers offer and withdraw candidates; those calls only validate,
// store and mark keys dirty. One loop (Run) does all dataplane work in
// batches. The drift hooks (Reconcile, RouteGone, NexthopGone,
// LinkChanged, Reresolve) and SetGatewayDown queue their work for the
// loop too, so the nexthop table and the installed state change only
// there.
type FIB struct {
	cfg   Config
	dp    Dataplane
	table *nexthop.Table

	mu      sync.Mutex
	store   entries
	index   prefixIndex
	sets    map[string]*requested
	lastSet *requested // interned last, which the next offer likely names too
	hops    map[nexthop.Hop]resolution
	hopRefs map[nexthop.Hop]int32 // requested sets that name each hop to resolve
	gen     uint64                // resolution generation
	running bool

	queue      dirtyQueue
	events     []event
	retries    retryHeap
	unresolved map[int32]struct{}
	stale      []KernelRoute // our routes to delete, found beside the installed one
	tableRetry backoff       // failed nexthop changes
	reresolve  bool
	tracked    coverage // prefixes that cover a cached gateway

	seq    uint64         // changes offered
	done   uint64         // changes tried
	syncs  map[uint64]int // targets of the Sync calls waiting, and how many wait for each
	doneCh chan struct{}
	wake   chan struct{}

	applies  *histogram // durations of Dataplane.Apply calls
	scratch  scratch    // buffers of the loop, reused between batches
	hold     holdState
	watchers []*watcher
	count    counters
	errs     []string
}

// event is work queued for the loop by a drift hook.
type event struct {
	seq uint64
	run func()
}

// New returns a FIB. Nothing is programmed before Run.
func New(cfg Config) (*FIB, error) {
	if cfg.Dataplane == nil {
		return nil, errors.New("create fib: missing dataplane")
	}

	cfg = cfg.withDefaults()
	table, err := nexthop.NewTable(cfg.Nexthops)
	if err != nil {
		return nil, fmt.Errorf("create fib: %w", err)
	}

	table.SetRestoreWait(cfg.RestoreWait)

	f := &FIB{
		cfg:        cfg,
		dp:         cfg.Dataplane,
		table:      table,
		index:      newPrefixIndex(),
		sets:       make(map[string]*requested),
		hops:       make(map[nexthop.Hop]resolution),
		hopRefs:    make(map[nexthop.Hop]int32),
		unresolved: make(map[int32]struct{}),
		syncs:      make(map[uint64]int),
		doneCh:     make(chan struct{}),
		wake:       make(chan struct{}, 1),
		hold:       newHoldState(cfg.Hold),
		count:      newCounters(),
		applies:    newHistogram(ApplyBuckets),
	}

	return f, nil
}

// Update offers candidate routes. Each route is validated on its own; the
// returned slice has one entry per route, nil for an accepted route. A
// rejected route changes nothing. Accepted routes replace the same
// source's earlier candidate for their key. The next hops need not be in
// canonical order.
//
// A large Update offers its routes in chunks of updateChunk, taking the
// lock for each, so that the loop programs the first routes while the
// rest are offered. Sync after Update returns waits for all of them.
func (f *FIB) Update(routes []Route) []error {
	errs := make([]error, len(routes))
	var buf offerBuffers
	for start := 0; start < len(routes); start += updateChunk {
		end := min(start+updateChunk, len(routes))
		f.offerChunk(routes[start:end], errs[start:end], &buf)
	}

	return errs
}

// updateChunk is the number of routes that Update offers under one hold
// of the lock. A hold lasts well under a millisecond, so the loop, which
// takes the lock several times per slice it plans and records, does not
// leave the dataplane idle while a large Update runs. With 4096 the loop
// waited up to 10 ms per lock and the kernel sat idle for 0.2 s of a
// million-route install.
const updateChunk = 512

// offerBuffers are the buffers of one Update, reused between its chunks.
type offerBuffers struct {
	sets   []nexthop.Set
	starts []int
	ends   []int
	keys   []byte

	// owners is, for each route of the chunk, the index of the chunk's
	// first route with the same set. interned is the set that each
	// route's offer interned, so that later routes of the same owner skip
	// the lookup.
	owners   []int
	interned []*requested
	recent   recentSets

	// setValid is, for each route of the chunk, whether its set passed
	// nexthop.Set.Validate. A set is the same for the routes of one
	// owner, so it is checked once.
	setValid []bool
}

// offerChunk validates routes, setting errs, and offers the valid ones as
// one change for Sync.
func (f *FIB) offerChunk(routes []Route, errs []error, buf *offerBuffers) {
	sets, starts, ends, keys := buf.sets[:0], buf.starts[:0], buf.ends[:0], buf.keys[:0]
	owners := buf.owners[:0]

	// Validate and key the sets before taking the lock. Producers often
	// pass one set to many routes, interleaved with a few others. Such a
	// route takes the canonical form and key of the chunk's first route
	// with the same set.
	setValid := buf.setValid[:0]
	for i, r := range routes {
		var valid bool
		if j, ok := buf.recent.find(r.NextHops); ok {
			r.NextHops = sets[j]
			starts, ends = append(starts, starts[j]), append(ends, ends[j])
			owners = append(owners, j)
			valid = setValid[j]
		} else {
			buf.recent.add(r.NextHops, i)
			r.NextHops = canonical(r.NextHops)
			starts = append(starts, len(keys))
			keys = nexthop.AppendSetKey(keys, r.NextHops)
			ends = append(ends, len(keys))
			owners = append(owners, i)
			valid = r.NextHops.Validate() == nil
		}

		// Valid routes leave errs unwritten, so that its memory is not
		// touched (see prefaulted).
		if err := r.validate(valid); err != nil {
			errs[i] = err
		}

		sets, setValid = append(sets, r.NextHops), append(setValid, valid)
	}

	interned := append(buf.interned[:0], make([]*requested, len(routes))...)
	f.mu.Lock()
	f.seq++
	for i, r := range routes {
		if errs[i] == nil {
			r.NextHops = sets[i]
			interned[i] = f.offerLocked(r, keys[starts[i]:ends[i]], interned[owners[i]])
		}
	}

	f.signal()
	f.mu.Unlock()

	// The sets may point to the caller's members: drop them.
	clear(sets)
	clear(interned)
	buf.recent.reset()
	buf.sets, buf.starts, buf.ends, buf.keys = sets, starts, ends, keys
	buf.owners, buf.interned, buf.setValid = owners, interned, setValid
}

// recentSets remembers the last distinct sets of an Update's chunk, as
// the caller passed them, and the route of the chunk that each came with.
type recentSets struct {
	sets   [recentSetCount]nexthop.Set
	routes [recentSetCount]int
	n      int // entries in use
	next   int // entry to replace next when all are in use
}

// recentSetCount is the number of sets recentSets remembers, enough for a
// table spread over 16 groups in any order.
const recentSetCount = 16

// find returns the route that came with set s, if s is remembered.
func (rs *recentSets) find(s nexthop.Set) (int, bool) {
	for k := range rs.n {
		if sameSet(s, rs.sets[k]) {
			return rs.routes[k], true
		}
	}

	return 0, false
}

// add remembers set s of route i, replacing the oldest entry when full.
func (rs *recentSets) add(s nexthop.Set, i int) {
	k := rs.n
	if k == recentSetCount {
		k = rs.next
		rs.next = (rs.next + 1) % recentSetCount
	} else {
		rs.n++
	}

	rs.sets[k], rs.routes[k] = s, i
}

// reset clears every entry, so that no reference to the caller's members
// is kept.
func (rs *recentSets) reset() {
	clear(rs.sets[:rs.n])
	rs.n, rs.next = 0, 0
}

// sameSet reports whether a and b are the same set because they share
// their members and resilient parameters, without comparing them.
func sameSet(a, b nexthop.Set) bool {
	if len(a.Members) != len(b.Members) || a.Resilient != b.Resilient {
		return false
	}

	return len(a.Members) == 0 || &a.Members[0] == &b.Members[0]
}

// Withdraw removes a source's candidates for keys. Withdrawing a candidate
// that does not exist succeeds.
func (f *FIB) Withdraw(source string, keys []Key) {
	f.mu.Lock()
	defer f.mu.Unlock()

	f.seq++
	for _, k := range keys {
		k.Prefix = k.Prefix.Masked()
		if i, ok := f.index.get(compactOf(k)); ok {
			f.withdrawLocked(i, source)
		}
	}

	f.signal()
}

// WithdrawSource removes every candidate of a source and returns how many
// there were. It visits every key.
func (f *FIB) WithdrawSource(source string) int {
	f.mu.Lock()
	defer f.mu.Unlock()

	// Store order, unlike the index's random order, is roughly the order
	// the routes were offered in, and the kernel removes neighbouring
	// prefixes faster one after another than scattered.
	f.seq++
	n := 0
	f.eachLocked(func(i int32, _ *entry) {
		if f.withdrawLocked(i, source) {
			n++
		}
	})

	f.signal()

	return n
}

// Converged declares that a source has offered its whole table, so that
// routes adopted from a previous run that no source wants are deleted once
// every source in Config.Hold has converged (with an empty Hold, once any
// source has).
func (f *FIB) Converged(source string) {
	f.enqueue(func() {
		f.hold.converged[source] = true
		if f.hold.due(time.Now(), f.cfg.HoldTimeout) {
			f.sweepLocked()
		}
	})
}

// Sync waits until every change offered before the call has been tried on
// the dataplane once. It needs Run to be running, and returns ctx's error
// when ctx ends first.
func (f *FIB) Sync(ctx context.Context) error {
	f.mu.Lock()
	target := f.seq
	f.syncs[target]++
	f.signal()
	f.mu.Unlock()

	defer func() {
		f.mu.Lock()
		f.syncs[target]--
		if f.syncs[target] == 0 {
			delete(f.syncs, target)
		}
		f.mu.Unlock()
	}()

	for {
		f.mu.Lock()
		done, ch := f.done, f.doneCh
		f.mu.Unlock()

		if done >= target {
			return nil
		}

		select {
		case <-ch:
		case <-ctx.Done():
			return fmt.Errorf("sync fib: %w", ctx.Err())
		}
	}
}

// Lookup returns the state of one key.
func (f *FIB) Lookup(key Key) (RouteState, bool) {
	key.Prefix = key.Prefix.Masked()

	f.mu.Lock()
	defer f.mu.Unlock()

	i, ok := f.index.get(compactOf(key))
	if !ok {
		return RouteState{}, false
	}

	return f.stateLocked(f.store.at(i)), true
}

// Routes calls fn for each key that has candidates or an installed route,
// in (table, prefix) order, until fn returns false. fn must not call back
// into the FIB. The FIB is locked while fn runs, so fn should be quick.
//
// TODO: the lock is held for the sort and every state too, about 0.8 s for
// a million routes that arrived in random order (BenchmarkRoutes1M).
func (f *FIB) Routes(filter Filter, fn func(RouteState) bool) {
	f.mu.Lock()
	defer f.mu.Unlock()

	for _, i := range f.sortedLocked(filter) {
		if !fn(f.stateLocked(f.store.at(i))) {
			return
		}
	}
}

// Nexthops returns the nexthop objects and groups with their reference
// counts, by id. The caller owns the slice.
func (f *FIB) Nexthops() []NexthopState {
	f.mu.Lock()
	defer f.mu.Unlock()

	objs := f.table.Objects()
	states := make([]NexthopState, len(objs))
	for i, o := range objs {
		states[i] = NexthopState{
			Object:    o.Object,
			Refs:      o.Refs,
			Routes:    o.Routes,
			Installed: o.Installed,
			Err:       o.Err,
			Down:      o.Down,
			Held:      o.Held,
			Orphan:    o.Orphan,
		}
	}

	return states
}

// SetGatewayDown marks every hop with gateway addr as down (or up again) for
// a reason such as "bgp-peer". A group that contains the hop is replaced in
// place without it, one operation per group, whatever the number of routes
// that use the group. The change happens in the loop's next batch.
func (f *FIB) SetGatewayDown(addr netip.Addr, reason string, down bool) {
	f.enqueue(func() {
		affected := f.table.SetGatewayDown(addr, reason, down)
		f.markUsersLocked(affected, false)
		if !down {
			f.markUnresolvedLocked()
		}
	})
}

// Stats returns counters for status and metrics. The caller owns the maps.
func (f *FIB) Stats() Stats {
	f.mu.Lock()
	defer f.mu.Unlock()

	return f.statsLocked()
}

// Filter selects routes for Routes and Watch. Zero fields match all.
type Filter struct {
	Table  uint32
	Prefix netip.Prefix // exact match
	Family nexthop.Family
	Source string // keys with a candidate of this source
}

// RouteState is the state of one key: its candidates, the selected one, and
// what is installed.
type RouteState struct {
	Key        Key
	Candidates []Route // sorted by distance; Candidates[0] is selected
	Installed  *KernelRoute
	Err        error // the last programming error, nil when in sync
	Unresolved bool  // selected but not installable (no live next hop)

	// Conflict is set while another owner holds the route in the kernel
	// because a create failed with EEXIST. Err then names the route.
	Conflict bool

	// Adopted is set for a route found in the kernel at start that no
	// source has claimed yet. The sweep deletes it (see Config.Hold).
	Adopted bool
}

// NexthopState describes one nexthop object for listing.
type NexthopState struct {
	Object    nexthop.Object
	Refs      int // references of routes and groups
	Installed bool

	Routes int      // references of routes
	Err    error    // the last failed change, nil once one succeeded
	Down   []string // reasons for which a hop object is down
	Held   bool     // adopted at start, kept until the sweep
	Orphan bool     // a group kept for the routes on it after a hop came back
}

// EventKind is the kind of a route change.
type EventKind uint8

// Kinds of route changes.
const (
	EventUpdate EventKind = iota + 1
	EventDelete
)

// Event is a route change sent to watchers.
type Event struct {
	Kind   EventKind
	Route  RouteState
	Synced bool // the initial snapshot is complete
}

// Stats are counters of the FIB.
type Stats struct {
	Routes    int // keys with a selected candidate
	Installed int // keys with a route in the kernel, Adopted included

	// Adopted counts routes installed by a previous run that no source
	// offers yet, kept until the sweep (see Config.Hold). Routes does not
	// count them.
	Adopted int

	// Sweep describes the end of the hold on adopted routes; its At is
	// zero while the hold lasts.
	Sweep Sweep

	// Failed, Unresolved and Conflicts count the selected keys that are
	// not installed as selected, each key in one of them: without a live
	// next hop (Unresolved), held by another owner (Conflicts), or whose
	// last try failed otherwise (Failed).
	Failed        int
	Unresolved    int
	Nexthops      int
	Groups        int
	Ops           uint64
	OpErrors      uint64
	Pending       int // keys waiting for the loop, a retry or a group restore
	LastErrors    []string
	SourcesRoutes map[string]int // candidates by source

	Conflicts      int                    // keys held by another owner
	TablesRoutes   map[uint32]int         // keys with a selected candidate, by table
	FamiliesRoutes map[nexthop.Family]int // keys with a selected candidate, by family
	OpsByKind      map[OpKind]uint64      // operations handed to the dataplane

	// Takeovers counts the routes of other owners replaced with
	// Config.TakeoverConflicts, whether the replace succeeded or not.
	Takeovers uint64

	// Batches counts the loop's batches: each takes dirty keys, programs
	// them and finishes them. A long run of offers streams in few batches
	// (see Config.BatchSize).
	Batches uint64

	// ApplyDuration is the time each Dataplane.Apply call took, in the
	// buckets of ApplyBuckets. One call carries up to Config.BatchSize
	// operations of one kind group (objects, routes, deletes).
	ApplyDuration Histogram
}
