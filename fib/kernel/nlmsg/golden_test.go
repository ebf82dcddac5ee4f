package nlmsg

import (
	"bytes"
	"encoding/hex"
	"net/netip"
	"testing"
)

// The golden messages are little-endian, as on amd64 and arm64.
func skipBigEndian(t testing.TB) {
	if native.Uint16([]byte{1, 0}) != 1 {
		t.Skip("golden bytes are little-endian")
	}
}

const create = NLM_F_REQUEST | NLM_F_ACK | NLM_F_CREATE | NLM_F_EXCL

var (
	// routeNHID is an IPv4 route in table 1000 through nexthop object 10.
	routeNHID = Route{Family: AF_INET, DstLen: 24, Table: 1000, Protocol: 201, Type: RTN_UNICAST,
		Dst: netip.MustParseAddr("203.0.113.0"), Priority: 20, NHID: 10}
	routeNHIDBytes = []byte{
		0x3c, 0x00, 0x00, 0x00, // nlmsg_len 60
		0x18, 0x00, // nlmsg_type RTM_NEWROUTE
		0x05, 0x06, // nlmsg_flags REQUEST|ACK|EXCL|CREATE
		0x01, 0x00, 0x00, 0x00, // nlmsg_seq 1
		0x00, 0x00, 0x00, 0x00, // nlmsg_pid 0
		0x02,                   // rtm_family AF_INET
		0x18,                   // rtm_dst_len 24
		0x00,                   // rtm_src_len
		0x00,                   // rtm_tos
		0x00,                   // rtm_table RT_TABLE_UNSPEC: 1000 does not fit
		0xc9,                   // rtm_protocol 201
		0x00,                   // rtm_scope RT_SCOPE_UNIVERSE
		0x01,                   // rtm_type RTN_UNICAST
		0x00, 0x00, 0x00, 0x00, // rtm_flags
		0x08, 0x00, 0x0f, 0x00, // len 8, RTA_TABLE
		0xe8, 0x03, 0x00, 0x00, // 1000
		0x08, 0x00, 0x01, 0x00, // len 8, RTA_DST
		0xcb, 0x00, 0x71, 0x00, // 203.0.113.0
		0x08, 0x00, 0x06, 0x00, // len 8, RTA_PRIORITY
		0x14, 0x00, 0x00, 0x00, // 20
		0x08, 0x00, 0x1e, 0x00, // len 8, RTA_NH_ID
		0x0a, 0x00, 0x00, 0x00, // 10
	}

	// routeVia is an IPv4 route via an IPv6 link-local gateway (RFC 5549).
	routeVia = Route{Family: AF_INET, DstLen: 24, Table: RT_TABLE_MAIN, Protocol: 201, Type: RTN_UNICAST,
		Dst: netip.MustParseAddr("192.0.2.0"), OIF: 2, Gateway: netip.MustParseAddr("fe80::1")}
	routeViaBytes = []byte{
		0x4c, 0x00, 0x00, 0x00, // nlmsg_len 76
		0x18, 0x00, // nlmsg_type RTM_NEWROUTE
		0x05, 0x01, // nlmsg_flags REQUEST|ACK|REPLACE
		0x02, 0x00, 0x00, 0x00, // nlmsg_seq 2
		0x00, 0x00, 0x00, 0x00, // nlmsg_pid 0
		0x02,                   // rtm_family AF_INET
		0x18,                   // rtm_dst_len 24
		0x00,                   // rtm_src_len
		0x00,                   // rtm_tos
		0xfe,                   // rtm_table RT_TABLE_MAIN
		0xc9,                   // rtm_protocol 201
		0x00,                   // rtm_scope RT_SCOPE_UNIVERSE
		0x01,                   // rtm_type RTN_UNICAST
		0x00, 0x00, 0x00, 0x00, // rtm_flags
		0x08, 0x00, 0x0f, 0x00, // len 8, RTA_TABLE
		0xfe, 0x00, 0x00, 0x00, // 254
		0x08, 0x00, 0x01, 0x00, // len 8, RTA_DST
		0xc0, 0x00, 0x02, 0x00, // 192.0.2.0
		0x08, 0x00, 0x04, 0x00, // len 8, RTA_OIF
		0x02, 0x00, 0x00, 0x00, // ifindex 2
		0x16, 0x00, 0x12, 0x00, // len 22, RTA_VIA
		0x0a, 0x00, // rtvia_family AF_INET6
		0xfe, 0x80, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, // rtvia_addr fe80::1
		0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01,
		0x00, 0x00, // padding
	}

	// routeMultipath is an IPv4 route with two next hops, one of them an
	// IPv6 gateway.
	routeMultipath = Route{Family: AF_INET, DstLen: 25, Table: 1000, Protocol: 201, Type: RTN_UNICAST,
		Dst: netip.MustParseAddr("198.51.100.128"), Multipath: []NextHop{
			{Hops: 1, OIF: 2, Gateway: netip.MustParseAddr("198.51.100.2")},
			{Flags: RTNH_F_ONLINK, OIF: 3, Gateway: netip.MustParseAddr("fe80::2")},
		}}
	routeMultipathBytes = []byte{
		0x60, 0x00, 0x00, 0x00, // nlmsg_len 96
		0x18, 0x00, // nlmsg_type RTM_NEWROUTE
		0x05, 0x06, // nlmsg_flags REQUEST|ACK|EXCL|CREATE
		0x03, 0x00, 0x00, 0x00, // nlmsg_seq 3
		0x00, 0x00, 0x00, 0x00, // nlmsg_pid 0
		0x02,                   // rtm_family AF_INET
		0x19,                   // rtm_dst_len 25
		0x00,                   // rtm_src_len
		0x00,                   // rtm_tos
		0x00,                   // rtm_table RT_TABLE_UNSPEC
		0xc9,                   // rtm_protocol 201
		0x00,                   // rtm_scope
		0x01,                   // rtm_type RTN_UNICAST
		0x00, 0x00, 0x00, 0x00, // rtm_flags
		0x08, 0x00, 0x0f, 0x00, // len 8, RTA_TABLE
		0xe8, 0x03, 0x00, 0x00, // 1000
		0x08, 0x00, 0x01, 0x00, // len 8, RTA_DST
		0xc6, 0x33, 0x64, 0x80, // 198.51.100.128
		0x34, 0x00, 0x09, 0x00, // len 52, RTA_MULTIPATH
		0x10, 0x00, // rtnh_len 16
		0x00,                   // rtnh_flags
		0x01,                   // rtnh_hops: weight 2
		0x02, 0x00, 0x00, 0x00, // rtnh_ifindex 2
		0x08, 0x00, 0x05, 0x00, // len 8, RTA_GATEWAY
		0xc6, 0x33, 0x64, 0x02, // 198.51.100.2
		0x20, 0x00, // rtnh_len 32
		0x04,                   // rtnh_flags RTNH_F_ONLINK
		0x00,                   // rtnh_hops: weight 1
		0x03, 0x00, 0x00, 0x00, // rtnh_ifindex 3
		0x16, 0x00, 0x12, 0x00, // len 22, RTA_VIA
		0x0a, 0x00, // rtvia_family AF_INET6
		0xfe, 0x80, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, // rtvia_addr fe80::2
		0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x02,
		0x00, 0x00, // padding
	}

	// nexthopGateway is a plain IPv4 nexthop object.
	nexthopGateway = Nexthop{Family: AF_INET, Protocol: 201, Flags: RTNH_F_ONLINK, ID: 1, OIF: 2,
		Gateway: netip.MustParseAddr("198.51.100.2")}
	nexthopGatewayBytes = []byte{
		0x30, 0x00, 0x00, 0x00, // nlmsg_len 48
		0x68, 0x00, // nlmsg_type RTM_NEWNEXTHOP
		0x05, 0x06, // nlmsg_flags REQUEST|ACK|EXCL|CREATE
		0x04, 0x00, 0x00, 0x00, // nlmsg_seq 4
		0x00, 0x00, 0x00, 0x00, // nlmsg_pid 0
		0x02,                   // nh_family AF_INET
		0x00,                   // nh_scope
		0xc9,                   // nh_protocol 201
		0x00,                   // resvd
		0x04, 0x00, 0x00, 0x00, // nh_flags RTNH_F_ONLINK
		0x08, 0x00, 0x01, 0x00, // len 8, NHA_ID
		0x01, 0x00, 0x00, 0x00, // 1
		0x08, 0x00, 0x05, 0x00, // len 8, NHA_OIF
		0x02, 0x00, 0x00, 0x00, // ifindex 2
		0x08, 0x00, 0x06, 0x00, // len 8, NHA_GATEWAY
		0xc6, 0x33, 0x64, 0x02, // 198.51.100.2
	}

	// nexthopGroup is a group with a 16-bit weight.
	nexthopGroup      = Nexthop{Protocol: 201, ID: 10, Group: []GroupMember{{ID: 1, Weight: 300}, {ID: 2, Weight: 1}}}
	nexthopGroupBytes = []byte{
		0x3c, 0x00, 0x00, 0x00, // nlmsg_len 60
		0x68, 0x00, // nlmsg_type RTM_NEWNEXTHOP
		0x05, 0x01, // nlmsg_flags REQUEST|ACK|REPLACE
		0x05, 0x00, 0x00, 0x00, // nlmsg_seq 5
		0x00, 0x00, 0x00, 0x00, // nlmsg_pid 0
		0x00,                   // nh_family AF_UNSPEC
		0x00,                   // nh_scope
		0xc9,                   // nh_protocol 201
		0x00,                   // resvd
		0x00, 0x00, 0x00, 0x00, // nh_flags
		0x08, 0x00, 0x01, 0x00, // len 8, NHA_ID
		0x0a, 0x00, 0x00, 0x00, // 10
		0x14, 0x00, 0x02, 0x00, // len 20, NHA_GROUP
		0x01, 0x00, 0x00, 0x00, // id 1
		0x2b,       // weight: 299 & 0xff
		0x01,       // weight_high: 299 >> 8
		0x00, 0x00, // resvd2
		0x02, 0x00, 0x00, 0x00, // id 2
		0x00,       // weight: weight 1
		0x00,       // weight_high
		0x00, 0x00, // resvd2
		0x06, 0x00, 0x03, 0x00, // len 6, NHA_GROUP_TYPE
		0x00, 0x00, // NEXTHOP_GRP_TYPE_MPATH
		0x00, 0x00, // padding
	}

	// nexthopResilient is a resilient group with its timers in USER_HZ ticks.
	nexthopResilient = Nexthop{Protocol: 201, ID: 11, Group: []GroupMember{{ID: 1, Weight: 1}},
		GroupType: NEXTHOP_GRP_TYPE_RES, Resilient: &Resilient{Buckets: 16, IdleTimer: 500, UnbalancedTimer: 700}}
	nexthopResilientBytes = []byte{
		0x50, 0x00, 0x00, 0x00, // nlmsg_len 80
		0x68, 0x00, // nlmsg_type RTM_NEWNEXTHOP
		0x05, 0x06, // nlmsg_flags REQUEST|ACK|EXCL|CREATE
		0x06, 0x00, 0x00, 0x00, // nlmsg_seq 6
		0x00, 0x00, 0x00, 0x00, // nlmsg_pid 0
		0x00,                   // nh_family AF_UNSPEC
		0x00,                   // nh_scope
		0xc9,                   // nh_protocol 201
		0x00,                   // resvd
		0x00, 0x00, 0x00, 0x00, // nh_flags
		0x08, 0x00, 0x01, 0x00, // len 8, NHA_ID
		0x0b, 0x00, 0x00, 0x00, // 11
		0x0c, 0x00, 0x02, 0x00, // len 12, NHA_GROUP
		0x01, 0x00, 0x00, 0x00, // id 1
		0x00, 0x00, 0x00, 0x00, // weight 1, weight_high, resvd2
		0x06, 0x00, 0x03, 0x00, // len 6, NHA_GROUP_TYPE
		0x01, 0x00, // NEXTHOP_GRP_TYPE_RES
		0x00, 0x00, // padding
		0x1c, 0x00, 0x0c, 0x80, // len 28, NHA_RES_GROUP|NLA_F_NESTED
		0x06, 0x00, 0x01, 0x00, // len 6, NHA_RES_GROUP_BUCKETS
		0x10, 0x00, // 16
		0x00, 0x00, // padding
		0x08, 0x00, 0x02, 0x00, // len 8, NHA_RES_GROUP_IDLE_TIMER
		0xf4, 0x01, 0x00, 0x00, // 500 ticks
		0x08, 0x00, 0x03, 0x00, // len 8, NHA_RES_GROUP_UNBALANCED_TIMER
		0xbc, 0x02, 0x00, 0x00, // 700 ticks
	}
)

