package kernel

import (
	"maps"
	"sync"
	"syscall"
	"time"
)

// Stats counts the requests a Kernel sent and their outcomes since Open.
type Stats struct {
	// Ops counts operations by kind ("route-create", "nexthop-delete", ...,
	// as fib.OpKind names them), whatever their outcome.
	Ops map[string]uint64

	// Errors counts failed operations by errno. Deletes of objects that
	// were already gone are successes and are not counted.
	Errors map[syscall.Errno]uint64

	// Batches counts sendmsg calls of requests.
	Batches uint64

	// Applies counts Apply calls with at least one op, and ApplyTime is
	// their total duration, from the first encoded op to the last reply.
	Applies   uint64
	ApplyTime time.Duration

	// SocketErrors counts Apply calls that failed because the socket did.
	SocketErrors uint64

	// OwnRecreated counts route creates that found fibd's own route
	// present (EEXIST) and succeeded when retried. Errors counts the first
	// failure too.
	OwnRecreated uint64

	// OwnReplaced counts nexthop creates that found fibd's own object at
	// their id (EEXIST) and succeeded as a replace. Errors counts the
	// first failure too.
	OwnReplaced uint64
}

type counters struct {
	mu    sync.Mutex
	stats Stats
}

// Stats returns a copy of the counters. It is safe for concurrent use.
func (k *Kernel) Stats() Stats {
	k.stats.mu.Lock()
	defer k.stats.mu.Unlock()

	s := k.stats.stats
	s.Ops = maps.Clone(s.Ops)
	s.Errors = maps.Clone(s.Errors)

	return s
}

func (c *counters) add(delta *Stats) {
	c.mu.Lock()
	defer c.mu.Unlock()

	c.stats.add(delta)
}

// add adds the counters of o to s.
func (s *Stats) add(o *Stats) {
	for kind, n := range o.Ops {
		if s.Ops == nil {
			s.Ops = make(map[string]uint64)
		}

		s.Ops[kind] += n
	}

	for errno, n := range o.Errors {
		if s.Errors == nil {
			s.Errors = make(map[syscall.Errno]uint64)
		}

		s.Errors[errno] += n
	}

	s.Batches += o.Batches
	s.Applies += o.Applies
	s.ApplyTime += o.ApplyTime
	s.SocketErrors += o.SocketErrors
	s.OwnRecreated += o.OwnRecreated
	s.OwnReplaced += o.OwnReplaced
}
