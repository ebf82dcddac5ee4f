package kernel

import (
	"runtime"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/fibd/fibd/fib/kernel/nlmsg"
	"github.com/fibd/fibd/internal/netnstest"
)

func threadNice(t *testing.T) int {
	t.Helper()

	raw, err := unix.Getpriority(unix.PRIO_PROCESS, unix.Gettid())
	if err != nil {
		t.Fatalf("getpriority: %v", err)
	}

	return 20 - raw
}

// TestApplyRaisesWriterPriority checks that the thread writes requests at
// Config.WriterNice and gets its own nice value back afterwards.
func TestApplyRaisesWriterPriority(t *testing.T) {
	netnstest.Privileged(t)

	k, f := newTestKernel(t, Config{WriterNice: -7}, nil)
	var during []int
	f.handle = func(nlmsg.Header, []byte) (syscall.Errno, string) {
		during = append(during, threadNice(t))

		return 0, ""
	}

	runtime.LockOSThread()
	defer runtime.UnlockOSThread()

	before := threadNice(t)
	if err := k.Apply(background(t), allKinds()); err != nil {
		t.Fatalf("apply: %v", err)
	}

	if len(during) == 0 {
		t.Fatal("the fake kernel saw no request")
	}

	for _, n := range during {
		if n != -7 {
			t.Fatalf("nice value while writing = %d, want -7", n)
		}
	}

	if after := threadNice(t); after != before {
		t.Errorf("nice value after Apply = %d, want the thread's own %d", after, before)
	}
}

// TestApplyKeepsWriterNice checks that KeepWriterNice leaves the thread
// alone.
func TestApplyKeepsWriterNice(t *testing.T) {
	k, f := newTestKernel(t, Config{KeepWriterNice: true}, nil)
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()

	before := threadNice(t)
	var during []int
	f.handle = func(nlmsg.Header, []byte) (syscall.Errno, string) {
		during = append(during, threadNice(t))

		return 0, ""
	}

	if err := k.Apply(background(t), allKinds()); err != nil {
		t.Fatalf("apply: %v", err)
	}

	for _, n := range during {
		if n != before {
			t.Fatalf("nice value while writing = %d, want the thread's own %d", n, before)
		}
	}
}
