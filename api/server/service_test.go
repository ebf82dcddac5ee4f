package server

import (
	"context"
	"errors"
	"fmt"
	"io"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/fibd/fibd/api/fibdv1"
	"github.com/fibd/fibd/fib"
)

// selected returns the source and first gateway of the route selected for
// prefix, or "" when there is none.
func (h *harness) selected(t *testing.T, prefix string) string {
	t.Helper()

	routes := h.list(t, &fibdv1.RouteFilter{Prefix: prefix})
	if len(routes) == 0 || len(routes[0].GetCandidates()) == 0 {
		return ""
	}

	c := routes[0].GetCandidates()[0]

	return fmt.Sprintf("%s/%d via %s", c.GetSource(), c.GetDistance(), c.GetNexthops()[0].GetGateway())
}

func TestSelectionFailover(t *testing.T) {
	eachBackend(t, func(t *testing.T, start func(Config) *harness) {
		h := start(Config{Sources: map[string]fib.Distance{"primary": 5, "backup": 50}})
		ctx := testContext(t)
		prefix := "192.0.2.0/24"

		res := h.add(t, "backup", unicast(prefix, "198.51.100.3"))
		if !res[0].GetSelected() || res[0].GetCode() != fibdv1.ResultCode_RESULT_CODE_OK {
			t.Fatalf("backup result = %v, want selected and OK", res[0])
		}

		res = h.add(t, "primary", unicast(prefix, "198.51.100.2"))
		if !res[0].GetSelected() {
			t.Errorf("primary result = %v, want selected", res[0])
		}

		if got, want := h.selected(t, prefix), "primary/5 via 198.51.100.2"; got != want {
			t.Errorf("after primary add: selected %q, want %q", got, want)
		}

		// The primary leaves: the backup takes over.
		_, err := h.client.DeleteRoutes(ctx, &fibdv1.DeleteRoutesRequest{Source: "primary", Keys: []*fibdv1.RouteKey{{Prefix: prefix}}})
		if err != nil {
			t.Fatalf("delete primary: %v", err)
		}

		if got, want := h.selected(t, prefix), "backup/50 via 198.51.100.3"; got != want {
			t.Errorf("after primary delete: selected %q, want %q", got, want)
		}

		// The primary comes back and wins again, so the backup's result
		// reports that it is not selected.
		h.add(t, "primary", unicast(prefix, "198.51.100.2"))
		res = h.add(t, "backup", unicast(prefix, "198.51.100.4"))
		if res[0].GetSelected() {
			t.Errorf("backup re-add result = %v, want not selected", res[0])
		}

		if got, want := h.selected(t, prefix), "primary/5 via 198.51.100.2"; got != want {
			t.Errorf("after primary re-add: selected %q, want %q", got, want)
		}

		routes := h.list(t, &fibdv1.RouteFilter{Prefix: prefix})
		if n := len(routes[0].GetCandidates()); n != 2 {
			t.Errorf("candidates = %d, want 2", n)
		}
	})
}

// TestListSourceFilterBackup checks that a source filter lists a key
// where the source's candidate is not selected, with every candidate.
func TestListSourceFilterBackup(t *testing.T) {
	eachBackend(t, func(t *testing.T, start func(Config) *harness) {
		h := start(Config{Sources: map[string]fib.Distance{"primary": 5, "backup": 50}})
		h.add(t, "primary", unicast("192.0.2.0/24", "198.51.100.2"))
		h.add(t, "backup", unicast("192.0.2.0/24", "198.51.100.3"))
		h.add(t, "primary", unicast("198.51.100.0/25", "198.51.100.2"))

		routes := h.list(t, &fibdv1.RouteFilter{Source: "backup"})
		if len(routes) != 1 || routes[0].GetPrefix() != "192.0.2.0/24" {
			t.Fatalf("routes of source backup = %v, want 192.0.2.0/24 alone", routes)
		}

		var sources []string
		for _, c := range routes[0].GetCandidates() {
			sources = append(sources, c.GetSource())
		}

		if got, want := fmt.Sprint(sources), "[primary backup]"; got != want {
			t.Errorf("candidates of 192.0.2.0/24 = %s, want %s, the selected one first", got, want)
		}
	})
}

