package kernel

import (
	"encoding/binary"
	"net/netip"
	"slices"
	"strings"
	"syscall"
	"testing"

	"github.com/mdlayher/netlink"
	"golang.org/x/sys/unix"

	"github.com/fibd/fibd/fib"
	"github.com/fibd/fibd/fib/kernel/nlmsg"
	"github.com/fibd/fibd/nexthop"
)

func routeMessage(t *testing.T, r nlmsg.Route) netlink.Message {
	t.Helper()

	data, err := r.MarshalBinary()
	if err != nil {
		t.Fatalf("encode route: %v", err)
	}

	return netlink.Message{Header: netlink.Header{Type: unix.RTM_NEWROUTE}, Data: data}
}

func nexthopMessage(t *testing.T, n nlmsg.Nexthop) netlink.Message {
	t.Helper()

	data, err := n.MarshalBinary()
	if err != nil {
		t.Fatalf("encode nexthop: %v", err)
	}

	return netlink.Message{Header: netlink.Header{Type: unix.RTM_NEWNEXTHOP}, Data: data}
}

// dumpServer replies to route and nexthop dumps like the kernel with strict
// checking: routes filtered by the request's family and protocol.
type dumpServer struct {
	t        *testing.T
	routes   []nlmsg.Route
	nexthops []nlmsg.Nexthop

	// interrupt marks the first n dumps NLM_F_DUMP_INTR.
	interrupt int
	requests  []netlink.Message
}

func (s *dumpServer) serve(req []netlink.Message) ([]netlink.Message, error) {
	m := req[0]
	s.requests = append(s.requests, m)
	if m.Header.Flags&netlink.Dump != netlink.Dump {
		s.t.Errorf("request type %d: flags %s, want a dump", m.Header.Type, m.Header.Flags)
	}

	var msgs []netlink.Message
	switch m.Header.Type {
	case unix.RTM_GETROUTE:
		family, protocol := m.Data[0], m.Data[5]
		for _, r := range s.routes {
			if r.Family == family && r.Protocol == protocol {
				msgs = append(msgs, routeMessage(s.t, r))
			}
		}
	case unix.RTM_GETNEXTHOP:
		for _, n := range s.nexthops {
			msgs = append(msgs, nexthopMessage(s.t, n))
		}
	}

	if s.interrupt > 0 {
		s.interrupt--
		for i := range msgs {
			msgs[i].Header.Flags |= netlink.DumpInterrupted
		}
	}

	return multipart(m, msgs)
}

func testRoutes() []nlmsg.Route {
	return []nlmsg.Route{
		{Family: nlmsg.AF_INET, DstLen: 24, Table: 1000, Protocol: 201, Type: nlmsg.RTN_UNICAST, Dst: prefix4.Addr(), Priority: 20, NHID: uint32(idV4a)},
		{Family: nlmsg.AF_INET, DstLen: 24, Table: 254, Protocol: 201, Type: nlmsg.RTN_BLACKHOLE, Dst: netip.MustParseAddr("203.0.113.0"), Priority: 30},
		{Family: nlmsg.AF_INET, DstLen: 24, Table: 254, Protocol: nlmsg.RTPROT_STATIC, Type: nlmsg.RTN_UNICAST, Dst: prefix4.Addr(), Priority: 20, OIF: 2},
		{Family: nlmsg.AF_INET6, DstLen: 48, Table: 254, Protocol: 201, Type: nlmsg.RTN_UNICAST, Dst: prefix6.Addr(), Priority: 1024, NHID: uint32(idGroupV4)},
	}
}

func testNexthops() []nlmsg.Nexthop {
	return []nlmsg.Nexthop{
		{Family: nlmsg.AF_INET, Protocol: 201, ID: uint32(idV4a), OIF: 2, Gateway: netip.MustParseAddr("198.51.100.2"), Flags: nlmsg.RTNH_F_ONLINK},
		{Family: nlmsg.AF_INET6, Protocol: 201, ID: uint32(idV6a), OIF: 3, Gateway: netip.MustParseAddr("fe80::1")},
		{Protocol: 201, ID: uint32(idGroupV4), Group: []nlmsg.GroupMember{{ID: uint32(idV4a), Weight: 3}, {ID: uint32(idV6a), Weight: 1}}},
		{Family: nlmsg.AF_INET, Protocol: nlmsg.RTPROT_STATIC, ID: 7, OIF: 2, Gateway: netip.MustParseAddr("198.51.100.9")},
		{Family: nlmsg.AF_INET, Protocol: nlmsg.RTPROT_ZEBRA, ID: uint32(idV4b), OIF: 2, Gateway: netip.MustParseAddr("198.51.100.9")},
	}
}

