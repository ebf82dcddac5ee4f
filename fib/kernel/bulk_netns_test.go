package kernel

import (
	"errors"
	"fmt"
	"io/fs"
	"net/netip"
	"syscall"
	"testing"

	"github.com/fibd/fibd/fib"
	"github.com/fibd/fibd/nexthop"
)

// Nexthop ids of the bulk test: two single hops and a group per family.
const (
	idV4a nexthop.ID = 3_000_000_001 + iota
	idV4b
	idV6a
	idV6b
	idGroupV4
	idGroupV6
)

func bulkNexthops() []fib.Op {
	return []fib.Op{
		nexthopOp(fib.OpNexthopCreate, nexthop.Object{ID: idV4a, Hop: hop4("198.51.100.2")}),
		nexthopOp(fib.OpNexthopCreate, nexthop.Object{ID: idV4b, Hop: hop4("198.51.100.3")}),
		nexthopOp(fib.OpNexthopCreate, nexthop.Object{ID: idV6a, Hop: hop6("2001:db8:1::2")}),
		nexthopOp(fib.OpNexthopCreate, nexthop.Object{ID: idV6b, Hop: hop6("2001:db8:1::3")}),
		nexthopOp(fib.OpNexthopCreate, nexthop.Object{ID: idGroupV4, Group: []nexthop.GroupMember{{ID: idV4a, Weight: 1}, {ID: idV4b, Weight: 1}}}),
		nexthopOp(fib.OpNexthopCreate, nexthop.Object{ID: idGroupV6, Group: []nexthop.GroupMember{{ID: idV6a, Weight: 1}, {ID: idV6b, Weight: 1}}}),
	}
}

// bulkRoutes returns 10,000 routes: 5,110 IPv4 routes (every sub-prefix
// of 192.0.2.0/24 and 203.0.113.0/24 at five metrics) and 4,890 IPv6 /64s,
// alternating between a single hop and a group, or the other way round
// when swap is set.
func bulkRoutes(kind fib.OpKind, swap bool) []fib.Op {
	var ops []fib.Op
	add := func(p netip.Prefix, metric uint32, single, group nexthop.ID) {
		id := single
		if (len(ops)%2 == 0) != swap {
			id = group
		}

		ops = append(ops, routeOp(kind, p, fib.TableMain, metric, id))
	}

	for _, base := range []string{"192.0.2.0", "203.0.113.0"} {
		for bits := 24; bits <= 32; bits++ {
			for host := 0; host < 256; host += 1 << (32 - bits) {
				a := netip.MustParseAddr(base).As4()
				a[3] = byte(host)
				for metric := uint32(10); metric < 15; metric++ {
					add(netip.PrefixFrom(netip.AddrFrom4(a), bits), metric, idV4a, idGroupV4)
				}
			}
		}
	}

	for i := 0; len(ops) < 10_000; i++ {
		p := netip.MustParsePrefix(fmt.Sprintf("2001:db8:100:%x::/64", i))
		add(p, 1024, idV6a, idGroupV6)
	}

	return ops
}

// checkRoutes compares the kernel's routes, by Dump and by `ip -j route`,
// with the routes of ops.
func checkRoutes(t *testing.T, l *lab, ops []fib.Op) {
	t.Helper()

	want := make(map[string]nexthop.ID, len(ops))
	for _, op := range ops {
		want[routeKey(op.Route.Prefix, op.Route.Table, op.Route.Metric)] = op.Route.Nexthop
	}

	s := mustDump(t, l.k)
	if len(s.Routes) != len(want) {
		t.Errorf("Dump found %d routes, want %d", len(s.Routes), len(want))
	}

	for _, r := range s.Routes {
		key := routeKey(r.Prefix, r.Table, r.Metric)
		if id, ok := want[key]; !ok || id != r.Nexthop {
			t.Fatalf("Dump: route %s has nexthop %d, want %d (listed: %v)", key, r.Nexthop, id, ok)
		}
	}

	routes := l.ipRoutes(t)
	if len(routes) != len(want) {
		t.Errorf("ip route found %d routes, want %d", len(routes), len(want))
	}

	for _, r := range routes {
		key := routeKey(netip.MustParsePrefix(fullPrefix(r.Dst)), fib.TableMain, r.Metric)
		if id, ok := want[key]; !ok || uint32(id) != r.NHID {
			t.Fatalf("ip route: route %s has nhid %d, want %d (listed: %v)", key, r.NHID, id, ok)
		}
	}
}

