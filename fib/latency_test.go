package fib_test

import (
	"context"
	"testing"
	"time"

	"github.com/fibd/fibd/fib"
	"github.com/fibd/fibd/fib/fibtest"
	"github.com/fibd/fibd/nexthop"
)

// slow is a dataplane that takes delay for every Apply call.
type slow struct {
	fibtest.Dataplane
	delay time.Duration
}

func (s *slow) Apply(ctx context.Context, ops []fib.Op) error {
	time.Sleep(s.delay)

	return s.Dataplane.Apply(ctx, ops)
}

func TestApplyDuration(t *testing.T) {
	dp := &slow{delay: 3 * time.Millisecond}
	f, err := fib.New(fib.Config{Dataplane: dp, Nexthops: testRange})
	if err != nil {
		t.Fatal(err)
	}

	if h := f.Stats().ApplyDuration; h.Count != 0 || len(h.Counts) != len(fib.ApplyBuckets)+1 {
		t.Fatalf("histogram before any Apply = %+v, want empty with %d buckets", h, len(fib.ApplyBuckets)+1)
	}

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() { _ = f.Run(ctx) }()

	// One call creates the nexthop object, one the route.
	f.Update([]fib.Route{route("192.0.2.0/24", "bgp", fib.DistanceEBGP, 20, nexthop.Set{Members: []nexthop.Member{{Hop: hop(gwA, "v0"), Weight: 1}}})})
	if err := f.Sync(ctx); err != nil {
		t.Fatal(err)
	}

	h := f.Stats().ApplyDuration
	if h.Count != 2 {
		t.Errorf("count = %d, want 2", h.Count)
	}

	if h.Sum < 6*time.Millisecond {
		t.Errorf("sum = %v, want at least 6ms", h.Sum)
	}

	// Both calls took 3 ms or a little more: none falls in the buckets up
	// to 2.5 ms.
	var total uint64
	for i, n := range h.Counts {
		total += n
		if i < len(h.Bounds) && h.Bounds[i] <= 2500*time.Microsecond && n != 0 {
			t.Errorf("bucket up to %v counts %d, want 0", h.Bounds[i], n)
		}
	}

	if total != h.Count {
		t.Errorf("bucket counts add up to %d, want %d", total, h.Count)
	}
}
