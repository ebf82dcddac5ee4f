package e2e

import (
	"context"
	"encoding/json"
	"math/rand/v2"
	"net/netip"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/fibd/fibd/api/fibdv1"
)

// Size and pace of the soak test.
const (
	soakDuration = 60 * time.Second
	soakIPv4     = 20_000 // IPv4 prefixes the producer draws from
	soakIPv6     = 2_000  // IPv6 prefixes the producer draws from
	soakBatch    = 500    // routes per AddRoutes or DeleteRoutes call
	soakSource   = "soak"
)

// TestSoak changes routes through the API while the kernel state is
// disturbed behind fibd's back (links flap, nexthop objects and routes are
// deleted) and fibd restarts once. After the disturbance stops and the
// producer has sent its table again, Verify must report no difference,
// and the kernel must hold exactly the producer's routes as ListRoutes
// shows them.
func TestSoak(t *testing.T) {
	duration := soakDuration
	if testing.Short() {
		duration = 10 * time.Second
	}

	l := newLab(t, labConfig{hold: soakSource, holdTimeout: "5m"})
	ctx, cancel := context.WithTimeout(context.Background(), duration+3*time.Minute)
	defer cancel()

	seed := uint64(time.Now().UnixNano())
	t.Logf("random seed %d", seed)

	s := &soak{t: t, lab: l, desired: make(routeSet)}
	s.setDaemon(l.start())

	// Start from a table of half the IPv4 prefixes.
	initial := newRoutes(0, soakIPv4/2, prefix4, ecmp4())
	mustInject(ctx, t, s.daemon(), soakSource, initial.list())
	for p, r := range initial {
		s.desired[p] = r
	}

	chaosCtx, stopChaos := context.WithTimeout(ctx, duration)
	var wg sync.WaitGroup
	defer func() {
		// A failed restart ends the test early: stop both goroutines first.
		stopChaos()
		wg.Wait()
	}()

	wg.Go(func() { s.produce(ctx, chaosCtx, rand.New(rand.NewPCG(seed, 1))) })
	wg.Go(func() { s.disturb(chaosCtx, rand.New(rand.NewPCG(seed, 2))) })

	// Restart fibd once, halfway, from the test's goroutine.
	time.Sleep(duration / 2)
	s.restart()
	wg.Wait()

	t.Logf("producer: %d calls, %d failed; disturbance: %d link flaps, %d nexthop deletes, %d route deletes, %d restarts",
		s.calls.Load(), s.failedCalls.Load(), s.flaps.Load(), s.nexthopDeletes.Load(), s.routeDeletes.Load(), s.restarts.Load())

	// The producer sends its whole table again in a session, as a client
	// does after its calls failed, and declares it complete.
	l.ns.IP("link", "set", "v0", "up")
	l.ns.IP("link", "set", "v1", "up")
	d := s.daemon()
	sess := openSession(ctx, t, d, soakSource)
	defer sess.close()

	sess.send(t, s.desired.list())
	withdrawn := sess.endOfTable(t)
	t.Logf("end of table withdrew %d routes that the producer no longer wants", withdrawn)

	if diffs := d.waitQuiet(ctx, time.Minute); diffs != nil {
		explain(ctx, t, l, d, diffs)
		t.Fatalf("fibd did not settle in sync within a minute: %v", head(diffs, 20))
	}

	checkListed(ctx, t, d, s.desired)
	checkDesired(t, l.ns, s.desired)
	checkStatusRoutes(ctx, t, d, len(s.desired))
}

// soak holds the state shared by the producer and the disturbance.
type soak struct {
	t   *testing.T
	lab *lab

	mu      sync.Mutex
	current *daemon

	// desired is the producer's table; only the producer touches it
	// until both goroutines end.
	desired routeSet

	calls, failedCalls                  atomic.Int64
	flaps, nexthopDeletes, routeDeletes atomic.Int64
	restarts                            atomic.Int64
}

