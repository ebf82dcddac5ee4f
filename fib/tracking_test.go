package fib_test

import (
	"testing"
	"time"

	"github.com/fibd/fibd/fib"
	"github.com/fibd/fibd/fib/fibtest"
	"github.com/fibd/fibd/nexthop"
)

// TestTrackOwnCover checks that programming one of fibd's own routes that
// covers a cached gateway resolves the gateway again, and that another
// route does not.
func TestTrackOwnCover(t *testing.T) {
	dp := &fibtest.Dataplane{}
	dp.SetGateway(gwA, "v0")
	h := newHarness(t, dp, fib.Config{})
	h.run()

	bare := nexthop.Hop{Family: nexthop.FamilyIPv4, Gateway: gwA}
	h.update(route("192.0.2.0/24", "bgp", fib.DistanceEBGP, 20, hops(bare)))
	h.sync()
	if n := dp.Resolves(); n != 1 {
		t.Fatalf("resolves = %d, want 1", n)
	}

	// A route that covers no gateway.
	direct := nexthop.Hop{Family: nexthop.FamilyIPv4, Gateway: gwB, Device: "v0"}
	h.update(route("203.0.113.0/24", "ctl", fib.DistanceGRPC, 20, hops(direct)))
	time.Sleep(50 * time.Millisecond)
	h.sync()
	if n := dp.Resolves(); n != 1 {
		t.Errorf("resolves after a route that covers no gateway = %d, want 1", n)
	}

	// A route of another source to the gateway's network.
	dp.SetGateway(gwA, "v1")
	h.update(route("198.51.100.1/32", "ctl", fib.DistanceGRPC, 20, hops(direct)))
	h.expect(`
id 3000000002 via 198.51.100.2 dev v0 proto fibd
id 3000000003 via 198.51.100.1 dev v1 proto fibd
192.0.2.0/24 nhid 3000000003 proto fibd metric 20
198.51.100.1/32 nhid 3000000002 proto fibd metric 20
203.0.113.0/24 nhid 3000000002 proto fibd metric 20
`)

	if n := dp.Resolves(); n != 2 {
		t.Errorf("resolves after a route that covers the gateway = %d, want 2", n)
	}
}
