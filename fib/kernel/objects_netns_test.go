package kernel

import (
	"errors"
	"io/fs"
	"net/netip"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"github.com/fibd/fibd/fib"
	"github.com/fibd/fibd/fib/kernel/nlmsg"
	"github.com/fibd/fibd/nexthop"
)

var (
	prefix4 = netip.MustParsePrefix("192.0.2.0/24")
	prefix6 = netip.MustParsePrefix("2001:db8:2::/48")
)

func TestNetnsTable1000(t *testing.T) {
	l := newLab(t, Config{})
	mustApply(t, l.k, []fib.Op{
		nexthopOp(fib.OpNexthopCreate, nexthop.Object{ID: idV4a, Hop: hop4("198.51.100.2")}),
		routeOp(fib.OpRouteCreate, prefix4, 1000, 20, idV4a),
	})

	routes := l.ipRoutes(t)
	if len(routes) != 1 || routes[0].Table != "1000" || routes[0].Dst != "192.0.2.0/24" {
		t.Errorf("ip route = %+v, want 192.0.2.0/24 in table 1000", routes)
	}

	s := mustDump(t, l.k)
	if len(s.Routes) != 1 || s.Routes[0].Table != 1000 {
		t.Errorf("Dump routes = %+v, want one in table 1000", s.Routes)
	}
}

func TestNetnsGroupWeights(t *testing.T) {
	l := newLab(t, Config{})
	group := nexthop.Object{ID: idGroupV4, Group: []nexthop.GroupMember{{ID: idV4a, Weight: 3}, {ID: idV4b, Weight: 1}}}
	mustApply(t, l.k, []fib.Op{
		nexthopOp(fib.OpNexthopCreate, nexthop.Object{ID: idV4a, Hop: hop4("198.51.100.2")}),
		nexthopOp(fib.OpNexthopCreate, nexthop.Object{ID: idV4b, Hop: hop4("198.51.100.3")}),
		nexthopOp(fib.OpNexthopCreate, group),
	})

	n := l.ipNexthops(t)[uint32(idGroupV4)]
	weights := map[uint32]uint32{}
	for _, m := range n.Group {
		// ip omits a weight of 1.
		weights[m.ID] = max(m.Weight, 1)
	}

	if weights[uint32(idV4a)] != 3 || weights[uint32(idV4b)] != 1 || len(weights) != 2 {
		t.Errorf("ip nexthop group %d = %+v, want %d weight 3 and %d weight 1", idGroupV4, n.Group, idV4a, idV4b)
	}

	s := mustDump(t, l.k)
	for _, o := range s.Nexthops {
		if o.ID == idGroupV4 && !equalGroup(o.Group, group.Group) {
			t.Errorf("Dump group %d = %+v, want %+v", o.ID, o.Group, group.Group)
		}
	}

	// Replacing the group in place changes its weights.
	group.Group[0].Weight = 200
	mustApply(t, l.k, []fib.Op{nexthopOp(fib.OpNexthopReplace, group)})
	if n := l.ipNexthops(t)[uint32(idGroupV4)]; n.Group[0].Weight != 200 {
		t.Errorf("ip nexthop group after replace = %+v, want weight 200 first", n.Group)
	}

	// Weights above 256 need the kernel's weight_high byte (Linux 6.12);
	// this iproute2 prints only the low byte, so read them with Dump.
	group.Group[0].Weight = 1000
	mustApply(t, l.k, []fib.Op{nexthopOp(fib.OpNexthopReplace, group)})
	for _, o := range mustDump(t, l.k).Nexthops {
		if o.ID == idGroupV4 && !equalGroup(o.Group, group.Group) {
			t.Errorf("Dump group %d = %+v, want %+v", o.ID, o.Group, group.Group)
		}
	}
}

func equalGroup(a, b []nexthop.GroupMember) bool {
	if len(a) != len(b) {
		return false
	}

	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}

	return true
}

