package fib_test

import (
	"context"
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/fibd/fibd/fib"
)

func TestWatchSnapshotThenChanges(t *testing.T) {
	h := newHarness(t, nil, fib.Config{})
	h.run()
	h.update(route("192.0.2.0/25", "bgp", fib.DistanceEBGP, 20, hops(hop(gwA, "v0"))))
	h.sync()

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()

	events := make(chan fib.Event, 16)
	done := make(chan error, 1)
	go func() {
		done <- h.fib.Watch(ctx, fib.Filter{Table: fib.TableMain}, func(ev fib.Event) { events <- ev })
	}()

	first := <-events
	if first.Kind != fib.EventUpdate || first.Route.Key != key("192.0.2.0/25") || first.Route.Installed == nil {
		t.Errorf("first event = %+v, want the installed route", first)
	}

	if ev := <-events; !ev.Synced {
		t.Errorf("second event = %+v, want Synced", ev)
	}

	h.update(route("192.0.2.128/25", "bgp", fib.DistanceEBGP, 20, hops(hop(gwA, "v0"))))
	if ev := <-events; ev.Route.Key != key("192.0.2.128/25") || ev.Route.Installed == nil {
		t.Errorf("change event = %+v, want the new route installed", ev)
	}

	h.fib.Withdraw("bgp", []fib.Key{key("192.0.2.0/25")})
	if ev := <-events; ev.Kind != fib.EventDelete || ev.Route.Key != key("192.0.2.0/25") {
		t.Errorf("withdraw event = %+v, want a delete of 192.0.2.0/25", ev)
	}

	cancel()
	if err := <-done; err != nil {
		t.Errorf("watch after cancel = %v, want nil", err)
	}
}

func TestWatchSlowCutOff(t *testing.T) {
	h := newHarness(t, nil, fib.Config{WatchBuffer: 2})
	h.run()

	release := make(chan struct{})
	done := make(chan error, 1)
	started := make(chan struct{})
	go func() {
		var once sync.Once
		done <- h.fib.Watch(context.Background(), fib.Filter{}, func(ev fib.Event) {
			once.Do(func() { close(started) })
			<-release
		})
	}()

	// The watcher blocks in its first callback, the Synced event.
	<-started
	for i := range 10 {
		h.update(route(fmt.Sprintf("192.0.2.%d/32", i), "bgp", fib.DistanceEBGP, 20, hops(hop(gwA, "v0"))))
		h.sync()
	}

	close(release)
	select {
	case err := <-done:
		if err == nil || !strings.Contains(err.Error(), "fell behind") {
			t.Errorf("watch = %v, want an error saying it fell behind", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the slow watcher was not cut off")
	}

	// The loop went on regardless.
	if s := h.fib.Stats(); s.Installed != 10 {
		t.Errorf("installed = %d, want 10", s.Installed)
	}
}

func TestSyncConcurrentProducers(t *testing.T) {
	h := newHarness(t, nil, fib.Config{BatchSize: 64})
	h.run()

	var wg sync.WaitGroup
	for p := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()

			source := fmt.Sprintf("p%d", p)
			for i := range 500 {
				r := route(prefix6(i), source, fib.Distance(10+p), 20, hops(hop(gw6A, "v0"), hop(gw6B, "v1")))
				if errs := h.fib.Update([]fib.Route{r}); errs[0] != nil {
					t.Error(errs[0])
				}
			}
		}()
	}

	wg.Wait()
	h.sync()

	s := h.fib.Stats()
	if s.Routes != 500 || s.Installed != 500 || s.Pending != 0 {
		t.Errorf("routes = %d, installed = %d, pending = %d, want 500, 500, 0", s.Routes, s.Installed, s.Pending)
	}

	for p := range 4 {
		if n := s.SourcesRoutes[fmt.Sprintf("p%d", p)]; n != 500 {
			t.Errorf("candidates of p%d = %d, want 500", p, n)
		}
	}

	st, _ := h.fib.Lookup(key(prefix6(9)))
	if len(st.Candidates) != 4 || st.Candidates[0].Source != "p0" {
		t.Errorf("candidates = %+v, want 4 with p0 (distance 10) first", st.Candidates)
	}
}

func TestUpdateRejectsInvalid(t *testing.T) {
	h := newHarness(t, nil, fib.Config{})
	good := route("192.0.2.0/24", "bgp", fib.DistanceEBGP, 20, hops(hop(gwA, "v0")))
	bad := route("192.0.2.1/24", "bgp", fib.DistanceEBGP, 20, hops(hop(gwA, "v0")))

	errs := h.fib.Update([]fib.Route{good, bad})
	if errs[0] != nil || errs[1] == nil || !strings.Contains(errs[1].Error(), "192.0.2.1/24") {
		t.Errorf("errors = %v, want nil and one naming 192.0.2.1/24", errs)
	}

	if _, ok := h.fib.Lookup(key("192.0.2.0/24")); !ok {
		t.Error("the valid route was not stored")
	}

	if s := h.fib.Stats(); s.Routes != 1 {
		t.Errorf("routes = %d, want 1", s.Routes)
	}
}

