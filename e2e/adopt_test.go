package e2e

import (
	"context"
	"os"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/fibd/fibd/fib/kernel"
	"github.com/fibd/fibd/fib/kernel/nlmsg"
)

// defaultAdoptRoutes is the table size of the adoption benchmark.
const defaultAdoptRoutes = 1_000_000

// TestAdoptMillion measures how long a fresh fibd takes to adopt a
// million routes that a previous run installed, beside a plain netlink
// dump of the same routes. It requires the adoption, and the source's
// offer of the same table, to write nothing to the kernel. It logs its
// figures and runs only with FIBD_BENCH_ADOPT=1. FIBD_BENCH_ADOPT_ROUTES
// sets another table size.
//
// The routes are IPv6 /64s in 2001:db8::/32 on one ECMP group, because no
// IPv4 documentation or benchmarking range holds a million prefixes.
func TestAdoptMillion(t *testing.T) {
	if os.Getenv("FIBD_BENCH_ADOPT") != "1" {
		t.Skip("adoption benchmark: set FIBD_BENCH_ADOPT=1 to run it (installs a million routes, takes minutes)")
	}

	n := defaultAdoptRoutes
	if v := os.Getenv("FIBD_BENCH_ADOPT_ROUTES"); v != "" {
		var err error
		if n, err = strconv.Atoi(v); err != nil || n <= 0 {
			t.Fatalf("FIBD_BENCH_ADOPT_ROUTES=%q: want a positive number of routes", v)
		}
	}

	l := newLab(t, labConfig{hold: source, holdTimeout: "30m"})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Minute)
	defer cancel()

	routes := newRoutes(0, n, prefix6, ecmp6()).list()

	// First run: install the table and stop, keeping it.
	first := l.start()
	begin := time.Now()
	mustInject(ctx, t, first, source, routes)
	checkStatusRoutes(ctx, t, first, n)
	t.Logf("first run installed %d routes in %s", n, time.Since(begin).Round(time.Millisecond))
	first.stop()

	dumpRoutes, dumpAll := timeDumps(ctx, t, l, n)
	t.Logf("plain netlink dump of the %d routes (kernel.DumpRoutes, AF_INET6, protocol %d), fastest of %d: %s",
		n, fibdProtocol, dumpTries, dumpRoutes.Round(time.Millisecond))
	t.Logf("full snapshot (kernel.Dump: routes of both families and nexthop objects), fastest of %d: %s",
		dumpTries, dumpAll.Round(time.Millisecond))

	// Second run: time the start up to READY=1 and the first Status.
	rec := record(t, l.ns)
	from := rec.mark()
	notify := listenNotify(t, l.dir)
	second := l.spawn(notify.env())
	readyAt := notify.wait(t, "READY=1", startTimeout)
	second.waitReady(l.socket)
	adopted := rec.mark()

	t.Logf("second run: READY=1 after %s, API answered after %s; fibd logged %q; RSS %s",
		readyAt.Sub(second.started).Round(time.Millisecond), second.ready.Sub(second.started).Round(time.Millisecond),
		adoptionLine(second.out.String()), rss(second.cmd.Process.Pid))

	if writes := rec.between(from, adopted); len(writes) != 0 {
		t.Errorf("adoption wrote %d times to the kernel, want 0; first: %v", len(writes), head(writes, 10))
	}

	// The source offers the same table again and declares it complete.
	sess := openSession(ctx, t, second, source)
	defer sess.close()

	begin = time.Now()
	mustInject(ctx, t, second, source, routes)
	offered := time.Since(begin)
	if withdrawn := sess.endOfTable(t); withdrawn != 0 {
		t.Errorf("end of table withdrew %d routes, want 0", withdrawn)
	}

	if diffs := second.waitQuiet(ctx, 5*time.Minute); diffs != nil {
		t.Fatalf("fibd did not settle in sync: %v", head(diffs, 20))
	}

	writes := rec.between(adopted, rec.mark())
	t.Logf("second run: the offer of the same %d routes took %s and caused %d kernel writes", n, offered.Round(time.Millisecond), len(writes))
	if len(writes) != 0 {
		t.Errorf("offering the adopted table wrote %d times to the kernel, want 0; first: %v", len(writes), head(writes, 10))
	}

	checkStatusRoutes(ctx, t, second, n)
}

// dumpTries is the number of times each dump is timed. The fastest try
// counts, which favours the plain dump, because fibd dumps only once.
const dumpTries = 3

// timeDumps times a dump of fibd's IPv6 routes and a full snapshot
// through netlink sockets in the lab's namespace, and returns the fastest
// of dumpTries tries of each.
func timeDumps(ctx context.Context, t *testing.T, l *lab, n int) (time.Duration, time.Duration) {
	t.Helper()

	k, err := kernel.Open(kernel.Config{NetNS: l.ns.FD()})
	if err != nil {
		t.Fatalf("open kernel sockets: %v", err)
	}
	defer k.Close()

	var dumpRoutes, dumpAll time.Duration
	for try := range dumpTries {
		begin := time.Now()
		routes, err := k.DumpRoutes(ctx, nlmsg.AF_INET6, fibdProtocol)
		if err != nil {
			t.Fatalf("dump routes: %v", err)
		}

		if d := time.Since(begin); try == 0 || d < dumpRoutes {
			dumpRoutes = d
		}

		if len(routes) != n {
			t.Errorf("dump returned %d routes, want %d", len(routes), n)
		}

		begin = time.Now()
		snap, err := k.Dump(ctx)
		if err != nil {
			t.Fatalf("dump snapshot: %v", err)
		}

		if d := time.Since(begin); try == 0 || d < dumpAll {
			dumpAll = d
		}

		if len(snap.Routes) != n {
			t.Errorf("snapshot holds %d routes, want %d", len(snap.Routes), n)
		}
	}

	return dumpRoutes, dumpAll
}

var adoptionPattern = regexp.MustCompile(`msg="kernel state adopted"[^\n]*`)

// adoptionLine returns fibd's log line about the adopted state.
func adoptionLine(out string) string {
	return strings.TrimSpace(adoptionPattern.FindString(out))
}

// rss returns a process's resident set size as /proc reports it.
func rss(pid int) string {
	status, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		return "unknown"
	}

	for _, line := range strings.Split(string(status), "\n") {
		if v, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			return strings.Join(strings.Fields(v), " ")
		}
	}

	return "unknown"
}
