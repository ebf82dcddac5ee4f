package fib_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net/netip"
	"runtime"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/fibd/fibd/fib"
	"github.com/fibd/fibd/fib/fibtest"
	"github.com/fibd/fibd/nexthop"
)

// The benchmarks load a million routes; run them alone, for example:
//
//	go test ./fib -run XXX -bench 'Update1M|PeerDown' -benchtime 3x
//
// B/route is the heap that stays allocated per route after a garbage
// collection, including the loop's reused batch buffers (an estimated 15 MB
// for the default batch size).

// discard is a dataplane that accepts every op, to measure fib alone.
type discard struct{ ops atomic.Int64 }

func (d *discard) Apply(_ context.Context, ops []fib.Op) error {
	d.ops.Add(int64(len(ops)))

	return nil
}

func (d *discard) Resolve(_ context.Context, h nexthop.Hop) (nexthop.Hop, error) {
	return h, nil
}

// benchRoutes returns n IPv6 routes in 2001:db8::/32 that share 16 groups
// of two or three of 8 gateways.
func benchRoutes(n int) []fib.Route {
	gws := make([]nexthop.Hop, 8)
	for i := range gws {
		gws[i] = hop(netip.AddrFrom16([16]byte{0x20, 0x01, 0x0d, 0xb8, 0xff, 0xff, 15: byte(i + 1)}), "v0")
	}

	sets := make([]nexthop.Set, 16)
	for i := range sets {
		sets[i] = hops(gws[i%8], gws[(i+1)%8])
		if i >= 8 {
			sets[i] = hops(gws[i%8], gws[(i+2)%8], gws[(i+5)%8])
		}
	}

	routes := make([]fib.Route, n)
	for i := range routes {
		a := [16]byte{0x20, 0x01, 0x0d, 0xb8, byte(i >> 24), byte(i >> 16), byte(i >> 8), byte(i)}
		routes[i] = fib.Route{
			Prefix:   netip.PrefixFrom(netip.AddrFrom16(a), 64),
			Table:    fib.TableMain,
			Metric:   20,
			Type:     fib.TypeUnicast,
			NextHops: sets[i%16],
			Source:   "bgp",
			Distance: fib.DistanceEBGP,
		}
	}

	return routes
}

// benchRoutes4 returns n IPv4 /24s from 16.0.0.0 over 16 groups of the same
// two gateways that differ in the first one's weight, with consecutive
// routes in different groups: the stated workload of fibd-bench.
func benchRoutes4(n int) []fib.Route {
	gw0 := hop(netip.MustParseAddr("198.51.100.2"), "v0")
	gw1 := hop(netip.MustParseAddr("203.0.113.2"), "v1")
	sets := make([]nexthop.Set, 16)
	for i := range sets {
		sets[i] = nexthop.Set{Members: []nexthop.Member{{Hop: gw0, Weight: uint32(i + 1)}, {Hop: gw1, Weight: 1}}}
	}

	routes := make([]fib.Route, n)
	for i := range routes {
		v := uint32(16)<<24 + uint32(i)<<8
		routes[i] = fib.Route{
			Prefix:   netip.PrefixFrom(netip.AddrFrom4([4]byte{byte(v >> 24), byte(v >> 16), byte(v >> 8), 0}), 24),
			Table:    fib.TableMain,
			Type:     fib.TypeUnicast,
			NextHops: sets[i%16],
			Source:   "bench",
			Distance: fib.DistanceGRPC,
		}
	}

	return routes
}

// cpuTime returns the user and system CPU time of the process, which on a
// busy machine measures the work better than the wall clock.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}

	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func heapBytes() uint64 {
	runtime.GC()
	runtime.GC()

	var m runtime.MemStats
	runtime.ReadMemStats(&m)

	return m.HeapAlloc
}

// benchmarkUpdate offers routes in chunks and waits until all are
// programmed. It reports the wall time and the CPU time (all
// goroutines, garbage collection included) per route, and the heap per
// route that stays allocated, measured after a garbage collection.
func benchmarkUpdate(b *testing.B, routes []fib.Route, chunk int, dp func() fib.Dataplane) {
	n := len(routes)
	b.ResetTimer()

	var perRoute float64
	var cpu time.Duration
	for range b.N {
		b.StopTimer()
		before := heapBytes()
		f, err := fib.New(fib.Config{Dataplane: dp()})
		if err != nil {
			b.Fatal(err)
		}

		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan struct{})
		go func() { _ = f.Run(ctx); close(done) }()
		b.StartTimer()
		startCPU := cpuTime()

		for start := 0; start < n; start += chunk {
			f.Update(routes[start:min(start+chunk, n)])
		}

		if err := f.Sync(ctx); err != nil {
			b.Fatal(err)
		}

		cpu += cpuTime() - startCPU
		b.StopTimer()
		if s := f.Stats(); s.Installed != n || s.Groups != 16 {
			b.Fatalf("installed = %d, groups = %d, want %d, 16", s.Installed, s.Groups, n)
		}

		perRoute = float64(heapBytes()-before) / float64(n)
		cancel()
		<-done
		runtime.KeepAlive(f)
		b.StartTimer()
	}

	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(n), "ns/route")
	b.ReportMetric(float64(cpu.Nanoseconds())/float64(b.N)/float64(n), "cpu-ns/route")
	b.ReportMetric(perRoute, "B/route")
}

