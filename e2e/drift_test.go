package e2e

import (
	"context"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/fibd/fibd/api/fibdv1"
)

// TestNexthopDeleteRepair deletes each of fibd's nexthop objects behind its
// back, one at a time, while IPv4 and IPv6 routes use them directly and
// through groups: fibd must put every object and route back.
func TestNexthopDeleteRepair(t *testing.T) {
	l := newLab(t, labConfig{hold: source, holdTimeout: "5m"})
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()

	desired := make(routeSet)
	sets := [][]*fibdv1.Nexthop{
		{{Gateway: gateway0, Device: "v0"}},
		ecmp4(),
		{{Gateway: gateway0v6, Device: "v0"}},
		ecmp6(),
	}
	for k, hops := range sets {
		prefixFn := prefix4
		if k >= 2 {
			prefixFn = prefix6
		}

		for p, r := range newRoutes(100*k, 100*k+100, prefixFn, hops) {
			desired[p] = r
		}
	}

	d := l.start()
	mustInject(ctx, t, d, source, desired.list())
	checkDesired(t, l.ns, desired)

	var ids []uint32
	for id := range kernelNexthops(t, l.ns) {
		ids = append(ids, id)
	}

	slices.Sort(ids)
	for _, id := range ids {
		t.Run(strconv.FormatUint(uint64(id), 10), func(t *testing.T) {
			l.ns.IP("nexthop", "del", "id", strconv.FormatUint(uint64(id), 10))

			if diffs := d.waitQuiet(ctx, 10*time.Second); diffs != nil {
				explain(ctx, t, l, d, diffs)
				t.Fatalf("fibd did not repair the deletion of nexthop %d within 10s: %v", id, head(diffs, 10))
			}

			checkDesired(t, l.ns, desired)
		})
	}
}

// TestLinkDownWithdraw withdraws routes whose only next hop is on a link
// that just went down, and brings the link back: fibd must forget the
// keys, leaving nothing in ListRoutes or in the kernel.
func TestLinkDownWithdraw(t *testing.T) {
	l := newLab(t, labConfig{hold: source, holdTimeout: "5m"})
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()

	routes := newRoutes(0, 100, prefix6, []*fibdv1.Nexthop{{Gateway: gateway1v6, Device: "v1"}})
	for p, r := range newRoutes(0, 100, prefix4, []*fibdv1.Nexthop{{Gateway: gateway1, Device: "v1"}}) {
		routes[p] = r
	}

	d := l.start()
	req := &fibdv1.DeleteRoutesRequest{Source: source}
	for _, r := range routes.list() {
		req.Keys = append(req.Keys, &fibdv1.RouteKey{Prefix: r.GetPrefix()})
	}

	// The withdrawal races with the link's notifications in some rounds.
	for round := range 10 {
		// fibd may not have seen the link come back yet, so some routes
		// may be unresolved; only the withdrawal matters here.
		if _, err := inject(ctx, d.client, source, routes.list()); err != nil {
			t.Fatalf("inject routes: %v", err)
		}

		l.ns.IP("link", "set", "v1", "down")
		if round%2 == 1 {
			l.ns.IP("link", "set", "v1", "up")
		}

		if _, err := d.client.DeleteRoutes(ctx, req); err != nil {
			t.Fatalf("delete routes: %v", err)
		}

		l.ns.IP("link", "set", "v1", "up")
	}
	if diffs := d.waitQuiet(ctx, 10*time.Second); diffs != nil {
		explain(ctx, t, l, d, diffs)
		t.Fatalf("fibd did not settle in sync within 10s: %v", head(diffs, 10))
	}

	if listed := listRoutes(ctx, t, d); len(listed) != 0 {
		for p, rs := range listed {
			t.Errorf("ListRoutes shows %s after its withdrawal: %v", p, rs)
		}
	}

	checkDesired(t, l.ns, routeSet{})
}

// TestUnresolvedResult offers a route whose only next hop is on a link that
// is down: AddRoutes must report it unresolved, not as a kernel error.
func TestUnresolvedResult(t *testing.T) {
	l := newLab(t, labConfig{hold: source, holdTimeout: "5m"})
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()

	d := l.start()
	l.ns.IP("link", "set", "v1", "down")

	// Until fibd has processed the link's notification, the kernel
	// rejects the nexthop, which is a kernel error. Retry until then.
	route := &fibdv1.Route{Prefix: prefix4(0).String(), Nexthops: []*fibdv1.Nexthop{{Gateway: gateway1, Device: "v1"}}}
	var res *fibdv1.RouteResult
	for range 50 {
		resp, err := d.client.AddRoutes(ctx, &fibdv1.AddRoutesRequest{Source: source, Routes: []*fibdv1.Route{route}})
		if err != nil {
			t.Fatalf("add route: %v", err)
		}

		res = resp.GetResults()[0]
		if strings.Contains(res.GetMessage(), "no live next hop") || res.GetCode() == fibdv1.ResultCode_RESULT_CODE_UNRESOLVED {
			break
		}

		time.Sleep(100 * time.Millisecond)
	}

	if res.GetCode() != fibdv1.ResultCode_RESULT_CODE_UNRESOLVED {
		t.Errorf("AddRoutes of a route via a down link = %v %q, want RESULT_CODE_UNRESOLVED", res.GetCode(), res.GetMessage())
	}
}
