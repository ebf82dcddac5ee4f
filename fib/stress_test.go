package fib_test

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"net/netip"
	"os"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/fibd/fibd/fib"
	"github.com/fibd/fibd/fib/fibtest"
	"github.com/fibd/fibd/nexthop"
)

// Gateways of the stress test. gwStressC and gw6StressC have no device in
// the offers, so the FIB resolves them (to v0) before it programs them.
var (
	gw6StressA = netip.MustParseAddr("2001:db8:ffff::1")
	gw6StressB = netip.MustParseAddr("2001:db8:ffff::2")
	gw6StressC = netip.MustParseAddr("2001:db8:fffe::3")
	gwStressC  = netip.MustParseAddr("203.0.113.3")
)

// slowDataplane delays every Apply call of route operations, so that the
// slices of a batch stay in flight while the loop plans and extends it.
type slowDataplane struct {
	*fibtest.Dataplane
	delay time.Duration // per call
	perOp time.Duration // per op, on top of delay
}

func (d *slowDataplane) Apply(ctx context.Context, ops []fib.Op) error {
	if len(ops) > 0 && ops[0].Kind >= fib.OpRouteCreate {
		if wait := d.delay + d.perOp*time.Duration(len(ops)); wait > 0 {
			time.Sleep(wait)
		}
	}

	return d.Dataplane.Apply(ctx, ops)
}

// stressKeys returns keys in several tables, including tables above 255
// and the largest table id, with the same addresses at many lengths and
// IPv6 prefixes on both sides of /56.
func stressKeys() []fib.Key {
	base := []string{
		"0.0.0.0/0", "10.0.0.0/8", "10.0.0.0/16", "10.0.0.0/24", "10.0.0.0/31", "10.0.0.0/32", "10.0.0.1/32",
		"255.255.255.255/32", "192.0.2.0/24", "192.0.2.128/25",
		"::/0", "::/128", "2001:db8::/32", "2001:db8::/48", "2001:db8:0:ff00::/56", "2001:db8:0:ff00::/57",
		"2001:db8:0:ff80::/57", "2001:db8:0:ff00::/64", "2001:db8:0:ff38::/64", "2001:db8:0:ff01::/64",
		"2001:db8:0:ffff::/64", "2001:db8:0:ffff::/128", "2001:db8::1/128", "2001:db8:0:ff00::38/128",
	}

	for i := range 120 {
		base = append(base, fmt.Sprintf("10.1.%d.%d/32", i/50, i%50))
	}

	for i := range 60 {
		base = append(base, fmt.Sprintf("2001:db8:%x:%x00::/56", i/8, i%8))
		base = append(base, fmt.Sprintf("2001:db8:%x:%x01::/64", i/8, i%8))
	}

	var keys []fib.Key
	for _, table := range []uint32{fib.TableMain, 1000} {
		for _, p := range base {
			keys = append(keys, fib.Key{Table: table, Prefix: netip.MustParsePrefix(p)})
		}
	}

	for _, table := range []uint32{1, 251, 256, 70000, math.MaxUint32} {
		for _, p := range base[:30] {
			keys = append(keys, fib.Key{Table: table, Prefix: netip.MustParsePrefix(p)})
		}
	}

	return keys
}

// stressRoute returns a random offer of source for k.
func stressRoute(rng *rand.Rand, k fib.Key, source string, distance fib.Distance) fib.Route {
	r := fib.Route{
		Prefix:   k.Prefix,
		Table:    k.Table,
		Metric:   []uint32{0, 10, 20}[rng.IntN(3)],
		Type:     fib.TypeUnicast,
		Source:   source,
		Distance: distance,
	}

	switch rng.IntN(10) {
	case 0:
		r.Type = fib.TypeBlackhole

		return r
	case 1:
		r.Type = fib.TypeUnreachable

		return r
	}

	if k.Prefix.Addr().Is4() {
		r.NextHops = [...]nexthop.Set{
			hops(hop(gwA, "v0")),
			hops(hop(gwB, "v1")),
			hops(hop(gwA, "v0"), hop(gwB, "v1")),
			hops(hop(gwStressC, "")),
		}[rng.IntN(4)]
	} else {
		r.NextHops = [...]nexthop.Set{
			hops(hop(gw6StressA, "v0")),
			hops(hop(gw6StressB, "v1")),
			hops(hop(gw6StressA, "v0"), hop(gw6StressB, "v1")),
			hops(hop(gw6StressC, "")),
		}[rng.IntN(4)]
	}

	return r
}

// stressModel is what each source offered last, by key.
type stressModel struct {
	mu      sync.Mutex
	offered map[string]map[fib.Key]fib.Route
}