func TestDistanceOverride(t *testing.T) {
	eachBackend(t, func(t *testing.T, start func(Config) *harness) {
		h := start(Config{})

		route := unicast("192.0.2.0/24", "198.51.100.2")
		route.Distance = ptr(uint32(250))
		h.add(t, "a", route)
		h.add(t, "b", unicast("192.0.2.0/24", "198.51.100.3"))

		if got, want := h.selected(t, "192.0.2.0/24"), "b/10 via 198.51.100.3"; got != want {
			t.Errorf("selected %q, want %q", got, want)
		}
	})
}

func TestKernelError(t *testing.T) {
	h := newHarness(t, Config{})
	h.fake.reject[mustPrefix("198.51.100.0/24")] = "create route 198.51.100.0/24 table 254: network is unreachable"

	res := h.add(t, "grpc", unicast("192.0.2.0/24", "198.51.100.2"), unicast("198.51.100.0/24", "203.0.113.2"))
	if res[0].GetCode() != fibdv1.ResultCode_RESULT_CODE_OK {
		t.Errorf("result[0] = %v, want OK", res[0])
	}

	if res[1].GetCode() != fibdv1.ResultCode_RESULT_CODE_KERNEL_ERROR || res[1].GetMessage() != h.fake.reject[mustPrefix("198.51.100.0/24")] {
		t.Errorf("result[1] = %v, want KERNEL_ERROR with the kernel's message", res[1])
	}
}

