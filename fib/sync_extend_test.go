package fib

import (
	"context"
	"net/netip"
	"sync"
	"testing"
	"time"

	"github.com/fibd/fibd/nexthop"
)

// batchRecorder is a dataplane that accepts every op and records the
// batch in which each route op is applied.
type batchRecorder struct {
	f *FIB

	mu      sync.Mutex
	batches map[netip.Prefix]uint64
}

func (d *batchRecorder) Apply(_ context.Context, ops []Op) error {
	d.f.mu.Lock()
	batch := d.f.count.batches
	d.f.mu.Unlock()

	d.mu.Lock()
	defer d.mu.Unlock()

	for _, op := range ops {
		if op.Route.Prefix.IsValid() {
			d.batches[op.Route.Prefix] = batch
		}
	}

	return nil
}

func (d *batchRecorder) Resolve(_ context.Context, h nexthop.Hop) (nexthop.Hop, error) {
	return h, nil
}

// newRecordedFIB returns a FIB that takes 100 keys per batch, over a
// batchRecorder.
func newRecordedFIB(t *testing.T) (*FIB, *batchRecorder) {
	t.Helper()

	dp := &batchRecorder{batches: make(map[netip.Prefix]uint64)}
	f, err := New(Config{Dataplane: dp, BatchSize: 100})
	if err != nil {
		t.Fatal(err)
	}

	dp.f = f

	return f, dp
}

// recorderRoutes returns n IPv4 /32 routes in 10.0.0.0/16 over one gateway.
func recorderRoutes(n int) []Route {
	gw := netip.MustParseAddr("198.51.100.1")
	set := nexthop.Set{Members: []nexthop.Member{{Hop: nexthop.Hop{Family: nexthop.FamilyIPv4, Gateway: gw, Device: "v0"}, Weight: 1}}}
	routes := make([]Route, n)
	for i := range routes {
		p := netip.PrefixFrom(netip.AddrFrom4([4]byte{10, 0, byte(i >> 8), byte(i)}), 32)
		routes[i] = Route{Prefix: p, Table: TableMain, Metric: 20, Type: TypeUnicast, NextHops: set, Source: "bgp", Distance: DistanceEBGP}
	}

	return routes
}

// TestSyncEndsBatchExtension checks that a batch stops taking queued keys
// once a Sync call waits only for keys it has taken, so that the call
// returns after that batch instead of after the keys offered later.
func TestSyncEndsBatchExtension(t *testing.T) {
	f, dp := newRecordedFIB(t)
	routes := recorderRoutes(400)

	// A Sync call waits for the first 100 routes; 300 more come after it.
	f.Update(routes[:100])
	f.mu.Lock()
	f.syncs[f.seq]++
	f.mu.Unlock()
	f.Update(routes[100:])

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()

	done := make(chan error, 1)
	go func() { done <- f.Run(ctx) }()

	for f.Stats().Installed < len(routes) && ctx.Err() == nil {
		time.Sleep(time.Millisecond)
	}

	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}

	dp.mu.Lock()
	defer dp.mu.Unlock()

	first, next := dp.batches[routes[99].Prefix], dp.batches[routes[100].Prefix]
	if first != 0 || next == 0 {
		t.Errorf("routes 99 and 100 applied in batches %d and %d, want 0 and a later one", first, next)
	}
}

// TestPlanPagesKeptAfterBatch checks that the plans of a long batch fill
// their pages and that the loop keeps only the pages that BatchSize keys
// need once the batch is over.
func TestPlanPagesKeptAfterBatch(t *testing.T) {
	f, _ := newRecordedFIB(t)
	routes := recorderRoutes(20_000)

	f.Update(routes)

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()

	done := make(chan error, 1)
	go func() { done <- f.Run(ctx) }()

	if err := f.Sync(ctx); err != nil {
		t.Fatal(err)
	}

	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}

	if st := f.Stats(); st.Installed != len(routes) || st.Batches != 1 {
		t.Errorf("installed %d routes in %d batches, want %d in 1", st.Installed, st.Batches, len(routes))
	}

	if n := len(f.scratch.plans.pages); n != 1 {
		t.Errorf("%d plan pages kept after the batch, want 1", n)
	}
}