func TestNetnsResilientGroup(t *testing.T) {
	l := newLab(t, Config{})
	res := &nexthop.Resilient{Buckets: 32, IdleTimer: 10, UnbalancedTimer: 20}
	mustApply(t, l.k, []fib.Op{
		nexthopOp(fib.OpNexthopCreate, nexthop.Object{ID: idV4a, Hop: hop4("198.51.100.2")}),
		nexthopOp(fib.OpNexthopCreate, nexthop.Object{ID: idV4b, Hop: hop4("198.51.100.3")}),
		nexthopOp(fib.OpNexthopCreate, nexthop.Object{ID: idGroupV4, Group: []nexthop.GroupMember{{ID: idV4a, Weight: 1}, {ID: idV4b, Weight: 1}}, Resilient: res}),
	})

	out := l.ns.IP("nexthop", "show", "id", "3000000005")
	if !strings.Contains(out, "type resilient buckets 32 idle_timer 10 unbalanced_timer 20") {
		t.Errorf("ip nexthop show = %q, want a resilient group of 32 buckets with timers 10 and 20", out)
	}

	for _, o := range mustDump(t, l.k).Nexthops {
		if o.ID == idGroupV4 && (o.Resilient == nil || *o.Resilient != *res) {
			t.Errorf("Dump resilient group = %+v, want %+v", o.Resilient, res)
		}
	}
}

func TestNetnsRFC5549(t *testing.T) {
	l := newLab(t, Config{})
	hop := nexthop.Hop{Family: nexthop.FamilyIPv6, Gateway: netip.MustParseAddr("fe80::1"), Device: "v0"}
	mustApply(t, l.k, []fib.Op{
		nexthopOp(fib.OpNexthopCreate, nexthop.Object{ID: idV6a, Hop: hop}),
		routeOp(fib.OpRouteCreate, prefix4, fib.TableMain, 20, idV6a),
	})

	routes := l.ipRoutes(t)
	if len(routes) != 1 || routes[0].Via == nil || routes[0].Via.Host != "fe80::1" {
		t.Fatalf("ip route = %+v, want 192.0.2.0/24 via inet6 fe80::1", routes)
	}

	dumped, err := l.k.DumpRoutes(testContext(t), nlmsg.AF_INET, DefaultProtocol)
	if err != nil {
		t.Fatalf("dump routes: %v", err)
	}

	if len(dumped) != 1 || dumped[0].Gateway != hop.Gateway {
		t.Errorf("DumpRoutes = %+v, want gateway fe80::1", dumped)
	}

	s := mustDump(t, l.k)
	if len(s.Nexthops) != 1 || s.Nexthops[0].Hop != hop {
		t.Errorf("Dump nexthops = %+v, want %s", s.Nexthops, hop)
	}
}

func TestNetnsRejectTypes(t *testing.T) {
	l := newLab(t, Config{})
	var ops []fib.Op
	for i, typ := range []fib.Type{fib.TypeBlackhole, fib.TypeUnreachable, fib.TypeProhibit} {
		for _, p := range []netip.Prefix{prefix4, prefix6} {
			op := routeOp(fib.OpRouteCreate, p, fib.TableMain, uint32(10+i), 0)
			op.Route.Type = typ
			ops = append(ops, op)
		}
	}

	mustApply(t, l.k, ops)
	checkTypes(t, l, ops)

	// Deletes match any type, so a delete naming the wrong one still works.
	for i := range ops {
		ops[i].Kind = fib.OpRouteDelete
		ops[i].Route.Type = fib.TypeUnicast
	}

	mustApply(t, l.k, ops)
	if routes := l.ipRoutes(t); len(routes) != 0 {
		t.Errorf("ip route after delete = %+v, want none", routes)
	}
}