func TestStreamRoutes(t *testing.T) {
	h := newHarness(t, Config{})
	h.fake.reject[mustPrefix("203.0.113.0/24")] = "kernel says no"

	stream, err := h.client.StreamRoutes(testContext(t))
	if err != nil {
		t.Fatalf("stream routes: %v", err)
	}

	msgs := []*fibdv1.StreamRoutesRequest{
		{Source: "bulk", Add: []*fibdv1.Route{unicast("192.0.2.0/25", "198.51.100.2"), unicast("192.0.2.128/25", "198.51.100.2")}},
		{Add: []*fibdv1.Route{unicast("192.0.2.1/24", "198.51.100.2")}}, // rejected whole
		{Add: []*fibdv1.Route{unicast("203.0.113.0/24", "198.51.100.2")}, Delete: []*fibdv1.RouteKey{{Prefix: "192.0.2.128/25"}}},
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

	want := "messages 3 rejected_messages 1 added 3 deleted 1 failed 1"
	got := fmt.Sprintf("messages %d rejected_messages %d added %d deleted %d failed %d",
		resp.GetMessages(), resp.GetRejectedMessages(), resp.GetAdded(), resp.GetDeleted(), resp.GetFailed())
	if got != want {
		t.Errorf("counts: %s, want %s", got, want)
	}

	if len(resp.GetErrors()) != 2 {
		t.Fatalf("errors = %v, want 2", resp.GetErrors())
	}

	if got := len(h.list(t, nil)); got != 2 {
		t.Errorf("routes after stream = %d, want 2", got)
	}
}

func TestStreamRoutesNoSource(t *testing.T) {
	eachBackend(t, func(t *testing.T, start func(Config) *harness) {
		h := start(Config{})

		stream, err := h.client.StreamRoutes(testContext(t))
		if err != nil {
			t.Fatalf("stream routes: %v", err)
		}

		_ = stream.Send(&fibdv1.StreamRoutesRequest{Add: []*fibdv1.Route{unicast("192.0.2.0/24", "198.51.100.2")}})
		_, err = stream.CloseAndRecv()
		checkInvalid(t, err, []string{"source is empty"})

		if n := len(h.snapshot()); n != 0 {
			t.Errorf("FIB has %d keys, want 0", n)
		}
	})
}

// openSession opens a session for source and returns the stream and the
// opened message.
func (h *harness) openSession(t *testing.T, source string, bind bool) (fibdv1.Fib_SessionClient, *fibdv1.SessionOpened, func()) {
	t.Helper()

	ctx, cancel := contextWithCancel(t)
	stream, err := h.client.Session(ctx)
	if err != nil {
		t.Fatalf("session: %v", err)
	}

	err = stream.Send(&fibdv1.SessionRequest{Request: &fibdv1.SessionRequest_Open{Open: &fibdv1.SessionOpen{Source: source, Bind: bind}}})
	if err != nil {
		t.Fatalf("send open: %v", err)
	}

	resp, err := stream.Recv()
	if err != nil {
		cancel()
		t.Fatalf("receive opened: %v", err)
	}

	return stream, resp.GetOpened(), cancel
}

func sessionAdd(t *testing.T, stream fibdv1.Fib_SessionClient, id uint64, routes ...*fibdv1.Route) *fibdv1.SessionUpdateResult {
	t.Helper()

	err := stream.Send(&fibdv1.SessionRequest{Request: &fibdv1.SessionRequest_Update{Update: &fibdv1.SessionUpdate{Id: id, Add: routes}}})
	if err != nil {
		t.Fatalf("send update: %v", err)
	}

	resp, err := stream.Recv()
	if err != nil {
		t.Fatalf("receive update result: %v", err)
	}

	return resp.GetUpdate()
}

func TestSessionGrace(t *testing.T) {
	const grace = 200 * time.Millisecond
	h := newHarness(t, Config{GracePeriod: grace})

	stream, _, cancel := h.openSession(t, "ctl", true)
	res := sessionAdd(t, stream, 1, unicast("192.0.2.0/24", "198.51.100.2"))
	if res.GetId() != 1 || res.GetCode() != 0 || len(res.GetResults()) != 1 {
		t.Fatalf("update result = %v, want id 1, code 0, one result", res)
	}

	// The stream ends; the routes stay for the grace period, then leave.
	cancel()
	if n := len(h.list(t, nil)); n != 1 {
		t.Errorf("routes right after the session ended = %d, want 1", n)
	}

	deadline := time.Now().Add(5 * time.Second)
	for len(h.list(t, nil)) != 0 {
		if time.Now().After(deadline) {
			t.Fatalf("routes still present 5s after the session ended with grace period %s", grace)
		}

		time.Sleep(20 * time.Millisecond)
	}
}

func TestSessionResume(t *testing.T) {
	eachBackend(t, func(t *testing.T, start func(Config) *harness) {
		h := start(Config{GracePeriod: time.Minute})

		stream, _, cancel := h.openSession(t, "ctl", true)
		sessionAdd(t, stream, 1, unicast("192.0.2.0/24", "198.51.100.2"), unicast("198.51.100.0/24", "203.0.113.2"))
		cancel()

		// The same source reconnects within the grace period: its routes are
		// kept, and end of table sweeps the one it does not send again.
		waitSessionClosed(t, h, "ctl")
		stream, opened, cancel := h.openSession(t, "ctl", true)
		defer cancel()

		if !opened.GetResumed() || opened.GetRoutes() != 2 {
			t.Errorf("opened = %v, want resumed with 2 routes", opened)
		}

		sessionAdd(t, stream, 2, unicast("192.0.2.0/24", "198.51.100.2"))
		if err := stream.Send(&fibdv1.SessionRequest{Request: &fibdv1.SessionRequest_EndOfTable{EndOfTable: &fibdv1.EndOfTable{}}}); err != nil {
			t.Fatalf("send end of table: %v", err)
		}

		resp, err := stream.Recv()
		if err != nil {
			t.Fatalf("receive end of table: %v", err)
		}

		if n := resp.GetEndOfTable().GetWithdrawn(); n != 1 {
			t.Errorf("withdrawn = %d, want 1", n)
		}

		// A swept route stays listed, without candidates, until the loop
		// has deleted it from the dataplane.
		var desired []string
		for _, r := range h.list(t, nil) {
			if len(r.GetCandidates()) > 0 {
				desired = append(desired, r.GetPrefix())
			}
		}

		if len(desired) != 1 || desired[0] != "192.0.2.0/24" {
			t.Errorf("routes with candidates after end of table = %v, want only 192.0.2.0/24", desired)
		}
	})
}

func TestSessionOneAtATime(t *testing.T) {
	eachBackend(t, func(t *testing.T, start func(Config) *harness) {
		h := start(Config{})

		_, _, cancel := h.openSession(t, "ctl", false)
		defer cancel()

		ctx, cancel2 := contextWithCancel(t)
		defer cancel2()

		stream, err := h.client.Session(ctx)
		if err != nil {
			t.Fatalf("session: %v", err)
		}

		_ = stream.Send(&fibdv1.SessionRequest{Request: &fibdv1.SessionRequest_Open{Open: &fibdv1.SessionOpen{Source: "ctl"}}})
		_, err = stream.Recv()
		if status.Code(err) != codes.AlreadyExists {
			t.Errorf("second session error = %v, want AlreadyExists", err)
		}
	})
}

func TestSessionInvalidBatch(t *testing.T) {
	eachBackend(t, func(t *testing.T, start func(Config) *harness) {
		h := start(Config{})

		stream, _, cancel := h.openSession(t, "ctl", false)
		defer cancel()

		res := sessionAdd(t, stream, 7, unicast("192.0.2.0/24", "198.51.100.2"), unicast("192.0.2.1/24", "198.51.100.2"))
		if codes.Code(res.GetCode()) != codes.InvalidArgument || res.GetId() != 7 {
			t.Errorf("result = %v, want id 7 with InvalidArgument", res)
		}

		if n := len(h.snapshot()); n != 0 {
			t.Errorf("FIB has %d keys after an invalid batch, want 0", n)
		}

		// The session goes on.
		res = sessionAdd(t, stream, 8, unicast("192.0.2.0/24", "198.51.100.2"))
		if res.GetCode() != 0 {
			t.Errorf("result = %v, want OK", res)
		}
	})
}

func waitSessionClosed(t *testing.T, h *harness, source string) {
	t.Helper()

	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		for _, s := range h.server.sessions.list() {
			if s.GetSource() == source && !s.GetOpen() {
				return
			}
		}

		time.Sleep(5 * time.Millisecond)
	}

	t.Fatalf("session of %s did not end", source)
}

