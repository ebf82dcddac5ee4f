package kernel

import (
	"encoding/binary"
	"net/netip"
	"slices"
	"syscall"
	"testing"

	"github.com/mdlayher/netlink"
	"golang.org/x/sys/unix"

	"github.com/fibd/fibd/fib/kernel/nlmsg"
	"github.com/fibd/fibd/nexthop"
)

// pathsServer replies to RTM_GETROUTE for a gateway with the route in
// routes whose Dst is the gateway. With RTM_F_FIB_MATCH the reply is the
// whole entry, and without it the first path, in place of the path
// the kernel picks. RTM_GETNEXTHOP gets the object in nexthops, or ENOENT
// for an id that nexthops lacks.
type pathsServer struct {
	t        *testing.T
	routes   []nlmsg.Route
	nexthops []nlmsg.Nexthop
}

func (s *pathsServer) serve(req []netlink.Message) ([]netlink.Message, error) {
	m := req[0]
	var reply netlink.Message
	switch m.Header.Type {
	case unix.RTM_GETROUTE:
		r, ok := s.route(m)
		if !ok {
			return extAckError(m, syscall.ENETUNREACH, ""), nil
		}

		reply = routeMessage(s.t, r)
	case unix.RTM_GETNEXTHOP:
		n, ok := s.nexthop(m)
		if !ok {
			return extAckError(m, syscall.ENOENT, "Nexthop id does not exist"), nil
		}

		reply = nexthopMessage(s.t, n)
	default:
		return nil, nil
	}

	reply.Header.Sequence = m.Header.Sequence
	reply.Header.PID = m.Header.PID

	return []netlink.Message{reply}, nil
}

// route returns the reply to an RTM_GETROUTE request.
func (s *pathsServer) route(m netlink.Message) (nlmsg.Route, bool) {
	var q nlmsg.Route
	if err := q.UnmarshalBinary(m.Data); err != nil {
		s.t.Fatalf("decode route request: %v", err)
	}

	i := slices.IndexFunc(s.routes, func(r nlmsg.Route) bool { return r.Dst == q.Dst })
	if i < 0 {
		return nlmsg.Route{}, false
	}

	r := s.routes[i]
	if binary.NativeEndian.Uint32(m.Data[8:])&nlmsg.RTM_F_FIB_MATCH != 0 || len(r.Multipath) == 0 {
		return r, true
	}

	// Without RTM_F_FIB_MATCH the kernel returns the path it picks.
	picked := r
	picked.Multipath = nil
	picked.Gateway, picked.OIF = r.Multipath[0].Gateway, r.Multipath[0].OIF

	return picked, true
}

// nexthop returns the reply to an RTM_GETNEXTHOP request.
func (s *pathsServer) nexthop(m netlink.Message) (nlmsg.Nexthop, bool) {
	var q nlmsg.Nexthop
	if err := q.UnmarshalBinary(m.Data); err != nil {
		s.t.Fatalf("decode nexthop request: %v", err)
	}

	i := slices.IndexFunc(s.nexthops, func(n nlmsg.Nexthop) bool { return n.ID == q.ID })
	if i < 0 {
		return nlmsg.Nexthop{}, false
	}

	return s.nexthops[i], true
}

