package gobgp_test

import (
	"context"
	"net/netip"
	"testing"
	"time"

	"github.com/fibd/fibd/fib"
	"github.com/fibd/fibd/fib/fibtest"
	"github.com/fibd/fibd/gobgp"
	"github.com/fibd/fibd/gobgp/gobgptest"
	"github.com/fibd/fibd/internal/netnstest"
)

// TestFailoverFIB runs a remote-mode source into a real FIB over the fake
// dataplane and counts the dataplane operations when one of two peers of
// every multipath set dies.
func TestFailoverFIB(t *testing.T) {
	netnstest.Privileged(t)
	gobgptest.Binaries(t)

	const n = 10000
	g, p1, p2 := netnstest.New(t), netnstest.New(t), netnstest.New(t)
	link(t, g, p1, 1)
	link(t, g, p2, 2)

	port := randomPort()
	remote := gobgptest.StartGobgpd(t, g, globalYAML(65000, "192.0.2.1", port, true)+
		neighborYAML(peerAddr(1), 65001, port, false)+
		neighborYAML(peerAddr(2), 65002, port, false))
	g1 := startPeer(t, p1, 1, port, false)
	g2 := startPeer(t, p2, 2, port, false)
	ps := prefixes(n)
	announce(t, g1, peerAddr(1), ps)
	announce(t, g2, peerAddr(2), ps)

	dp := &fibtest.Dataplane{}
	dp.SetGateway(netip.MustParseAddr(peerAddr(1)), "v1")
	dp.SetGateway(netip.MustParseAddr(peerAddr(2)), "v2")
	f, err := fib.New(fib.Config{Dataplane: dp})
	if err != nil {
		t.Fatalf("fib.New: %v", err)
	}

	src, err := gobgp.New(gobgp.Options{Mode: gobgp.ModeRemote, RemoteAddress: "unix://" + remote.Socket}, f)
	if err != nil {
		t.Fatalf("gobgp.New: %v", err)
	}

	ctx, cancel := context.WithCancel(context.Background())
	fibDone, srcDone := make(chan error, 1), make(chan error, 1)
	go func() { fibDone <- f.Run(ctx) }()
	go func() { srcDone <- src.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-srcDone; err != nil {
			t.Errorf("source Run: %v", err)
		}

		if err := <-fibDone; err != nil {
			t.Errorf("FIB Run: %v", err)
		}
	})

	waitUntil(t, "every route installed with two next hops", 60*time.Second, func() bool {
		return countWidth(f, 2) == n && f.Stats().Installed == n
	})

	syncFIB(t, f)
	dp.ResetCounts()

	// Peer 1 dies: its next hop leaves the shared group, then each prefix
	// follows with the survivor alone.
	g1.Kill()
	waitUntil(t, "every route with the survivor only", 60*time.Second, func() bool { return countWidth(f, 1) == n })
	syncFIB(t, f)

	writes := dp.Writes()
	t.Logf("%d dataplane operations after the peer of %d multipath routes died", writes, n)

	// One group shrinks in place; the per-prefix updates that follow find
	// the routes already on it. maxOps leaves room for a retried
	// operation, far below one per route.
	const maxOps = 10
	if writes > maxOps {
		t.Errorf("failover took %d dataplane operations, want at most %d: one per group, not one per route", writes, maxOps)
	}

	if st := f.Stats(); st.Installed != n || st.Failed != 0 {
		t.Errorf("FIB stats after failover: %d installed, %d failed; want %d installed", st.Installed, st.Failed, n)
	}

	// Peer 1 returns.
	dp.ResetCounts()
	g1 = startPeer(t, p1, 1, port, false)
	announce(t, g1, peerAddr(1), ps)
	waitUntil(t, "every route with two next hops again", 60*time.Second, func() bool { return countWidth(f, 2) == n })
	syncFIB(t, f)

	// NOTE: the FIB moves each route to a new group when the peer
	// returns (one operation per route), so only the count is logged.
	t.Logf("%d dataplane operations after the peer returned", dp.Writes())

	if st := f.Stats(); st.Installed != n || st.Failed != 0 {
		t.Errorf("FIB stats after the return: %d installed, %d failed; want %d installed", st.Installed, st.Failed, n)
	}
}

// countWidth returns the number of BGP routes whose selected candidate has
// width next hops.
func countWidth(f *fib.FIB, width int) int {
	n := 0
	f.Routes(fib.Filter{Source: gobgp.SourceName}, func(rs fib.RouteState) bool {
		if len(rs.Candidates) > 0 && len(rs.Candidates[0].NextHops.Members) == width {
			n++
		}

		return true
	})

	return n
}

func syncFIB(t *testing.T, f *fib.FIB) {
	t.Helper()

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	if err := f.Sync(ctx); err != nil {
		t.Fatalf("FIB Sync: %v", err)
	}
}