func (m *stressModel) put(routes []fib.Route) {
	m.mu.Lock()
	defer m.mu.Unlock()

	for _, r := range routes {
		if m.offered[r.Source] == nil {
			m.offered[r.Source] = make(map[fib.Key]fib.Route)
		}

		m.offered[r.Source][r.Key()] = r
	}
}

func (m *stressModel) withdraw(source string, keys []fib.Key) {
	m.mu.Lock()
	defer m.mu.Unlock()

	for _, k := range keys {
		delete(m.offered[source], k)
	}
}

func (m *stressModel) withdrawSource(source string) int {
	m.mu.Lock()
	defer m.mu.Unlock()

	n := len(m.offered[source])
	delete(m.offered, source)

	return n
}

// expected returns the kernel routes the model selects, rendered as
// "table prefix metric type hops".
func (m *stressModel) expected() map[string]string {
	m.mu.Lock()
	defer m.mu.Unlock()

	best := make(map[fib.Key]fib.Route)
	for _, routes := range m.offered {
		for k, r := range routes {
			b, ok := best[k]
			if !ok || r.Distance < b.Distance ||
				(r.Distance == b.Distance && (r.Metric < b.Metric || (r.Metric == b.Metric && r.Source < b.Source))) {
				best[k] = r
			}
		}
	}

	out := make(map[string]string, len(best))
	for k, r := range best {
		metric := r.Metric
		if metric == 0 && k.Prefix.Addr().Is6() {
			metric = 1024
		}

		var hs []string
		for _, mem := range r.NextHops.Members {
			h := mem.Hop
			if h.Device == "" {
				h.Device = "v0"
			}

			hs = append(hs, fmt.Sprintf("%s@%s*%d", h.Gateway, h.Device, mem.Weight))
		}

		sort.Strings(hs)
		out[fmt.Sprintf("%d %s %d", k.Table, k.Prefix, metric)] = fmt.Sprintf("%s %s", r.Type, strings.Join(hs, ","))
	}

	return out
}

// actualRoutes renders the fake kernel's routes of fibd as expected does.
func actualRoutes(dp *fibtest.Dataplane) map[string]string {
	s := dp.Snapshot()
	objs := make(map[nexthop.ID]nexthop.Object, len(s.Nexthops))
	for _, o := range s.Nexthops {
		objs[o.ID] = o
	}

	out := make(map[string]string, len(s.Routes))
	for _, r := range s.Routes {
		var hs []string
		if r.Type == fib.TypeUnicast {
			o, ok := objs[r.Nexthop]
			switch {
			case !ok:
				hs = append(hs, fmt.Sprintf("missing-object-%d", r.Nexthop))
			case o.IsGroup():
				for _, gm := range o.Group {
					h := objs[gm.ID].Hop
					hs = append(hs, fmt.Sprintf("%s@%s*%d", h.Gateway, h.Device, gm.Weight))
				}
			default:
				hs = append(hs, fmt.Sprintf("%s@%s*1", o.Hop.Gateway, o.Hop.Device))
			}
		}

		sort.Strings(hs)
		k := fmt.Sprintf("%d %s %d", r.Table, r.Prefix, r.Metric)
		if _, dup := out[k]; dup {
			k += " (duplicate)"
		}

		out[k] = fmt.Sprintf("%s %s", r.Type, strings.Join(hs, ","))
	}

	return out
}

// diffRoutes lists the differences between two renderings, at most 20.
func diffRoutes(want, got map[string]string) []string {
	var diffs []string
	for k, w := range want {
		if g, ok := got[k]; !ok {
			diffs = append(diffs, fmt.Sprintf("missing %s: %s", k, w))
		} else if g != w {
			diffs = append(diffs, fmt.Sprintf("wrong %s: got %s, want %s", k, g, w))
		}
	}

	for k, g := range got {
		if _, ok := want[k]; !ok {
			diffs = append(diffs, fmt.Sprintf("extra %s: %s", k, g))
		}
	}

	slices.Sort(diffs)
	if len(diffs) > 20 {
		diffs = append(diffs[:20], fmt.Sprintf("... %d more", len(diffs)-20))
	}

	return diffs
}

// stressConfig sets the knobs of one stress run.
type stressConfig struct {
	seed      uint64
	batchSize int
	delay     time.Duration
	takeover  bool
	rounds    int
	disrupt   bool
	kinds     []int // the disruptions to draw from, 0 to 6 as in runStress; nil means all
}