func checkTypes(t *testing.T, l *lab, ops []fib.Op) {
	t.Helper()

	got := map[string]fib.Type{}
	for _, r := range mustDump(t, l.k).Routes {
		got[routeKey(r.Prefix, r.Table, r.Metric)] = r.Type
	}

	for _, op := range ops {
		key := routeKey(op.Route.Prefix, op.Route.Table, op.Route.Metric)
		if got[key] != op.Route.Type {
			t.Errorf("Dump: %s has type %s, want %s", key, got[key], op.Route.Type)
		}
	}

	if len(l.ipRoutes(t)) != len(ops) {
		t.Errorf("ip route lists %d routes, want %d", len(l.ipRoutes(t)), len(ops))
	}
}

func TestNetnsUnknownDevice(t *testing.T) {
	l := newLab(t, Config{})
	bad := hop4("198.51.100.2")
	bad.Device = "v9"
	ops := []fib.Op{
		nexthopOp(fib.OpNexthopCreate, nexthop.Object{ID: idV4a, Hop: bad}),
		nexthopOp(fib.OpNexthopCreate, nexthop.Object{ID: idV4b, Hop: hop4("198.51.100.3")}),
	}
	if err := l.k.Apply(testContext(t), ops); err != nil {
		t.Fatalf("apply: %v", err)
	}

	if err := ops[0].Err; err == nil || !strings.Contains(err.Error(), "v9") {
		t.Errorf("create on device v9: err = %v, want an error naming v9", err)
	}

	if ops[1].Err != nil {
		t.Errorf("create on device v0: %v", ops[1].Err)
	}

	// A device created after the first miss is found.
	l.ns.IP("link", "add", "v9", "type", "veth", "peer", "name", "v9p")
	l.ns.IP("link", "set", "v9", "up")
	l.ns.IP("link", "set", "v9p", "up")
	ops[0].Nexthop.Hop.Onlink = true
	mustApply(t, l.k, ops[:1])
}

func TestNetnsDeleteMissing(t *testing.T) {
	l := newLab(t, Config{})
	mustApply(t, l.k, []fib.Op{
		routeOp(fib.OpRouteDelete, prefix4, fib.TableMain, 20, 0),
		routeOp(fib.OpRouteDelete, prefix6, fib.TableMain, 20, 0),
		routeOp(fib.OpRouteDelete, prefix4, 1000, 20, 0),
		nexthopOp(fib.OpNexthopDelete, nexthop.Object{ID: idV4a}),
	})
}

func TestNetnsForeignNexthop(t *testing.T) {
	l := newLab(t, Config{})
	l.ns.IP("nexthop", "add", "id", "3000000001", "via", "198.51.100.9", "dev", "v0")
	l.ns.IP("route", "add", "203.0.113.0/24", "nhid", "3000000001")

	ops := []fib.Op{nexthopOp(fib.OpNexthopCreate, nexthop.Object{ID: idV4a, Hop: hop4("198.51.100.2")})}
	if err := l.k.Apply(testContext(t), ops); err != nil {
		t.Fatalf("apply: %v", err)
	}

	if !errors.Is(ops[0].Err, fs.ErrExist) {
		t.Errorf("create of foreign id: err = %v, want EEXIST", ops[0].Err)
	}

	if n := l.ipNexthops(t)[uint32(idV4a)]; n.Gateway != "198.51.100.9" {
		t.Errorf("foreign nexthop after create = %+v, want it untouched via 198.51.100.9", n)
	}

	s := mustDump(t, l.k)
	if len(s.ForeignNexthops) != 1 || s.ForeignNexthops[0] != idV4a || len(s.Nexthops) != 0 {
		t.Errorf("Dump = %+v, want foreign nexthop %d and no own", s, idV4a)
	}
}

