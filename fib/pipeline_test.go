package fib_test

import (
	"context"
	"fmt"
	"net/netip"
	"sync"
	"testing"

	"github.com/fibd/fibd/fib"
	"github.com/fibd/fibd/fib/fibtest"
)

// batchDataplane records the batch in which each route op is applied, and
// calls before, once, ahead of the first Apply call whose first op is of
// kind.
type batchDataplane struct {
	*fibtest.Dataplane
	fib *fib.FIB

	kind   fib.OpKind
	before func()
	once   sync.Once

	mu      sync.Mutex
	batches map[netip.Prefix][]uint64 // the batch of each op, by prefix
}

func (d *batchDataplane) Apply(ctx context.Context, ops []fib.Op) error {
	if len(ops) > 0 && ops[0].Kind == d.kind && d.before != nil {
		d.once.Do(d.before)
	}

	batch := d.fib.Stats().Batches
	d.mu.Lock()
	for _, op := range ops {
		if op.Route.Prefix.IsValid() {
			d.batches[op.Route.Prefix] = append(d.batches[op.Route.Prefix], batch)
		}
	}
	d.mu.Unlock()

	return d.Dataplane.Apply(ctx, ops)
}

// opBatches returns the batch of each route op applied to prefix, in order.
func (d *batchDataplane) opBatches(prefix netip.Prefix) []uint64 {
	d.mu.Lock()
	defer d.mu.Unlock()

	return d.batches[prefix]
}

// newBatchHarness returns a harness whose FIB takes 100 keys per batch.
func newBatchHarness(t *testing.T, kind fib.OpKind) (*harness, *batchDataplane) {
	t.Helper()

	dp := &batchDataplane{Dataplane: &fibtest.Dataplane{}, kind: kind, batches: make(map[netip.Prefix][]uint64)}
	f, err := fib.New(fib.Config{Dataplane: dp, Nexthops: testRange, BatchSize: 100})
	if err != nil {
		t.Fatal(err)
	}

	dp.fib = f

	return &harness{t: t, dp: dp.Dataplane, fib: f}, dp
}

// streamRoutes returns n IPv4 /32 routes over gwA.
func streamRoutes(n int) []fib.Route {
	routes := make([]fib.Route, n)
	for i := range routes {
		routes[i] = route(fmt.Sprintf("10.0.%d.%d/32", i/256, i%256), "bgp", fib.DistanceEBGP, 20, hops(hop(gwA, "v0")))
	}

	return routes
}

// TestBatchTakesQueuedOffers checks that a batch streaming route creates
// takes the keys queued behind it instead of ending after BatchSize.
func TestBatchTakesQueuedOffers(t *testing.T) {
	h, dp := newBatchHarness(t, fib.OpRouteCreate)
	routes := streamRoutes(400)
	h.update(routes...)
	h.run()
	h.sync()

	if st := h.fib.Stats(); st.Installed != 400 {
		t.Errorf("installed %d routes, want 400", st.Installed)
	}

	for _, r := range routes {
		if got := dp.opBatches(r.Prefix); len(got) != 1 || got[0] != 0 {
			t.Fatalf("route %s applied in batches %v, want [0]", r.Prefix, got)
		}
	}

	h.checkStats()
}

// TestBatchEndsForEvent checks that a batch stops taking queued keys once
// a drift event waits, so that the event runs before them.
func TestBatchEndsForEvent(t *testing.T) {
	h, dp := newBatchHarness(t, fib.OpNexthopCreate)
	queued := make(chan struct{})
	dp.before = func() {
		// The loop is in its first batch, about to send its first keys.
		h.fib.LinkChanged("v9", false)
		close(queued)
	}

	routes := streamRoutes(400)
	h.update(routes...)
	h.run()
	<-queued
	h.sync()

	if st := h.fib.Stats(); st.Installed != 400 {
		t.Errorf("installed %d routes, want 400", st.Installed)
	}

	first, last := dp.opBatches(routes[0].Prefix), dp.opBatches(routes[399].Prefix)
	if len(first) != 1 || first[0] != 0 || len(last) != 1 || last[0] == 0 {
		t.Errorf("first and last route applied in batches %v and %v, want [0] and a later one", first, last)
	}

	h.checkStats()
}

// TestBatchDefersSecondChange checks that a key offered again while its
// batch runs is programmed again in a later batch, not twice in one batch,
// where its create could still be in flight.
func TestBatchDefersSecondChange(t *testing.T) {
	h, dp := newBatchHarness(t, fib.OpNexthopCreate)
	routes := streamRoutes(400)
	moved := routes[0]
	moved.NextHops = hops(hop(gwB, "v0"))
	offered := make(chan struct{})
	dp.before = func() {
		if errs := h.fib.Update([]fib.Route{moved}); errs[0] != nil {
			t.Errorf("update %s: %v", moved.Prefix, errs[0])
		}

		close(offered)
	}

	h.update(routes...)
	h.run()
	<-offered
	h.sync()

	st := h.fib.Stats()
	if st.Installed != 400 || st.Failed != 0 {
		t.Errorf("installed %d routes, %d failed; want 400, 0", st.Installed, st.Failed)
	}

	if got := dp.opBatches(moved.Prefix); len(got) != 2 || got[0] != 0 || got[1] == 0 {
		t.Errorf("route %s applied in batches %v, want [0] and a later one", moved.Prefix, got)
	}

	creates, replaces := h.dp.Count(fib.OpRouteCreate), h.dp.Count(fib.OpRouteReplace)
	if creates != 400 || replaces != 1 {
		t.Errorf("%d route creates and %d replaces, want 400 and 1", creates, replaces)
	}

	h.checkStats()
}

// TestBatchWithDeletesEnds checks that a batch with route deletes does not
// take more keys: its deletes wait for its end.
func TestBatchWithDeletesEnds(t *testing.T) {
	h, dp := newBatchHarness(t, fib.OpRouteCreate)
	routes := streamRoutes(400)
	h.update(routes...)
	h.run()
	h.sync()

	if n := h.fib.WithdrawSource("bgp"); n != 400 {
		t.Fatalf("withdrew %d routes, want 400", n)
	}

	h.sync()
	if st := h.fib.Stats(); st.Installed != 0 {
		t.Errorf("withdrawal left %d routes, want 0", st.Installed)
	}

	first, last := dp.opBatches(routes[0].Prefix), dp.opBatches(routes[399].Prefix)
	if len(first) != 2 || len(last) != 2 || last[1]-first[1] != 3 {
		t.Errorf("first and last route applied in batches %v and %v, want their deletes 3 batches apart", first, last)
	}

	h.checkStats()
}

// TestBatchMetricChangeEnds checks that a batch that changes a route's
// metric takes no more keys, so that the old route is deleted soon after
// the new one is created.
func TestBatchMetricChangeEnds(t *testing.T) {
	h, dp := newBatchHarness(t, fib.OpRouteCreate)
	routes := streamRoutes(400)
	h.update(routes[0])
	h.run()
	h.sync()

	changed := routes[0]
	changed.Metric = 30
	h.update(append([]fib.Route{changed}, routes[1:]...)...)
	h.sync()

	if st := h.fib.Stats(); st.Installed != 400 {
		t.Errorf("installed %d routes, want 400", st.Installed)
	}

	moved, last := dp.opBatches(changed.Prefix), dp.opBatches(routes[399].Prefix)
	if len(moved) != 3 || len(last) != 1 || last[0] <= moved[2] {
		t.Errorf("changed route applied in batches %v and the last new route in %v, want the new route in a later batch than the metric change", moved, last)
	}

	h.checkStats()
}