func TestDump(t *testing.T) {
	srv := &dumpServer{t: t, routes: testRoutes(), nexthops: testNexthops()}
	k, _ := newTestKernel(t, Config{}, srv.serve)

	s, err := k.Dump(background(t))
	if err != nil {
		t.Fatalf("dump: %v", err)
	}

	wantRoutes := []fib.KernelRoute{
		{Table: 1000, Prefix: prefix4, Metric: 20, Type: fib.TypeUnicast, Nexthop: idV4a},
		{Table: 254, Prefix: netip.MustParsePrefix("203.0.113.0/24"), Metric: 30, Type: fib.TypeBlackhole},
		{Table: 254, Prefix: prefix6, Metric: 1024, Type: fib.TypeUnicast, Nexthop: idGroupV4},
	}
	if !slices.Equal(s.Routes, wantRoutes) {
		t.Errorf("routes = %+v\nwant %+v", s.Routes, wantRoutes)
	}

	onlink := hop4("198.51.100.2")
	onlink.Onlink = true
	linkLocal := nexthop.Hop{Family: nexthop.FamilyIPv6, Gateway: netip.MustParseAddr("fe80::1"), Device: "v1"}
	if len(s.Nexthops) != 3 || s.Nexthops[0].Hop != onlink || s.Nexthops[1].Hop != linkLocal ||
		!equalGroup(s.Nexthops[2].Group, []nexthop.GroupMember{{ID: idV4a, Weight: 3}, {ID: idV6a, Weight: 1}}) {
		t.Errorf("nexthops = %+v, want %s, %s and a group of weights 3 and 1", s.Nexthops, onlink, linkLocal)
	}

	if !slices.Equal(s.ForeignNexthops, []nexthop.ID{7, idV4b}) {
		t.Errorf("foreign nexthops = %v, want [7 %d]", s.ForeignNexthops, idV4b)
	}

	for _, m := range srv.requests {
		if m.Header.Type == unix.RTM_GETROUTE && m.Data[5] != DefaultProtocol {
			t.Errorf("route dump request protocol = %d, want 201", m.Data[5])
		}
	}
}

func TestDumpRange(t *testing.T) {
	srv := &dumpServer{t: t, nexthops: testNexthops()}
	k, _ := newTestKernel(t, Config{Range: nexthop.DefaultRange}, srv.serve)

	s, err := k.Dump(background(t))
	if err != nil {
		t.Fatalf("dump: %v", err)
	}

	if !slices.Equal(s.ForeignNexthops, []nexthop.ID{idV4b}) {
		t.Errorf("foreign nexthops = %v, want only %d, inside the range", s.ForeignNexthops, idV4b)
	}
}

func TestDumpRoutesForeign(t *testing.T) {
	srv := &dumpServer{t: t, routes: testRoutes()}
	k, _ := newTestKernel(t, Config{}, srv.serve)

	routes, err := k.DumpRoutes(background(t), nlmsg.AF_INET, nlmsg.RTPROT_STATIC)
	if err != nil {
		t.Fatalf("dump routes: %v", err)
	}

	if len(routes) != 1 || routes[0].Protocol != nlmsg.RTPROT_STATIC || routes[0].OIF != 2 {
		t.Errorf("routes = %+v, want the static route", routes)
	}
}

func TestDumpInterrupted(t *testing.T) {
	srv := &dumpServer{t: t, routes: testRoutes(), interrupt: 2}
	k, _ := newTestKernel(t, Config{}, srv.serve)

	s, err := k.Dump(background(t))
	if err != nil {
		t.Fatalf("dump: %v", err)
	}

	if len(s.Routes) != 3 {
		t.Errorf("routes = %+v, want 3 without duplicates from the interrupted dumps", s.Routes)
	}

	if n := len(srv.requests); n != 5 {
		t.Errorf("dump requests = %d, want 5: three IPv4 (two interrupted), one IPv6, one nexthop", n)
	}
}

func TestDumpInterruptedAlways(t *testing.T) {
	srv := &dumpServer{t: t, routes: testRoutes(), interrupt: 1000}
	k, _ := newTestKernel(t, Config{}, srv.serve)

	_, err := k.Dump(background(t))
	if err == nil || !strings.Contains(err.Error(), "NLM_F_DUMP_INTR") {
		t.Fatalf("dump: err = %v, want an interrupted dump error", err)
	}

	if n := len(srv.requests); n != maxDumpAttempts {
		t.Errorf("dump requests = %d, want %d", n, maxDumpAttempts)
	}
}

// extAckError returns an NLMSG_ERROR reply to req with errno and extended
// acknowledgement text, with the request echoed as the kernel does without
// NETLINK_CAP_ACK.
func extAckError(req netlink.Message, errno syscall.Errno, text string) []netlink.Message {
	hdr, _ := req.MarshalBinary()
	data := binary.NativeEndian.AppendUint32(nil, uint32(-int32(errno)))
	data = append(data, hdr...)

	attr := append([]byte(text), 0)
	data = binary.NativeEndian.AppendUint16(data, uint16(4+len(attr)))
	data = binary.NativeEndian.AppendUint16(data, nlmsg.NLMSGERR_ATTR_MSG)
	data = append(data, attr...)
	for len(data)%4 != 0 {
		data = append(data, 0)
	}

	return []netlink.Message{{
		Header: netlink.Header{Type: netlink.Error, Flags: netlink.AcknowledgeTLVs, Sequence: req.Header.Sequence, PID: req.Header.PID},
		Data:   data,
	}}
}

