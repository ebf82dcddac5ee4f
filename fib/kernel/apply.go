package kernel

import (
	"context"
	"errors"
	"fmt"
	"syscall"
	"time"

	"github.com/fibd/fibd/fib"
	"github.com/fibd/fibd/fib/kernel/nlmsg"
)

// receiveBufferBytes is the size of the buffer for replies to requests. A
// reply is one NLMSG_ERROR of at most the request's size.
const receiveBufferBytes = 256 << 10

// replyTimeout bounds the wait for the acknowledgement of a barrier. The
// kernel has queued it by the time the batch's sendmsg returns, so only a
// lost reply makes the wait last.
const replyTimeout = 10 * time.Second

// batch is one sendmsg of requests, closed by an acknowledged barrier.
type batch struct {
	barrier uint32 // sequence number of the NLMSG_NOOP barrier
	start   int    // index of the first op of the batch
	end     int    // index after the last op of the batch
}

// Apply programs ops in order and sets each op's Err; see fib.Dataplane.
//
// The ops are encoded into batches of about Config.MaxBatchBytes, each sent
// with one sendmsg and closed by an NLMSG_NOOP with NLM_F_ACK. The kernel
// processes the messages of one sendmsg in order and replies only to
// failures. So every error of a batch arrives before the barrier's
// acknowledgement, and an op of the batch without an error succeeded.
// The kernel handles a sendmsg before it returns, so the replies of a
// batch are all queued by then. Apply reads them before it sends the
// next batch, without waiting and without a second goroutine. The
// receive buffer then contains the replies of one batch at most.
//
// When the socket fails or ctx ends, Apply returns the error and sets it
// on every op whose outcome it did not learn, so that no op is taken as
// successful without the kernel's word.
func (k *Kernel) Apply(ctx context.Context, ops []fib.Op) error {
	k.applyMu.Lock()
	defer k.applyMu.Unlock()

	restore := k.raisePriority()
	defer restore()

	existed, err := k.applyLocked(ctx, ops)
	if err != nil {
		return err
	}

	// Only creates that found their object present need a second look.
	if existed == 0 {
		return nil
	}

	if err := k.replaceOwnNexthopsLocked(ctx, ops); err != nil {
		return err
	}

	return k.recreateOwnLocked(ctx, ops)
}

// replaceOwnNexthopsLocked retries as a replace each nexthop create of ops
// that failed because its id exists, when the object at that id carries
// fibd's protocol. A delete notification handled after fibd created the
// object again makes the FIB create it once more. Without the replace,
// the FIB would take the id as another owner's and leave the object
// behind. An object of another owner keeps the error, so the FIB moves
// to a new id, and so does a replace the kernel refuses (a group at the
// id of a single next hop, or the reverse).
func (k *Kernel) replaceOwnNexthopsLocked(ctx context.Context, ops []fib.Op) error {
	var existing []int
	for i := range ops {
		if ops[i].Kind == fib.OpNexthopCreate && errors.Is(ops[i].Err, syscall.EEXIST) {
			existing = append(existing, i)
		}
	}

	if len(existing) == 0 {
		return nil
	}

	nexthops, err := k.DumpNexthops(ctx)
	if err != nil {
		return err
	}

	own := make(map[uint32]bool)
	for _, n := range nexthops {
		if n.Protocol == k.cfg.Protocol {
			own[n.ID] = true
		}
	}

	var retry []fib.Op
	var index []int
	for _, i := range existing {
		if own[uint32(ops[i].Nexthop.ID)] {
			retry = append(retry, fib.Op{Kind: fib.OpNexthopReplace, Nexthop: ops[i].Nexthop})
			index = append(index, i)
		}
	}

	if len(retry) == 0 {
		return nil
	}

	if _, err := k.applyLocked(ctx, retry); err != nil {
		return err
	}

	for j, i := range index {
		if retry[j].Err == nil {
			ops[i].Err = nil
			k.stats.add(&Stats{OwnReplaced: 1})
		}
	}

	return nil
}

// recreateOwnLocked retries the route creates of ops that failed because
// the route exists, for the case where that route is fibd's own: a delete
// notification handled after fibd reinstalled a route makes the FIB create
// it again. Each retry deletes the route with fibd's protocol and creates
// it again in the same batch. The kernel matches the protocol on delete,
// so a route of another owner is left alone and its create still fails
// with EEXIST, a conflict. fibd's own route is absent only between the two
// messages.
func (k *Kernel) recreateOwnLocked(ctx context.Context, ops []fib.Op) error {
	var retry []fib.Op
	var index []int
	for i := range ops {
		if ops[i].Kind != fib.OpRouteCreate || !errors.Is(ops[i].Err, syscall.EEXIST) {
			continue
		}

		del := fib.Op{Kind: fib.OpRouteDelete, Route: ops[i].Route}
		retry = append(retry, del, fib.Op{Kind: fib.OpRouteCreate, Route: ops[i].Route})
		index = append(index, i)
	}

	if len(retry) == 0 {
		return nil
	}

	if _, err := k.applyLocked(ctx, retry); err != nil {
		return err
	}

	for j, i := range index {
		if create := retry[2*j+1]; create.Err == nil {
			ops[i].Err = nil
			k.stats.add(&Stats{OwnRecreated: 1})
		}
	}

	return nil
}

