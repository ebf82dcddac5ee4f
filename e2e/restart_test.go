package e2e

import (
	"context"
	"os/exec"
	"syscall"
	"testing"
	"time"

	"github.com/fibd/fibd/api/fibdv1"
	"github.com/fibd/fibd/fib/kernel/nlmsg"
	"github.com/fibd/fibd/internal/netnstest"
)

// restartRoutes is the size of the table in the restart tests.
const restartRoutes = 100_000

// source is the API source of the restart tests, held at start until it
// declares its table complete.
const source = "ctl"

// TestRestartAfterKill kills fibd while it programs 100,000 routes, starts
// it again and offers the same routes. The routes installed before the
// kill must stay in the kernel the whole time, and the kernel must end at
// the desired state with no leftover nexthop objects.
func TestRestartAfterKill(t *testing.T) {
	l := newLab(t, labConfig{hold: source, holdTimeout: "5m"})
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()

	desired := newRoutes(0, restartRoutes, prefix4, ecmp4())
	routes := desired.list()

	// First run: kill it in the middle of programming.
	first := l.start()
	injected := make(chan error, 1)
	go func() {
		_, err := inject(ctx, first.client, source, routes)
		injected <- err
	}()

	installed := waitInstalledBetween(ctx, t, first, restartRoutes/10, restartRoutes*9/10)
	if err := first.signal(syscall.SIGKILL); err == nil {
		t.Fatal("fibd exited with status 0 after SIGKILL")
	}

	<-injected

	before := kernelRoutes(t, l.ns)
	nexthopsBefore := kernelNexthops(t, l.ns)
	t.Logf("killed fibd at %d installed routes per Status; the kernel holds %d routes and %d nexthop objects of fibd",
		installed, len(before), len(nexthopsBefore))

	if len(before) == 0 || len(before) == restartRoutes {
		t.Fatalf("kernel holds %d of %d routes after the kill, want a partial table", len(before), restartRoutes)
	}

	// Second run: offer the same table and declare it complete.
	rec := record(t, l.ns)
	from := rec.mark()

	second := l.start()
	sess := openSession(ctx, t, second, source)
	defer sess.close()

	mustInject(ctx, t, second, source, routes)
	if withdrawn := sess.endOfTable(t); withdrawn != 0 {
		t.Errorf("end of table withdrew %d routes, want 0", withdrawn)
	}

	if diffs := second.waitQuiet(ctx, time.Minute); diffs != nil {
		explain(ctx, t, l, second, diffs)
		t.Fatalf("fibd did not settle in sync within a minute: %v", head(diffs, 20))
	}

	to := rec.mark()

	checkDesired(t, l.ns, desired)
	checkStatusRoutes(ctx, t, second, restartRoutes)
	checkVerifyCommand(t, l)

	// No route installed before the kill may have disappeared.
	state := newForwardingState(before, nexthopsBefore)
	events := rec.between(from, to)
	gone := 0
	for _, n := range events {
		for p, why := range state.apply(n) {
			if desired[p] != nil {
				gone++
				if gone <= 20 {
					t.Errorf("route %s, desired before and after the restart, disappeared: %s", p, why)
				}
			}
		}
	}

	if gone > 0 {
		t.Errorf("%d desired routes disappeared during the restart", gone)
	}

	counts := countTypes(events)
	t.Logf("after the restart fibd caused %d new routes, %d deleted routes, %d new nexthops, %d deleted nexthops",
		counts[nlmsg.RTM_NEWROUTE], counts[nlmsg.RTM_DELROUTE], counts[nlmsg.RTM_NEWNEXTHOP], counts[nlmsg.RTM_DELNEXTHOP])
}

