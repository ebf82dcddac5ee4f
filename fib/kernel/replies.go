package kernel

import (
	"context"
	"fmt"
	"sync"
	"syscall"
	"time"

	"github.com/fibd/fibd/fib"
	"github.com/fibd/fibd/fib/kernel/nlmsg"
)

// readBatch matches the kernel's replies to the ops of batch b by
// sequence number until its barrier is acknowledged, then confirms b.
func (r *applyRun) readBatch(b batch) error {
	r.guard.arm(r.k.replyTimeout, r.k.apply.interrupt)
	for !r.barrierSeen(b.barrier) {
		err := r.receive()
		if err != nil && isTimeout(err) && r.ctx.Err() == nil {
			return fmt.Errorf("wait for the acknowledgement of barrier %d: %w", b.barrier, err)
		}

		if err != nil {
			return err
		}
	}

	// A guard that fired just as the barrier came set a deadline that
	// would fail the next batch's receive.
	if r.guard.disarm() && r.ctx.Err() == nil {
		r.k.apply.resume()
	}

	r.confirm(b)

	return nil
}

// replyGuard interrupts a wait for replies that lasts too long. A timer's
// Stop reports false as soon as its function has started, and that
// function may interrupt after the wait has ended: the generation makes
// such a late call do nothing, and disarm reports an interrupt that came.
type replyGuard struct {
	mu    sync.Mutex
	gen   uint64
	fired bool
	timer *time.Timer
}

// arm calls interrupt after d unless disarm comes first.
func (g *replyGuard) arm(d time.Duration, interrupt func()) {
	g.mu.Lock()
	g.gen++
	gen := g.gen
	g.mu.Unlock()

	g.timer = time.AfterFunc(d, func() {
		g.mu.Lock()
		defer g.mu.Unlock()

		if g.gen == gen {
			g.fired = true
			interrupt()
		}
	})
}

// disarm stops the guard and reports whether it interrupted since arm.
func (g *replyGuard) disarm() bool {
	g.mu.Lock()
	defer g.mu.Unlock()

	g.gen++
	fired := g.fired
	g.fired = false
	if g.timer != nil {
		g.timer.Stop()
	}

	return fired
}

// receive reads one datagram of replies and handles each message in it.
func (r *applyRun) receive() error {
	n, err := r.k.apply.receive(r.k.rbuf)
	if err != nil && isTimeout(err) && r.ctx.Err() != nil {
		return fmt.Errorf("%w: %w", context.Cause(r.ctx), err)
	}

	if err != nil {
		return err
	}

	return nlmsg.SplitMessages(r.k.rbuf[:n], r.handle)
}

// barrierSeen reports whether the barrier with sequence number seq, or a
// later one, has been acknowledged. Barriers are acknowledged in order.
func (r *applyRun) barrierSeen(seq uint32) bool {
	return r.anyBarrier && int32(r.lastBarrier-seq) >= 0
}

// handle matches one reply to its op or barrier. Replies with a sequence
// number outside this Apply are left over from an earlier one that failed,
// and are skipped.
func (r *applyRun) handle(h nlmsg.Header, payload []byte) error {
	if h.Type != nlmsg.NLMSG_ERROR {
		return nil
	}

	e, err := nlmsg.ParseErrorMessage(h, payload)
	if err != nil {
		return fmt.Errorf("decode reply %d: %w", h.Seq, err)
	}

	seq := e.Request.Seq
	if e.Request.Type == nlmsg.NLMSG_NOOP {
		return r.handleBarrier(seq, e)
	}

	i := seq - r.base
	if i >= uint32(len(r.ops)) {
		return nil
	}

	r.settle(int(i), e)

	return nil
}

func (r *applyRun) handleBarrier(seq uint32, e nlmsg.Error) error {
	if e.Errno != 0 {
		return fmt.Errorf("barrier %d rejected: %w", seq, syscall.Errno(e.Errno))
	}

	if !r.anyBarrier || int32(seq-r.lastBarrier) > 0 {
		r.lastBarrier = seq
		r.anyBarrier = true
	}

	return nil
}

// settle records the kernel's reply to op i: an acknowledgement, or an
// error. Deleting an object that is already gone is a success. The kernel
// returns ESRCH for a missing route (IPv4 and IPv6, Linux 6.18) and ENOENT
// for a missing nexthop.
func (r *applyRun) settle(i int, e nlmsg.Error) {
	op := &r.ops[i]
	errno := syscall.Errno(e.Errno)
	if errno == 0 || isDelete(op.Kind) && (errno == syscall.ENOENT || errno == syscall.ESRCH) {
		if r.acked != nil {
			r.acked[i] = true
		}

		return
	}

	op.Err = &OpError{Op: opName(op.Kind), Object: objectName(op), Errno: errno, Message: e.Message}
	r.countError(errno)
}

// confirm closes batch b once its barrier is acknowledged. Without
// Config.AckEach, an op of the batch without an error reply succeeded.
// With it, an op without any reply lost it, and is marked failed.
func (r *applyRun) confirm(b batch) {
	if r.acked != nil {
		for i := b.start; i < b.end; i++ {
			if op := &r.ops[i]; op.Err == nil && !r.acked[i] {
				op.Err = fmt.Errorf("%s %s: no acknowledgement before barrier %d", opName(op.Kind), objectName(op), b.barrier)
			}
		}
	}

	r.confirmed = b.end
}

func isDelete(kind fib.OpKind) bool {
	return kind == fib.OpRouteDelete || kind == fib.OpNexthopDelete
}
