package e2e

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"sort"
	"testing"

	"github.com/fibd/fibd/api/fibdv1"
)

// The tests' IPv4 routes are host routes in 198.18.0.0/15, the range that
// RFC 2544 reserves for benchmarking network devices: the documentation
// ranges hold too few prefixes for 100,000 routes. The routes exist only
// in the tests' namespaces and no packet is sent to them.
var benchmarkBase = netip.MustParseAddr("198.18.0.0")

// maxIPv4Routes is the number of host routes in 198.18.0.0/15.
const maxIPv4Routes = 1 << 17

// streamBatch is the number of routes in one StreamRoutes message.
const streamBatch = 5000

// prefix4 returns the i-th IPv4 test prefix, a host route.
func prefix4(i int) netip.Prefix {
	if i < 0 || i >= maxIPv4Routes {
		panic(fmt.Sprintf("IPv4 test prefix %d is outside 198.18.0.0/15", i))
	}

	a := benchmarkBase.As4()
	v := uint32(a[0])<<24 | uint32(a[1])<<16 | uint32(i)

	return netip.PrefixFrom(netip.AddrFrom4([4]byte{byte(v >> 24), byte(v >> 16), byte(v >> 8), byte(v)}), 32)
}

// prefix6 returns the i-th IPv6 test prefix, a /64 in 2001:db8::/32.
func prefix6(i int) netip.Prefix {
	var b [16]byte
	b[0], b[1], b[2], b[3] = 0x20, 0x01, 0x0d, 0xb8
	b[4], b[5], b[6], b[7] = byte(i>>24), byte(i>>16), byte(i>>8), byte(i)

	return netip.PrefixFrom(netip.AddrFrom16(b), 64)
}

// ecmp4 is the IPv4 ECMP next-hop set over both links.
func ecmp4() []*fibdv1.Nexthop {
	return []*fibdv1.Nexthop{{Gateway: gateway0, Device: "v0"}, {Gateway: gateway1, Device: "v1"}}
}

// ecmp6 is the IPv6 ECMP next-hop set over both links.
func ecmp6() []*fibdv1.Nexthop {
	return []*fibdv1.Nexthop{{Gateway: gateway0v6, Device: "v0"}, {Gateway: gateway1v6, Device: "v1"}}
}

// routeSet is a desired state: routes by prefix, all in the main table.
type routeSet map[netip.Prefix]*fibdv1.Route

// newRoutes returns routes for prefixes from..to-1 of prefixFn over hops.
func newRoutes(from, to int, prefixFn func(int) netip.Prefix, hops []*fibdv1.Nexthop) routeSet {
	set := make(routeSet, to-from)
	for i := from; i < to; i++ {
		p := prefixFn(i)
		set[p] = &fibdv1.Route{Prefix: p.String(), Nexthops: hops}
	}

	return set
}

// list returns the routes sorted by prefix.
func (s routeSet) list() []*fibdv1.Route {
	prefixes := make([]netip.Prefix, 0, len(s))
	for p := range s {
		prefixes = append(prefixes, p)
	}

	sort.Slice(prefixes, func(i, j int) bool { return comparePrefix(prefixes[i], prefixes[j]) < 0 })

	out := make([]*fibdv1.Route, len(prefixes))
	for i, p := range prefixes {
		out[i] = s[p]
	}

	return out
}

func comparePrefix(a, b netip.Prefix) int {
	if c := a.Addr().Compare(b.Addr()); c != 0 {
		return c
	}

	return a.Bits() - b.Bits()
}

// gateways returns a route's gateways in the form of formatGateways.
func gateways(r *fibdv1.Route) string {
	weights := make(map[string]int)
	for _, nh := range r.GetNexthops() {
		weights[nh.GetGateway()] = 1
		if nh.Weight != nil {
			weights[nh.GetGateway()] = int(nh.GetWeight())
		}
	}

	return formatGateways(weights)
}

// inject offers routes as source through one StreamRoutes stream and
// returns fibd's summary, which comes after fibd has tried to program
// every route.
func inject(ctx context.Context, client fibdv1.FibClient, source string, routes []*fibdv1.Route) (*fibdv1.StreamRoutesResponse, error) {
	stream, err := client.StreamRoutes(ctx)
	if err != nil {
		return nil, fmt.Errorf("open route stream: %w", err)
	}

	for start := 0; start < len(routes); start += streamBatch {
		end := min(start+streamBatch, len(routes))
		msg := &fibdv1.StreamRoutesRequest{Source: source, Add: routes[start:end]}
		if err := stream.Send(msg); err != nil {
			// The server's status explains a failed send.
			_, recvErr := stream.CloseAndRecv()

			return nil, fmt.Errorf("send routes %d to %d: %w (%v)", start, end, err, recvErr)
		}
	}

	resp, err := stream.CloseAndRecv()
	if err != nil {
		return nil, fmt.Errorf("close route stream: %w", err)
	}

	return resp, nil
}

