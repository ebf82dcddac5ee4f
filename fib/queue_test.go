package fib

import (
	"math/rand/v2"
	"testing"
)

// TestDirtyQueueMatchesSlice runs random pushes and pops across chunk
// boundaries and requires the order of a plain slice.
func TestDirtyQueueMatchesSlice(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	var q dirtyQueue
	var ref []queued
	seq := uint64(0)
	for step := range 200000 {
		// Phases of growth and of draining, so that the queue spans many
		// chunks and empties again.
		pushes := (step/20000)%2 == 0
		if rng.IntN(4) != 0 == pushes || len(ref) == 0 {
			seq++
			x := queued{idx: int32(seq), seq: seq}
			q.push(x)
			ref = append(ref, x)
		} else {
			if got := q.front(); got != ref[0] {
				t.Fatalf("step %d: front = %+v, want %+v", step, got, ref[0])
			}

			q.pop()
			ref = ref[1:]
		}

		if q.len() != len(ref) {
			t.Fatalf("step %d: len = %d, want %d", step, q.len(), len(ref))
		}
	}
}
