package kernel

import (
	"context"
	"fmt"
	"syscall"

	"github.com/fibd/fibd/fib"
	"github.com/fibd/fibd/fib/kernel/nlmsg"
)

// read is the reader goroutine of an Apply: it matches the kernel's
// replies to the ops by sequence number until every batch that the sender
// handed over is confirmed by its barrier. On failure it records the error
// in readErr and closes stop.
func (r *applyRun) read() {
	if err := r.readBatches(); err != nil {
		r.readErr = err
		close(r.stop)
	}
}

func (r *applyRun) readBatches() error {
	if r.k.rbuf == nil {
		r.k.rbuf = make([]byte, receiveBufferBytes)
	}

	for b := range r.batches {
		for !r.barrierSeen(b.barrier) {
			err := r.receive()
			if err != nil && isTimeout(err) && r.ctx.Err() == nil {
				return fmt.Errorf("wait for the acknowledgement of barrier %d: %w", b.barrier, err)
			}

			if err != nil {
				return err
			}
		}

		r.confirm(b)
	}

	return nil
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
	if r.replies.Errors == nil {
		r.replies.Errors = make(map[syscall.Errno]uint64)
	}

	r.replies.Errors[errno]++
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
	<-r.slots
}

func isDelete(kind fib.OpKind) bool {
	return kind == fib.OpRouteDelete || kind == fib.OpNexthopDelete
}