// mustInject injects routes and requires every one to be accepted and
// programmed.
func mustInject(ctx context.Context, t *testing.T, d *daemon, source string, routes []*fibdv1.Route) {
	t.Helper()

	resp, err := inject(ctx, d.client, source, routes)
	if err != nil {
		t.Fatalf("inject %d routes: %v", len(routes), err)
	}

	if resp.GetAdded() != uint64(len(routes)) || resp.GetRejected()+resp.GetFailed()+resp.GetUnresolved() != 0 {
		t.Fatalf("inject %d routes: added %d, rejected %d, failed %d, unresolved %d, errors %v",
			len(routes), resp.GetAdded(), resp.GetRejected(), resp.GetFailed(), resp.GetUnresolved(), resp.GetErrors())
	}
}

// session is an open Session of one source. Its end of table declares the
// source converged and withdraws the source's routes that existed when
// the session opened and that the session did not send again. Routes
// offered through StreamRoutes while the session is open are neither sent
// by it nor withdrawn, so a session opened before they are injected
// withdraws nothing.
type session struct {
	stream fibdv1.Fib_SessionClient
	id     uint64
}

// openSession opens an unbound session for source.
func openSession(ctx context.Context, t *testing.T, d *daemon, source string) *session {
	t.Helper()

	stream, err := d.client.Session(ctx)
	if err != nil {
		t.Fatalf("open session: %v", err)
	}

	open := &fibdv1.SessionRequest{Request: &fibdv1.SessionRequest_Open{Open: &fibdv1.SessionOpen{Source: source}}}
	if err := stream.Send(open); err != nil {
		t.Fatalf("send session open: %v", err)
	}

	resp, err := stream.Recv()
	if err != nil || resp.GetOpened() == nil {
		t.Fatalf("session open: response %v, error %v", resp, err)
	}

	return &session{stream: stream}
}

// endOfTable declares the session's source converged and returns how many
// routes fibd withdrew for it.
func (s *session) endOfTable(t *testing.T) uint64 {
	t.Helper()

	eot := &fibdv1.SessionRequest{Request: &fibdv1.SessionRequest_EndOfTable{EndOfTable: &fibdv1.EndOfTable{}}}
	if err := s.stream.Send(eot); err != nil {
		t.Fatalf("send end of table: %v", err)
	}

	resp, err := s.stream.Recv()
	if err != nil || resp.GetEndOfTable() == nil {
		t.Fatalf("end of table: response %v, error %v", resp, err)
	}

	return resp.GetEndOfTable().GetWithdrawn()
}

// send offers routes through the session in batches of streamBatch and
// requires every batch to pass validation.
func (s *session) send(t *testing.T, routes []*fibdv1.Route) {
	t.Helper()

	for start := 0; start < len(routes); start += streamBatch {
		end := min(start+streamBatch, len(routes))
		s.id++
		update := &fibdv1.SessionUpdate{Id: s.id, Add: routes[start:end]}
		if err := s.stream.Send(&fibdv1.SessionRequest{Request: &fibdv1.SessionRequest_Update{Update: update}}); err != nil {
			t.Fatalf("send session update %d: %v", s.id, err)
		}

		resp, err := s.stream.Recv()
		if err != nil || resp.GetUpdate() == nil {
			t.Fatalf("session update %d: response %v, error %v", s.id, resp, err)
		}

		if res := resp.GetUpdate(); res.GetCode() != 0 {
			t.Fatalf("session update %d failed with code %d: %s", s.id, res.GetCode(), res.GetMessage())
		}
	}
}

// close ends the session stream.
func (s *session) close() {
	_ = s.stream.CloseSend()
	for {
		if _, err := s.stream.Recv(); err != nil {
			return
		}
	}
}

// listRoutes returns fibd's route states, by prefix.
func listRoutes(ctx context.Context, t *testing.T, d *daemon) map[netip.Prefix]*fibdv1.RouteState {
	t.Helper()

	stream, err := d.client.ListRoutes(ctx, &fibdv1.ListRoutesRequest{})
	if err != nil {
		t.Fatalf("list routes: %v", err)
	}

	out := make(map[netip.Prefix]*fibdv1.RouteState)
	for {
		resp, err := stream.Recv()
		if errors.Is(err, io.EOF) {
			return out
		}

		if err != nil {
			t.Fatalf("list routes: %v", err)
		}

		for _, rs := range resp.GetRoutes() {
			p, err := netip.ParsePrefix(rs.GetPrefix())
			if err != nil {
				t.Fatalf("list routes: prefix %q: %v", rs.GetPrefix(), err)
			}

			out[p] = rs
		}
	}
}
