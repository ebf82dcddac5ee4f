//go:build linux

package nlmsg

import (
	"syscall"

	"github.com/fibd/fibd/internal/netnstest"
	"net/netip"
	"testing"
)

func TestKernelDecode(t *testing.T) {
	ns := newTestNamespace(t)
	ns.IP("nexthop", "add", "id", "1", "via", "198.51.100.2", "dev", "v0", "proto", "201")
	ns.IP("nexthop", "add", "id", "2", "via", "198.51.100.3", "dev", "v0", "proto", "201")
	ns.IP("nexthop", "add", "id", "10", "group", "1,3/2,1", "proto", "201")
	ns.IP("nexthop", "add", "id", "11", "group", "1/2", "type", "resilient", "buckets", "8", "idle_timer", "10", "unbalanced_timer", "20", "proto", "201")
	ns.IP("route", "add", "203.0.113.0/24", "nhid", "10", "table", "1000", "proto", "201", "metric", "20")
	ns.IP("route", "add", "192.0.2.0/24", "via", "inet6", "fe80::1", "dev", "v0", "table", "1000", "proto", "201")
	ns.IP("route", "add", "198.51.100.128/25", "table", "1000", "proto", "201",
		"nexthop", "via", "198.51.100.2", "dev", "v0", "weight", "2",
		"nexthop", "via", "198.51.100.3", "dev", "v0")
	ns.IP("-6", "route", "add", "2001:db8:1::/64", "table", "1000", "proto", "201",
		"nexthop", "via", "2001:db8::2", "dev", "v0",
		"nexthop", "via", "2001:db8::3", "dev", "v0")

	k := dialKernel(t, ns, false)
	routes := k.dumpRoutes(1000)

	nhRoute := routes[netip.MustParsePrefix("203.0.113.0/24")]
	if nhRoute.Table != 1000 || nhRoute.NHID != 10 || nhRoute.Priority != 20 || nhRoute.Protocol != 201 {
		t.Errorf("route 203.0.113.0/24 = %+v, want table 1000, nhid 10, metric 20, proto 201", nhRoute)
	}

	via := routes[netip.MustParsePrefix("192.0.2.0/24")]
	if via.Gateway != netip.MustParseAddr("fe80::1") {
		t.Errorf("route 192.0.2.0/24 gateway = %v, want fe80::1", via.Gateway)
	}

	mp4 := routes[netip.MustParsePrefix("198.51.100.128/25")]
	want4 := []NextHop{
		{Hops: 1, OIF: mp4.firstOIF(), Gateway: netip.MustParseAddr("198.51.100.2")},
		{Hops: 0, OIF: mp4.firstOIF(), Gateway: netip.MustParseAddr("198.51.100.3")},
	}
	if diff := diffValues(mp4.Multipath, want4); diff != "" {
		t.Errorf("multipath of 198.51.100.128/25 (-got +want):\n%s", diff)
	}

	mp6 := routes[netip.MustParsePrefix("2001:db8:1::/64")]
	if len(mp6.Multipath) != 2 || mp6.Multipath[0].Gateway != netip.MustParseAddr("2001:db8::2") || mp6.Multipath[1].Gateway != netip.MustParseAddr("2001:db8::3") {
		t.Errorf("multipath of 2001:db8:1::/64 = %+v, want via 2001:db8::2 and 2001:db8::3", mp6.Multipath)
	}

	nexthops := k.dumpNexthops()

	group := nexthops[10]
	wantGroup := []GroupMember{{ID: 1, Weight: 3}, {ID: 2, Weight: 1}}
	if diff := diffValues(group.Group, wantGroup); diff != "" {
		t.Errorf("group 10 members (-got +want):\n%s", diff)
	}

	res := nexthops[11]
	if res.GroupType != NEXTHOP_GRP_TYPE_RES || res.Resilient == nil {
		t.Fatalf("nexthop 11 = %+v, want a resilient group", res)
	}

	if r := res.Resilient; r.Buckets != 8 || r.IdleTimer != 10*USER_HZ || r.UnbalancedTimer != 20*USER_HZ {
		t.Errorf("nexthop 11 resilient = %+v, want 8 buckets, idle timer 1000, unbalanced timer 2000", *r)
	}

	if gw := nexthops[1].Gateway; gw != netip.MustParseAddr("198.51.100.2") {
		t.Errorf("nexthop 1 gateway = %v, want 198.51.100.2", gw)
	}
}

