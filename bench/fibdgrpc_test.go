package bench_test

import (
	"context"
	"testing"
	"time"

	"github.com/fibd/fibd/bench"
	"github.com/fibd/fibd/internal/netnstest"
)

func TestFibdGRPCRun(t *testing.T) {
	netnstest.Privileged(t)
	t.Cleanup(bench.RemoveBuilds)

	contenders, err := bench.SelectContenders("fibd-grpc")
	if err != nil {
		t.Fatal(err)
	}

	workloads := []bench.Workload{
		{Family: 4, Routes: 15_000, ECMP: true},
		{Family: 6, Routes: 5_000, ECMP: false},
	}

	ctx, cancel := context.WithTimeout(context.Background(), 25*time.Second)
	defer cancel()

	res := bench.NewResults("go test ./bench", true, contenders)
	opts := bench.Options{Contenders: contenders, Workloads: workloads, Runs: 1, CompatModes: []int{0, 1}, Timeout: 10 * time.Second}
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

	for _, w := range workloads {
		scenarios := []string{"install", "restart", "withdraw"}
		if w.ECMP {
			scenarios = append(scenarios, "failover-compat0", "failover-compat1")
		}

		for _, sc := range scenarios {
			if m := res.Find("fibd-grpc", sc, w); m == nil || len(m.Samples) != 1 {
				t.Errorf("%s: no sample on %s", sc, w)
			}
		}
	}

	if left := bench.OwnNamespaces(); len(left) > 0 {
		t.Errorf("namespaces left behind: %v", left)
	}
}