func (s *soak) daemon() *daemon {
	s.mu.Lock()
	defer s.mu.Unlock()

	return s.current
}

func (s *soak) setDaemon(d *daemon) {
	s.mu.Lock()
	defer s.mu.Unlock()

	s.current = d
}

// soakPrefix draws a prefix of the producer's pool.
func soakPrefix(rng *rand.Rand) netip.Prefix {
	i := rng.IntN(soakIPv4 + soakIPv6)
	if i < soakIPv4 {
		return prefix4(i)
	}

	return prefix6(i - soakIPv4)
}

// soakNexthops draws a next-hop set for p: one gateway, both, or both with
// weights.
func soakNexthops(rng *rand.Rand, p netip.Prefix) []*fibdv1.Nexthop {
	gw0, gw1 := gateway0, gateway1
	if p.Addr().Is6() {
		gw0, gw1 = gateway0v6, gateway1v6
	}

	weight := uint32(3)
	switch rng.IntN(4) {
	case 0:
		return []*fibdv1.Nexthop{{Gateway: gw0, Device: "v0"}}
	case 1:
		return []*fibdv1.Nexthop{{Gateway: gw1, Device: "v1"}}
	case 2:
		return []*fibdv1.Nexthop{{Gateway: gw0, Device: "v0"}, {Gateway: gw1, Device: "v1"}}
	default:
		return []*fibdv1.Nexthop{{Gateway: gw0, Device: "v0", Weight: &weight}, {Gateway: gw1, Device: "v1"}}
	}
}

// produce adds and deletes batches of random routes until until ends. A
// call that fails (fibd restarting) may have taken effect or not; the
// table is sent again at the end, which settles both cases.
// Calls use ctx, so that the last call is not cut off when until ends.
func (s *soak) produce(ctx, until context.Context, rng *rand.Rand) {
	for until.Err() == nil {
		d := s.daemon()
		batch := make(map[netip.Prefix]*fibdv1.Route)
		for range soakBatch {
			p := soakPrefix(rng)
			batch[p] = &fibdv1.Route{Prefix: p.String(), Nexthops: soakNexthops(rng, p)}
		}

		var err error
		if rng.IntN(3) == 0 {
			err = s.delete(ctx, d, batch)
		} else {
			err = s.add(ctx, d, batch)
		}

		s.calls.Add(1)
		if err != nil {
			if s.failedCalls.Add(1) <= 5 {
				s.t.Logf("producer call failed: %v", err)
			}

			time.Sleep(50 * time.Millisecond)
		}
	}
}

func (s *soak) add(ctx context.Context, d *daemon, batch map[netip.Prefix]*fibdv1.Route) error {
	req := &fibdv1.AddRoutesRequest{Source: soakSource}
	for _, r := range batch {
		req.Routes = append(req.Routes, r)
	}

	resp, err := d.client.AddRoutes(ctx, req)
	if err != nil {
		return err
	}

	for _, res := range resp.GetResults() {
		if res.GetCode() == fibdv1.ResultCode_RESULT_CODE_REJECTED {
			s.t.Errorf("fibd rejected route %s: %s", res.GetPrefix(), res.GetMessage())
		}
	}

	for p, r := range batch {
		s.desired[p] = r
	}

	return nil
}

func (s *soak) delete(ctx context.Context, d *daemon, batch map[netip.Prefix]*fibdv1.Route) error {
	req := &fibdv1.DeleteRoutesRequest{Source: soakSource}
	for p := range batch {
		req.Keys = append(req.Keys, &fibdv1.RouteKey{Prefix: p.String()})
	}

	if _, err := d.client.DeleteRoutes(ctx, req); err != nil {
		return err
	}

	for p := range batch {
		delete(s.desired, p)
	}

	return nil
}