// TestResolvePathsWeights covers the weights of the paths of a covering
// route: rtnh_hops + 1 from RTA_MULTIPATH, and the member weights of a
// nexthop group, including one above 256 (NHA_GROUP weight_high), along
// with the paths left out and the fallbacks to the path the kernel picks.
func TestResolvePathsWeights(t *testing.T) {
	addr := netip.MustParseAddr
	gw2, gw3 := addr("198.51.100.2"), addr("198.51.100.3")
	route := func(dst string) nlmsg.Route {
		return nlmsg.Route{Family: nlmsg.AF_INET, DstLen: 24, Table: 254, Type: nlmsg.RTN_UNICAST, Dst: addr(dst)}
	}

	multipath := route("192.0.2.1")
	multipath.Multipath = []nlmsg.NextHop{{Hops: 2, OIF: 2, Gateway: gw2}, {Hops: 0, OIF: 3, Gateway: gw3}}

	dead := route("192.0.2.2")
	dead.Multipath = []nlmsg.NextHop{{Hops: 4, OIF: 2, Gateway: gw2}, {Flags: nlmsg.RTNH_F_DEAD, OIF: 3, Gateway: gw3}, {Hops: 1, OIF: 3, Gateway: addr("198.51.100.4")}}

	group := route("192.0.2.3")
	group.OIF, group.Gateway, group.NHID = 2, gw2, 90

	device := route("192.0.2.4")
	device.OIF, device.Gateway, device.NHID = 2, gw2, 93

	missing := route("192.0.2.5")
	missing.OIF, missing.Gateway, missing.NHID = 2, gw2, 99

	single := route("192.0.2.6")
	single.OIF, single.Gateway = 2, gw2

	// With nexthop_compat_mode on, a route over a group lists its paths
	// too, with only the low 8 bits of weight-1: 300 reads as 44.
	compat := route("192.0.2.7")
	compat.NHID = 90
	compat.Multipath = []nlmsg.NextHop{{Hops: 2, OIF: 2, Gateway: gw2}, {Hops: 43, OIF: 3, Gateway: gw3}}

	missingCompat := route("192.0.2.8")
	missingCompat.NHID = 99
	missingCompat.Multipath = []nlmsg.NextHop{{Hops: 1, OIF: 2, Gateway: gw2}, {Hops: 0, OIF: 3, Gateway: gw3}}

	routes := []nlmsg.Route{multipath, dead, group, device, missing, single, compat, missingCompat}
	srv := &pathsServer{t: t, routes: routes, nexthops: []nlmsg.Nexthop{
		{Family: nlmsg.AF_INET, Protocol: nlmsg.RTPROT_STATIC, ID: 91, OIF: 2, Gateway: gw2},
		{Family: nlmsg.AF_INET, Protocol: nlmsg.RTPROT_STATIC, ID: 92, OIF: 3, Gateway: gw3},
		{Family: nlmsg.AF_INET, Protocol: nlmsg.RTPROT_STATIC, ID: 94, OIF: 3},
		{Protocol: nlmsg.RTPROT_STATIC, ID: 90, Group: []nlmsg.GroupMember{{ID: 91, Weight: 3}, {ID: 92, Weight: 300}}, OpFlags: nlmsg.NHA_OP_FLAG_RESP_GRP_RESVD_0},
		{Protocol: nlmsg.RTPROT_STATIC, ID: 93, Group: []nlmsg.GroupMember{{ID: 91, Weight: 1}, {ID: 94, Weight: 2}}, OpFlags: nlmsg.NHA_OP_FLAG_RESP_GRP_RESVD_0},
	}}
	k, _ := newTestKernel(t, Config{}, srv.serve)

	hop := func(gw netip.Addr, device string) nexthop.Hop {
		return nexthop.Hop{Family: nexthop.FamilyIPv4, Gateway: gw, Device: device}
	}

	member := func(h nexthop.Hop, w uint32) nexthop.Member { return nexthop.Member{Hop: h, Weight: w} }
	onlink := nexthop.Hop{Family: nexthop.FamilyIPv4, Gateway: addr("192.0.2.4"), Device: "v1", Onlink: true}
	tests := []struct {
		name    string
		gateway string
		want    []nexthop.Member
	}{
		{"multipath", "192.0.2.1", []nexthop.Member{member(hop(gw2, "v0"), 3), member(hop(gw3, "v1"), 1)}},
		{"dead path skipped", "192.0.2.2", []nexthop.Member{member(hop(gw2, "v0"), 5), member(hop(addr("198.51.100.4"), "v1"), 2)}},
		{"group", "192.0.2.3", []nexthop.Member{member(hop(gw2, "v0"), 3), member(hop(gw3, "v1"), 300)}},
		{"group device member", "192.0.2.4", []nexthop.Member{member(hop(gw2, "v0"), 1), member(onlink, 2)}},
		{"single path", "192.0.2.6", []nexthop.Member{member(hop(gw2, "v0"), 1)}},
		// The group cannot be read, so the path the kernel picks serves.
		{"group not found", "192.0.2.5", []nexthop.Member{member(hop(gw2, "v0"), 1)}},
		{"group in compat mode", "192.0.2.7", []nexthop.Member{member(hop(gw2, "v0"), 3), member(hop(gw3, "v1"), 300)}},
		{"group not found in compat mode", "192.0.2.8", []nexthop.Member{member(hop(gw2, "v0"), 2), member(hop(gw3, "v1"), 1)}},
	}

	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := nexthop.Hop{Family: nexthop.FamilyIPv4, Gateway: addr(tt.gateway)}
			got, err := k.ResolvePaths(background(t), h)
			if err != nil {
				t.Fatalf("ResolvePaths(%s): %v", h, err)
			}

			if !slices.Equal(got, tt.want) {
				t.Errorf("ResolvePaths(%s) = %v, want %v", h, got, tt.want)
			}
		})
	}
}