func (r *Route) firstOIF() uint32 {
	if len(r.Multipath) == 0 {
		return 0
	}

	return r.Multipath[0].OIF
}

func TestKernelEncode(t *testing.T) {
	ns := newTestNamespace(t)
	k := dialKernel(t, ns, false)
	oif := linkIndex(t, ns, "v0")
	create := uint16(NLM_F_REQUEST | NLM_F_ACK | NLM_F_CREATE | NLM_F_EXCL)

	// Nexthops, then groups that refer to them, then routes.
	nexthops := []Nexthop{
		{Family: AF_INET, Protocol: 201, ID: 1, OIF: oif, Gateway: netip.MustParseAddr("198.51.100.2")},
		{Family: AF_INET, Protocol: 201, ID: 2, OIF: oif, Gateway: netip.MustParseAddr("198.51.100.3")},
		{Family: AF_INET6, Protocol: 201, ID: 3, OIF: oif, Gateway: netip.MustParseAddr("fe80::1")},
		{Family: AF_INET, Protocol: 201, ID: 4, Blackhole: true},
		{Protocol: 201, ID: 10, Group: []GroupMember{{ID: 1, Weight: 300}, {ID: 2, Weight: 1}}},
		{Protocol: 201, ID: 11, Group: []GroupMember{{ID: 1, Weight: MaxWeight}, {ID: 2, Weight: 2}}, GroupType: NEXTHOP_GRP_TYPE_RES,
			Resilient: &Resilient{Buckets: 16, IdleTimer: 5 * USER_HZ, UnbalancedTimer: 7 * USER_HZ}},
	}
	for i := range nexthops {
		k.do(AppendNexthop(nil, k.header(RTM_NEWNEXTHOP, create), &nexthops[i]))
	}

	routes := []Route{
		{Family: AF_INET, DstLen: 24, Table: 1000, Protocol: 201, Type: RTN_UNICAST, Dst: netip.MustParseAddr("203.0.113.0"), Priority: 20, NHID: 10},
		{Family: AF_INET, DstLen: 24, Table: 1000, Protocol: 201, Type: RTN_UNICAST, Dst: netip.MustParseAddr("192.0.2.0"), OIF: oif, Gateway: netip.MustParseAddr("fe80::1")},
		{Family: AF_INET, DstLen: 25, Table: 1000, Protocol: 201, Type: RTN_UNICAST, Dst: netip.MustParseAddr("198.51.100.128"), Multipath: []NextHop{
			{Hops: 4, OIF: oif, Gateway: netip.MustParseAddr("198.51.100.2")},
			{OIF: oif, Gateway: netip.MustParseAddr("fe80::2")},
		}},
		{Family: AF_INET6, DstLen: 64, Table: 1000, Protocol: 201, Type: RTN_UNICAST, Dst: netip.MustParseAddr("2001:db8:1::"), Priority: 1024, OIF: oif, Gateway: netip.MustParseAddr("2001:db8::2")},
		{Family: AF_INET6, Table: 200, Protocol: 201, Type: RTN_UNICAST, Priority: 1024, NHID: 3},
		{Family: AF_INET, DstLen: 32, Table: RT_TABLE_MAIN, Protocol: 201, Type: RTN_BLACKHOLE, Dst: netip.MustParseAddr("203.0.113.7")},
	}
	for i := range routes {
		k.do(AppendRoute(nil, k.header(RTM_NEWROUTE, create), &routes[i]))
	}

	// The kernel reports back what it stored; the fields fibd sets must
	// come back unchanged.
	got := k.dumpNexthops()
	for _, want := range nexthops {
		n := got[want.ID]
		n.Scope, n.Flags, n.OpFlags, n.Family = 0, 0, 0, want.Family
		if n.Resilient != nil {
			n.Resilient.UnbalancedTime = 0
		}

		if diff := diffValues(n, want); diff != "" {
			t.Errorf("nexthop %d read back (-got +want):\n%s", want.ID, diff)
		}
	}

	byTable := map[uint32]map[netip.Prefix]Route{}
	for _, want := range routes {
		if byTable[want.Table] == nil {
			byTable[want.Table] = k.dumpRoutes(want.Table)
		}

		r, ok := byTable[want.Table][want.Prefix()]
		if !ok {
			t.Errorf("route %s table %d not found", want.Prefix(), want.Table)

			continue
		}

		checkRoute(t, r, want)
	}
}

