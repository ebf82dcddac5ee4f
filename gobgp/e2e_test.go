package gobgp_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net/netip"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/fibd/fibd/gobgp/gobgptest"
	"github.com/fibd/fibd/internal/netnstest"
)

// Addresses of the links between the router (namespace r) and peer i:
// 2001:db8:ff:i::1 on the router's interface vi, 2001:db8:ff:i::2 on the
// peer's interface e0.
func routerAddr(i int) string {
	return netip.MustParseAddr(fmt.Sprintf("2001:db8:ff:%d::1", i)).String()
}

func peerAddr(i int) string {
	return netip.MustParseAddr(fmt.Sprintf("2001:db8:ff:%d::2", i)).String()
}

// randomPort returns a port for BGP inside the test's fresh namespaces.
func randomPort() int { return 20000 + rand.IntN(30000) }

// link connects the router namespace to peer i's namespace.
func link(t *testing.T, r, p *netnstest.NS, i int) {
	t.Helper()

	dev := fmt.Sprintf("v%d", i)
	r.Veth(dev, p, "e0")
	r.IP("-6", "addr", "add", routerAddr(i)+"/64", "dev", dev, "nodad")
	p.IP("-6", "addr", "add", peerAddr(i)+"/64", "dev", "e0", "nodad")
	p.IP("-6", "addr", "add", "fe80::2/64", "dev", "e0", "nodad")
}

// neighborYAML is a GoBGP neighbor that retries quickly.
func neighborYAML(addr string, as, port int, gr bool) string {
	return neighborModeYAML(addr, as, port, gr, false)
}

// passiveNeighborYAML is a neighbor that waits for the other side to
// connect. When both sides connect, GoBGP's 5-second idle hold after a
// failed attempt can keep each side rejecting the other's connection.
func passiveNeighborYAML(addr string, as, port int, gr bool) string {
	return neighborModeYAML(addr, as, port, gr, true)
}

func neighborModeYAML(addr string, as, port int, gr, passive bool) string {
	s := fmt.Sprintf(`
  - config:
      neighbor-address: "%s"
      peer-as: %d
    transport:
      config:
        remote-port: %d
        passive-mode: %t
    timers:
      config:
        connect-retry: 1
        idle-hold-time-after-reset: 1
`, addr, as, port, passive)
	if gr {
		s += `    graceful-restart:
      config:
        enabled: true
    afi-safis:
      - config:
          afi-safi-name: ipv6-unicast
        mp-graceful-restart:
          config:
            enabled: true
`
	}

	return s
}

func globalYAML(as int, routerID string, port int, multipath bool) string {
	s := fmt.Sprintf(`global:
  config:
    as: %d
    router-id: %s
    port: %d
`, as, routerID, port)
	if multipath {
		s += `  use-multiple-paths:
    config:
      enabled: true
`
	}

	return s + "neighbors:"
}

// startPeer starts gobgpd as peer i (AS 65000+i) of the router.
func startPeer(t *testing.T, ns *netnstest.NS, i, port int, gr bool) *gobgptest.Gobgpd {
	t.Helper()

	config := globalYAML(65000+i, fmt.Sprintf("192.0.2.%d", 10+i), port, false) +
		passiveNeighborYAML(routerAddr(i), 65000, port, gr)

	return gobgptest.StartGobgpd(t, ns, config)
}

// prefixes returns n IPv6 /64 prefixes under 2001:db8:1::/48.
func prefixes(n int) []netip.Prefix {
	out := make([]netip.Prefix, n)
	for i := range out {
		out[i] = netip.MustParsePrefix(fmt.Sprintf("2001:db8:1:%x::/64", i))
	}

	return out
}

func announce(t *testing.T, g *gobgptest.Gobgpd, nexthop string, ps []netip.Prefix) {
	t.Helper()

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	if err := g.Announce(ctx, netip.MustParseAddr(nexthop), ps); err != nil {
		t.Fatalf("announce %d prefixes: %v", len(ps), err)
	}
}

