package monitor

import (
	"context"
	"net/netip"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/fibd/fibd/fib"
	"github.com/fibd/fibd/fib/kernel"
	"github.com/fibd/fibd/internal/netnstest"
)

// echoRoutes is the number of routes TestEchoCost programs; the
// environment variable FIBD_ECHO_ROUTES overrides it (1000000 for the
// measurement in the package's history).
func echoRoutes(t *testing.T) int {
	n := 100_000
	if raceEnabled {
		n = 20_000
	}

	if s := os.Getenv("FIBD_ECHO_ROUTES"); s != "" {
		v, err := strconv.Atoi(s)
		if err != nil {
			t.Fatalf("invalid FIBD_ECHO_ROUTES %q: %v", s, err)
		}

		n = v
	}

	return n
}

// blackholes returns ops of kind for n blackhole routes in 2001:db8::/32.
func blackholes(kind fib.OpKind, n int) []fib.Op {
	ops := make([]fib.Op, n)
	base := netip.MustParseAddr("2001:db8::").As16()
	for i := range ops {
		a := base
		a[4], a[5], a[6] = byte(i>>16), byte(i>>8), byte(i)
		ops[i] = fib.Op{Kind: kind, Route: fib.KernelRoute{
			Table:  254,
			Prefix: netip.PrefixFrom(netip.AddrFrom16(a), 56),
			Metric: 20,
			Type:   fib.TypeBlackhole,
		}}
	}

	return ops
}

// programTimed applies ops and returns the time it took.
func programTimed(t *testing.T, k *kernel.Kernel, ops []fib.Op) time.Duration {
	t.Helper()

	start := time.Now()
	if err := k.Apply(context.Background(), ops); err != nil {
		t.Fatalf("apply: %v", err)
	}

	elapsed := time.Since(start)
	for _, op := range ops {
		if op.Err != nil {
			t.Fatalf("%s %s: %v", op.Kind, op.Route.Prefix, op.Err)
		}
	}

	return elapsed
}

// echoResult is what one install and delete of the routes cost.
type echoResult struct {
	install, delete time.Duration
	status          Status // after both
}

// measureEcho installs and deletes n routes through k, with a monitor in ns
// when cfg is not nil. It runs as a subtest, so that the monitor stops
// before the next measurement.
func measureEcho(t *testing.T, name string, ns *netnstest.NS, k *kernel.Kernel, n int, cfg *Config) echoResult {
	t.Helper()

	var r echoResult
	t.Run(name, func(t *testing.T) {
		r = measureEchoOnce(t, ns, k, n, cfg)
	})

	return r
}

func measureEchoOnce(t *testing.T, ns *netnstest.NS, k *kernel.Kernel, n int, cfg *Config) echoResult {
	t.Helper()

	var m *Monitor
	if cfg != nil {
		m, _ = startMonitor(t, ns, *cfg)
	}

	var r echoResult
	r.install = programTimed(t, k, blackholes(fib.OpRouteCreate, n))
	r.delete = programTimed(t, k, blackholes(fib.OpRouteDelete, n))
	if m == nil {
		return r
	}

	// Let the monitor drain its socket and queue.
	for prev := uint64(1 << 63); ; time.Sleep(100 * time.Millisecond) {
		st := m.Status()
		if st.Events == prev {
			break
		}

		prev = st.Events
	}

	r.status = m.Status()

	return r
}

// TestEchoCost measures what fibd's own programming costs the monitor.
// Installing routes causes no event, since the socket filter drops
// RTM_NEWROUTE of fibd's protocol. Deleting them causes one RouteGone per
// route unless the monitor has the port ids of the Kernel's sockets.
func TestEchoCost(t *testing.T) {
	n := echoRoutes(t)
	ns := netnstest.New(t)

	k, err := kernel.Open(kernel.Config{NetNS: ns.FD(), Protocol: testProtocol})
	if err != nil {
		t.Fatalf("open kernel: %v", err)
	}
	defer k.Close()

	bare := measureEcho(t, "bare", ns, k, n, nil)
	t.Logf("%d routes without monitor: install %v, delete %v", n, bare.install, bare.delete)

	noPorts := measureEcho(t, "no ports", ns, k, n, &Config{})
	t.Logf("%d routes, monitor without port ids: install %v, delete %v, %+v", n, noPorts.install, noPorts.delete, noPorts.status)

	ports := measureEcho(t, "ports", ns, k, n, &Config{OwnPorts: k.PortIDs()})
	t.Logf("%d routes, monitor with port ids: install %v, delete %v, %+v", n, ports.install, ports.delete, ports.status)

	if st := ports.status; st.Events != 0 || st.Repairs != 0 || st.Overruns != 0 {
		t.Errorf("install and delete of %d routes with port ids: %d events, %d repairs, %d overruns, want none", n, st.Events, st.Repairs, st.Overruns)
	}
}
