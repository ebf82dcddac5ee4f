package server

import (
	"context"
	"fmt"
	"net/netip"
	"strings"
	"sync"
	"testing"

	"google.golang.org/grpc/codes"

	"github.com/fibd/fibd/api/fibdv1"
	"github.com/fibd/fibd/nexthop"
)

// fakeResolver fails the gateways in bad with their message and counts
// the calls per hop.
type fakeResolver struct {
	bad map[netip.Addr]string

	mu    sync.Mutex
	calls map[nexthop.Hop]int
}

func newFakeResolver(bad map[string]string) *fakeResolver {
	r := &fakeResolver{bad: make(map[netip.Addr]string), calls: make(map[nexthop.Hop]int)}
	for gw, msg := range bad {
		r.bad[netip.MustParseAddr(gw)] = msg
	}

	return r
}

func (r *fakeResolver) Resolve(_ context.Context, hop nexthop.Hop) (nexthop.Hop, error) {
	r.mu.Lock()
	defer r.mu.Unlock()

	r.calls[hop]++
	if msg, ok := r.bad[hop.Gateway]; ok {
		return hop, fmt.Errorf("resolve next hop %s: %s", hop, msg)
	}

	return hop, nil
}

func (r *fakeResolver) callsTo(gateway string) int {
	r.mu.Lock()
	defer r.mu.Unlock()

	n := 0
	for h, c := range r.calls {
		if h.Gateway == netip.MustParseAddr(gateway) {
			n += c
		}
	}

	return n
}

const localMsg = "gateway 198.51.100.1 is a local address of this host"

func TestResolveKeepsRoute(t *testing.T) {
	res := newFakeResolver(map[string]string{"198.51.100.1": localMsg})
	h := newHarness(t, Config{Resolve: res.Resolve})

	h.add(t, "ctl", unicast("192.0.2.0/24", "198.51.100.2"))

	_, err := h.client.AddRoutes(testContext(t), &fibdv1.AddRoutesRequest{Source: "ctl", Routes: []*fibdv1.Route{
		unicast("203.0.113.0/24", "198.51.100.2"),
		unicast("192.0.2.0/24", "198.51.100.1"),
	}})
	checkInvalid(t, err, []string{"routes[1].nexthops", "route 192.0.2.0/24 table 254", localMsg})

	if got := h.selected(t, "192.0.2.0/24"); got != "ctl/10 via 198.51.100.2" {
		t.Errorf("192.0.2.0/24 selected %q, want the route from before the failed request", got)
	}

	if n := len(h.snapshot()); n != 1 {
		t.Errorf("FIB has %d keys, want 1: a rejected request adds nothing", n)
	}
}

func TestResolveOncePerHop(t *testing.T) {
	res := newFakeResolver(nil)
	h := newHarness(t, Config{Resolve: res.Resolve})

	routes := make([]*fibdv1.Route, 10)
	for i := range routes {
		routes[i] = unicast(fmt.Sprintf("192.0.2.%d/32", i), "198.51.100.2")
	}

	h.add(t, "ctl", routes...)

	if n := res.callsTo("198.51.100.2"); n != 1 {
		t.Errorf("resolve calls = %d, want 1 for 10 routes over one next hop", n)
	}
}

func TestResolveStream(t *testing.T) {
	res := newFakeResolver(map[string]string{"198.51.100.9": "no route to gateway 198.51.100.9"})
	h := newHarness(t, Config{Resolve: res.Resolve})

	stream, err := h.client.StreamRoutes(testContext(t))
	if err != nil {
		t.Fatalf("stream routes: %v", err)
	}

	msgs := []*fibdv1.StreamRoutesRequest{
		{Source: "bulk", Add: []*fibdv1.Route{unicast("192.0.2.0/25", "198.51.100.2")}},
		{Add: []*fibdv1.Route{unicast("192.0.2.128/25", "198.51.100.2"), unicast("203.0.113.0/24", "198.51.100.9")}},
		{Add: []*fibdv1.Route{unicast("198.51.100.128/25", "198.51.100.2")}},
	}
	for _, m := range msgs {
		if err := stream.Send(m); err != nil {
			t.Fatalf("send: %v", err)
		}
	}

	resp, err := stream.CloseAndRecv()
	if err != nil {
		t.Fatalf("close stream: %v", err)
	}

	if resp.GetRejectedMessages() != 1 || resp.GetAdded() != 2 {
		t.Errorf("rejected messages %d, added %d, want 1 and 2", resp.GetRejectedMessages(), resp.GetAdded())
	}

	if errs := resp.GetErrors(); len(errs) != 1 || !contains(errs[0].GetMessage(), "message 1: add[1].nexthops", "no route to gateway 198.51.100.9") {
		t.Errorf("errors = %v, want message 1 rejected for add[1]'s gateway", errs)
	}

	if n := res.callsTo("198.51.100.2"); n != 1 {
		t.Errorf("resolve calls = %d, want 1 for the whole stream", n)
	}
}

func TestResolveSession(t *testing.T) {
	res := newFakeResolver(map[string]string{"198.51.100.1": localMsg})
	h := newHarness(t, Config{Resolve: res.Resolve})

	stream, _, cancel := h.openSession(t, "ctl", false)
	defer cancel()

	sessionAdd(t, stream, 1, unicast("192.0.2.0/24", "198.51.100.2"))

	got := sessionAdd(t, stream, 2, unicast("192.0.2.0/24", "198.51.100.1"))
	if codes.Code(got.GetCode()) != codes.InvalidArgument || !contains(got.GetMessage(), localMsg) {
		t.Errorf("result = %v, want InvalidArgument naming the local gateway", got)
	}

	if sel := h.selected(t, "192.0.2.0/24"); sel != "ctl/10 via 198.51.100.2" {
		t.Errorf("192.0.2.0/24 selected %q, want the route from before the failed update", sel)
	}
}

func contains(s string, parts ...string) bool {
	for _, p := range parts {
		if !strings.Contains(s, p) {
			return false
		}
	}

	return true
}