// runStress offers, withdraws and disrupts from several goroutines while
// the loop streams long batches. It then checks that the fake kernel holds
// exactly the routes the offers select and that Stats, Expected and a
// watcher agree with the listing. Throughout, Sync must not return before
// an offer made before it was tried.
func runStress(t *testing.T, sc stressConfig) {
	inner := &fibtest.Dataplane{}
	inner.SetGateway(gwStressC, "v0")
	inner.SetGateway(gw6StressC, "v0")
	dp := &slowDataplane{Dataplane: inner, delay: sc.delay}

	f, err := fib.New(fib.Config{
		Dataplane:         dp,
		Nexthops:          nexthop.Range{First: 3_000_000_001, Last: 3_000_100_000},
		BatchSize:         sc.batchSize,
		RetryMin:          2 * time.Millisecond,
		RetryMax:          20 * time.Millisecond,
		RestoreWait:       10 * time.Millisecond,
		WatchBuffer:       1 << 18,
		TakeoverConflicts: sc.takeover,
	})
	if err != nil {
		t.Fatal(err)
	}

	h := &harness{t: t, dp: inner, fib: f}
	h.run()

	// A watcher that keeps the last state of every key it was notified of.
	watched := make(map[fib.Key]string)
	var watchMu sync.Mutex
	watchCtx, stopWatch := context.WithCancel(context.Background())
	watchDone := make(chan error, 1)
	watchSynced := make(chan struct{})
	go func() {
		watchDone <- f.Watch(watchCtx, fib.Filter{}, func(ev fib.Event) {
			if ev.Synced {
				close(watchSynced)

				return
			}

			watchMu.Lock()
			defer watchMu.Unlock()

			if ev.Kind == fib.EventDelete {
				delete(watched, ev.Route.Key)

				return
			}

			watched[ev.Route.Key] = renderState(ev.Route)
		})
	}()

	<-watchSynced

	keys := stressKeys()
	model := &stressModel{offered: make(map[string]map[fib.Key]fib.Route)}
	sources := []struct {
		name     string
		distance fib.Distance
	}{{"bgp", fib.DistanceEBGP}, {"static", fib.DistanceStatic}, {"grpc", fib.DistanceGRPC}}

	var wg sync.WaitGroup
	stop := make(chan struct{})

	// Producers: one goroutine per source, so the model receives each
	// source's calls in the order the FIB does.
	for n, src := range sources {
		wg.Add(1)
		go func() {
			defer wg.Done()

			rng := rand.New(rand.NewPCG(sc.seed, uint64(n)))
			for range sc.rounds {
				switch x := rng.IntN(100); {
				case x < 70:
					routes := make([]fib.Route, 1+rng.IntN(600))
					for i := range routes {
						routes[i] = stressRoute(rng, keys[rng.IntN(len(keys))], src.name, src.distance)
					}

					for i, err := range f.Update(routes) {
						if err != nil {
							t.Errorf("update %v: %v", routes[i].Key(), err)
						}
					}

					model.put(routes)
				case x < 95:
					ks := make([]fib.Key, 1+rng.IntN(150))
					for i := range ks {
						ks[i] = keys[rng.IntN(len(keys))]
					}

					f.Withdraw(src.name, ks)
					model.withdraw(src.name, ks)
				default:
					got := f.WithdrawSource(src.name)
					if want := model.withdrawSource(src.name); got != want {
						t.Errorf("withdraw source %s = %d, model has %d", src.name, got, want)
					}
				}

				if rng.IntN(4) == 0 {
					time.Sleep(time.Duration(rng.IntN(2000)) * time.Microsecond)
				}
			}
		}()
	}

	// Sync checker: its own keys in their own table, each offer with a
	// new metric, must be tried (installed at that metric or failed) when
	// Sync returns.
	wg.Add(1)
	go func() {
		defer wg.Done()

		rng := rand.New(rand.NewPCG(sc.seed, 99))
		for m := uint32(1); m <= uint32(sc.rounds); m++ {
			k := fib.Key{Table: 4242, Prefix: netip.PrefixFrom(netip.AddrFrom4([4]byte{192, 0, 2, byte(rng.IntN(20))}), 32)}
			r := fib.Route{Prefix: k.Prefix, Table: k.Table, Metric: m, Type: fib.TypeBlackhole, Source: "sync", Distance: 5}
			if errs := f.Update([]fib.Route{r}); errs[0] != nil {
				t.Errorf("update %v: %v", k, errs[0])
			}

			model.put([]fib.Route{r})

			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			err := f.Sync(ctx)
			cancel()

			if err != nil {
				t.Errorf("sync after offering %v metric %d: %v", k, m, err)

				return
			}

			st, ok := f.Lookup(k)
			tried := ok && (st.Err != nil || (st.Installed != nil && st.Installed.Metric == m))
			if !tried {
				t.Errorf("after Sync, %v offered at metric %d was not tried: %+v", k, m, st)
			}
		}
	}()

	// Disruptor: faults, link flaps, gateway flaps, routes and objects
	// deleted behind the FIB's back, re-resolution.
	var dwg sync.WaitGroup
	if sc.disrupt {
		dwg.Add(1)
		go func() {
			defer dwg.Done()

			rng := rand.New(rand.NewPCG(sc.seed, 77))
			kinds := []fib.OpKind{fib.OpRouteCreate, fib.OpRouteReplace, fib.OpRouteDelete, fib.OpNexthopCreate, fib.OpNexthopReplace}
			for {
				select {
				case <-stop:
					return
				case <-time.After(time.Duration(1+rng.IntN(4)) * time.Millisecond):
				}

				kind := rng.IntN(8)
				if len(sc.kinds) > 0 {
					kind = sc.kinds[rng.IntN(len(sc.kinds))]
				}

				switch kind {
				case 0, 1:
					inner.FailNext(kinds[rng.IntN(len(kinds))], syscall.ENOBUFS)
				case 2:
					inner.SetLinkDown("v1", true)
					f.LinkChanged("v1", false)
					time.Sleep(time.Duration(rng.IntN(3)) * time.Millisecond)
					inner.SetLinkDown("v1", false)
					f.LinkChanged("v1", true)
				case 3:
					s := inner.Snapshot()
					if len(s.Routes) == 0 {
						continue
					}

					r := s.Routes[rng.IntN(len(s.Routes))]
					if r.Table == 4242 {
						continue
					}

					if inner.DeleteRoute(r) == nil {
						f.RouteGone(r)
					}
				case 4:
					s := inner.Snapshot()
					if len(s.Nexthops) == 0 {
						continue
					}

					id := s.Nexthops[rng.IntN(len(s.Nexthops))].ID
					if inner.DeleteNexthop(id) == nil {
						f.NexthopGone(id)
					}
				case 5:
					gw := []netip.Addr{gwA, gwB, gw6StressA}[rng.IntN(3)]
					f.SetGatewayDown(gw, nexthop.ReasonPeer, true)
					time.Sleep(time.Duration(rng.IntN(3)) * time.Millisecond)
					f.SetGatewayDown(gw, nexthop.ReasonPeer, false)
				case 6:
					f.Reresolve()
				}
			}
		}()
	}

	wg.Wait()
	close(stop)
	dwg.Wait()

	// Faults still queued fail one op each; retries repair them.
	want := model.expected()
	var diffs []string
	deadline := time.Now().Add(5 * time.Second)
	for {
		h.sync()
		diffs = diffRoutes(want, actualRoutes(inner))
		st := f.Stats()
		if len(diffs) == 0 && st.Failed == 0 && st.Conflicts == 0 && st.Unresolved == 0 && st.Pending == 0 {
			break
		}

		if time.Now().After(deadline) {
			t.Errorf("after 5 s: stats failed/conflicts/unresolved/pending = %d/%d/%d/%d, last errors %q", st.Failed, st.Conflicts, st.Unresolved, st.Pending, st.LastErrors)

			break
		}

		time.Sleep(20 * time.Millisecond)
	}

	if len(diffs) > 0 {
		t.Errorf("fake kernel differs from the offers (%d routes wanted):\n%s", len(want), strings.Join(diffs, "\n"))
	}

	h.checkStats()
	checkExpected(t, f, inner)

	// The watcher must have seen the final state of every key.
	time.Sleep(100 * time.Millisecond)
	stopWatch()
	if err := <-watchDone; err != nil {
		t.Errorf("watch: %v", err)
	}

	listed := make(map[fib.Key]string)
	f.Routes(fib.Filter{}, func(s fib.RouteState) bool {
		listed[s.Key] = renderState(s)

		return true
	})

	watchMu.Lock()
	defer watchMu.Unlock()

	bad := 0
	for k, l := range listed {
		if w, ok := watched[k]; !ok || w != l {
			if bad < 10 {
				t.Errorf("watcher has %v as %q, listing has %q", k, w, l)
			}

			bad++
		}
	}

	for k, w := range watched {
		if _, ok := listed[k]; !ok {
			if bad < 10 {
				t.Errorf("watcher has %v as %q, which the listing does not have", k, w)
			}

			bad++
		}
	}

	if bad > 0 {
		t.Errorf("watcher and listing differ on %d keys", bad)
	}
}