func TestEmbeddedMultipath(t *testing.T) {
	netnstest.Privileged(t)
	gobgptest.Binaries(t)

	const n = 10000
	r, p1, p2 := netnstest.New(t), netnstest.New(t), netnstest.New(t)
	link(t, r, p1, 1)
	link(t, r, p2, 2)

	port := randomPort()
	rt := startRouter(t, r, globalYAML(65000, "192.0.2.1", port, true)+
		neighborYAML(peerAddr(1), 65001, port, false)+
		neighborYAML(peerAddr(2), 65002, port, false))

	g1 := startPeer(t, p1, 1, port, false)
	g2 := startPeer(t, p2, 2, port, false)
	ps := prefixes(n)
	// The peers originate the paths with their own address as next hop.
	announce(t, g1, peerAddr(1), ps)
	announce(t, g2, peerAddr(2), ps)

	both := fmt.Sprintf("nexthop via %s weight 1 nexthop via %s weight 1", peerAddr(1), peerAddr(2))
	survivor := "via " + peerAddr(2)
	start := time.Now()
	rt.wait("every prefix with both next hops", 60*time.Second, func() bool { return rt.countVia(both) == n })
	t.Logf("%d prefixes with 2 next hops after %s", n, time.Since(start).Round(time.Millisecond))

	// Peer 1 dies: its next hop must go down before the first route that
	// loses it.
	mark := rt.mark()
	g1.Kill()
	rt.wait("every prefix with the survivor only", 60*time.Second, func() bool { return rt.countVia(survivor) == n })

	checkDownFirst(t, rt.linesSince(mark), peerAddr(1))

	// Peer 1 returns.
	mark = rt.mark()
	g1 = startPeer(t, p1, 1, port, false)
	announce(t, g1, peerAddr(1), ps)
	rt.wait("every prefix with both next hops again", 60*time.Second, func() bool { return rt.countVia(both) == n })

	if !contains(rt.linesSince(mark), "gateway\t"+peerAddr(1)+"\tup") {
		t.Errorf("next hop %s not marked up after its peer returned", peerAddr(1))
	}
}

func TestEmbeddedStopKeepsHops(t *testing.T) {
	netnstest.Privileged(t)
	gobgptest.Binaries(t)

	r, p1 := netnstest.New(t), netnstest.New(t)
	link(t, r, p1, 1)

	port := randomPort()
	rt := startRouter(t, r, globalYAML(65000, "192.0.2.1", port, false)+neighborYAML(peerAddr(1), 65001, port, false))
	g1 := startPeer(t, p1, 1, port, false)
	ps := prefixes(100)
	announce(t, g1, peerAddr(1), ps)
	rt.wait("every prefix", 60*time.Second, func() bool { return rt.countVia("via "+peerAddr(1)) == len(ps) })

	// Stopping the speaker ends the session, but the peer is not lost:
	// its next hop must stay up so that the routes stay in the kernel.
	mark := rt.mark()
	rt.stop()

	if contains(rt.linesSince(mark), "gateway\t"+peerAddr(1)+"\tdown") {
		t.Errorf("next hop %s marked down when the speaker stopped: %v", peerAddr(1), rt.linesSince(mark))
	}
}

// checkDownFirst checks that lines mark gateway down before any route
// update without it.
func checkDownFirst(t *testing.T, lines []string, gateway string) {
	t.Helper()

	down := "gateway\t" + gateway + "\tdown"
	for i, l := range lines {
		if l == down {
			t.Logf("gateway %s marked down after %d other lines", gateway, i)

			return
		}

		if strings.HasPrefix(l, "update\t") && !strings.Contains(l, gateway) {
			t.Fatalf("line %d updates a route without %s before the gateway went down: %s", i, gateway, l)
		}
	}

	t.Fatalf("gateway %s never marked down", gateway)
}

func contains(lines []string, want string) bool {
	for _, l := range lines {
		if l == want {
			return true
		}
	}

	return false
}