func routeKey(p netip.Prefix, table, metric uint32) string {
	return fmt.Sprintf("%s table %d metric %d", p, table, metric)
}

// fullPrefix adds the /32 or /128 that ip leaves out of host routes.
func fullPrefix(dst string) string {
	if _, err := netip.ParsePrefix(dst); err == nil {
		return dst
	}

	a := netip.MustParseAddr(dst)

	return netip.PrefixFrom(a, a.BitLen()).String()
}

func TestNetnsBulk(t *testing.T) {
	l := newLab(t, Config{})
	mustApply(t, l.k, bulkNexthops())

	created := bulkRoutes(fib.OpRouteCreate, false)
	mustApply(t, l.k, created)
	checkRoutes(t, l, created)

	replaced := bulkRoutes(fib.OpRouteReplace, true)
	mustApply(t, l.k, replaced)
	checkRoutes(t, l, replaced)

	// Replacing with the same state again changes nothing.
	mustApply(t, l.k, bulkRoutes(fib.OpRouteReplace, true))
	checkRoutes(t, l, replaced)

	deleted := bulkRoutes(fib.OpRouteDelete, true)
	mustApply(t, l.k, deleted)
	checkRoutes(t, l, nil)

	// Deleting what is gone succeeds.
	mustApply(t, l.k, bulkRoutes(fib.OpRouteDelete, true))
	checkRoutes(t, l, nil)

	stats := l.k.Stats()
	if got := stats.Ops["route-create"]; got != 10_000 {
		t.Errorf("Stats().Ops[route-create] = %d, want 10000", got)
	}

	if len(stats.Errors) != 0 {
		t.Errorf("Stats().Errors = %v, want none", stats.Errors)
	}
}

func TestNetnsBulkAckEach(t *testing.T) {
	l := newLab(t, Config{AckEach: true})
	mustApply(t, l.k, bulkNexthops())

	// Another owner holds every route, so every create fails, and each
	// error reaches its own op.
	mustApply(t, l.foreign(t, Config{}), bulkRoutes(fib.OpRouteCreate, false))
	again := bulkRoutes(fib.OpRouteCreate, false)
	if err := l.k.Apply(testContext(t), again); err != nil {
		t.Fatalf("apply: %v", err)
	}

	for i, op := range again {
		if op.Err == nil {
			t.Fatalf("op %d: second create succeeded", i)
		}
	}
}

func TestNetnsBulkSmallBuffers(t *testing.T) {
	l := newLab(t, Config{ReadBuffer: 256 << 10, WriteBuffer: 256 << 10})
	mustApply(t, l.k, bulkNexthops())
	mustApply(t, l.foreign(t, Config{}), bulkRoutes(fib.OpRouteCreate, false))

	// Another owner holds every route, so every request of every batch
	// fails, and no error reply is lost.
	again := bulkRoutes(fib.OpRouteCreate, false)
	if err := l.k.Apply(testContext(t), again); err != nil {
		t.Fatalf("apply: %v", err)
	}

	for i, op := range again {
		if !errors.Is(op.Err, fs.ErrExist) {
			t.Fatalf("op %d: err = %v, want EEXIST", i, op.Err)
		}
	}

	// Each create fails twice: once, and once more after the delete of a
	// route of fibd's own, which finds none.
	if got := l.k.Stats().Errors[syscall.EEXIST]; got != 2*uint64(len(again)) {
		t.Errorf("Stats().Errors[EEXIST] = %d, want %d", got, 2*len(again))
	}
}