// renderState renders what a watcher needs to agree on: the installed
// route and the candidates' sources and metrics.
func renderState(s fib.RouteState) string {
	var b strings.Builder
	if s.Installed != nil {
		fmt.Fprintf(&b, "inst %d %s %d;", s.Installed.Metric, s.Installed.Type, s.Installed.Nexthop)
	}

	for _, c := range s.Candidates {
		fmt.Fprintf(&b, " %s/%d/%s", c.Source, c.Metric, c.Type)
	}

	fmt.Fprintf(&b, " err=%t unres=%t conflict=%t", s.Err != nil, s.Unresolved, s.Conflict)

	return b.String()
}

// checkExpected compares the FIB's Expected state with the fake kernel.
func checkExpected(t *testing.T, f *fib.FIB, dp *fibtest.Dataplane) {
	t.Helper()

	s := dp.Snapshot()
	kernel := make(map[string]bool, len(s.Routes))
	for _, r := range s.Routes {
		kernel[fmt.Sprintf("%d %s %d %s %d", r.Table, r.Prefix, r.Metric, r.Type, r.Nexthop)] = true
	}

	exp := f.Expected()
	for _, r := range exp.Routes {
		k := fmt.Sprintf("%d %s %d %s %d", r.Route.Table, r.Route.Prefix, r.Route.Metric, r.Route.Type, r.Route.Nexthop)
		if !kernel[k] {
			t.Errorf("Expected lists %s, which the fake kernel does not have (err %v, unresolved %t)", k, r.Err, r.Unresolved)
		}

		delete(kernel, k)
	}

	for k := range kernel {
		t.Errorf("fake kernel has %s, which Expected does not list", k)
	}
}