func TestWatchRoutes(t *testing.T) {
	h := newHarness(t, Config{})
	h.add(t, "grpc", unicast("192.0.2.0/24", "198.51.100.2"))

	ctx, cancel := contextWithCancel(t)
	defer cancel()

	stream, err := h.client.WatchRoutes(ctx, &fibdv1.WatchRoutesRequest{})
	if err != nil {
		t.Fatalf("watch: %v", err)
	}

	next := func() string {
		t.Helper()

		msg, err := stream.Recv()
		if err != nil {
			t.Fatalf("receive: %v", err)
		}

		return fmt.Sprintf("%s %s", msg.GetKind(), msg.GetRoute().GetPrefix())
	}

	for _, want := range []string{"KIND_UPDATE 192.0.2.0/24", "KIND_SYNCED "} {
		if got := next(); got != want {
			t.Errorf("snapshot event %q, want %q", got, want)
		}
	}

	h.add(t, "grpc", unicast("198.51.100.0/24", "203.0.113.2"))
	if got, want := next(), "KIND_UPDATE 198.51.100.0/24"; got != want {
		t.Errorf("event %q, want %q", got, want)
	}

	_, err = h.client.DeleteRoutes(testContext(t), &fibdv1.DeleteRoutesRequest{Source: "grpc", Keys: []*fibdv1.RouteKey{{Prefix: "192.0.2.0/24"}}})
	if err != nil {
		t.Fatalf("delete: %v", err)
	}

	if got, want := next(), "KIND_DELETE 192.0.2.0/24"; got != want {
		t.Errorf("event %q, want %q", got, want)
	}

	cancel()
	for {
		if _, err := stream.Recv(); err != nil {
			if status.Code(err) != codes.Canceled && !errors.Is(err, io.EOF) {
				t.Errorf("end of watch: %v, want Canceled", err)
			}

			break
		}
	}
}