func TestNetnsForeignRoute(t *testing.T) {
	l := newLab(t, Config{})
	l.ns.IP("route", "add", "192.0.2.0/24", "via", "198.51.100.2", "metric", "20", "proto", "static")

	ops := []fib.Op{
		nexthopOp(fib.OpNexthopCreate, nexthop.Object{ID: idV4a, Hop: hop4("198.51.100.3")}),
		routeOp(fib.OpRouteCreate, prefix4, fib.TableMain, 20, idV4a),
	}
	if err := l.k.Apply(testContext(t), ops); err != nil {
		t.Fatalf("apply: %v", err)
	}

	if !errors.Is(ops[1].Err, fs.ErrExist) {
		t.Errorf("create over a static route: err = %v, want EEXIST", ops[1].Err)
	}

	// A delete names fibd's protocol, so it leaves the static route alone.
	mustApply(t, l.k, []fib.Op{routeOp(fib.OpRouteDelete, prefix4, fib.TableMain, 20, 0)})

	var routes []ipRoute
	l.ns.JSON(&routes, "route", "show", "192.0.2.0/24", "proto", "static")
	if len(routes) != 1 || routes[0].Gateway != "198.51.100.2" {
		t.Errorf("static route = %+v, want it untouched via 198.51.100.2", routes)
	}
}

func TestNetnsResolve(t *testing.T) {
	l := newLab(t, Config{})
	l.ns.IP("route", "add", "192.0.2.0/24", "via", "198.51.100.3")
	tests := []struct {
		name string
		hop  nexthop.Hop
		want nexthop.Hop
		err  string
	}{
		{"connected", nexthop.Hop{Family: nexthop.FamilyIPv4, Gateway: netip.MustParseAddr("198.51.100.2")}, hop4("198.51.100.2"), ""},
		{"connected6", nexthop.Hop{Family: nexthop.FamilyIPv6, Gateway: netip.MustParseAddr("2001:db8:1::2")}, hop6("2001:db8:1::2"), ""},
		{"recursive", nexthop.Hop{Family: nexthop.FamilyIPv4, Gateway: netip.MustParseAddr("192.0.2.7")}, hop4("198.51.100.3"), ""},
		{"device", hop4("198.51.100.2"), hop4("198.51.100.2"), ""},
		{"linklocal", nexthop.Hop{Family: nexthop.FamilyIPv6, Gateway: netip.MustParseAddr("fe80::1")}, nexthop.Hop{}, "interface"},
		{"nodevice", nexthop.Hop{Family: nexthop.FamilyIPv4, Gateway: netip.MustParseAddr("198.51.100.2"), Device: "v9"}, nexthop.Hop{}, "v9"},
		{"unreachable", nexthop.Hop{Family: nexthop.FamilyIPv4, Gateway: netip.MustParseAddr("203.0.113.1")}, nexthop.Hop{}, "203.0.113.1"},
	}

	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := l.k.Resolve(testContext(t), tt.hop)
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Errorf("Resolve(%s) error = %v, want one containing %q", tt.hop, err, tt.err)
				}

				return
			}

			if err != nil || got != tt.want {
				t.Errorf("Resolve(%s) = %s, %v, want %s", tt.hop, got, err, tt.want)
			}
		})
	}
}