// TestStressStream runs the stress model with one kind of disruption per
// case, and all kinds together in the last.
func TestStressStream(t *testing.T) {
	cases := []stressConfig{
		{seed: 1, batchSize: 50, delay: 200 * time.Microsecond, rounds: 200},
		{seed: 2, batchSize: 50, delay: 200 * time.Microsecond, rounds: 200, disrupt: true, kinds: []int{0}},
		{seed: 3, batchSize: 7, delay: 0, rounds: 200, disrupt: true, kinds: []int{0}},
		{seed: 4, batchSize: 300, delay: time.Millisecond, rounds: 150, disrupt: true, takeover: true, kinds: []int{4}},
		{seed: 5, batchSize: 2000, delay: 100 * time.Microsecond, rounds: 200, disrupt: true, kinds: []int{5}},
		{seed: 6, batchSize: 50, delay: 200 * time.Microsecond, rounds: 200, disrupt: true, kinds: []int{6}},
		{seed: 7, batchSize: 50, delay: 200 * time.Microsecond, rounds: 200, disrupt: true, kinds: []int{2}},
		{seed: 8, batchSize: 50, delay: 200 * time.Microsecond, rounds: 200, disrupt: true, kinds: []int{3}},
		{seed: 9, batchSize: 50, delay: 200 * time.Microsecond, rounds: 200, disrupt: true, kinds: []int{0, 1, 2, 3, 4, 5, 6}},
	}

	for _, sc := range cases {
		t.Run(fmt.Sprintf("seed%d-batch%d", sc.seed, sc.batchSize), func(t *testing.T) {
			runStress(t, sc)
		})
	}
}

// TestStressSeeds runs the stress model with the seeds, batch size and
// disruptions named by FIBD_STRESS_SEEDS (a count), FIBD_STRESS_BATCH and
// FIBD_STRESS_KINDS (digits 0 to 6, as in runStress). One disruption at a
// time can then be compared across code versions.
func TestStressSeeds(t *testing.T) {
	seeds, _ := strconv.Atoi(os.Getenv("FIBD_STRESS_SEEDS"))
	if seeds == 0 {
		t.Skip("stress seeds run on request: set FIBD_STRESS_SEEDS")
	}

	batch, _ := strconv.Atoi(os.Getenv("FIBD_STRESS_BATCH"))
	if batch == 0 {
		batch = 50
	}

	var kinds []int
	for _, c := range os.Getenv("FIBD_STRESS_KINDS") {
		kinds = append(kinds, int(c-'0'))
	}

	for seed := range uint64(seeds) {
		sc := stressConfig{seed: 100 + seed, batchSize: batch, delay: 200 * time.Microsecond, rounds: 200, disrupt: true, kinds: kinds}
		t.Run(fmt.Sprintf("seed%d", sc.seed), func(t *testing.T) {
			runStress(t, sc)
		})
	}
}
