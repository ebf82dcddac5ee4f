package kernel

import (
	"context"
	"errors"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/fibd/fibd/fib"
	"github.com/fibd/fibd/internal/netnstest"
)

// TestApplyFailureRestoresNice checks that an Apply that fails, by a
// failed send, a lost barrier or a cancelled context, still gives the
// thread its own nice value back.
func TestApplyFailureRestoresNice(t *testing.T) {
	netnstest.Privileged(t)

	cases := []struct {
		name  string
		setup func(k *Kernel, f *fakeKernel, ops []fib.Op) context.Context
	}{
		{"send failure", func(_ *Kernel, f *fakeKernel, _ []fib.Op) context.Context {
			f.failSend, f.failSendErr = 2, errTest

			return context.Background()
		}},
		{"barrier timeout", func(k *Kernel, f *fakeKernel, ops []fib.Op) context.Context {
			k.replyTimeout = 20 * time.Millisecond
			f.dropAck = k.seq + uint32(len(ops)) + 1

			return context.Background()
		}},
		{"cancelled", func(_ *Kernel, _ *fakeKernel, _ []fib.Op) context.Context {
			ctx, cancel := context.WithCancel(context.Background())
			cancel()

			return ctx
		}},
	}

	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			k, f := newTestKernel(t, Config{MaxBatchBytes: 1000, WriterNice: -5}, nil)
			runtime.LockOSThread()
			defer runtime.UnlockOSThread()

			before := threadNice(t)
			ops := manyRoutes(100)
			ctx := c.setup(k, f, ops)
			if err := k.Apply(ctx, ops); err == nil {
				t.Fatal("apply succeeded, want an error")
			}

			if after := threadNice(t); after != before {
				t.Errorf("nice value after a failed Apply = %d, want %d", after, before)
			}
		})
	}
}

// TestApplyConcurrentCallers runs Apply from several goroutines, some
// with contexts that end mid-call, and requires that every op gets an
// outcome and that no thread keeps the writer's nice value.
func TestApplyConcurrentCallers(t *testing.T) {
	netnstest.Privileged(t)

	k, _ := newTestKernel(t, Config{MaxBatchBytes: 1000, WriterNice: -5}, nil)
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()

			runtime.LockOSThread()
			defer runtime.UnlockOSThread()

			before := threadNice(t)
			for round := range 50 {
				ctx, cancel := context.WithCancel(context.Background())
				if (g+round)%3 == 0 {
					time.AfterFunc(time.Duration(round)*time.Microsecond, cancel)
				}

				ops := manyRoutes(200)
				err := k.Apply(ctx, ops)
				cancel()
				for i, op := range ops {
					if err != nil && op.Err == nil && !errors.Is(err, context.Canceled) {
						t.Errorf("goroutine %d round %d: op %d has no error after %v", g, round, i, err)
					}
				}

				if err != nil && !errors.Is(err, context.Canceled) {
					t.Errorf("goroutine %d round %d: apply: %v", g, round, err)
				}

				if n := threadNice(t); n != before {
					t.Errorf("goroutine %d round %d: nice value = %d, want %d", g, round, n, before)
				}
			}
		}()
	}

	wg.Wait()
}
