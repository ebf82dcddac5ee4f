package fib

import (
	"context"
)

// pipelineOps is the number of keys that the loop plans at a time, and so
// the largest number of route operations in one Dataplane.Apply call of a
// routeStream. A smaller slice overlaps more of the FIB's work with the
// dataplane's but costs more calls. With 8192 and the smaller first slice
// of each batch, a million routes take about 130 calls.
const pipelineOps = 8192

// firstSliceOps is the number of keys in the first slice of a batch: the
// dataplane waits for that slice's planning only.
const firstSliceOps = 1024

// streamDepth is the number of slices a routeStream has in flight at most:
// sent to the applier and not yet recorded by the loop.
const streamDepth = 4

// segment is one slice of a routeStream: the ops applied in one call and
// the plan each op comes from. A segment's arrays never grow once it is
// sent, so the applier and the loop can share them.
type segment struct {
	ops    []Op
	owners []routeOp
}

// routeStream applies the route creates and replaces of one batch from a
// second goroutine, slice by slice in the order they were sent, while the
// loop plans the next slice and records the outcome of the slices already
// applied. The applier never takes the lock, so producers holding it do
// not stall the dataplane.
type routeStream struct {
	f       *FIB
	todo    chan segment // slices to apply, in order
	applied chan segment // slices applied, in the same order

	cur      segment   // the slice being filled
	inflight int       // slices sent and not yet recorded
	spare    []segment // recorded slices, cleared, to fill again

	// record records the outcome of one op, with the lock held.
	record func(op *Op, o routeOp)
}

// startStream starts the applier of a batch. The channels have room for
// every slice in flight, so neither side waits for room.
func (f *FIB) startStream(ctx context.Context) *routeStream {
	s := &routeStream{
		f:       f,
		todo:    make(chan segment, streamDepth),
		applied: make(chan segment, streamDepth),
		spare:   f.scratch.segments,
	}

	f.scratch.segments = nil
	s.cur = s.nextSegment()

	go s.run(ctx)

	return s
}

func (s *routeStream) run(ctx context.Context) {
	for seg := range s.todo {
		s.f.applyChunk(ctx, seg.ops)
		if s.f.cfg.TakeoverConflicts {
			s.f.takeover(ctx, seg.ops)
		}

		s.applied <- seg
	}
}

func (s *routeStream) nextSegment() segment {
	if n := len(s.spare); n > 0 {
		seg := s.spare[n-1]
		s.spare = s.spare[:n-1]

		return seg
	}

	return segment{ops: make([]Op, 0, pipelineOps), owners: make([]routeOp, 0, pipelineOps)}
}

// add appends an op and the plan it comes from to the slice that the next
// call of send hands over. A slice holds at most pipelineOps ops, one per
// planned key. The loop calls add with the FIB's lock held, so add must not
// send: send may wait for the applier, whose outcome needs the lock.
func (s *routeStream) add(op Op, o routeOp) {
	if len(s.cur.ops) == pipelineOps {
		panic("fib: route stream slice exceeds pipelineOps ops")
	}

	s.cur.ops = append(s.cur.ops, op)
	s.cur.owners = append(s.cur.owners, o)
}

// send hands the ops added since the last call to the applier. With
// streamDepth slices in flight it first records the oldest.
func (s *routeStream) send() {
	if len(s.cur.ops) == 0 {
		return
	}

	if s.inflight == streamDepth {
		s.recordOne(<-s.applied)
	}

	s.todo <- s.cur
	s.inflight++
	s.cur = s.nextSegment()
}

// collect records the slices that the applier has finished. With wait set
// it waits until every slice sent is recorded.
func (s *routeStream) collect(wait bool) {
	for s.inflight > 0 {
		if wait {
			s.recordOne(<-s.applied)

			continue
		}

		select {
		case seg := <-s.applied:
			s.recordOne(seg)
		default:
			return
		}
	}
}

// recordOne records the outcome of an applied slice and keeps its arrays
// for another slice.
func (s *routeStream) recordOne(seg segment) {
	f := s.f
	f.mu.Lock()
	f.trackRouteOpsLocked(seg.ops)
	for k := range seg.ops {
		s.record(&seg.ops[k], seg.owners[k])
	}

	f.countOpsLocked(seg.ops)
	f.mu.Unlock()

	s.inflight--
	clear(seg.ops)
	clear(seg.owners)
	s.spare = append(s.spare, segment{ops: seg.ops[:0], owners: seg.owners[:0]})
}

// wait records every slice sent, waiting for the applier as long as it
// takes.
func (s *routeStream) wait() {
	s.collect(true)
}

// close sends what is left, waits for every slice and stops the applier.
// The slices' arrays stay with the FIB for the next batch.
func (s *routeStream) close() {
	s.send()
	s.wait()
	close(s.todo)

	s.spare = append(s.spare, s.cur)
	s.f.scratch.segments = s.spare
}
