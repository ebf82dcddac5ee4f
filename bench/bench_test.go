package bench_test

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/fibd/fibd/bench"
	"github.com/fibd/fibd/internal/netnstest"
)

func TestMain(m *testing.M) {
	// The writer's child processes are this test binary started again.
	bench.ChildMain()
	os.Exit(m.Run())
}

func TestShortRun(t *testing.T) {
	netnstest.Privileged(t)

	fast, err := bench.SelectContenders("writer,ip-batch")
	if err != nil {
		t.Fatal(err)
	}

	workloads := []bench.Workload{
		{Family: 6, Routes: 10_000, ECMP: false},
		{Family: 4, Routes: 20_000, ECMP: true},
	}

	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Second)
	defer cancel()

	res := bench.NewResults("go test ./bench", true, fast)
	opts := bench.Options{Contenders: fast, Workloads: workloads, Runs: 1, CompatModes: []int{0, 1}, Timeout: 20 * time.Second}
	if err := bench.Run(ctx, opts, res); err != nil {
		t.Fatalf("run: %v", err)
	}

	for _, m := range res.Measurements {
		for _, s := range m.Samples {
			if s.Err != "" {
				t.Errorf("%s %s %s: %s", m.Contender, m.Scenario, m.Workload, s.Err)
			}
		}
	}

	for _, c := range fast {
		m := res.Find(c.Name(), "failover-compat1", workloads[1])
		if m == nil || len(m.Samples) != 1 {
			t.Errorf("%s: no failover sample on %s", c.Name(), workloads[1])
		}
	}

	if left := bench.OwnNamespaces(); len(left) > 0 {
		t.Errorf("namespaces left behind: %v", left)
	}

	page := filepath.Join(t.TempDir(), "benchmarks.md")
	if err := bench.WritePage(res, page); err != nil {
		t.Fatalf("write page: %v", err)
	}

	for _, name := range []string{"benchmarks.md", "benchmarks-install.svg", "benchmarks-failover.svg"} {
		if fi, err := os.Stat(filepath.Join(filepath.Dir(page), name)); err != nil || fi.Size() == 0 {
			t.Errorf("page file %s missing or empty: %v", name, err)
		}
	}
}