// disturb changes the kernel behind fibd's back until ctx ends: it flaps
// a link, deletes one of fibd's nexthop objects, or deletes some of its
// routes.
func (s *soak) disturb(ctx context.Context, rng *rand.Rand) {
	ns := s.lab.ns
	for ctx.Err() == nil {
		time.Sleep(time.Duration(100+rng.IntN(400)) * time.Millisecond)

		switch rng.IntN(3) {
		case 0:
			link := "v" + strconv.Itoa(rng.IntN(2))
			_, _ = ns.TryIP("link", "set", link, "down")
			time.Sleep(time.Duration(50+rng.IntN(300)) * time.Millisecond)
			_, _ = ns.TryIP("link", "set", link, "up")
			s.flaps.Add(1)
		case 1:
			if id, ok := randomNexthop(s.lab, rng); ok {
				_, _ = ns.TryIP("nexthop", "del", "id", strconv.FormatUint(uint64(id), 10))
				s.nexthopDeletes.Add(1)
			}
		default:
			for range 1 + rng.IntN(20) {
				_, _ = ns.TryIP("route", "del", soakPrefix(rng).String(), "proto", strconv.Itoa(fibdProtocol))
				s.routeDeletes.Add(1)
			}
		}
	}
}

// restart stops fibd with SIGTERM and starts it again. It runs in the
// test's goroutine, because starting fibd may fail the test.
func (s *soak) restart() {
	s.t.Helper()

	old := s.daemon()
	if err := old.signal(syscall.SIGTERM); err != nil {
		s.t.Errorf("fibd exited with %v after SIGTERM during the soak", err)
	}

	s.setDaemon(s.lab.start())
	s.restarts.Add(1)
}

// randomNexthop picks one of fibd's nexthop objects in the kernel.
func randomNexthop(l *lab, rng *rand.Rand) (uint32, bool) {
	var list []kernelNexthop
	out, err := l.ns.TryIP("-j", "nexthop", "show", "protocol", strconv.Itoa(fibdProtocol))
	if err != nil || decodeJSON(out, &list) != nil || len(list) == 0 {
		return 0, false
	}

	return list[rng.IntN(len(list))].ID, true
}

// checkListed requires ListRoutes to show exactly the desired routes, each
// with the producer's candidate alone, installed, and not adopted.
func checkListed(ctx context.Context, t *testing.T, d *daemon, desired routeSet) {
	t.Helper()

	listed := listRoutes(ctx, t, d)
	bad := 0
	report := func(format string, args ...any) {
		bad++
		if bad <= 20 {
			t.Errorf(format, args...)
		}
	}

	for p, want := range desired {
		rs, ok := listed[p]
		switch {
		case !ok:
			report("ListRoutes misses %s", p)
		case len(rs.GetCandidates()) != 1 || rs.GetCandidates()[0].GetSource() != soakSource:
			report("ListRoutes shows %s with candidates %v, want the producer's alone", p, rs.GetCandidates())
		case gateways(rs.GetCandidates()[0]) != gateways(want):
			report("ListRoutes shows %s via %s, want %s", p, gateways(rs.GetCandidates()[0]), gateways(want))
		case rs.GetInstalled() == nil || rs.GetAdopted() || rs.GetError() != "":
			report("ListRoutes shows %s installed %v, adopted %t, error %q; want installed", p, rs.GetInstalled(), rs.GetAdopted(), rs.GetError())
		}
	}

	for p, rs := range listed {
		switch {
		case desired[p] != nil:
		case len(rs.GetCandidates()) == 0 && rs.GetInstalled() == nil:
			report("ListRoutes shows %s with no candidate and no installed route, an entry fibd should have removed: %v", p, rs)
		default:
			report("ListRoutes shows %s, which the producer does not want: %v", p, rs)
		}
	}

	if bad > 0 {
		t.Errorf("%d differences between ListRoutes (%d keys) and the producer's %d routes", bad, len(listed), len(desired))
	}
}

// decodeJSON decodes `ip -j` output, which is empty for an empty list.
func decodeJSON(out string, v any) error {
	if out == "" {
		return nil
	}

	return json.Unmarshal([]byte(out), v)
}