// checkRoute compares the fields fibd sets; the kernel adds others (a
// multipath route reports each next hop's flags, a nexthop route the
// group's expansion).
func checkRoute(t *testing.T, got, want Route) {
	t.Helper()

	if got.Table != want.Table || got.NHID != want.NHID || got.Priority != want.Priority || got.Type != want.Type || got.Protocol != want.Protocol {
		t.Errorf("route %s = %+v, want %+v", want.Prefix(), got, want)
	}

	// A route with a nexthop object reports the object's gateway too.
	if want.NHID == 0 && (got.Gateway != want.Gateway || got.OIF != want.OIF) {
		t.Errorf("route %s next hop = %v dev %d, want %v dev %d", want.Prefix(), got.Gateway, got.OIF, want.Gateway, want.OIF)
	}

	if want.Multipath != nil {
		if diff := diffValues(got.Multipath, want.Multipath); diff != "" {
			t.Errorf("route %s multipath (-got +want):\n%s", want.Prefix(), diff)
		}
	}
}

func TestKernelErrors(t *testing.T) {
	for _, capAck := range []bool{false, true} {
		ns := newTestNamespace(t)
		k := dialKernel(t, ns, capAck)
		create := uint16(NLM_F_REQUEST | NLM_F_ACK | NLM_F_CREATE | NLM_F_EXCL)

		// A group whose member does not exist is rejected with an
		// extended acknowledgement.
		bad := Nexthop{Protocol: 201, ID: 10, Group: []GroupMember{{ID: 99, Weight: 1}}}
		req := AppendNexthop(nil, k.header(RTM_NEWNEXTHOP, create), &bad)
		msgs := k.exchange(req)
		last := msgs[len(msgs)-1]
		capture(t, "error", last)

		e, err := ParseErrorMessage(last.h, last.payload)
		if err != nil {
			t.Fatalf("cap ack %v: parse error message: %v", capAck, err)
		}

		if e.Errno != int32(syscall.EINVAL) || e.Message == "" || e.Request.Seq != k.seq || e.Request.Type != RTM_NEWNEXTHOP {
			t.Errorf("cap ack %v: error = %+v, want EINVAL with a message for seq %d", capAck, e, k.seq)
		}

		inferred, err := ParseError(last.payload)
		if err != nil || inferred != e {
			t.Errorf("cap ack %v: ParseError = %+v, %v, want %+v", capAck, inferred, err, e)
		}

		// A route in a table that does not exist cannot be deleted.
		missing := Route{Family: AF_INET, DstLen: 24, Table: 1000, Dst: netip.MustParseAddr("203.0.113.0")}
		if e := k.ack(AppendRoute(nil, k.header(RTM_DELROUTE, NLM_F_REQUEST|NLM_F_ACK), &missing)); e.Errno != int32(syscall.ESRCH) {
			t.Errorf("cap ack %v: delete missing route: errno %d (%s), want ESRCH", capAck, e.Errno, e.Message)
		}

		// An acknowledged NOOP is a barrier with errno 0.
		if e := k.ack(AppendNoop(nil, k.header(0, NLM_F_REQUEST|NLM_F_ACK))); e.Errno != 0 || e.Request.Type != NLMSG_NOOP {
			t.Errorf("cap ack %v: noop ack = %+v, want errno 0 for NLMSG_NOOP", capAck, e)
		}
	}
}