func TestStatus(t *testing.T) {
	eachBackend(t, func(t *testing.T, start func(Config) *harness) {
		h := start(Config{Version: "v0.1.0", SyncState: func() string { return "in-sync" }, Extra: func() map[string]string { return map[string]string{"bgp": "2 peers established"} }})
		h.add(t, "grpc", unicast("192.0.2.0/24", "198.51.100.2"), &fibdv1.Route{Prefix: "2001:db8::/32", Table: ptr(uint32(100)), Type: fibdv1.RouteType_ROUTE_TYPE_BLACKHOLE})

		st, err := h.client.Status(testContext(t), &fibdv1.StatusRequest{})
		if err != nil {
			t.Fatalf("status: %v", err)
		}

		got := fmt.Sprintf("%s routes %d sync %s tables %v families %v bgp %q", st.GetVersion(), st.GetRoutes(), st.GetKernelSync(),
			countsText(st.GetByTable()), countsText(st.GetByFamily()), st.GetExtra()["bgp"])
		want := `v0.1.0 routes 2 sync in-sync tables [100=1 254=1] families [inet=1 inet6=1] bgp "2 peers established"`
		if got != want {
			t.Errorf("status:\n got %s\nwant %s", got, want)
		}
	})
}

func countsText(cs []*fibdv1.Count) []string {
	var out []string
	for _, c := range cs {
		out = append(out, fmt.Sprintf("%s=%d", c.GetName(), c.GetRoutes()))
	}

	return out
}

func TestVerify(t *testing.T) {
	h := newHarness(t, Config{})
	if _, err := h.client.Verify(testContext(t), &fibdv1.VerifyRequest{}); status.Code(err) != codes.Unimplemented {
		t.Errorf("verify without monitor: %v, want Unimplemented", err)
	}

	diffs := []string{"missing route 192.0.2.0/24 table 254"}
	h = newHarness(t, Config{Verify: func(context.Context) ([]string, error) { return diffs, nil }})

	resp, err := h.client.Verify(testContext(t), &fibdv1.VerifyRequest{})
	if err != nil || resp.GetInSync() || len(resp.GetDifferences()) != 1 {
		t.Errorf("verify = %v, %v; want one difference", resp, err)
	}
}

func TestListRoutesInvalidFilter(t *testing.T) {
	h := newHarness(t, Config{})

	stream, err := h.client.ListRoutes(testContext(t), &fibdv1.ListRoutesRequest{Filter: &fibdv1.RouteFilter{Prefix: "192.0.2.1/24"}})
	if err == nil {
		_, err = stream.Recv()
	}

	checkInvalid(t, err, []string{"filter.prefix", "prefix 192.0.2.1/24 has host bits set; use 192.0.2.0/24"})
}

func TestSessionShutdownKeeps(t *testing.T) {
	const grace = 50 * time.Millisecond
	h := newHarness(t, Config{GracePeriod: grace})

	stream, _, cancel := h.openSession(t, "ctl", true)
	sessionAdd(t, stream, 1, unicast("192.0.2.0/24", "198.51.100.2"))

	// fibd exits: the session ends after Shutdown, and no grace timer
	// withdraws its routes while the daemon stops.
	h.server.Shutdown()
	cancel()
	waitSessionGone(t, h, "ctl")
	time.Sleep(4 * grace)

	if n := len(h.snapshot()); n != 1 {
		t.Errorf("FIB has %d keys after shutdown, want 1", n)
	}
}

func waitSessionGone(t *testing.T, h *harness, source string) {
	t.Helper()

	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		if len(h.server.sessions.list()) == 0 {
			return
		}

		time.Sleep(5 * time.Millisecond)
	}

	t.Fatalf("session of %s still listed", source)
}
