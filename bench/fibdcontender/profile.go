package fibdcontender

import (
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"runtime/trace"

	"github.com/fibd/fibd/bench"
)

// profileEnv names a folder where the fibd child writes a CPU profile, an
// execution trace and a heap profile of each measured scenario, as
// fibd-PID-SCENARIO.cpu.pprof, .trace and .heap.pprof. Unset or empty,
// nothing is profiled. The child inherits the variable from fibd-bench:
//
//	FIBD_BENCH_PROFILE=/tmp/prof fibd-bench --sizes v4:1M --contenders fibd
//	go tool pprof -top /tmp/prof/fibd-*-install.cpu.pprof
//	go tool trace /tmp/prof/fibd-*-install.trace
const profileEnv = "FIBD_BENCH_PROFILE"

// startProfile starts a CPU profile of scenario s when profileEnv is set.
// The returned function stops it and writes the heap profile.
func startProfile(s bench.Scenario) (stop func() error, err error) {
	dir := os.Getenv(profileEnv)
	if dir == "" {
		return func() error { return nil }, nil
	}

	base := filepath.Join(dir, fmt.Sprintf("fibd-%d-%s", os.Getpid(), s))
	cpu, err := os.Create(base + ".cpu.pprof")
	if err != nil {
		return nil, fmt.Errorf("create cpu profile: %w", err)
	}

	if err := pprof.StartCPUProfile(cpu); err != nil {
		cpu.Close()
		return nil, fmt.Errorf("start cpu profile: %w", err)
	}

	tr, err := os.Create(base + ".trace")
	if err == nil {
		err = trace.Start(tr)
	}

	if err != nil {
		pprof.StopCPUProfile()
		cpu.Close()
		return nil, fmt.Errorf("start trace: %w", err)
	}

	return func() error {
		trace.Stop()
		pprof.StopCPUProfile()
		if err := tr.Close(); err != nil {
			return fmt.Errorf("write trace: %w", err)
		}

		if err := cpu.Close(); err != nil {
			return fmt.Errorf("write cpu profile: %w", err)
		}

		return writeHeapProfile(base + ".heap.pprof")
	}, nil
}

func writeHeapProfile(path string) error {
	heap, err := os.Create(path)
	if err != nil {
		return fmt.Errorf("create heap profile: %w", err)
	}

	// An up-to-date heap profile needs a collection first.
	runtime.GC()
	if err := pprof.WriteHeapProfile(heap); err != nil {
		heap.Close()
		return fmt.Errorf("write heap profile: %w", err)
	}

	return heap.Close()
}
