package gobgp

import (
	"fmt"
	"net/netip"
	"syscall"
	"testing"
	"time"

	api "github.com/osrg/gobgp/v3/api"

	"github.com/fibd/fibd/fib"
)

// BenchmarkTranslate measures decoding and translating full watch
// messages of two-member multipath sets into routes for a sink that only
// counts, without GoBGP: the cost the source adds to each path.
func BenchmarkTranslate(b *testing.B) {
	const prefixes = 100000

	var msgs [][]*api.Path
	var msg []*api.Path
	for i := range prefixes {
		prefix := fmt.Sprintf("2001:db8:%x:%x::/64", i>>16, i&0xffff)
		msg = append(msg,
			apiPath(b, prefix, peerA, 65001, false, "2001:db8:ff:1::2"),
			apiPath(b, prefix, peerB, 65002, false, "2001:db8:ff:2::2"))
		if len(msg) >= watchBatchSize {
			msgs = append(msgs, msg)
			msg = nil
		}
	}

	msgs = append(msgs, msg)

	var cpu time.Duration
	b.ResetTimer()
	for range b.N {
		b.StopTimer()
		tb, _ := newBenchTable(b)
		b.StartTimer()

		before := processCPU(b)
		for _, m := range msgs {
			tb.handle(m)
		}

		cpu += processCPU(b) - before

		if got := tb.stats.routes.Load(); got != prefixes {
			b.Fatalf("%d routes, want %d", got, prefixes)
		}
	}

	b.ReportMetric(float64(prefixes)*float64(b.N)/b.Elapsed().Seconds(), "prefixes/s")
	b.ReportMetric(float64(cpu.Nanoseconds())/float64(prefixes*b.N), "cpu-ns/prefix")
}

// processCPU returns the user and system CPU time of the process so far.
// Unlike wall time it does not grow when other processes load the
// machine.
func processCPU(b *testing.B) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatalf("getrusage: %v", err)
	}

	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// countingSink counts the routes offered to it.
type countingSink struct{ routes, withdrawn int }

func (c *countingSink) Update(routes []fib.Route) []error {
	c.routes += len(routes)

	return nil
}

func (c *countingSink) Withdraw(source string, keys []fib.Key)  { c.withdrawn += len(keys) }
func (c *countingSink) SetGatewayDown(netip.Addr, string, bool) {}
func (c *countingSink) Converged(string)                        {}

func newBenchTable(b *testing.B) (*table, *countingSink) {
	sink := &countingSink{}
	ps := newPeers(localAS)
	ps.update(peerEvent(peerA, 65001, localAS, api.PeerState_ESTABLISHED), time.Now())
	ps.update(peerEvent(peerB, 65002, localAS, api.PeerState_ESTABLISHED), time.Now())

	cfg := tableConfig{table: 254, metric: 20, ebgpDistance: 20, ibgpDistance: 200, batchSize: watchBatchSize}

	return newTable(cfg, sink, ps, newGateways(sink), nil), sink
}
