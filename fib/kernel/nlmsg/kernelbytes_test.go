package nlmsg

import (
	"net/netip"
	"testing"
)

// The messages below were captured from Linux 6.18 dumps in a test
// namespace (TestKernelDecode with FIBD_NLMSG_CAPTURE=1); they are
// payloads, without the nlmsghdr.

var (
	// kernelGroupPayload is `ip nexthop add id 10 group 1,3/2,1 proto 201`.
	kernelGroupPayload = []byte{
		0x00,                   // nh_family AF_UNSPEC
		0x00,                   // nh_scope
		0xc9,                   // nh_protocol 201
		0x00,                   // resvd
		0x00, 0x00, 0x00, 0x00, // nh_flags
		0x08, 0x00, 0x01, 0x00, // len 8, NHA_ID
		0x0a, 0x00, 0x00, 0x00, // 10
		0x06, 0x00, 0x03, 0x00, // len 6, NHA_GROUP_TYPE
		0x00, 0x00, // NEXTHOP_GRP_TYPE_MPATH
		0x00, 0x00, // padding
		0x14, 0x00, 0x02, 0x00, // len 20, NHA_GROUP
		0x01, 0x00, 0x00, 0x00, // id 1
		0x02, 0x00, 0x00, 0x00, // weight 3-1, weight_high 0, resvd2
		0x02, 0x00, 0x00, 0x00, // id 2
		0x00, 0x00, 0x00, 0x00, // weight 1-1, weight_high 0, resvd2
		0x08, 0x00, 0x0e, 0x00, // len 8, NHA_OP_FLAGS
		0x00, 0x00, 0x00, 0x80, // NHA_OP_FLAG_RESP_GRP_RESVD_0
	}
	kernelGroup = Nexthop{Protocol: 201, ID: 10, GroupType: NEXTHOP_GRP_TYPE_MPATH,
		Group: []GroupMember{{ID: 1, Weight: 3}, {ID: 2, Weight: 1}}, OpFlags: NHA_OP_FLAG_RESP_GRP_RESVD_0}

	// kernelResilientPayload is `ip nexthop add id 11 group 1/2 type
	// resilient buckets 8 idle_timer 10 unbalanced_timer 20 proto 201`.
	kernelResilientPayload = []byte{
		0x00,                   // nh_family AF_UNSPEC
		0x00,                   // nh_scope
		0xc9,                   // nh_protocol 201
		0x00,                   // resvd
		0x00, 0x00, 0x00, 0x00, // nh_flags
		0x08, 0x00, 0x01, 0x00, // len 8, NHA_ID
		0x0b, 0x00, 0x00, 0x00, // 11
		0x06, 0x00, 0x03, 0x00, // len 6, NHA_GROUP_TYPE
		0x01, 0x00, // NEXTHOP_GRP_TYPE_RES
		0x00, 0x00, // padding
		0x14, 0x00, 0x02, 0x00, // len 20, NHA_GROUP
		0x01, 0x00, 0x00, 0x00, // id 1
		0x00, 0x00, 0x00, 0x00, // weight 1-1, weight_high, resvd2
		0x02, 0x00, 0x00, 0x00, // id 2
		0x00, 0x00, 0x00, 0x00, // weight 1-1, weight_high, resvd2
		0x28, 0x00, 0x0c, 0x80, // len 40, NHA_RES_GROUP|NLA_F_NESTED
		0x06, 0x00, 0x01, 0x00, // len 6, NHA_RES_GROUP_BUCKETS
		0x08, 0x00, // 8
		0x00, 0x00, // padding
		0x08, 0x00, 0x02, 0x00, // len 8, NHA_RES_GROUP_IDLE_TIMER
		0xe8, 0x03, 0x00, 0x00, // 1000 ticks: 10 s
		0x08, 0x00, 0x03, 0x00, // len 8, NHA_RES_GROUP_UNBALANCED_TIMER
		0xd0, 0x07, 0x00, 0x00, // 2000 ticks: 20 s
		0x0c, 0x00, 0x04, 0x00, // len 12, NHA_RES_GROUP_UNBALANCED_TIME
		0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, // 0
		0x08, 0x00, 0x0e, 0x00, // len 8, NHA_OP_FLAGS
		0x00, 0x00, 0x00, 0x80, // NHA_OP_FLAG_RESP_GRP_RESVD_0
	}
	kernelResilient = Nexthop{Protocol: 201, ID: 11, GroupType: NEXTHOP_GRP_TYPE_RES,
		Group:     []GroupMember{{ID: 1, Weight: 1}, {ID: 2, Weight: 1}},
		Resilient: &Resilient{Buckets: 8, IdleTimer: 1000, UnbalancedTimer: 2000},
		OpFlags:   NHA_OP_FLAG_RESP_GRP_RESVD_0}

	// kernelViaPayload is `ip route add 192.0.2.0/24 via inet6 fe80::1 dev
	// v0 table 1000 proto 201`.
	kernelViaPayload = []byte{
		0x02,                   // rtm_family AF_INET
		0x18,                   // rtm_dst_len 24
		0x00,                   // rtm_src_len
		0x00,                   // rtm_tos
		0xfc,                   // rtm_table RT_TABLE_COMPAT: 1000 does not fit
		0xc9,                   // rtm_protocol 201
		0x00,                   // rtm_scope RT_SCOPE_UNIVERSE
		0x01,                   // rtm_type RTN_UNICAST
		0x00, 0x00, 0x00, 0x00, // rtm_flags
		0x08, 0x00, 0x0f, 0x00, // len 8, RTA_TABLE
		0xe8, 0x03, 0x00, 0x00, // 1000
		0x08, 0x00, 0x01, 0x00, // len 8, RTA_DST
		0xc0, 0x00, 0x02, 0x00, // 192.0.2.0
		0x16, 0x00, 0x12, 0x00, // len 22, RTA_VIA
		0x0a, 0x00, // rtvia_family AF_INET6
		0xfe, 0x80, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, // rtvia_addr fe80::1
		0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01,
		0x00, 0x00, // padding
		0x08, 0x00, 0x04, 0x00, // len 8, RTA_OIF
		0x02, 0x00, 0x00, 0x00, // ifindex 2
	}
	kernelVia = Route{Family: AF_INET, DstLen: 24, Table: 1000, Protocol: 201, Type: RTN_UNICAST,
		Dst: netip.MustParseAddr("192.0.2.0"), OIF: 2, Gateway: netip.MustParseAddr("fe80::1")}

	// kernelNHIDPayload is `ip route add 203.0.113.0/24 nhid 10 table 1000
	// proto 201 metric 20`: the kernel adds the group's next hops.
	kernelNHIDPayload = []byte{
		0x02,                   // rtm_family AF_INET
		0x18,                   // rtm_dst_len 24
		0x00,                   // rtm_src_len
		0x00,                   // rtm_tos
		0xfc,                   // rtm_table RT_TABLE_COMPAT
		0xc9,                   // rtm_protocol 201
		0x00,                   // rtm_scope
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
		0x24, 0x00, 0x09, 0x00, // len 36, RTA_MULTIPATH
		0x10, 0x00, // rtnh_len 16
		0x00,                   // rtnh_flags
		0x02,                   // rtnh_hops: weight 3
		0x02, 0x00, 0x00, 0x00, // rtnh_ifindex 2
		0x08, 0x00, 0x05, 0x00, // len 8, RTA_GATEWAY
		0xc6, 0x33, 0x64, 0x02, // 198.51.100.2
		0x10, 0x00, // rtnh_len 16
		0x00,                   // rtnh_flags
		0x00,                   // rtnh_hops: weight 1
		0x02, 0x00, 0x00, 0x00, // rtnh_ifindex 2
		0x08, 0x00, 0x05, 0x00, // len 8, RTA_GATEWAY
		0xc6, 0x33, 0x64, 0x03, // 198.51.100.3
	}
	kernelNHID = Route{Family: AF_INET, DstLen: 24, Table: 1000, Protocol: 201, Type: RTN_UNICAST,
		Dst: netip.MustParseAddr("203.0.113.0"), Priority: 20, NHID: 10, Multipath: []NextHop{
			{Hops: 2, OIF: 2, Gateway: netip.MustParseAddr("198.51.100.2")},
			{OIF: 2, Gateway: netip.MustParseAddr("198.51.100.3")},
		}}

	// kernelErrorPayload rejects a group whose member does not exist, on a
	// socket with NETLINK_EXT_ACK: nlmsg_flags were NLM_F_ACK_TLVS.
	kernelErrorPayload = []byte{
		0xea, 0xff, 0xff, 0xff, // error -22 (EINVAL)
		0x34, 0x00, 0x00, 0x00, // echoed nlmsg_len 52
		0x68, 0x00, // echoed nlmsg_type RTM_NEWNEXTHOP
		0x05, 0x06, // echoed nlmsg_flags REQUEST|ACK|EXCL|CREATE
		0xe9, 0x03, 0x00, 0x00, // echoed nlmsg_seq 1001
		0x00, 0x00, 0x00, 0x00, // echoed nlmsg_pid 0
		0x00, 0x00, 0xc9, 0x00, 0x00, 0x00, 0x00, 0x00, // echoed nhmsg
		0x08, 0x00, 0x01, 0x00, 0x0a, 0x00, 0x00, 0x00, // echoed NHA_ID 10
		0x0c, 0x00, 0x02, 0x00, 0x63, 0x00, 0x00, 0x00, // echoed NHA_GROUP: id 99
		0x00, 0x00, 0x00, 0x00,
		0x06, 0x00, 0x03, 0x00, 0x00, 0x00, 0x00, 0x00, // echoed NHA_GROUP_TYPE
		0x17, 0x00, 0x01, 0x00, // len 23, NLMSGERR_ATTR_MSG
		'I', 'n', 'v', 'a', 'l', 'i', 'd', ' ', 'n', 'e', 'x', 't', 'h', 'o', 'p', ' ', 'i', 'd', 0x00,
		0x00, // padding
	}

	// kernelCappedErrorPayload is the same error on a socket that also set
	// NETLINK_CAP_ACK: nlmsg_flags were NLM_F_CAPPED|NLM_F_ACK_TLVS.
	kernelCappedErrorPayload = []byte{
		0xea, 0xff, 0xff, 0xff, // error -22 (EINVAL)
		0x34, 0x00, 0x00, 0x00, // echoed nlmsg_len 52
		0x68, 0x00, // echoed nlmsg_type RTM_NEWNEXTHOP
		0x05, 0x06, // echoed nlmsg_flags REQUEST|ACK|EXCL|CREATE
		0xe9, 0x03, 0x00, 0x00, // echoed nlmsg_seq 1001
		0x00, 0x00, 0x00, 0x00, // echoed nlmsg_pid 0
		0x17, 0x00, 0x01, 0x00, // len 23, NLMSGERR_ATTR_MSG
		'I', 'n', 'v', 'a', 'l', 'i', 'd', ' ', 'n', 'e', 'x', 't', 'h', 'o', 'p', ' ', 'i', 'd', 0x00,
		0x00, // padding
	}
	kernelError = Error{Errno: 22, Message: "Invalid nexthop id",
		Request: Header{Length: 52, Type: RTM_NEWNEXTHOP, Flags: create, Seq: 1001}}
)