// BenchmarkUpdate1M offers IPv6 /64s, which the index keeps in a map, in
// chunks of 10,000.
func BenchmarkUpdate1M(b *testing.B) {
	benchmarkUpdate(b, benchRoutes(1_000_000), 10000, func() fib.Dataplane { return &discard{} })
}

// BenchmarkUpdate1MIPv4 offers fibd-bench's stated workload in one call, as
// its fibd contender does.
func BenchmarkUpdate1MIPv4(b *testing.B) {
	benchmarkUpdate(b, benchRoutes4(1_000_000), 1_000_000, func() fib.Dataplane { return &discard{} })
}

// BenchmarkUpdate1MFake includes the fake dataplane's own map of routes in
// the time and heap.
func BenchmarkUpdate1MFake(b *testing.B) {
	benchmarkUpdate(b, benchRoutes(1_000_000), 10000, func() fib.Dataplane { return &fibtest.Dataplane{} })
}

// BenchmarkPeerDown measures failover of 1M routes on 16 groups when one
// gateway goes down: the time until the groups are replaced.
func BenchmarkPeerDown(b *testing.B) {
	routes := benchRoutes(1_000_000)
	dp := &discard{}
	f, err := fib.New(fib.Config{Dataplane: dp})
	if err != nil {
		b.Fatal(err)
	}

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()

	go func() { _ = f.Run(ctx) }()

	f.Update(routes)
	if err := f.Sync(ctx); err != nil {
		b.Fatal(err)
	}

	gw := routes[0].NextHops.Members[0].Hop.Gateway
	b.ResetTimer()

	for i := range b.N {
		before := dp.ops.Load()
		f.SetGatewayDown(gw, "bgp-peer", i%2 == 0)
		if err := f.Sync(ctx); err != nil {
			b.Fatal(err)
		}

		if ops := dp.ops.Load() - before; ops > 16 {
			b.Fatal(fmt.Sprintf("ops = %d, want at most one per group", ops))
		}
	}
}

// BenchmarkPeerDownDirect measures a gateway going down under 100,000
// routes that use its hop directly, without a group: the time until the
// FIB has removed them, and the dataplane operations that took.
func BenchmarkPeerDownDirect(b *testing.B) {
	const n = 100_000
	gw := netip.MustParseAddr("2001:db8:ffff::1")
	routes := benchRoutes(n)
	for i := range routes {
		routes[i].NextHops = hops(hop(gw, "v0"))
	}

	dp := &fibtest.Dataplane{}
	f, err := fib.New(fib.Config{Dataplane: dp})
	if err != nil {
		b.Fatal(err)
	}

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()

	go func() { _ = f.Run(ctx) }()

	f.Update(routes)
	if err := f.Sync(ctx); err != nil {
		b.Fatal(err)
	}

	var ops int
	for b.Loop() {
		before := dp.Writes()
		f.SetGatewayDown(gw, "bgp-peer", true)
		if err := f.Sync(ctx); err != nil {
			b.Fatal(err)
		}

		ops += dp.Writes() - before

		// Bring the routes back, outside the measured time.
		b.StopTimer()
		f.SetGatewayDown(gw, "bgp-peer", false)
		if err := f.Sync(ctx); err != nil {
			b.Fatal(err)
		}

		if s := f.Stats(); s.Installed != n {
			b.Fatalf("installed = %d, want %d", s.Installed, n)
		}

		b.StartTimer()
	}

	b.ReportMetric(float64(ops)/float64(b.N), "ops/down")
}

// BenchmarkRoutes1M lists a million routes that arrived in random order,
// as `fibd route list` does. The FIB's lock is held for the whole call, so the
// time is also how long a listing stalls producers and the loop.
func BenchmarkRoutes1M(b *testing.B) {
	const n = 1_000_000
	f, err := fib.New(fib.Config{Dataplane: &discard{}})
	if err != nil {
		b.Fatal(err)
	}

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()

	go func() { _ = f.Run(ctx) }()

	routes := benchRoutes(n)
	shuffle := rand.New(rand.NewPCG(1, 2))
	shuffle.Shuffle(n, func(i, j int) { routes[i], routes[j] = routes[j], routes[i] })

	f.Update(routes)
	if err := f.Sync(ctx); err != nil {
		b.Fatal(err)
	}

	b.ResetTimer()
	for range b.N {
		count := 0
		f.Routes(fib.Filter{}, func(fib.RouteState) bool {
			count++

			return true
		})

		if count != n {
			b.Fatalf("listed %d routes, want %d", count, n)
		}
	}

	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(n), "ns/route")
}
