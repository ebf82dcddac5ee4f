package lab

import (
	"strings"
	"testing"
	"time"
)

// TestPageJudgesAgainstDryRun checks that the convergence goal compares
// fibd with its own dry run, and GoBGP alone only for reference.
func TestPageJudgesAgainstDryRun(t *testing.T) {
	run := func(router, compat string, converged time.Duration) Summary {
		return Summary{Router: router, CompatMode: compat, IPv4: 900, IPv6: 100, Peers: 2, Converged: converged}
	}

	r := BenchReport{Runs: []Summary{
		run(RouterFibd, "0", 11*time.Second),
		run(RouterFibdDry, "", 10*time.Second),
		run(RouterGobgpd, "", 8*time.Second),
	}}

	var b strings.Builder
	r.writeConvergence(&b)
	page := b.String()

	for _, want := range []string{
		"| fibd, kernel.dry-run | 1 | 10.0 | 10.0 | 10.0 |",
		"fibd, nexthop_compat_mode 0 needs 10% more time than the same fibd and embedded GoBGP with kernel programming off (kernel.dry-run) (medians; goal: at most 20% more): met.",
		"fibd, nexthop_compat_mode 0 needs 38% more time than GoBGP alone (medians; for comparison, not a goal).",
	} {
		if !strings.Contains(page, want) {
			t.Errorf("convergence section lacks %q:\n%s", want, page)
		}
	}
}
