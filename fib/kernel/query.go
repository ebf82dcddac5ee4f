package kernel

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/mdlayher/netlink"
)

// maxDumpAttempts bounds the retries of a dump that the kernel marked
// inconsistent (NLM_F_DUMP_INTR) because the table changed during it.
const maxDumpAttempts = 5

// errDumpInterrupted reports a dump that the kernel marked inconsistent.
var errDumpInterrupted = errors.New("dump interrupted by a concurrent change (NLM_F_DUMP_INTR)")

// dump sends the dump request req on the query socket and calls fn for each
// message of the reply. It retries the whole dump, after calling reset,
// while the kernel marks it interrupted, at most maxDumpAttempts times.
func (k *Kernel) dump(ctx context.Context, req netlink.Message, fn func(netlink.Message) error) error {
	return k.dumpRetry(ctx, req, func() {}, fn)
}

func (k *Kernel) dumpRetry(ctx context.Context, req netlink.Message, reset func(), fn func(netlink.Message) error) error {
	var err error
	for range maxDumpAttempts {
		reset()

		err = k.dumpOnce(ctx, req, fn)
		if !errors.Is(err, errDumpInterrupted) {
			return err
		}
	}

	return fmt.Errorf("%w, %d attempts", err, maxDumpAttempts)
}

func (k *Kernel) dumpOnce(ctx context.Context, req netlink.Message, fn func(netlink.Message) error) error {
	k.queryMu.Lock()
	defer k.queryMu.Unlock()

	stop, err := k.watchQuery(ctx)
	if err != nil {
		return err
	}
	defer stop()

	sent, err := k.query.Send(req)
	if err != nil {
		return ctxErr(ctx, err)
	}

	// Read to the end of the dump even after an error, so that the next
	// request on this socket does not read the rest of this one.
	var fnErr error
	interrupted := false
	for m, err := range k.query.ReceiveIter() {
		if err != nil {
			return ctxErr(ctx, err)
		}

		if m.Header.Sequence != sent.Header.Sequence {
			continue
		}

		if m.Header.Flags&netlink.DumpInterrupted != 0 {
			interrupted = true
		}

		if fnErr == nil && !interrupted {
			fnErr = fn(m)
		}
	}

	if interrupted {
		return errDumpInterrupted
	}

	return fnErr
}

// execute sends req on the query socket and returns the replies.
func (k *Kernel) execute(ctx context.Context, req netlink.Message) ([]netlink.Message, error) {
	k.queryMu.Lock()
	defer k.queryMu.Unlock()

	stop, err := k.watchQuery(ctx)
	if err != nil {
		return nil, err
	}
	defer stop()

	msgs, err := k.query.Execute(req)
	if err != nil {
		return nil, ctxErr(ctx, err)
	}

	return msgs, nil
}

// watchQuery applies ctx's deadline and cancellation to the query socket
// until the returned function is called.
func (k *Kernel) watchQuery(ctx context.Context) (func(), error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}

	deadline, _ := ctx.Deadline()
	_ = k.query.SetDeadline(deadline)
	stopAfter := context.AfterFunc(ctx, func() {
		_ = k.query.SetDeadline(time.Unix(1, 0))
	})

	return func() {
		stopAfter()
		_ = k.query.SetDeadline(time.Time{})
	}, nil
}

// ctxErr returns ctx's error when ctx ended, since a deadline set from it
// is the likely cause of err, and err otherwise.
func ctxErr(ctx context.Context, err error) error {
	if ctx.Err() != nil {
		return fmt.Errorf("%w: %w", ctx.Err(), err)
	}

	return err
}
