package fib

import (
	"slices"
	"sync"
	"time"
)

// ApplyBuckets are the upper bounds of the buckets of Stats.ApplyDuration,
// from 100 µs for a few operations to 10 s for a batch of a million.
var ApplyBuckets = []time.Duration{
	100 * time.Microsecond, 250 * time.Microsecond, 500 * time.Microsecond,
	time.Millisecond, 2500 * time.Microsecond, 5 * time.Millisecond,
	10 * time.Millisecond, 25 * time.Millisecond, 50 * time.Millisecond,
	100 * time.Millisecond, 250 * time.Millisecond, 500 * time.Millisecond,
	time.Second, 2500 * time.Millisecond, 5 * time.Second, 10 * time.Second,
}

// Histogram counts durations in buckets.
type Histogram struct {
	// Bounds are the inclusive upper bounds of the buckets, increasing.
	Bounds []time.Duration

	// Counts has one entry more than Bounds. Counts[i] counts the
	// durations above Bounds[i-1] and up to Bounds[i], and the last entry
	// those above the last bound. The counts are not cumulative.
	Counts []uint64

	// Count is the number of durations, and Sum their total.
	Count uint64
	Sum   time.Duration
}

// histogram is a Histogram with a lock of its own, so that the loop records
// Apply calls without the FIB's lock.
type histogram struct {
	mu sync.Mutex
	h  Histogram
}

func newHistogram(bounds []time.Duration) *histogram {
	return &histogram{h: Histogram{Bounds: bounds, Counts: make([]uint64, len(bounds)+1)}}
}

func (h *histogram) observe(d time.Duration) {
	i, _ := slices.BinarySearch(h.h.Bounds, d)

	h.mu.Lock()
	h.h.Counts[i]++
	h.h.Count++
	h.h.Sum += d
	h.mu.Unlock()
}

// snapshot returns a copy that the caller owns.
func (h *histogram) snapshot() Histogram {
	h.mu.Lock()
	defer h.mu.Unlock()

	s := h.h
	s.Bounds = slices.Clone(s.Bounds)
	s.Counts = slices.Clone(s.Counts)

	return s
}