func TestEmbeddedLinkLocal(t *testing.T) {
	netnstest.Privileged(t)
	gobgptest.Binaries(t)

	r, p1 := netnstest.New(t), netnstest.New(t)
	link(t, r, p1, 0)

	port := randomPort()
	api := "unix://" + t.TempDir() + "/router.sock"
	rt := startRouter(t, r, globalYAML(65000, "192.0.2.1", port, true)+neighborYAML(peerAddr(0), 65000, port, true),
		routerTimeoutEnv+"=60s", routerAPIEnv+"="+api)

	g := gobgptest.StartGobgpd(t, p1, globalYAML(65000, "192.0.2.10", port, false)+passiveNeighborYAML(routerAddr(0), 65000, port, true))
	announce(t, g, "fe80::2", []netip.Prefix{netip.MustParsePrefix("2001:db8:2::/48")})
	announce(t, g, peerAddr(0), []netip.Prefix{netip.MustParsePrefix("2001:db8:3::/48")})

	rt.wait("both routes", 30*time.Second, func() bool { return len(rt.routes) == 2 })

	// The gobgp command works against the embedded speaker's API.
	_, gobgpCmd := gobgptest.Binaries(t)
	out, err := exec.Command(gobgpCmd, "--target", api, "global", "rib", "-a", "ipv6").CombinedOutput()
	if err != nil {
		t.Fatalf("gobgp global rib: %v\n%s", err, out)
	}

	if !strings.Contains(string(out), "2001:db8:2::/48") {
		t.Errorf("gobgp global rib does not list 2001:db8:2::/48:\n%s", out)
	}

	rt.mu.Lock()
	defer rt.mu.Unlock()

	if got, want := rt.routes["2001:db8:2::/48"], "via fe80::2 dev v0"; got != want {
		t.Errorf("2001:db8:2::/48 %s, want %s", got, want)
	}

	if got, want := rt.routes["2001:db8:3::/48"], "via "+peerAddr(0); got != want {
		t.Errorf("2001:db8:3::/48 %s, want %s", got, want)
	}

	// An iBGP session with graceful restart sends End-of-RIB, long before
	// the 60 s timeout.
	if !contains(rt.lines, "converged") {
		rt.mu.Unlock()
		rt.wait("convergence", 20*time.Second, func() bool { return contains(rt.lines, "converged") })
		rt.mu.Lock()
	}

	for _, l := range rt.lines {
		if strings.HasPrefix(l, "update\t2001:db8:3::/48") && !strings.HasSuffix(l, "\t200") {
			t.Errorf("iBGP route with a distance other than 200: %s", l)
		}
	}
}

func TestExabgpPeer(t *testing.T) {
	netnstest.Privileged(t)
	if _, err := os.Stat("/usr/sbin/exabgp"); err != nil {
		if os.Getenv("FIBD_REQUIRE_PRIVILEGED") == "1" {
			t.Fatalf("exabgp is not installed (%v): run scripts/setup", err)
		}

		t.Skipf("skipping: exabgp is not installed (%v): run scripts/setup", err)
	}

	r, x := netnstest.New(t), netnstest.New(t)
	link(t, r, x, 1)

	port := randomPort()
	rt := startRouter(t, r, globalYAML(65000, "192.0.2.1", port, true)+neighborYAML(peerAddr(1), 65021, port, false))

	config := writeTemp(t, "exabgp.conf", fmt.Sprintf(`
neighbor %s {
    router-id 192.0.2.21;
    local-address %s;
    local-as 65021;
    peer-as 65000;
    connect %d;
    listen %d;
    family {
        ipv6 unicast;
    }
    static {
        route 2001:db8:21::/48 next-hop self;
        route 2001:db8:22::/48 next-hop %s;
        route 2001:db8:23::/48 next-hop fe80::2;
    }
}
`, routerAddr(1), peerAddr(1), port, port, peerAddr(1)))

	cmd := x.Command("/usr/sbin/exabgp", config)
	cmd.Env = append(os.Environ(),
		"exabgp_daemon_user=root",
		"exabgp_daemon_drop=false",
		"exabgp_api_cli=false",
		"exabgp_log_destination=stdout",
		"exabgp_tcp_bind=",
	)

	out := &lockedWriter{w: &strings.Builder{}}
	cmd.Stdout = out
	cmd.Stderr = out
	if err := cmd.Start(); err != nil {
		t.Fatalf("start exabgp: %v", err)
	}

	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		if t.Failed() {
			t.Logf("exabgp output:\n%s", out.w.(*strings.Builder).String())
		}
	})

	rt.wait("exabgp's routes", 60*time.Second, func() bool { return len(rt.routes) == 3 })

	rt.mu.Lock()
	defer rt.mu.Unlock()

	want := map[string]string{
		"2001:db8:21::/48": "via " + peerAddr(1),
		"2001:db8:22::/48": "via " + peerAddr(1),
		"2001:db8:23::/48": "via fe80::2 dev v1",
	}
	for prefix, hops := range want {
		if got := rt.routes[prefix]; got != hops {
			t.Errorf("%s %s, want %s", prefix, got, hops)
		}
	}
}
