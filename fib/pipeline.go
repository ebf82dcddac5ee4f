package fib

import (
	"context"
	"slices"
)

// pipelineOps is the number of keys that the loop plans at a time, and so
// the largest number of route operations in one Dataplane.Apply call of a
// routeStream. A smaller slice overlaps more of the FIB's work with the
// dataplane's but costs more calls. With 8192 and the smaller first slice
// of each batch, a million routes take about 140 calls.
const pipelineOps = 8192

// firstSliceOps is the number of keys in the first slice of a batch: the
// dataplane waits for that slice's planning only.
const firstSliceOps = 1024

// routeStream applies the route creates and replaces of one batch from a
// second goroutine, slice by slice in the order they were sent, while the
// loop plans the next slice and records the outcome of the slices already
// applied. The applier never takes the lock, so producers holding it do
// not stall the dataplane.
//
// ops never grows beyond the capacity it starts with, so that appending
// the next slice does not move the slices the applier is working on.
type routeStream struct {
	f       *FIB
	todo    chan []Op // slices to apply, in order
	applied chan int  // the length of each slice, once applied
	ops     []Op      // every op of the batch, in the order sent
	owners  []routeOp // the plan of each op

	sent     int // ops handed to the applier
	recorded int // ops whose outcome is recorded

	// record records the outcome of ops[k], with the lock held.
	record func(k int)
}

// startStream starts the applier of a batch of at most n ops in slices of
// at most size ops. The channels have room for every slice, so neither
// side ever waits for room.
func (f *FIB) startStream(ctx context.Context, n, size int) *routeStream {
	count := (n+size-1)/size + 2
	s := &routeStream{
		f:       f,
		todo:    make(chan []Op, count),
		applied: make(chan int, count),
		ops:     slices.Grow(f.scratch.ops[:0], n),
		owners:  slices.Grow(f.scratch.owners[:0], n),
	}

	go s.run(ctx)

	return s
}

func (s *routeStream) run(ctx context.Context) {
	for ops := range s.todo {
		s.f.applyChunk(ctx, ops)
		if s.f.cfg.TakeoverConflicts {
			s.f.takeover(ctx, ops)
		}

		s.applied <- len(ops)
	}
}

// add appends an op and the plan it comes from, to send with the next
// call of send.
func (s *routeStream) add(op Op, o routeOp) {
	if len(s.ops) == cap(s.ops) {
		panic("fib: route stream grew beyond its batch")
	}

	s.ops = append(s.ops, op)
	s.owners = append(s.owners, o)
}

// send hands the ops added since the last call to the applier.
func (s *routeStream) send() {
	if s.sent == len(s.ops) {
		return
	}

	s.todo <- s.ops[s.sent:len(s.ops):len(s.ops)]
	s.sent = len(s.ops)
}

// collect records the slices that the applier has finished. With wait set
// it waits until every slice sent is recorded.
func (s *routeStream) collect(wait bool) {
	for s.recorded < s.sent {
		var n int
		if wait {
			n = <-s.applied
		} else {
			select {
			case n = <-s.applied:
			default:
				return
			}
		}

		end := s.recorded + n
		s.f.mu.Lock()
		s.f.trackRouteOpsLocked(s.ops[s.recorded:end])
		for k := s.recorded; k < end; k++ {
			s.record(k)
		}
		s.f.mu.Unlock()

		s.recorded = end
	}
}

// wait records every slice sent, waiting for the applier as long as it
// takes.
func (s *routeStream) wait() {
	s.collect(true)
}

// close waits for every slice sent and stops the applier.
func (s *routeStream) close() {
	s.wait()
	close(s.todo)
}
