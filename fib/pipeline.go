package fib

import "context"

// pipelineOps is the number of route operations that one Dataplane.Apply
// call of applyOverlapped carries. A smaller slice overlaps more of the
// FIB's work with the dataplane's but costs more calls. With 8192, a
// million routes take 123 calls.
const pipelineOps = 8192

// applyOverlapped applies ops in order, in slices of pipelineOps, from a
// second goroutine, and calls record with the lock held for each slice
// once the dataplane has applied it. The FIB thus records the outcome of
// one slice while the dataplane works on the next, instead of waiting for
// the whole batch. With TakeoverConflicts, each slice is followed by the
// replaces of its conflicts before it is recorded. The recorder, which
// holds the lock anyway, checks each slice for routes that cover a cached
// gateway, so that the applier never waits for the lock.
func (f *FIB) applyOverlapped(ctx context.Context, ops []Op, record func(start, end int)) {
	if len(ops) == 0 {
		return
	}

	size := min(pipelineOps, f.cfg.BatchSize)

	// applied receives the end of each slice. It has room for every
	// slice, so the applier never waits for the recorder.
	applied := make(chan int, (len(ops)+size-1)/size)
	go func() {
		for start := 0; start < len(ops); start += size {
			end := min(start+size, len(ops))
			f.applyChunk(ctx, ops[start:end])
			if f.cfg.TakeoverConflicts {
				f.takeover(ctx, ops[start:end])
			}

			applied <- end
		}
	}()

	for start := 0; start < len(ops); {
		end := <-applied
		f.mu.Lock()
		f.trackRouteOpsLocked(ops[start:end])
		record(start, end)
		f.mu.Unlock()
		start = end
	}
}
