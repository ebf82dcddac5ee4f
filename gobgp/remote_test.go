package gobgp_test

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/netip"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/fibd/fibd/fib"
	"github.com/fibd/fibd/gobgp"
	"github.com/fibd/fibd/gobgp/gobgptest"
	"github.com/fibd/fibd/internal/netnstest"
)

// countSink keeps the candidate routes and counts the calls.
type countSink struct {
	mu        sync.Mutex
	routes    map[fib.Key]fib.Route
	updates   int
	withdraws int
	withdrawn []netip.Prefix
	converged bool
}

func newCountSink() *countSink {
	return &countSink{routes: make(map[fib.Key]fib.Route)}
}

func (c *countSink) Update(routes []fib.Route) []error {
	c.mu.Lock()
	defer c.mu.Unlock()

	for _, r := range routes {
		c.routes[r.Key()] = r
	}

	c.updates += len(routes)

	return make([]error, len(routes))
}

func (c *countSink) Withdraw(source string, keys []fib.Key) {
	c.mu.Lock()
	defer c.mu.Unlock()

	for _, k := range keys {
		delete(c.routes, k)
		c.withdrawn = append(c.withdrawn, k.Prefix)
	}

	c.withdraws += len(keys)
}

func (c *countSink) SetGatewayDown(addr netip.Addr, reason string, down bool) {}

func (c *countSink) Converged(source string) {
	c.mu.Lock()
	defer c.mu.Unlock()

	c.converged = true
}

func (c *countSink) len() int {
	c.mu.Lock()
	defer c.mu.Unlock()

	return len(c.routes)
}

// unixProxy forwards connections from a Unix socket to another, and can
// cut them to simulate a lost connection to gobgpd.
type unixProxy struct {
	ln     net.Listener
	target string

	mu     sync.Mutex
	conns  []net.Conn
	paused bool
}

func startProxy(t *testing.T, target string) *unixProxy {
	t.Helper()

	ln, err := net.Listen("unix", t.TempDir()+"/proxy.sock")
	if err != nil {
		t.Fatalf("listen: %v", err)
	}

	p := &unixProxy{ln: ln, target: target}
	go p.serve()
	t.Cleanup(func() {
		ln.Close()
		p.cut()
	})

	return p
}

func (p *unixProxy) addr() string { return "unix://" + p.ln.Addr().String() }

func (p *unixProxy) serve() {
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}

		p.mu.Lock()
		if p.paused {
			p.mu.Unlock()
			c.Close()

			continue
		}

		up, err := net.Dial("unix", p.target)
		if err != nil {
			p.mu.Unlock()
			c.Close()

			continue
		}

		p.conns = append(p.conns, c, up)
		p.mu.Unlock()

		go func() { _, _ = io.Copy(up, c); up.Close() }()
		go func() { _, _ = io.Copy(c, up); c.Close() }()
	}
}

// cut closes every forwarded connection and rejects new ones until
// resume.
func (p *unixProxy) cut() {
	p.mu.Lock()
	defer p.mu.Unlock()

	p.paused = true
	for _, c := range p.conns {
		c.Close()
	}

	p.conns = nil
}

// retarget forwards new connections to another socket.
func (p *unixProxy) retarget(target string) {
	p.mu.Lock()
	defer p.mu.Unlock()

	p.target = target
}

func (p *unixProxy) resume() {
	p.mu.Lock()
	defer p.mu.Unlock()

	p.paused = false
}

func waitUntil(t *testing.T, what string, timeout time.Duration, cond func() bool) {
	t.Helper()

	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", timeout, what)
		}

		time.Sleep(20 * time.Millisecond)
	}
}