func TestKernelBytesNexthop(t *testing.T) {
	skipBigEndian(t)

	for _, tc := range []struct {
		name    string
		payload []byte
		want    Nexthop
	}{
		{"group", kernelGroupPayload, kernelGroup},
		{"resilient", kernelResilientPayload, kernelResilient},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var n Nexthop
			if err := n.UnmarshalBinary(tc.payload); err != nil {
				t.Fatalf("unmarshal: %v", err)
			}

			if diff := diffValues(n, tc.want); diff != "" {
				t.Errorf("decoded nexthop (-got +want):\n%s", diff)
			}

			checkNexthopRoundTrip(t, &n)
		})
	}
}

func TestKernelBytesRoute(t *testing.T) {
	skipBigEndian(t)

	for _, tc := range []struct {
		name    string
		payload []byte
		want    Route
	}{
		{"via", kernelViaPayload, kernelVia},
		{"nhid", kernelNHIDPayload, kernelNHID},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var r Route
			if err := r.UnmarshalBinary(tc.payload); err != nil {
				t.Fatalf("unmarshal: %v", err)
			}

			if diff := diffValues(r, tc.want); diff != "" {
				t.Errorf("decoded route (-got +want):\n%s", diff)
			}

			checkRouteRoundTrip(t, &r)
		})
	}
}

func TestKernelBytesError(t *testing.T) {
	skipBigEndian(t)

	for _, tc := range []struct {
		name    string
		flags   uint16
		payload []byte
	}{
		{"full", NLM_F_ACK_TLVS, kernelErrorPayload},
		{"capped", NLM_F_CAPPED | NLM_F_ACK_TLVS, kernelCappedErrorPayload},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e, err := ParseErrorMessage(Header{Type: NLMSG_ERROR, Flags: tc.flags}, tc.payload)
			if err != nil {
				t.Fatalf("ParseErrorMessage: %v", err)
			}

			if diff := diffValues(e, kernelError); diff != "" {
				t.Errorf("ParseErrorMessage (-got +want):\n%s", diff)
			}

			e, err = ParseError(tc.payload)
			if err != nil {
				t.Fatalf("ParseError: %v", err)
			}

			if diff := diffValues(e, kernelError); diff != "" {
				t.Errorf("ParseError (-got +want):\n%s", diff)
			}
		})
	}
}