// TestNetnsResolveRejectingRoute checks the errors of gateways that a
// blackhole, unreachable or prohibit route covers, with the errnos that
// the kernel returns for each family.
func TestNetnsResolveRejectingRoute(t *testing.T) {
	l := newLab(t, Config{})
	for _, args := range [][]string{
		{"route", "add", "blackhole", "203.0.113.64/27"},
		{"route", "add", "unreachable", "203.0.113.96/27"},
		{"route", "add", "prohibit", "203.0.113.128/27"},
		{"-6", "route", "add", "blackhole", "2001:db8:b::/48"},
		{"-6", "route", "add", "unreachable", "2001:db8:c::/48"},
		{"-6", "route", "add", "prohibit", "2001:db8:d::/48"},
	} {
		l.ns.IP(args...)
	}

	tests := []struct {
		gateway string
		want    string
		errno   syscall.Errno
	}{
		{"203.0.113.70", "a blackhole route or rule covers gateway 203.0.113.70", syscall.EINVAL},
		{"203.0.113.100", "an unreachable route covers gateway 203.0.113.100", syscall.EHOSTUNREACH},
		{"203.0.113.130", "a prohibit route or rule covers gateway 203.0.113.130", syscall.EACCES},
		{"203.0.113.1", "no route to gateway 203.0.113.1", syscall.ENETUNREACH},
		{"2001:db8:b::7", "a blackhole route or rule covers gateway 2001:db8:b::7", syscall.EINVAL},
		{"2001:db8:c::7", "an unreachable route covers gateway 2001:db8:c::7", syscall.EHOSTUNREACH},
		{"2001:db8:d::7", "a prohibit route or rule covers gateway 2001:db8:d::7", syscall.EACCES},
		{"2001:db8:e::7", "no route to gateway 2001:db8:e::7", syscall.ENETUNREACH},
	}

	for _, tt := range tests {
		t.Run(tt.gateway, func(t *testing.T) {
			gateway := netip.MustParseAddr(tt.gateway)
			hop := nexthop.Hop{Family: nexthop.FamilyOf(gateway), Gateway: gateway}
			_, err := l.k.Resolve(testContext(t), hop)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("Resolve(%s) error = %v, want one containing %q", hop, err, tt.want)
			}

			if !strings.Contains(err.Error(), "set the next hop's device, or use a gateway that a unicast route reaches") {
				t.Errorf("Resolve(%s) error = %v, want it to say what to do", hop, err)
			}

			if !errors.Is(err, tt.errno) {
				t.Errorf("Resolve(%s) error = %v, want it to unwrap to %v", hop, err, tt.errno)
			}
		})
	}
}

func TestNetnsRecreatedDevice(t *testing.T) {
	l := newLab(t, Config{})
	addVeth := func() {
		l.ns.IP("link", "add", "v5", "type", "veth", "peer", "name", "v5p")
		l.ns.IP("link", "set", "v5", "up")
		l.ns.IP("link", "set", "v5p", "up")
	}

	hop := hop4("198.51.100.2")
	hop.Device = "v5"
	hop.Onlink = true
	addVeth()
	mustApply(t, l.k, []fib.Op{nexthopOp(fib.OpNexthopCreate, nexthop.Object{ID: idV4a, Hop: hop})})

	// The kernel deletes the nexthop with the device; the new device has
	// a new index.
	l.ns.IP("link", "del", "v5")
	addVeth()
	mustApply(t, l.k, []fib.Op{nexthopOp(fib.OpNexthopCreate, nexthop.Object{ID: idV4a, Hop: hop})})

	if n := l.ipNexthops(t)[uint32(idV4a)]; n.Dev != "v5" {
		t.Errorf("nexthop after the device came back = %+v, want dev v5", n)
	}
}

func TestNetnsDumpWideMultipath(t *testing.T) {
	l := newLab(t, Config{})
	args := []string{"route", "add", "203.0.113.0/24", "proto", "static"}
	for i := range 200 {
		args = append(args, "nexthop", "via", "198.51.100."+strconv.Itoa(2+i), "dev", "v0")
	}

	l.ns.IP(args...)

	routes, err := l.k.DumpRoutes(testContext(t), nlmsg.AF_INET, nlmsg.RTPROT_STATIC)
	if err != nil {
		t.Fatalf("dump routes: %v", err)
	}

	if len(routes) != 1 || len(routes[0].Multipath) != 200 {
		t.Fatalf("DumpRoutes = %d routes, want one with 200 paths", len(routes))
	}

	if gw := routes[0].Multipath[199].Gateway; gw != netip.MustParseAddr("198.51.100.201") {
		t.Errorf("path 200 gateway = %s, want 198.51.100.201", gw)
	}
}