func TestDumpExtAck(t *testing.T) {
	k, _ := newTestKernel(t, Config{}, func(req []netlink.Message) ([]netlink.Message, error) {
		return extAckError(req[0], syscall.EINVAL, "Invalid values in header for FIB dump request"), nil
	})

	_, err := k.Dump(background(t))
	if err == nil || !strings.Contains(err.Error(), "Invalid values in header for FIB dump request") {
		t.Errorf("dump: err = %v, want the extended acknowledgement text", err)
	}
}

// routeGetServer replies to RTM_GETROUTE for 192.0.2.7 with a route via
// 198.51.100.3 on v0, for 198.51.100.2 with a connected route on v0, for
// 203.0.113.70, .100 and .130 with the errnos of a blackhole, unreachable
// and prohibit route, for 203.0.113.200 with EINVAL and an extended
// acknowledgement, and with ENETUNREACH otherwise.
func routeGetServer(t *testing.T) func([]netlink.Message) ([]netlink.Message, error) {
	return func(req []netlink.Message) ([]netlink.Message, error) {
		var r nlmsg.Route
		if err := r.UnmarshalBinary(req[0].Data); err != nil {
			t.Fatalf("decode route request: %v", err)
		}

		reply := nlmsg.Route{Family: nlmsg.AF_INET, DstLen: 32, Table: 254, Type: nlmsg.RTN_UNICAST, Dst: r.Dst, OIF: 2}
		switch r.Dst.String() {
		case "192.0.2.7":
			reply.Gateway = netip.MustParseAddr("198.51.100.3")
		case "198.51.100.2":
		case "203.0.113.70":
			return extAckError(req[0], syscall.EINVAL, ""), nil
		case "203.0.113.100":
			return extAckError(req[0], syscall.EHOSTUNREACH, ""), nil
		case "203.0.113.130":
			return extAckError(req[0], syscall.EACCES, ""), nil
		case "203.0.113.200":
			return extAckError(req[0], syscall.EINVAL, "Invalid values in header for route get request"), nil
		default:
			return extAckError(req[0], syscall.ENETUNREACH, ""), nil
		}

		m := routeMessage(t, reply)
		m.Header.Sequence = req[0].Header.Sequence
		m.Header.PID = req[0].Header.PID

		return []netlink.Message{m}, nil
	}
}

func TestResolve(t *testing.T) {
	k, _ := newTestKernel(t, Config{}, routeGetServer(t))
	gateway := func(s string) nexthop.Hop {
		return nexthop.Hop{Family: nexthop.FamilyIPv4, Gateway: netip.MustParseAddr(s)}
	}

	tests := []struct {
		name string
		hop  nexthop.Hop
		want nexthop.Hop
		err  string
	}{
		{"connected", gateway("198.51.100.2"), hop4("198.51.100.2"), ""},
		{"recursive", gateway("192.0.2.7"), hop4("198.51.100.3"), ""},
		{"device", hop4("198.51.100.9"), hop4("198.51.100.9"), ""},
		{"unreachable", gateway("203.0.113.1"), nexthop.Hop{}, "no route to gateway 203.0.113.1 (netlink receive: network is unreachable); add a route to it, set the next hop's device"},
		{"blackhole", gateway("203.0.113.70"), nexthop.Hop{}, "a blackhole route or rule covers gateway 203.0.113.70 (netlink receive: invalid argument); set the next hop's device"},
		{"unreachable route", gateway("203.0.113.100"), nexthop.Hop{}, "an unreachable route covers gateway 203.0.113.100"},
		{"prohibit", gateway("203.0.113.130"), nexthop.Hop{}, "a prohibit route or rule covers gateway 203.0.113.130"},
		{"invalid request", gateway("203.0.113.200"), nexthop.Hop{}, `look up the route to gateway 203.0.113.200: netlink receive: invalid argument, offset: 0, message: "Invalid values in header`},
		{"nodevice", nexthop.Hop{Family: nexthop.FamilyIPv4, Gateway: netip.MustParseAddr("198.51.100.2"), Device: "v9"}, nexthop.Hop{}, "device v9 not found"},
		{"linklocal", nexthop.Hop{Family: nexthop.FamilyIPv6, Gateway: netip.MustParseAddr("fe80::1")}, nexthop.Hop{}, "needs an interface"},
		{"empty", nexthop.Hop{Family: nexthop.FamilyIPv4}, nexthop.Hop{}, "neither gateway nor device"},
	}

	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := k.Resolve(background(t), tt.hop)
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
