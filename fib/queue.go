package fib

// queued is a dirty entry and the change sequence when it became dirty.
type queued struct {
	idx int32
	seq uint64
}

// queueChunk is the number of entries in one chunk of a dirtyQueue.
const queueChunk = 4096

// dirtyQueue is the FIFO of dirty entries. It stores them in chunks and
// keeps a drained chunk for reuse, so that a long run of offers neither
// copies the queue as it grows nor writes to fresh memory for each route.
// A growing slice did both, at a cost of about 0.05 s in a 1M install.
type dirtyQueue struct {
	chunks [][]queued // the first from head on, the last up to its length
	head   int
	n      int
	spare  []queued
}

func (q *dirtyQueue) len() int {
	return q.n
}

func (q *dirtyQueue) push(x queued) {
	last := len(q.chunks) - 1
	if last < 0 || len(q.chunks[last]) == queueChunk {
		q.chunks = append(q.chunks, q.newChunk())
		last++
	}

	q.chunks[last] = append(q.chunks[last], x)
	q.n++
}

func (q *dirtyQueue) newChunk() []queued {
	if c := q.spare; c != nil {
		q.spare = nil

		return c[:0]
	}

	return make([]queued, 0, queueChunk)
}

// front returns the oldest entry. The queue must not be empty.
func (q *dirtyQueue) front() queued {
	return q.chunks[0][q.head]
}

// pop drops the oldest entry. The queue must not be empty.
func (q *dirtyQueue) pop() {
	q.head++
	q.n--
	if q.head < len(q.chunks[0]) {
		return
	}

	// The first chunk is drained. Keep it for reuse, unless it is the
	// only one, which push goes on filling.
	if len(q.chunks) == 1 {
		q.chunks[0], q.head = q.chunks[0][:0], 0

		return
	}

	q.spare = q.chunks[0]
	q.chunks[0] = nil
	q.chunks, q.head = q.chunks[1:], 0
}
