package kernel

import (
	"runtime"

	"golang.org/x/sys/unix"
)

// DefaultWriterNice is the nice value of the thread that writes requests
// while it writes them. See Config.WriterNice.
const DefaultWriterNice = -10

// raisePriority gives the calling goroutine's thread the writer's nice
// value, when that is below the thread's own, and returns the function
// that gives the thread its own value back. The kernel does the work of a
// whole batch inside sendmsg, on the writer's thread. When every CPU is
// busy, such as while a full table arrives, a writer that other threads
// preempt installs routes at its share of a CPU, and may hold the
// kernel's routing locks while it waits. In the 1M benchmark, fibd's
// producer, loop and garbage collector and the monitor took about a
// quarter of the writer's CPU.
//
// A process without CAP_SYS_NICE cannot lower a nice value. The thread
// then keeps its own, and later calls do not try again.
func (k *Kernel) raisePriority() (restore func()) {
	if k.cfg.KeepWriterNice || k.niceDenied {
		return func() {}
	}

	runtime.LockOSThread()
	tid := unix.Gettid()

	// The system call returns 20 minus the nice value.
	raw, err := unix.Getpriority(unix.PRIO_PROCESS, tid)
	own := 20 - raw
	if err != nil || own <= k.cfg.WriterNice {
		runtime.UnlockOSThread()

		return func() {}
	}

	if err := unix.Setpriority(unix.PRIO_PROCESS, tid, k.cfg.WriterNice); err != nil {
		k.niceDenied = true
		runtime.UnlockOSThread()

		return func() {}
	}

	return func() {
		// Raising a nice value needs no privilege.
		_ = unix.Setpriority(unix.PRIO_PROCESS, tid, own)
		runtime.UnlockOSThread()
	}
}
