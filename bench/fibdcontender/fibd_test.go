package fibdcontender_test

import (
	"context"
	"os"
	"testing"
	"time"

	"github.com/fibd/fibd/bench"
	_ "github.com/fibd/fibd/bench/fibdcontender"
	"github.com/fibd/fibd/internal/netnstest"
)

func TestMain(m *testing.M) {
	// fibd's child processes are this test binary started again.
	bench.ChildMain()
	os.Exit(m.Run())
}

func TestShortRun(t *testing.T) {
	netnstest.Privileged(t)

	contenders, err := bench.SelectContenders("fibd,writer-nhg")
	if err != nil {
		t.Fatal(err)
	}

	workloads := []bench.Workload{
		{Family: 4, Routes: 20_000, ECMP: true},
		{Family: 6, Routes: 10_000, ECMP: false},
	}

	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Second)
	defer cancel()

	res := bench.NewResults("go test ./bench/fibdcontender", true, contenders)
	opts := bench.Options{Contenders: contenders, Workloads: workloads, Runs: 1, CompatModes: []int{0, 1}, Timeout: 20 * time.Second}
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

	for _, sc := range []string{"install", "restart", "failover-compat0", "failover-compat1", "withdraw"} {
		if m := res.Find("fibd", sc, workloads[0]); m == nil || len(m.Samples) != 1 {
			t.Errorf("fibd %s: no sample on %s", sc, workloads[0])
		}
	}

	if left := bench.OwnNamespaces(); len(left) > 0 {
		t.Errorf("namespaces left behind: %v", left)
	}
}