func TestRouteGolden(t *testing.T) {
	skipBigEndian(t)

	for _, tc := range []struct {
		name  string
		h     Header
		route Route
		want  []byte
	}{
		{"nhid", Header{Type: RTM_NEWROUTE, Flags: create, Seq: 1}, routeNHID, routeNHIDBytes},
		{"via", Header{Type: RTM_NEWROUTE, Flags: NLM_F_REQUEST | NLM_F_ACK | NLM_F_REPLACE, Seq: 2}, routeVia, routeViaBytes},
		{"multipath", Header{Type: RTM_NEWROUTE, Flags: create, Seq: 3}, routeMultipath, routeMultipathBytes},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := AppendRoute(nil, tc.h, &tc.route)
			checkBytes(t, got, tc.want)

			var r Route
			if err := r.UnmarshalBinary(tc.want[SizeofNlmsghdr:]); err != nil {
				t.Fatalf("unmarshal: %v", err)
			}

			if diff := diffValues(r, tc.route); diff != "" {
				t.Errorf("decoded route (-got +want):\n%s", diff)
			}
		})
	}
}

func TestNexthopGolden(t *testing.T) {
	skipBigEndian(t)

	for _, tc := range []struct {
		name    string
		h       Header
		nexthop Nexthop
		want    []byte
	}{
		{"gateway", Header{Type: RTM_NEWNEXTHOP, Flags: create, Seq: 4}, nexthopGateway, nexthopGatewayBytes},
		{"group", Header{Type: RTM_NEWNEXTHOP, Flags: NLM_F_REQUEST | NLM_F_ACK | NLM_F_REPLACE, Seq: 5}, nexthopGroup, nexthopGroupBytes},
		{"resilient", Header{Type: RTM_NEWNEXTHOP, Flags: create, Seq: 6}, nexthopResilient, nexthopResilientBytes},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := AppendNexthop(nil, tc.h, &tc.nexthop)
			checkBytes(t, got, tc.want)

			// The request carries no NHA_OP_FLAGS, so only the low weight
			// byte is decoded: a request is not a kernel reply.
			want := tc.nexthop
			want.Group = nil
			for _, m := range tc.nexthop.Group {
				want.Group = append(want.Group, GroupMember{ID: m.ID, Weight: (m.Weight-1)&0xff + 1})
			}

			var n Nexthop
			if err := n.UnmarshalBinary(tc.want[SizeofNlmsghdr:]); err != nil {
				t.Fatalf("unmarshal: %v", err)
			}

			if diff := diffValues(n, want); diff != "" {
				t.Errorf("decoded nexthop (-got +want):\n%s", diff)
			}
		})
	}
}

