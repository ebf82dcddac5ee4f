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

	dir := t.TempDir()
	ns := netnstest.New(t)
	peer := netnstest.New(t)
	ns.Veth("up0", peer, "down0")
	ns.IP("addr", "add", "192.0.2.1/24", "dev", "up0")
	peer.IP("addr", "add", testGateway+"/24", "dev", "down0")

	h := &fibdHarness{
		t:      t,
		ns:     ns,
		bin:    buildFibd(t, dir),
		config: filepath.Join(dir, "fibd.yaml"),
		socket: filepath.Join(dir, "fibd.sock"),
	}
	writeFile(t, h.config, fmt.Sprintf("kernel: {protocol-names-dir: \"\"}\napi: {socket: %s}\nmetrics: {address: \"\"}\n%s", h.socket, extra))

	return h
}

func TestDaemonRejectedAdd(t *testing.T) {
	netnstest.Privileged(t)

	h := newRouterHarness(t, "")
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

	if out := h.mustClient("route", "list", testPrefix); !strings.Contains(out, "via "+testGateway) {
		t.Errorf("route list after rejected adds lacks the working route:\n%s", out)
	}

	if out, err := h.client("verify"); err != nil {
		t.Errorf("fibd verify after rejected adds: %v\n%s", err, out)
	}
}
