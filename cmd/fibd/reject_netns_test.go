package main

import (
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/fibd/fibd/internal/netnstest"
)

// newRouterHarness returns a harness for a namespace with up0
// 192.0.2.1/24 towards a peer at testGateway, with a config that has no
// metrics listener and the given extra lines.
func newRouterHarness(t *testing.T, extra string) *fibdHarness {
	t.Helper()

	ns := netnstest.New(t)
	peer := netnstest.New(t)
	ns.Veth("up0", peer, "down0")
	ns.IP("addr", "add", "192.0.2.1/24", "dev", "up0")
	peer.IP("addr", "add", testGateway+"/24", "dev", "down0")

	h := harnessIn(t, ns)
	writeFile(t, h.config, fmt.Sprintf("kernel: {protocol-names-dir: \"\"}\napi: {socket: %s}\nmetrics: {address: \"\"}\n%s", h.socket, extra))

	return h
}

// harnessIn returns a harness for fibd built into a temporary folder, with
// its config and API socket there, running in ns. The caller writes the
// config.
func harnessIn(t *testing.T, ns *netnstest.NS) *fibdHarness {
	t.Helper()

	dir := t.TempDir()

	return &fibdHarness{
		t:      t,
		ns:     ns,
		bin:    buildFibd(t, dir),
		config: filepath.Join(dir, "fibd.yaml"),
		socket: filepath.Join(dir, "fibd.sock"),
	}
}

func TestDaemonRejectedAdd(t *testing.T) {
	netnstest.Privileged(t)

	h := newRouterHarness(t, "")
	h.ns.IP("route", "add", "blackhole", "203.0.113.64/27")
	h.ns.IP("route", "add", "unreachable", "203.0.113.96/27")
	h.ns.IP("route", "add", "prohibit", "203.0.113.128/27")
	h.start()
	h.mustClient("route", "add", testPrefix, "via", testGateway)
	waitFor(t, "the route in the kernel", 10*time.Second, func() bool { return len(showRoute(h.ns)) == 1 })
	before := showRoute(h.ns)[0]

	cases := []struct {
		gateway string
		want    string
	}{
		{"192.0.2.1", "gateway 192.0.2.1 is a local address of this host"},
		{"127.0.0.1", "gateway 127.0.0.1 is a local address of this host"},
		{"203.0.113.9", "no route to gateway 203.0.113.9"},
		{"203.0.113.70", "a blackhole route or rule covers gateway 203.0.113.70 (netlink receive: invalid argument); set the next hop's device, or use a gateway that a unicast route reaches"},
		{"203.0.113.100", "an unreachable route covers gateway 203.0.113.100 (netlink receive: no route to host); set the next hop's device"},
		{"203.0.113.130", "a prohibit route or rule covers gateway 203.0.113.130 (netlink receive: permission denied); set the next hop's device"},
	}
	for _, c := range cases {
		out, err := h.client("route", "add", testPrefix, "via", c.gateway)
		if err == nil || !strings.Contains(out, c.want) {
			t.Errorf("route add via %s: err %v, output %q, want a failure containing %q", c.gateway, err, out, c.want)
		}

		if routes := showRoute(h.ns); len(routes) != 1 || routes[0] != before {
			t.Fatalf("after the rejected add via %s the kernel has %+v, want %+v kept", c.gateway, routes, before)
		}
	}

	// With a device, the kernel's Resolve checks only the device, and the
	// daemon checks local gateways itself.
	for _, c := range cases[:2] {
		out, err := h.client("route", "add", testPrefix, "via", c.gateway, "dev", "up0")
		if err == nil || !strings.Contains(out, c.want) {
			t.Errorf("route add via %s: err %v, output %q, want a failure containing %q", c.gateway, err, out, c.want)
		}

		if routes := showRoute(h.ns); len(routes) != 1 || routes[0] != before {
			t.Fatalf("after the rejected add via %s the kernel has %+v, want %+v kept", c.gateway, routes, before)
		}
	}

	out, err := h.client("route", "add", testPrefix, "via", testGateway, "dev", "nosuch0")
	if err == nil || !strings.Contains(out, `unknown interface "nosuch0"`) {
		t.Errorf("route add via dev nosuch0: err %v, output %q, want a failure naming the interface", err, out)
	}

	if out := h.mustClient("route", "list", testPrefix); !strings.Contains(out, "via "+testGateway) {
		t.Errorf("route list after rejected adds lacks the working route:\n%s", out)
	}

	if out, err := h.client("verify"); err != nil {
		t.Errorf("fibd verify after rejected adds: %v\n%s", err, out)
	}
}

