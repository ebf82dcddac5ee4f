package server

import (
	"context"
	"fmt"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/fibd/fibd/api/fibdv1"
	"github.com/fibd/fibd/fib"
	"github.com/fibd/fibd/fib/fibtest"
)

// newFIBHarness serves a real FIB over a fake dataplane that renders the
// kernel state as `ip` text.
func newFIBHarness(t *testing.T, cfg Config) (*harness, *fibtest.Dataplane) {
	t.Helper()

	dp := &fibtest.Dataplane{}
	f, err := fib.New(fib.Config{Dataplane: dp})
	if err != nil {
		t.Fatalf("new fib: %v", err)
	}

	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- f.Run(ctx) }()

	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("fib run: %v", err)
		}
	})

	return serve(t, cfg, f), dp
}

// installedVia returns what the dataplane routes prefix through: "via
// ADDR dev NAME" of its nexthop object, the nexthop lines of its group, or
// "" when the dataplane has no route for prefix.
func installedVia(dp *fibtest.Dataplane, prefix string) string {
	text := dp.Render()
	route := regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(prefix) + ` nhid (\d+) `).FindStringSubmatch(text)
	if route == nil {
		return ""
	}

	object := regexp.MustCompile(`(?m)^id ` + route[1] + ` (.*) proto fibd$`).FindStringSubmatch(text)
	if object == nil {
		return "nhid " + route[1] + " missing"
	}

	return object[1]
}

func TestFIBFailover(t *testing.T) {
	h, dp := newFIBHarness(t, Config{Sources: map[string]fib.Distance{"primary": 5, "backup": 50}})
	ctx := testContext(t)
	prefix := "192.0.2.0/24"

	h.add(t, "backup", unicast(prefix, "198.51.100.3"))
	if got, want := installedVia(dp, prefix), "via 198.51.100.3 dev v0"; got != want {
		t.Errorf("backup only: installed %q, want %q\n%s", got, want, dp.Render())
	}

	res := h.add(t, "primary", unicast(prefix, "198.51.100.2"))
	if res[0].GetCode() != fibdv1.ResultCode_RESULT_CODE_OK || !res[0].GetSelected() {
		t.Errorf("primary result = %v, want OK and selected", res[0])
	}

	if got, want := installedVia(dp, prefix), "via 198.51.100.2 dev v0"; got != want {
		t.Errorf("primary added: installed %q, want %q\n%s", got, want, dp.Render())
	}

	// The primary withdraws: the backup is installed again.
	_, err := h.client.DeleteRoutes(ctx, &fibdv1.DeleteRoutesRequest{Source: "primary", Keys: []*fibdv1.RouteKey{{Prefix: prefix}}})
	if err != nil {
		t.Fatalf("delete primary: %v", err)
	}

	if got, want := installedVia(dp, prefix), "via 198.51.100.3 dev v0"; got != want {
		t.Errorf("primary deleted: installed %q, want %q\n%s", got, want, dp.Render())
	}

	// The primary returns and the backup withdraws: the primary stays.
	h.add(t, "primary", unicast(prefix, "198.51.100.2"))
	_, err = h.client.DeleteRoutes(ctx, &fibdv1.DeleteRoutesRequest{Source: "backup", Keys: []*fibdv1.RouteKey{{Prefix: prefix}}})
	if err != nil {
		t.Fatalf("delete backup: %v", err)
	}

	if got, want := installedVia(dp, prefix), "via 198.51.100.2 dev v0"; got != want {
		t.Errorf("backup deleted: installed %q, want %q\n%s", got, want, dp.Render())
	}

	// The last source leaves: nothing is installed.
	_, err = h.client.DeleteRoutes(ctx, &fibdv1.DeleteRoutesRequest{Source: "primary", Keys: []*fibdv1.RouteKey{{Prefix: prefix}}})
	if err != nil {
		t.Fatalf("delete primary: %v", err)
	}

	if text := dp.Render(); strings.Contains(text, prefix) {
		t.Errorf("route left after both sources withdrew:\n%s", text)
	}
}

func TestFIBKernelError(t *testing.T) {
	h, dp := newFIBHarness(t, Config{})
	dp.FailNext(fib.OpRouteCreate, syscall.ENETUNREACH)

	res := h.add(t, "grpc", unicast("192.0.2.0/24", "198.51.100.2"))
	if res[0].GetCode() != fibdv1.ResultCode_RESULT_CODE_KERNEL_ERROR {
		t.Fatalf("result = %v, want KERNEL_ERROR", res[0])
	}

	if !strings.Contains(res[0].GetMessage(), syscall.ENETUNREACH.Error()) {
		t.Errorf("message %q does not carry the kernel's reason %q", res[0].GetMessage(), syscall.ENETUNREACH.Error())
	}
}

func TestFIBInvalidUnchanged(t *testing.T) {
	h, dp := newFIBHarness(t, Config{})
	h.add(t, "grpc", unicast("203.0.113.0/24", "198.51.100.2"))
	before := dp.Render()

	_, err := h.client.AddRoutes(testContext(t), &fibdv1.AddRoutesRequest{Source: "grpc", Routes: []*fibdv1.Route{
		unicast("192.0.2.0/24", "198.51.100.2"),
		{Prefix: "198.51.100.0/24", Table: ptr(uint32(253)), Type: fibdv1.RouteType_ROUTE_TYPE_BLACKHOLE},
	}})
	checkInvalid(t, err, []string{"routes[1].table", "table 253 is reserved"})

	if err := h.fib.Sync(testContext(t)); err != nil {
		t.Fatal(err)
	}

	if after := dp.Render(); after != before {
		t.Errorf("dataplane changed:\nbefore\n%s\nafter\n%s", before, after)
	}
}