func TestRequestGolden(t *testing.T) {
	skipBigEndian(t)

	routeDump := []byte{
		0x24, 0x00, 0x00, 0x00, // nlmsg_len 36
		0x1a, 0x00, // nlmsg_type RTM_GETROUTE
		0x01, 0x03, // nlmsg_flags REQUEST|DUMP
		0x07, 0x00, 0x00, 0x00, // nlmsg_seq 7
		0x00, 0x00, 0x00, 0x00, // nlmsg_pid 0
		0x00,                   // rtm_family AF_UNSPEC
		0x00,                   // rtm_dst_len
		0x00,                   // rtm_src_len
		0x00,                   // rtm_tos
		0x00,                   // rtm_table RT_TABLE_UNSPEC: 1000 does not fit
		0xc9,                   // rtm_protocol 201: filter
		0x00,                   // rtm_scope
		0x00,                   // rtm_type
		0x00, 0x00, 0x00, 0x00, // rtm_flags
		0x08, 0x00, 0x0f, 0x00, // len 8, RTA_TABLE: filter
		0xe8, 0x03, 0x00, 0x00, // 1000
	}
	checkBytes(t, AppendRouteDump(nil, Header{Seq: 7}, AF_UNSPEC, 201, 1000), routeDump)

	routeGet := []byte{
		0x30, 0x00, 0x00, 0x00, // nlmsg_len 48
		0x1a, 0x00, // nlmsg_type RTM_GETROUTE
		0x01, 0x00, // nlmsg_flags REQUEST
		0x08, 0x00, 0x00, 0x00, // nlmsg_seq 8
		0x00, 0x00, 0x00, 0x00, // nlmsg_pid 0
		0x0a,                   // rtm_family AF_INET6
		0x80,                   // rtm_dst_len 128
		0x00,                   // rtm_src_len
		0x00,                   // rtm_tos
		0x00,                   // rtm_table
		0x00,                   // rtm_protocol
		0x00,                   // rtm_scope
		0x00,                   // rtm_type
		0x00, 0x00, 0x00, 0x00, // rtm_flags
		0x14, 0x00, 0x01, 0x00, // len 20, RTA_DST
		0x20, 0x01, 0x0d, 0xb8, 0x00, 0x00, 0x00, 0x00, // 2001:db8::2
		0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x02,
	}
	checkBytes(t, AppendRouteGet(nil, Header{Seq: 8}, netip.MustParseAddr("2001:db8::2"), 0), routeGet)

	nexthopDump := []byte{
		0x18, 0x00, 0x00, 0x00, // nlmsg_len 24
		0x6a, 0x00, // nlmsg_type RTM_GETNEXTHOP
		0x01, 0x03, // nlmsg_flags REQUEST|DUMP
		0x09, 0x00, 0x00, 0x00, // nlmsg_seq 9
		0x00, 0x00, 0x00, 0x00, // nlmsg_pid 0
		0x0a,                   // nh_family AF_INET6
		0x00,                   // nh_scope
		0x00,                   // nh_protocol
		0x00,                   // resvd
		0x00, 0x00, 0x00, 0x00, // nh_flags
	}
	checkBytes(t, AppendNexthopDump(nil, Header{Seq: 9}, AF_INET6), nexthopDump)

	nexthopGet := []byte{
		0x20, 0x00, 0x00, 0x00, // nlmsg_len 32
		0x6a, 0x00, // nlmsg_type RTM_GETNEXTHOP
		0x01, 0x00, // nlmsg_flags REQUEST
		0x0b, 0x00, 0x00, 0x00, // nlmsg_seq 11
		0x00, 0x00, 0x00, 0x00, // nlmsg_pid 0
		0x00,                   // nh_family AF_UNSPEC
		0x00,                   // nh_scope
		0x00,                   // nh_protocol
		0x00,                   // resvd
		0x00, 0x00, 0x00, 0x00, // nh_flags
		0x08, 0x00, 0x01, 0x00, // len 8, NHA_ID
		0x4f, 0x00, 0x00, 0x00, // 79
	}
	checkBytes(t, AppendNexthopGet(nil, Header{Seq: 11}, 79), nexthopGet)

	noop := []byte{
		0x10, 0x00, 0x00, 0x00, // nlmsg_len 16
		0x01, 0x00, // nlmsg_type NLMSG_NOOP
		0x05, 0x00, // nlmsg_flags REQUEST|ACK
		0x0a, 0x00, 0x00, 0x00, // nlmsg_seq 10
		0x00, 0x00, 0x00, 0x00, // nlmsg_pid 0
	}
	checkBytes(t, AppendNoop(nil, Header{Flags: NLM_F_REQUEST | NLM_F_ACK, Seq: 10}), noop)
}

// checkBytes compares an encoded message with its golden bytes.
func checkBytes(t *testing.T, got, want []byte) {
	t.Helper()

	if !bytes.Equal(got, want) {
		t.Errorf("encoded bytes differ\ngot:\n%swant:\n%s", hex.Dump(got), hex.Dump(want))
	}
}