// applyLocked runs one Apply of ops (see Apply) and returns the number of
// ops that failed with EEXIST.
func (k *Kernel) applyLocked(ctx context.Context, ops []fib.Op) (uint64, error) {
	for i := range ops {
		ops[i].Err = nil
	}

	if len(ops) == 0 {
		return 0, nil
	}

	run := &applyRun{ctx: ctx, k: k, ops: ops, base: k.seq + 1}
	k.seq += uint32(len(ops))

	start := time.Now()
	err := run.execute()
	existed := run.stats.Errors[syscall.EEXIST]
	run.stats.Applies++
	run.stats.ApplyTime += time.Since(start)
	k.stats.add(&run.stats)

	return existed, err
}

// applyRun is the state of one Apply call.
type applyRun struct {
	ctx  context.Context
	k    *Kernel
	ops  []fib.Op
	base uint32 // sequence number of ops[0]; ops[i] has base+i

	// confirmed is the number of leading ops whose outcome is known.
	confirmed int

	// lastBarrier is the sequence number of the latest acknowledged
	// barrier, valid when anyBarrier is set.
	lastBarrier uint32
	anyBarrier  bool

	// acked marks the ops the kernel acknowledged, with Config.AckEach.
	acked []bool

	// guard interrupts a wait for replies that lasts replyTimeout.
	guard replyGuard

	stats Stats
}

func (r *applyRun) execute() error {
	if r.k.cfg.AckEach {
		r.acked = make([]bool, len(r.ops))
	}

	if r.k.rbuf == nil {
		r.k.rbuf = make([]byte, receiveBufferBytes)
	}

	// When ctx ends, receives still read the replies that are queued for
	// a moment and then fail: the kernel has queued the replies of every
	// batch by the time its sendmsg returns, so the batches sent are
	// still confirmed.
	r.k.apply.resume()
	stopInterrupt := context.AfterFunc(r.ctx, r.k.apply.interrupt)
	err := r.send(r.ctx)
	stopInterrupt()
	r.guard.disarm()
	r.k.apply.resume()
	if err != nil {
		r.stats.SocketErrors++
		r.failUnconfirmed(err)

		return fmt.Errorf("apply %d ops: %w", len(r.ops), err)
	}

	return nil
}

// send encodes the ops into batches and sends them.
func (r *applyRun) send(ctx context.Context) error {
	k := r.k
	enc := encoder{k: k, ctx: ctx}
	var extra uint16
	if k.cfg.AckEach {
		extra = nlmsg.NLM_F_ACK
	}

	r.stats.Ops = make(map[string]uint64)
	var counts [fib.OpRouteDelete + 1]uint64
	defer func() {
		for kind, n := range counts {
			if n > 0 {
				r.stats.Ops[fib.OpKind(kind).String()] += n
			}
		}
	}()

	b := batch{}
	buf := k.buf[:0]
	for i := range r.ops {
		op := &r.ops[i]
		if int(op.Kind) < len(counts) {
			counts[op.Kind]++
		}

		var err error
		buf, err = enc.appendOp(buf, op, r.base+uint32(i), extra)
		if err != nil {
			op.Err = err
			r.countError(err)
		}

		if len(buf) < k.cfg.MaxBatchBytes && i < len(r.ops)-1 {
			continue
		}

		b.end = i + 1
		if err := r.sendBatch(ctx, buf, b); err != nil {
			return err
		}

		b.start = b.end
		buf = k.buf[:0]
	}

	return nil
}

// sendBatch appends the barrier to buf, sends the batch and reads its
// replies.
func (r *applyRun) sendBatch(ctx context.Context, buf []byte, b batch) error {
	if err := ctx.Err(); err != nil {
		return err
	}

	r.k.seq++
	b.barrier = r.k.seq
	buf = nlmsg.AppendNoop(buf, nlmsg.Header{
		Flags: nlmsg.NLM_F_REQUEST | nlmsg.NLM_F_ACK,
		Seq:   b.barrier,
	})
	r.k.buf = buf[:0]

	r.stats.Batches++
	if err := r.k.apply.send(buf); err != nil {
		return err
	}

	return r.readBatch(b)
}

// failUnconfirmed sets err on every op after the last confirmed batch that
// has no outcome yet.
func (r *applyRun) failUnconfirmed(err error) {
	for i := r.confirmed; i < len(r.ops); i++ {
		op := &r.ops[i]
		if op.Err == nil {
			op.Err = fmt.Errorf("%s %s: not confirmed: %w", opName(op.Kind), objectName(op), err)
		}
	}
}

func (r *applyRun) countError(err error) {
	if r.stats.Errors == nil {
		r.stats.Errors = make(map[syscall.Errno]uint64)
	}

	r.stats.Errors[errnoOf(err)]++
}
