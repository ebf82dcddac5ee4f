package main

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net/netip"
	"os/exec"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/fibd/fibd/gobgp/gobgptest"
	"github.com/fibd/fibd/internal/netnstest"
)

// TestDaemonBGPRestartKeepsECMP restarts fibd over a table that two BGP
// peers announce with multipath. The peers return one after the other.
// The BGP source defers its routes until it has converged, here at the
// convergence timeout because the peers send no End-of-RIB without
// graceful restart. So the restart neither rewrites a route nor touches a
// nexthop object, as `ip monitor` watching across it shows.
func TestDaemonBGPRestartKeepsECMP(t *testing.T) {
	netnstest.Privileged(t)
	gobgptest.Binaries(t)

	ns := netnstest.New(t)
	port := 20000 + rand.IntN(30000)
	var peers []*gobgptest.Gobgpd
	var neighbors strings.Builder
	for i := 1; i <= 2; i++ {
		peer := netnstest.New(t)
		routerAddr, peerAddr := fmt.Sprintf("2001:db8:ff:%d::1", i), fmt.Sprintf("2001:db8:ff:%d::2", i)
		dev := fmt.Sprintf("v%d", i)
		ns.Veth(dev, peer, "e0")
		ns.IP("-6", "addr", "add", routerAddr+"/64", "dev", dev, "nodad")
		peer.IP("-6", "addr", "add", peerAddr+"/64", "dev", "e0", "nodad")

		peers = append(peers, gobgptest.StartGobgpd(t, peer, fmt.Sprintf(`global:
  config: {as: %d, router-id: 192.0.2.%d, port: %d}
neighbors:
  - config: {neighbor-address: "%s", peer-as: 65000}
    transport: {config: {remote-port: %d, passive-mode: true}}
    timers: {config: {connect-retry: 1, idle-hold-time-after-reset: 1}}
`, 65000+i, 10+i, port, routerAddr, port)))
		fmt.Fprintf(&neighbors, `    - config: {neighbor-address: "%s", peer-as: %d}
      transport: {config: {remote-port: %d}}
      timers: {config: {connect-retry: 1, idle-hold-time-after-reset: 1}}
      afi-safis: [{config: {afi-safi-name: ipv6-unicast}}]
`, peerAddr, 65000+i, port)
	}

	prefixes := make([]netip.Prefix, 200)
	for i := range prefixes {
		prefixes[i] = netip.MustParsePrefix(fmt.Sprintf("2001:db8:1:%x::/64", i))
	}

	for i, g := range peers {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		err := g.Announce(ctx, netip.MustParseAddr(fmt.Sprintf("2001:db8:ff:%d::2", i+1)), prefixes)
		cancel()
		if err != nil {
			t.Fatalf("announce from peer %d: %v", i+1, err)
		}
	}

	h := harnessIn(t, ns)
	writeFile(t, h.config, fmt.Sprintf(`kernel: {protocol-names-dir: ""}
api: {socket: %s}
metrics: {address: ""}
gobgp: {convergence-timeout: 10s}
bgp:
  global:
    config: {as: 65000, router-id: 192.0.2.1, port: -1}
    use-multiple-paths: {config: {enabled: true}}
  neighbors:
%s`, h.socket, neighbors.String()))

	first := h.start()
	converged := regexp.MustCompile(`installed 200, failed 0, unresolved 0, conflicts 0, pending 0`)
	overBoth := regexp.MustCompile(`(?m)^id \d+ group .* refs 200$`)
	waitFor(t, "every route over a group of both peers", 60*time.Second, func() bool {
		return converged.MatchString(h.mustClient("status")) && overBoth.MatchString(h.mustClient("nexthop", "list"))
	})

	if err := first.stop(t, syscall.SIGTERM); err != nil {
		t.Fatalf("fibd exited with %v after SIGTERM\n%s", err, first.out)
	}

	monitor := startProcess(t, exec.Command("ip", "-n", ns.Name, "monitor", "route", "nexthop"))
	marker := 0
	waitFor(t, "ip monitor to print a marker route", 10*time.Second, func() bool {
		if strings.Contains(monitor.out.String(), "2001:db8:ff:9::") {
			return true
		}

		marker++
		ns.IP("-6", "route", "add", fmt.Sprintf("2001:db8:ff:9::%x/128", marker), "dev", "v1", "proto", "static")

		return false
	})

	second := h.start()
	waitFor(t, "BGP convergence after the restart", 60*time.Second, func() bool {
		return regexp.MustCompile(`bgp converged +true`).MatchString(h.mustClient("status"))
	})
	waitFor(t, "every route offered again over both peers", 30*time.Second, func() bool {
		return converged.MatchString(h.mustClient("status")) && overBoth.MatchString(h.mustClient("nexthop", "list"))
	})

	if !strings.Contains(second.out.String(), "bgp offered the table deferred until convergence") {
		t.Errorf("the BGP source did not defer its routes after the restart:\n%s", second.out)
	}

	for _, line := range strings.Split(monitor.out.String(), "\n") {
		if strings.Contains(line, "2001:db8:1:") || strings.Contains(line, "group") {
			t.Errorf("the restart changed the kernel: %s", line)
		}
	}

	if err := second.stop(t, syscall.SIGTERM); err != nil {
		t.Fatalf("fibd exited with %v after SIGTERM\n%s", err, second.out)
	}
}
