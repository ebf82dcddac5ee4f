package fib_test

import (
	"context"
	"net/netip"
	"sync"
	"testing"
	"time"

	"github.com/fibd/fibd/fib"
	"github.com/fibd/fibd/fib/fibtest"
	"github.com/fibd/fibd/nexthop"
)

// pathDataplane is a fake dataplane whose gateways can resolve to several
// weighted paths, as over a weighted multipath route in the kernel.
type pathDataplane struct {
	*fibtest.Dataplane

	mu    sync.Mutex
	paths map[netip.Addr][]nexthop.Member
}

var _ fib.PathResolver = (*pathDataplane)(nil)

// setPaths makes ResolvePaths return paths for a hop with gateway addr.
func (d *pathDataplane) setPaths(addr netip.Addr, paths ...nexthop.Member) {
	d.mu.Lock()
	defer d.mu.Unlock()

	if d.paths == nil {
		d.paths = make(map[netip.Addr][]nexthop.Member)
	}

	d.paths[addr] = paths
}

func (d *pathDataplane) ResolvePaths(ctx context.Context, hop nexthop.Hop) ([]nexthop.Member, error) {
	d.mu.Lock()
	paths, ok := d.paths[hop.Gateway]
	d.mu.Unlock()
	if ok && hop.Device == "" {
		return paths, nil
	}

	got, err := d.Resolve(ctx, hop)

	return []nexthop.Member{{Hop: got, Weight: 1}}, err
}

// TestRecursiveWeights checks that fibd's group takes the weights of the
// paths a recursive gateway resolves to, combined with the route's own
// member weights, and follows a change of those weights.
func TestRecursiveWeights(t *testing.T) {
	dp := &pathDataplane{Dataplane: &fibtest.Dataplane{}}
	f, err := fib.New(fib.Config{Dataplane: dp, Nexthops: testRange, RetryMin: 10 * time.Millisecond, RetryMax: 10 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}

	h := &harness{t: t, dp: dp.Dataplane, fib: f}
	h.run()

	bgp := netip.MustParseAddr("192.0.2.77")
	dp.setPaths(bgp, nexthop.Member{Hop: hop(gwA, "v0"), Weight: 3}, nexthop.Member{Hop: hop(gwB, "v1"), Weight: 1})
	bare := nexthop.Hop{Family: nexthop.FamilyIPv4, Gateway: bgp}
	h.update(route("203.0.113.0/24", "bgp", fib.DistanceEBGP, 20, hops(bare)))
	h.expect(`
id 3000000001 via 198.51.100.1 dev v0 proto fibd
id 3000000002 via 198.51.100.2 dev v1 proto fibd
id 3000000003 group 3000000001,3/3000000002 proto fibd
203.0.113.0/24 nhid 3000000003 proto fibd metric 20
`)

	// Beside a direct hop, the recursive member keeps half of the traffic
	// and its paths split it 3 to 1.
	h.update(route("198.18.0.0/24", "bgp", fib.DistanceEBGP, 20, hops(bare, hop(gwC, "v2"))))
	h.expect(`
id 3000000001 via 198.51.100.1 dev v0 proto fibd
id 3000000002 via 198.51.100.2 dev v1 proto fibd
id 3000000003 group 3000000001,3/3000000002 proto fibd
id 3000000004 via 203.0.113.3 dev v2 proto fibd
id 3000000005 group 3000000001,3/3000000002/3000000004,4 proto fibd
198.18.0.0/24 nhid 3000000005 proto fibd metric 20
203.0.113.0/24 nhid 3000000003 proto fibd metric 20
`)

	// The covering route's paths become equal, so their weights are 1.
	dp.setPaths(bgp, nexthop.Member{Hop: hop(gwA, "v0"), Weight: 2}, nexthop.Member{Hop: hop(gwB, "v1"), Weight: 2})
	h.fib.Reresolve()
	h.expect(`
id 3000000001 via 198.51.100.1 dev v0 proto fibd
id 3000000002 via 198.51.100.2 dev v1 proto fibd
id 3000000004 via 203.0.113.3 dev v2 proto fibd
id 3000000006 group 3000000001/3000000002 proto fibd
id 3000000007 group 3000000001/3000000002/3000000004,2 proto fibd
198.18.0.0/24 nhid 3000000007 proto fibd metric 20
203.0.113.0/24 nhid 3000000006 proto fibd metric 20
`)
}