// TestRestartWritesNothing stops fibd with SIGTERM over 100,000 installed
// routes, starts it again and offers the same routes: the second run must
// not write to the kernel. 1,000 routes offered only before the restart
// must stay until the source declares its table complete, and go then.
func TestRestartWritesNothing(t *testing.T) {
	l := newLab(t, labConfig{hold: source, holdTimeout: "5m"})
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()

	desired := newRoutes(0, restartRoutes, prefix4, ecmp4())
	stale := newRoutes(restartRoutes, restartRoutes+1000, prefix4, []*fibdv1.Nexthop{{Gateway: gateway0, Device: "v0"}})

	// First run: install both and stop, keeping the routes.
	first := l.start()
	mustInject(ctx, t, first, source, append(desired.list(), stale.list()...))
	checkStatusRoutes(ctx, t, first, restartRoutes+1000)
	first.stop()

	if n := len(kernelRoutes(t, l.ns)); n != restartRoutes+1000 {
		t.Fatalf("kernel holds %d routes after SIGTERM, want %d", n, restartRoutes+1000)
	}

	// Second run: offer the table without the stale routes.
	rec := record(t, l.ns)
	from := rec.mark()

	second := l.start()
	sess := openSession(ctx, t, second, source)
	defer sess.close()

	mustInject(ctx, t, second, source, desired.list())
	mid := rec.mark()

	if writes := rec.between(from, mid); len(writes) != 0 {
		t.Errorf("fibd wrote %d times to the kernel after the restart, want 0; first: %v", len(writes), head(writes, 10))
	}

	if n := len(kernelRoutes(t, l.ns)); n != restartRoutes+1000 {
		t.Errorf("kernel holds %d routes before the end of table, want the %d adopted ones kept", n, restartRoutes+1000)
	}

	// End of table: only now the stale routes go.
	if withdrawn := sess.endOfTable(t); withdrawn != 0 {
		t.Errorf("end of table withdrew %d of the source's routes, want 0 (the stale ones are adopted, not offered)", withdrawn)
	}

	if diffs := second.waitQuiet(ctx, time.Minute); diffs != nil {
		explain(ctx, t, l, second, diffs)
		t.Fatalf("fibd did not settle in sync within a minute: %v", head(diffs, 20))
	}

	to := rec.mark()
	checkDesired(t, l.ns, desired)
	checkStatusRoutes(ctx, t, second, restartRoutes)

	sweep := rec.between(mid, to)
	counts := countTypes(sweep)
	if counts[nlmsg.RTM_DELROUTE] != len(stale) || len(sweep) != len(stale) {
		t.Errorf("after the end of table fibd caused %d route deletes of %d notifications (%v), want %d route deletes only",
			counts[nlmsg.RTM_DELROUTE], len(sweep), counts, len(stale))
	}

	for _, n := range sweep {
		if n.Type == nlmsg.RTM_DELROUTE && stale[n.Prefix] == nil {
			t.Errorf("the sweep deleted %s, which is not stale", n.Prefix)
		}
	}
}

// waitInstalledBetween polls Status until the installed count is between
// low and high, and returns it. It fails when the count jumps past high.
func waitInstalledBetween(ctx context.Context, t *testing.T, d *daemon, low, high int) int {
	t.Helper()

	deadline := time.Now().Add(time.Minute)
	for time.Now().Before(deadline) {
		resp, err := d.client.Status(ctx, &fibdv1.StatusRequest{})
		if err != nil {
			t.Fatalf("status: %v", err)
		}

		n := int(resp.GetInstalled())
		if n >= low && n <= high {
			return n
		}

		if n > high {
			t.Fatalf("installed routes went from below %d to %d between two polls; the kill cannot land in the middle", low, n)
		}

		time.Sleep(time.Millisecond)
	}

	t.Fatalf("installed routes did not reach %d within a minute", low)

	return 0
}

// checkDesired requires the kernel to hold exactly the desired routes, each
// on a nexthop object with the desired gateways, and no nexthop object of
// fibd that no route uses.
func checkDesired(t *testing.T, ns *netnstest.NS, desired routeSet) {
	t.Helper()

	routes := kernelRoutes(t, ns)
	nexthops := kernelNexthops(t, ns)

	bad := 0
	for p, want := range desired {
		got, ok := routes[p]
		switch {
		case !ok:
			bad++
			if bad <= 20 {
				t.Errorf("kernel misses route %s", p)
			}
		case got.gateways() != gateways(want) || got.NHID == 0:
			bad++
			if bad <= 20 {
				t.Errorf("kernel route %s is on nhid %d via %s, want a nexthop object via %s", p, got.NHID, got.gateways(), gateways(want))
			}
		}
	}

	for p := range routes {
		if desired[p] == nil {
			bad++
			if bad <= 20 {
				t.Errorf("kernel holds route %s, which is not desired", p)
			}
		}
	}

	if bad > 0 {
		t.Errorf("%d kernel routes differ from the %d desired ones (kernel holds %d)", bad, len(desired), len(routes))
	}

	used := usedNexthops(routes, nexthops)
	for id, nh := range nexthops {
		if !used[id] {
			t.Errorf("kernel holds fibd's nexthop object %d (%+v) that no route uses", id, nh)
		}
	}
}

// checkStatusRoutes requires Status to count n selected and n installed
// routes.
func checkStatusRoutes(ctx context.Context, t *testing.T, d *daemon, n int) {
	t.Helper()

	st := d.status(ctx)
	if st.GetRoutes() != uint64(n) || st.GetInstalled() != uint64(n) {
		t.Errorf("status counts %d routes and %d installed, want %d of each (failed %d, unresolved %d, pending %d)",
			st.GetRoutes(), st.GetInstalled(), n, st.GetFailed(), st.GetUnresolved(), st.GetPending())
	}
}

// checkVerifyCommand requires `fibd verify` to exit with status 0.
func checkVerifyCommand(t *testing.T, l *lab) {
	t.Helper()

	out, err := exec.Command(fibdBinary, "verify", "--socket", l.socket).CombinedOutput()
	if err != nil {
		t.Errorf("fibd verify: %v\n%s", err, out)
	}
}

// head returns the first n elements of s.
func head[T any](s []T, n int) []T {
	return s[:min(n, len(s))]
}