func TestFIBSessionGrace(t *testing.T) {
	const grace = 200 * time.Millisecond
	h, dp := newFIBHarness(t, Config{GracePeriod: grace})

	stream, _, cancel := h.openSession(t, "ctl", true)
	sessionAdd(t, stream, 1, unicast("192.0.2.0/24", "198.51.100.2"))
	cancel()

	if got := installedVia(dp, "192.0.2.0/24"); got == "" {
		t.Errorf("route missing right after the session ended:\n%s", dp.Render())
	}

	deadline := time.Now().Add(5 * time.Second)
	for installedVia(dp, "192.0.2.0/24") != "" {
		if time.Now().After(deadline) {
			t.Fatalf("route still installed 5s after the session ended with grace period %s:\n%s", grace, dp.Render())
		}

		time.Sleep(20 * time.Millisecond)
	}
}

func TestFIBWatch(t *testing.T) {
	h, _ := newFIBHarness(t, Config{})
	h.add(t, "grpc", unicast("192.0.2.0/24", "198.51.100.2"))

	ctx, cancel := contextWithCancel(t)
	defer cancel()

	stream, err := h.client.WatchRoutes(ctx, &fibdv1.WatchRoutesRequest{})
	if err != nil {
		t.Fatalf("watch: %v", err)
	}

	// next returns the next event for a prefix, skipping further updates
	// of routes already seen (the FIB may report a route again once the
	// dataplane installed it).
	next := func() string {
		t.Helper()

		msg, err := stream.Recv()
		if err != nil {
			t.Fatalf("receive: %v", err)
		}

		return fmt.Sprintf("%s %s", msg.GetKind(), msg.GetRoute().GetPrefix())
	}

	if got, want := next(), "KIND_UPDATE 192.0.2.0/24"; got != want {
		t.Errorf("snapshot: %q, want %q", got, want)
	}

	if got, want := next(), "KIND_SYNCED "; got != want {
		t.Errorf("end of snapshot: %q, want %q", got, want)
	}

	h.add(t, "grpc", unicast("198.51.100.0/24", "203.0.113.2"))
	_, err = h.client.DeleteRoutes(testContext(t), &fibdv1.DeleteRoutesRequest{Source: "grpc", Keys: []*fibdv1.RouteKey{{Prefix: "192.0.2.0/24"}}})
	if err != nil {
		t.Fatalf("delete: %v", err)
	}

	// Collect until the delete; updates may repeat as the state moves
	// from offered to installed.
	var events []string
	for len(events) < 20 {
		ev := next()
		if len(events) == 0 || events[len(events)-1] != ev {
			events = append(events, ev)
		}

		if ev == "KIND_DELETE 192.0.2.0/24" {
			break
		}
	}

	want := []string{"KIND_UPDATE 198.51.100.0/24", "KIND_DELETE 192.0.2.0/24"}
	if strings.Join(events, ",") != strings.Join(want, ",") {
		t.Errorf("events %v, want %v", events, want)
	}
}

func TestFIBStreamECMP(t *testing.T) {
	const n = 10000
	h, _ := newFIBHarness(t, Config{MaxBatch: 1000})

	stream, err := h.client.StreamRoutes(testContext(t))
	if err != nil {
		t.Fatalf("stream routes: %v", err)
	}

	hops := []*fibdv1.Nexthop{{Gateway: "2001:db8:ffff:1::2", Device: "v0"}, {Gateway: "2001:db8:ffff:2::2", Device: "v1"}}
	for start := 0; start < n; start += 1000 {
		msg := &fibdv1.StreamRoutesRequest{Source: "bulk"}
		for i := start; i < start+1000; i++ {
			prefix := fmt.Sprintf("2001:db8:%x::/48", i)
			msg.Add = append(msg.Add, &fibdv1.Route{Prefix: prefix, Nexthops: hops})
		}

		if err := stream.Send(msg); err != nil {
			t.Fatalf("send: %v", err)
		}
	}

	resp, err := stream.CloseAndRecv()
	if err != nil {
		t.Fatalf("close stream: %v", err)
	}

	if resp.GetAdded() != n || resp.GetFailed() != 0 || len(resp.GetErrors()) != 0 {
		t.Errorf("response = %v, want %d added and no errors", resp, n)
	}

	if got := len(h.list(t, &fibdv1.RouteFilter{Source: "bulk"})); got != n {
		t.Errorf("listed %d routes, want %d", got, n)
	}

	nhs, err := h.client.ListNexthops(testContext(t), &fibdv1.ListNexthopsRequest{})
	if err != nil {
		t.Fatalf("list nexthops: %v", err)
	}

	var groups []string
	for {
		msg, err := nhs.Recv()
		if err != nil {
			break
		}

		for _, o := range msg.GetNexthops() {
			if len(o.GetGroup()) > 0 {
				groups = append(groups, fmt.Sprintf("members %d refs %d", len(o.GetGroup()), o.GetRefs()))
			}
		}
	}

	if want := fmt.Sprintf("members 2 refs %d", n); len(groups) != 1 || groups[0] != want {
		t.Errorf("groups %v, want one with %s", groups, want)
	}
}