// TestDaemonGatewayBlackholed turns the route to an installed route's
// recursive gateway into a blackhole and checks that route list explains
// why the route left the kernel.
func TestDaemonGatewayBlackholed(t *testing.T) {
	netnstest.Privileged(t)

	h := newRouterHarness(t, "")
	h.ns.IP("route", "add", "203.0.113.192/26", "via", testGateway)
	h.start()
	h.mustClient("route", "add", testPrefix, "via", "203.0.113.200")
	waitFor(t, "the route in the kernel", 10*time.Second, func() bool { return len(showRoute(h.ns)) == 1 })

	h.ns.IP("route", "replace", "blackhole", "203.0.113.192/26")
	want := "a blackhole route or rule covers gateway 203.0.113.200 (netlink receive: invalid argument); set the next hop's device, or use a gateway that a unicast route reaches"

	var out string
	waitFor(t, "route list to explain the blackholed gateway", 10*time.Second, func() bool {
		out = h.mustClient("route", "list", testPrefix)

		return strings.Contains(out, want)
	})

	if !strings.Contains(out, "source cli distance 10 failed ") {
		t.Errorf("route list:\n%s\nwant the route marked failed", out)
	}

	if routes := showRoute(h.ns); len(routes) != 0 {
		t.Errorf("the kernel still routes %s via the blackholed gateway: %+v", testPrefix, routes)
	}
}

func TestDaemonSecondInstance(t *testing.T) {
	netnstest.Privileged(t)

	h := newRouterHarness(t, "")
	first := h.start()
	h.mustClient("route", "add", testPrefix, "via", testGateway)
	waitFor(t, "the route in the kernel", 10*time.Second, func() bool { return len(showRoute(h.ns)) == 1 })
	before := showRoute(h.ns)[0]

	// The second instance has its own API socket, so only the instance
	// lock stops it.
	secondConfig := filepath.Join(t.TempDir(), "fibd2.yaml")
	writeFile(t, secondConfig, fmt.Sprintf("kernel: {protocol-names-dir: \"\"}\napi: {socket: %s}\nmetrics: {address: \"\"}\n", filepath.Join(filepath.Dir(secondConfig), "fibd2.sock")))

	start := time.Now()
	second := startProcess(t, h.ns.Command(h.bin, "run", "--config", secondConfig))
	select {
	case <-second.done:
	case <-time.After(10 * time.Second):
		t.Fatalf("second fibd still runs after 10s, want it to exit at start:\n%s", second.out)
	}

	if second.err == nil {
		t.Errorf("second fibd exited with status 0, want a failure")
	}

	want := fmt.Sprintf("another fibd with protocol 201 runs in this network namespace (pid %d)", first.cmd.Process.Pid)
	if !strings.Contains(second.out.String(), want) {
		t.Errorf("second fibd output lacks %q:\n%s", want, second.out)
	}

	if elapsed := time.Since(start); elapsed > 5*time.Second {
		t.Errorf("second fibd took %s to fail, want it to fail fast", elapsed)
	}

	if !first.running() {
		t.Fatalf("first fibd exited: %v\n%s", first.err, first.out)
	}

	if routes := showRoute(h.ns); len(routes) != 1 || routes[0] != before {
		t.Errorf("after the second start the kernel has %+v, want %+v kept", routes, before)
	}

	if out, err := h.client("verify"); err != nil {
		t.Errorf("fibd verify on the first instance: %v\n%s", err, out)
	}
}

func TestDaemonVerifyUnresolved(t *testing.T) {
	netnstest.Privileged(t)

	h := newRouterHarness(t, "")
	h.start()
	h.mustClient("route", "add", testPrefix, "via", testGateway, "dev", "up0")
	waitFor(t, "the route in the kernel", 10*time.Second, func() bool { return len(showRoute(h.ns)) == 1 })

	// The link going down takes the only next hop with it.
	h.ns.IP("link", "set", "up0", "down")
	want := "missing route " + testPrefix + " table 254 metric 0: unresolved"

	var out string
	waitFor(t, "verify to list the unresolved route", 10*time.Second, func() bool {
		var err error
		out, err = h.client("verify")

		return err != nil && strings.Contains(out, want)
	})

	if !strings.Contains(out, "not in sync: 1 differences") {
		t.Errorf("verify output:\n%s\nwant one difference", out)
	}
}