// TestNetnsCreateOverOwnRoute covers a create of a route that fibd itself
// already installed, as after a late delete notification: the create
// succeeds and leaves the route on the requested nexthop.
func TestNetnsCreateOverOwnRoute(t *testing.T) {
	l := newLab(t, Config{})
	mustApply(t, l.k, []fib.Op{
		nexthopOp(fib.OpNexthopCreate, nexthop.Object{ID: idV4a, Hop: hop4("198.51.100.2")}),
		nexthopOp(fib.OpNexthopCreate, nexthop.Object{ID: idV4b, Hop: hop4("198.51.100.3")}),
		routeOp(fib.OpRouteCreate, prefix4, fib.TableMain, 20, idV4a),
	})

	ops := []fib.Op{routeOp(fib.OpRouteCreate, prefix4, fib.TableMain, 20, idV4b)}
	if err := l.k.Apply(testContext(t), ops); err != nil {
		t.Fatalf("apply: %v", err)
	}

	if ops[0].Err != nil {
		t.Errorf("create over fibd's own route: err = %v, want success", ops[0].Err)
	}

	var routes []ipRoute
	l.ns.JSON(&routes, "route", "show", "192.0.2.0/24", "proto", "201")
	if len(routes) != 1 || routes[0].Gateway != "198.51.100.3" {
		t.Errorf("routes = %+v, want one via 198.51.100.3 (nexthop %d)", routes, idV4b)
	}

	if got := l.k.Stats().OwnRecreated; got != 1 {
		t.Errorf("OwnRecreated = %d, want 1", got)
	}
}

// TestNetnsCreateOverOwnNexthop covers a create of a nexthop object that
// fibd itself already installed at that id, as after a late delete
// notification: the create succeeds as a replace with the requested hop,
// while a create at the id of another owner's object still fails.
func TestNetnsCreateOverOwnNexthop(t *testing.T) {
	l := newLab(t, Config{})
	mustApply(t, l.k, []fib.Op{
		nexthopOp(fib.OpNexthopCreate, nexthop.Object{ID: idV4a, Hop: hop4("198.51.100.2")}),
	})
	l.ns.IP("nexthop", "add", "id", strconv.FormatUint(uint64(idV4b), 10), "via", "198.51.100.2", "dev", "v0", "proto", "static")

	ops := []fib.Op{
		nexthopOp(fib.OpNexthopCreate, nexthop.Object{ID: idV4a, Hop: hop4("198.51.100.3")}),
		nexthopOp(fib.OpNexthopCreate, nexthop.Object{ID: idV4b, Hop: hop4("198.51.100.3")}),
	}
	if err := l.k.Apply(testContext(t), ops); err != nil {
		t.Fatalf("apply: %v", err)
	}

	if ops[0].Err != nil {
		t.Errorf("create over fibd's own nexthop: err = %v, want success", ops[0].Err)
	}

	if !errors.Is(ops[1].Err, fs.ErrExist) {
		t.Errorf("create over another owner's nexthop: err = %v, want EEXIST", ops[1].Err)
	}

	if out := l.ns.IP("nexthop", "show", "id", strconv.FormatUint(uint64(idV4a), 10)); !strings.Contains(out, "via 198.51.100.3") {
		t.Errorf("nexthop %d = %q, want it via 198.51.100.3", idV4a, out)
	}

	if got := l.k.Stats().OwnReplaced; got != 1 {
		t.Errorf("OwnReplaced = %d, want 1", got)
	}
}

func TestNetnsLinkExists(t *testing.T) {
	l := newLab(t, Config{})

	if !l.k.LinkExists("v0") {
		t.Errorf("LinkExists(v0) = false, want true")
	}

	if l.k.LinkExists("nosuch0") {
		t.Errorf("LinkExists(nosuch0) = true, want false")
	}

	// A device created after the first lookup is found by a new dump.
	l.ns.IP("link", "add", "v9", "type", "veth", "peer", "name", "v10")
	if !l.k.LinkExists("v9") {
		t.Errorf("LinkExists(v9) = false after creating it, want true")
	}
}