func TestRoutesOrderAndFilter(t *testing.T) {
	h := newHarness(t, nil, fib.Config{})
	h.update(
		route("2001:db8:1::/48", "bgp", fib.DistanceEBGP, 20, hops(hop(gw6A, "v0"))),
		route("192.0.2.128/25", "bgp", fib.DistanceEBGP, 20, hops(hop(gwA, "v0"))),
		route("192.0.2.0/25", "grpc", fib.DistanceGRPC, 20, hops(hop(gwA, "v0"))),
	)

	var got []string
	h.fib.Routes(fib.Filter{}, func(s fib.RouteState) bool {
		got = append(got, s.Key.Prefix.String())

		return true
	})

	if want := "192.0.2.0/25 192.0.2.128/25 2001:db8:1::/48"; strings.Join(got, " ") != want {
		t.Errorf("routes = %v, want %s", got, want)
	}

	got = nil
	h.fib.Routes(fib.Filter{Source: "bgp", Family: 2}, func(s fib.RouteState) bool {
		got = append(got, s.Key.Prefix.String())

		return true
	})

	if want := "192.0.2.128/25"; strings.Join(got, " ") != want {
		t.Errorf("filtered routes = %v, want %s", got, want)
	}
}

// TestRoutesOrderAcrossTables lists routes offered in reverse order by
// table, then IPv4 before IPv6, then address, then prefix length.
func TestRoutesOrderAcrossTables(t *testing.T) {
	h := newHarness(t, nil, fib.Config{})
	want := []fib.Key{
		{Table: fib.TableMain, Prefix: netip.MustParsePrefix("0.0.0.0/0")},
		{Table: fib.TableMain, Prefix: netip.MustParsePrefix("192.0.2.0/24")},
		{Table: fib.TableMain, Prefix: netip.MustParsePrefix("192.0.2.0/25")},
		{Table: fib.TableMain, Prefix: netip.MustParsePrefix("192.0.2.128/25")},
		{Table: fib.TableMain, Prefix: netip.MustParsePrefix("203.0.113.0/24")},
		{Table: fib.TableMain, Prefix: netip.MustParsePrefix("::/0")},
		{Table: fib.TableMain, Prefix: netip.MustParsePrefix("2001:db8::/32")},
		{Table: fib.TableMain, Prefix: netip.MustParsePrefix("2001:db8:1::/48")},
		{Table: 1000, Prefix: netip.MustParsePrefix("10.0.0.0/8")},
		{Table: 1000, Prefix: netip.MustParsePrefix("2001:db8::/32")},
	}

	for _, k := range slices.Backward(want) {
		gw := gwA
		if k.Prefix.Addr().Is6() {
			gw = gw6A
		}

		r := route(k.Prefix.String(), "grpc", fib.DistanceGRPC, 0, hops(hop(gw, "v0")))
		r.Table = k.Table
		h.update(r)
	}

	var got []fib.Key
	h.fib.Routes(fib.Filter{}, func(s fib.RouteState) bool {
		got = append(got, s.Key)

		return true
	})

	if !slices.Equal(got, want) {
		t.Errorf("routes = %v, want %v", got, want)
	}
}

func TestNexthopsListing(t *testing.T) {
	h := newHarness(t, nil, fib.Config{})
	h.run()

	h.update(
		route("192.0.2.0/25", "bgp", fib.DistanceEBGP, 20, hops(hop(gwA, "v0"), hop(gwB, "v0"))),
		route("192.0.2.128/25", "bgp", fib.DistanceEBGP, 20, hops(hop(gwA, "v0"), hop(gwB, "v0"))),
		route("203.0.113.0/24", "bgp", fib.DistanceEBGP, 20, hops(hop(gwA, "v0"))),
	)
	h.sync()
	h.fib.SetGatewayDown(gwB, "bgp-peer", true)
	h.sync()

	var got []string
	for _, n := range h.fib.Nexthops() {
		got = append(got, fmt.Sprintf("%d refs=%d routes=%d installed=%v down=%v group=%d",
			n.Object.ID, n.Refs, n.Routes, n.Installed, n.Down, len(n.Object.Group)))
	}

	want := []string{
		"3000000001 refs=2 routes=1 installed=true down=[] group=0",
		"3000000002 refs=1 routes=0 installed=true down=[bgp-peer] group=0",
		"3000000003 refs=2 routes=2 installed=true down=[] group=1",
	}

	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("nexthops:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}