func TestRemoteResync(t *testing.T) {
	netnstest.Privileged(t)
	gobgptest.Binaries(t)

	const n = 10000
	g, p1 := netnstest.New(t), netnstest.New(t)
	link(t, g, p1, 1)

	port := randomPort()
	remote := gobgptest.StartGobgpd(t, g, globalYAML(65000, "192.0.2.1", port, true)+neighborYAML(peerAddr(1), 65001, port, false))
	peer := startPeer(t, p1, 1, port, false)
	ps := prefixes(n)
	announce(t, peer, peerAddr(1), ps)

	proxy := startProxy(t, remote.Socket)
	sink := newCountSink()
	src, err := gobgp.New(gobgp.Options{Mode: gobgp.ModeRemote, RemoteAddress: proxy.addr(), ConvergenceTimeout: time.Minute}, sink)
	if err != nil {
		t.Fatalf("New: %v", err)
	}

	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- src.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
	})

	start := time.Now()
	waitUntil(t, "the full table", 60*time.Second, func() bool { return sink.len() == n })
	t.Logf("%d routes from gobgpd after %s", n, time.Since(start).Round(time.Millisecond))

	// The connection to gobgpd breaks; meanwhile the peer withdraws 10
	// prefixes and announces 5 new ones.
	proxy.cut()
	waitUntil(t, "the source to notice", 10*time.Second, func() bool { return !src.Status().Connected })

	sink.mu.Lock()
	updates, withdraws := sink.updates, sink.withdraws
	sink.mu.Unlock()

	ctxOp, cancelOp := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancelOp()

	removed := ps[:10]
	if err := peer.Withdraw(ctxOp, netip.MustParseAddr(peerAddr(1)), removed); err != nil {
		t.Fatalf("withdraw: %v", err)
	}

	added := make([]netip.Prefix, 5)
	for i := range added {
		added[i] = netip.MustParsePrefix(fmt.Sprintf("2001:db8:2:%x::/64", i))
	}

	announce(t, peer, peerAddr(1), added)
	waitUntil(t, "gobgpd to learn the change", 10*time.Second, func() bool {
		accepted, err := remote.Accepted(ctxOp)
		return err == nil && accepted == n-len(removed)+len(added)
	})

	proxy.resume()
	waitUntil(t, "the resynchronised table", 30*time.Second, func() bool {
		return sink.len() == n-len(removed)+len(added) && src.Status().Connected && src.Status().Synced
	})

	sink.mu.Lock()
	defer sink.mu.Unlock()

	if got := sink.updates - updates; got != len(added) {
		t.Errorf("resync offered %d routes, want only the %d new ones", got, len(added))
	}

	if got := sink.withdraws - withdraws; got != len(removed) {
		t.Errorf("resync withdrew %d routes, want only the %d removed: %v", got, len(removed), sink.withdrawn)
	}

	for _, p := range removed {
		if _, ok := sink.routes[fib.Key{Table: fib.TableMain, Prefix: p}]; ok {
			t.Errorf("withdrawn prefix %s still offered", p)
		}
	}

	st := src.Status()
	if st.Routes != n-len(removed)+len(added) {
		t.Errorf("status routes = %d, want %d", st.Routes, n-len(removed)+len(added))
	}

	if len(st.Peers) != 1 {
		t.Fatalf("status peers = %+v, want one", st.Peers)
	}

	if p := st.Peers[0]; p.State != "ESTABLISHED" || p.AS != 65001 || p.Accepted != uint64(st.Routes) || p.Uptime <= 0 {
		t.Errorf("status peer = %+v, want established AS 65001 with %d accepted and an uptime", p, st.Routes)
	}
}

func TestRemoteRestart(t *testing.T) {
	netnstest.Privileged(t)
	gobgptest.Binaries(t)

	const n = 10000
	g, p1 := netnstest.New(t), netnstest.New(t)
	link(t, g, p1, 1)

	port := randomPort()
	config := globalYAML(65000, "192.0.2.1", port, true) + neighborYAML(peerAddr(1), 65001, port, false)
	remote := gobgptest.StartGobgpd(t, g, config)
	peer := startPeer(t, p1, 1, port, false)
	ps := prefixes(n)
	announce(t, peer, peerAddr(1), ps)

	proxy := startProxy(t, remote.Socket)
	sink := newCountSink()
	src, err := gobgp.New(gobgp.Options{Mode: gobgp.ModeRemote, RemoteAddress: proxy.addr(), ConvergenceTimeout: time.Minute}, sink)
	if err != nil {
		t.Fatalf("New: %v", err)
	}

	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- src.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
	})

	waitUntil(t, "the full table", 60*time.Second, func() bool { return sink.len() == n })

	// gobgpd restarts with an empty table; while it is down, the peer
	// withdraws 10 prefixes, which must be the only routes withdrawn.
	remote.Kill()
	waitUntil(t, "the source to notice", 10*time.Second, func() bool { return !src.Status().Connected })

	sink.mu.Lock()
	updates, withdraws := sink.updates, sink.withdraws
	sink.withdrawn = nil
	sink.mu.Unlock()

	ctxOp, cancelOp := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancelOp()

	removed := ps[:10]
	if err := peer.Withdraw(ctxOp, netip.MustParseAddr(peerAddr(1)), removed); err != nil {
		t.Fatalf("withdraw: %v", err)
	}

	restarted := time.Now()
	remote = gobgptest.StartGobgpd(t, g, config)
	proxy.retarget(remote.Socket)
	waitUntil(t, "the table after the restart", 60*time.Second, func() bool {
		return sink.len() == n-len(removed) && src.Status().Connected && src.Status().Synced
	})
	t.Logf("table complete %s after the restart", time.Since(restarted).Round(time.Millisecond))

	sink.mu.Lock()
	defer sink.mu.Unlock()

	if got := sink.withdraws - withdraws; got != len(removed) {
		t.Errorf("restart withdrew %d routes, want only the %d removed: %v", got, len(removed), sink.withdrawn[:min(len(sink.withdrawn), 20)])
	}

	for _, p := range sink.withdrawn {
		if !slices.Contains(removed, p) {
			t.Errorf("prefix %s withdrawn during the restart, but announced again", p)

			break
		}
	}

	if got := sink.updates - updates; got != 0 {
		t.Errorf("restart offered %d routes again, want 0: their member sets did not change", got)
	}
}