func TestKernelRouteGet(t *testing.T) {
	ns := newTestNamespace(t)
	k := dialKernel(t, ns, false)
	oif := linkIndex(t, ns, "v0")

	for _, dst := range []string{"198.51.100.2", "2001:db8::2"} {
		msgs := k.exchange(AppendRouteGet(nil, k.header(0, 0), netip.MustParseAddr(dst), 0))
		if msgs[0].h.Type != RTM_NEWROUTE {
			e, _ := ParseErrorMessage(msgs[0].h, msgs[0].payload)
			t.Fatalf("route get %s: reply type %d, error %+v", dst, msgs[0].h.Type, e)
		}

		var r Route
		if err := r.UnmarshalBinary(msgs[0].payload); err != nil {
			t.Fatalf("decode route get %s: %v", dst, err)
		}

		if r.OIF != oif || r.Dst != netip.MustParseAddr(dst) {
			t.Errorf("route get %s = dst %v dev %d, want dev %d", dst, r.Dst, r.OIF, oif)
		}
	}
}

func linkIndex(t *testing.T, ns *netnstest.NS, name string) uint32 {
	t.Helper()

	var links []struct {
		Index uint32 `json:"ifindex"`
	}
	ns.JSON(&links, "link", "show", name)
	if len(links) != 1 {
		t.Fatalf("link %s not found in %s", name, ns.Name)
	}

	return links[0].Index
}

func TestKernelRejects(t *testing.T) {
	ns := newTestNamespace(t)
	k := dialKernel(t, ns, false)
	create := uint16(NLM_F_REQUEST | NLM_F_ACK | NLM_F_CREATE | NLM_F_EXCL)
	oif := linkIndex(t, ns, "v0")
	k.do(AppendNexthop(nil, k.header(RTM_NEWNEXTHOP, create), &Nexthop{Family: AF_INET, ID: 1, OIF: oif, Gateway: mustAddr("198.51.100.2")}))

	// The fields documented as reply-only are rejected in requests.
	for name, n := range map[string]Nexthop{
		"op flags":        {Family: AF_INET, ID: 2, OIF: oif, Gateway: mustAddr("198.51.100.3"), OpFlags: NHA_OP_FLAG_RESP_GRP_RESVD_0},
		"unbalanced time": {ID: 3, Group: []GroupMember{{ID: 1}}, GroupType: NEXTHOP_GRP_TYPE_RES, Resilient: &Resilient{Buckets: 8, UnbalancedTime: 1}},
		"weight 65536":    {ID: 4, Group: []GroupMember{{ID: 1, Weight: 1 << 16}}},
	} {
		if e := k.ack(AppendNexthop(nil, k.header(RTM_NEWNEXTHOP, create), &n)); e.Errno == 0 {
			t.Errorf("%s: nexthop %d accepted, want an error", name, n.ID)
		} else {
			t.Logf("%s: errno %d: %s", name, e.Errno, e.Message)
		}
	}
}

func TestKernelDumpFilter(t *testing.T) {
	ns := newTestNamespace(t)
	ns.IP("route", "add", "203.0.113.0/24", "via", "198.51.100.2", "table", "1000", "proto", "201")
	ns.IP("route", "add", "192.0.2.0/24", "via", "198.51.100.2", "table", "1000", "proto", "static")
	ns.IP("route", "add", "198.51.100.128/25", "via", "198.51.100.2", "proto", "201")
	k := dialKernel(t, ns, false)

	var got []netip.Prefix
	for _, m := range k.exchange(AppendRouteDump(nil, k.header(0, 0), AF_INET, 201, 1000)) {
		if m.h.Type != RTM_NEWROUTE {
			continue
		}

		if m.h.Flags&NLM_F_DUMP_FILTERED == 0 {
			t.Errorf("reply flags %#x lack NLM_F_DUMP_FILTERED", m.h.Flags)
		}

		var r Route
		if err := r.UnmarshalBinary(m.payload); err != nil {
			t.Fatalf("decode route: %v", err)
		}

		got = append(got, r.Prefix())
	}

	if diff := diffValues(got, []netip.Prefix{netip.MustParsePrefix("203.0.113.0/24")}); diff != "" {
		t.Errorf("routes of proto 201 in table 1000 (-got +want):\n%s", diff)
	}
}
