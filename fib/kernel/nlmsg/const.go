package nlmsg

// This file holds every constant the codec and the kernel dataplane use,
// grouped by the Linux uapi header that defines it. The values are fixed by
// the kernel ABI; they are declared here instead of taken from
// golang.org/x/sys/unix so that the codec builds on every OS and carries the
// constants that unix lacks (RTA_NH_ID, NHA_RES_GROUP, NHA_OP_FLAGS, ...).

// Address families, from include/linux/socket.h.
const (
	AF_UNSPEC = 0
	AF_INET   = 2
	AF_INET6  = 10
)

// Netlink protocol and socket options, from include/uapi/linux/netlink.h.
// SOL_NETLINK comes from include/linux/socket.h.
const (
	NETLINK_ROUTE = 0

	SOL_NETLINK = 270

	NETLINK_ADD_MEMBERSHIP  = 1
	NETLINK_DROP_MEMBERSHIP = 2
	NETLINK_PKTINFO         = 3
	NETLINK_BROADCAST_ERROR = 4
	NETLINK_NO_ENOBUFS      = 5
	NETLINK_LISTEN_ALL_NSID = 8
	NETLINK_CAP_ACK         = 10
	NETLINK_EXT_ACK         = 11
	NETLINK_GET_STRICT_CHK  = 12
)

// Netlink message header flags (nlmsg_flags), from
// include/uapi/linux/netlink.h. Several values are reused with another
// meaning depending on the request kind, as the kernel does.
const (
	NLM_F_REQUEST       = 0x01
	NLM_F_MULTI         = 0x02
	NLM_F_ACK           = 0x04
	NLM_F_ECHO          = 0x08
	NLM_F_DUMP_INTR     = 0x10
	NLM_F_DUMP_FILTERED = 0x20

	// Modifiers to GET requests.
	NLM_F_ROOT   = 0x100
	NLM_F_MATCH  = 0x200
	NLM_F_ATOMIC = 0x400
	NLM_F_DUMP   = NLM_F_ROOT | NLM_F_MATCH

	// Modifiers to NEW requests.
	NLM_F_REPLACE = 0x100
	NLM_F_EXCL    = 0x200
	NLM_F_CREATE  = 0x400
	NLM_F_APPEND  = 0x800

	// Modifiers to DELETE requests.
	NLM_F_NONREC = 0x100
	NLM_F_BULK   = 0x200

	// Flags of an NLMSG_ERROR message (acknowledgements).
	NLM_F_CAPPED   = 0x100
	NLM_F_ACK_TLVS = 0x200
)

// Control message types, from include/uapi/linux/netlink.h.
const (
	NLMSG_NOOP    = 0x1
	NLMSG_ERROR   = 0x2
	NLMSG_DONE    = 0x3
	NLMSG_OVERRUN = 0x4
)

// Extended acknowledgement attributes (enum nlmsgerr_attrs), from
// include/uapi/linux/netlink.h.
const (
	NLMSGERR_ATTR_UNUSED    = 0
	NLMSGERR_ATTR_MSG       = 1
	NLMSGERR_ATTR_OFFS      = 2
	NLMSGERR_ATTR_COOKIE    = 3
	NLMSGERR_ATTR_POLICY    = 4
	NLMSGERR_ATTR_MISS_TYPE = 5
	NLMSGERR_ATTR_MISS_NEST = 6
)

// Attribute type bits, from include/uapi/linux/netlink.h.
const (
	NLA_F_NESTED        = 1 << 15
	NLA_F_NET_BYTEORDER = 1 << 14
	NLA_TYPE_MASK       = ^(NLA_F_NESTED | NLA_F_NET_BYTEORDER) & 0xffff
)

// Message types, from include/uapi/linux/rtnetlink.h.
const (
	RTM_NEWLINK    = 16
	RTM_DELLINK    = 17
	RTM_GETLINK    = 18
	RTM_SETLINK    = 19
	RTM_NEWADDR    = 20
	RTM_DELADDR    = 21
	RTM_GETADDR    = 22
	RTM_NEWROUTE   = 24
	RTM_DELROUTE   = 25
	RTM_GETROUTE   = 26
	RTM_NEWNEIGH   = 28
	RTM_DELNEIGH   = 29
	RTM_GETNEIGH   = 30
	RTM_NEWNEXTHOP = 104
	RTM_DELNEXTHOP = 105
	RTM_GETNEXTHOP = 106
)

// Route types (rtm_type), from include/uapi/linux/rtnetlink.h.
const (
	RTN_UNSPEC      = 0
	RTN_UNICAST     = 1
	RTN_LOCAL       = 2
	RTN_BROADCAST   = 3
	RTN_ANYCAST     = 4
	RTN_MULTICAST   = 5
	RTN_BLACKHOLE   = 6
	RTN_UNREACHABLE = 7
	RTN_PROHIBIT    = 8
	RTN_THROW       = 9
	RTN_NAT         = 10
	RTN_XRESOLVE    = 11
)

// Route protocols (rtm_protocol, nh_protocol), from
// include/uapi/linux/rtnetlink.h. Values above RTPROT_STATIC are not
// interpreted by the kernel.
const (
	RTPROT_UNSPEC     = 0
	RTPROT_REDIRECT   = 1
	RTPROT_KERNEL     = 2
	RTPROT_BOOT       = 3
	RTPROT_STATIC     = 4
	RTPROT_GATED      = 8
	RTPROT_RA         = 9
	RTPROT_MRT        = 10
	RTPROT_ZEBRA      = 11
	RTPROT_BIRD       = 12
	RTPROT_DNROUTED   = 13
	RTPROT_XORP       = 14
	RTPROT_NTK        = 15
	RTPROT_DHCP       = 16
	RTPROT_MROUTED    = 17
	RTPROT_KEEPALIVED = 18
	RTPROT_BABEL      = 42
	RTPROT_OPENR      = 99
	RTPROT_BGP        = 186
	RTPROT_ISIS       = 187
	RTPROT_OSPF       = 188
	RTPROT_RIP        = 189
	RTPROT_EIGRP      = 192
)

// Route scopes (rtm_scope, nh_scope), from include/uapi/linux/rtnetlink.h.
const (
	RT_SCOPE_UNIVERSE = 0
	RT_SCOPE_SITE     = 200
	RT_SCOPE_LINK     = 253
	RT_SCOPE_HOST     = 254
	RT_SCOPE_NOWHERE  = 255
)

// Route flags (rtm_flags), from include/uapi/linux/rtnetlink.h.
const (
	RTM_F_NOTIFY         = 0x100
	RTM_F_CLONED         = 0x200
	RTM_F_EQUALIZE       = 0x400
	RTM_F_PREFIX         = 0x800
	RTM_F_LOOKUP_TABLE   = 0x1000
	RTM_F_FIB_MATCH      = 0x2000
	RTM_F_OFFLOAD        = 0x4000
	RTM_F_TRAP           = 0x8000
	RTM_F_OFFLOAD_FAILED = 0x20000000
)

// Reserved routing tables, from include/uapi/linux/rtnetlink.h.
const (
	RT_TABLE_UNSPEC  = 0
	RT_TABLE_COMPAT  = 252
	RT_TABLE_DEFAULT = 253
	RT_TABLE_MAIN    = 254
	RT_TABLE_LOCAL   = 255
	RT_TABLE_MAX     = 0xffffffff
)

// Route attributes (enum rtattr_type_t), from include/uapi/linux/rtnetlink.h.
const (
	RTA_UNSPEC        = 0
	RTA_DST           = 1
	RTA_SRC           = 2
	RTA_IIF           = 3
	RTA_OIF           = 4
	RTA_GATEWAY       = 5
	RTA_PRIORITY      = 6
	RTA_PREFSRC       = 7
	RTA_METRICS       = 8
	RTA_MULTIPATH     = 9
	RTA_PROTOINFO     = 10
	RTA_FLOW          = 11
	RTA_CACHEINFO     = 12
	RTA_SESSION       = 13
	RTA_MP_ALGO       = 14
	RTA_TABLE         = 15
	RTA_MARK          = 16
	RTA_MFC_STATS     = 17
	RTA_VIA           = 18
	RTA_NEWDST        = 19
	RTA_PREF          = 20
	RTA_ENCAP_TYPE    = 21
	RTA_ENCAP         = 22
	RTA_EXPIRES       = 23
	RTA_PAD           = 24
	RTA_UID           = 25
	RTA_TTL_PROPAGATE = 26
	RTA_IP_PROTO      = 27
	RTA_SPORT         = 28
	RTA_DPORT         = 29
	RTA_NH_ID         = 30
)

// Next-hop flags (rtnh_flags, nh_flags), from include/uapi/linux/rtnetlink.h.
const (
	RTNH_F_DEAD       = 1
	RTNH_F_PERVASIVE  = 2
	RTNH_F_ONLINK     = 4
	RTNH_F_OFFLOAD    = 8
	RTNH_F_LINKDOWN   = 16
	RTNH_F_UNRESOLVED = 32
	RTNH_F_TRAP       = 64
)

// Multicast groups (enum rtnetlink_groups), from
// include/uapi/linux/rtnetlink.h. They are group numbers for
// NETLINK_ADD_MEMBERSHIP, not bit masks.
const (
	RTNLGRP_NONE        = 0
	RTNLGRP_LINK        = 1
	RTNLGRP_NOTIFY      = 2
	RTNLGRP_NEIGH       = 3
	RTNLGRP_TC          = 4
	RTNLGRP_IPV4_IFADDR = 5
	RTNLGRP_IPV4_MROUTE = 6
	RTNLGRP_IPV4_ROUTE  = 7
	RTNLGRP_IPV4_RULE   = 8
	RTNLGRP_IPV6_IFADDR = 9
	RTNLGRP_IPV6_MROUTE = 10
	RTNLGRP_IPV6_ROUTE  = 11
	RTNLGRP_IPV6_IFINFO = 12
	RTNLGRP_IPV6_RULE   = 19
	RTNLGRP_NEXTHOP     = 32
)

// Wire sizes of the fixed structures, from include/uapi/linux/netlink.h
// (nlmsghdr, nlmsgerr, nlattr), include/uapi/linux/rtnetlink.h (rtmsg,
// rtnexthop, rtattr) and include/uapi/linux/nexthop.h (nhmsg, nexthop_grp).
const (
	SizeofNlmsghdr   = 16
	SizeofNlmsgerr   = 20
	SizeofRtattr     = 4
	SizeofRtmsg      = 12
	SizeofRtnexthop  = 8
	SizeofNhmsg      = 8
	SizeofNexthopGrp = 8
)

// Nexthop group types (NHA_GROUP_TYPE), from include/uapi/linux/nexthop.h.
const (
	NEXTHOP_GRP_TYPE_MPATH = 0
	NEXTHOP_GRP_TYPE_RES   = 1
)

// NHA_OP_FLAGS bits, from include/uapi/linux/nexthop.h. The DUMP flags go
// in requests (Linux 6.7); NHA_OP_FLAG_RESP_GRP_RESVD_0 is set by the kernel
// in replies (Linux 6.12) to say that the reserved bytes of nexthop_grp are
// zeroed, so that weight_high carries the high byte of the weight.
const (
	NHA_OP_FLAG_DUMP_STATS       = 1 << 0
	NHA_OP_FLAG_DUMP_HW_STATS    = 1 << 1
	NHA_OP_FLAG_RESP_GRP_RESVD_0 = 1 << 31
)

// Nexthop attributes, from include/uapi/linux/nexthop.h.
const (
	NHA_UNSPEC          = 0
	NHA_ID              = 1
	NHA_GROUP           = 2
	NHA_GROUP_TYPE      = 3
	NHA_BLACKHOLE       = 4
	NHA_OIF             = 5
	NHA_GATEWAY         = 6
	NHA_ENCAP_TYPE      = 7
	NHA_ENCAP           = 8
	NHA_GROUPS          = 9
	NHA_MASTER          = 10
	NHA_FDB             = 11
	NHA_RES_GROUP       = 12
	NHA_RES_BUCKET      = 13
	NHA_OP_FLAGS        = 14
	NHA_GROUP_STATS     = 15
	NHA_HW_STATS_ENABLE = 16
	NHA_HW_STATS_USED   = 17
)

// Resilient group attributes nested in NHA_RES_GROUP, from
// include/uapi/linux/nexthop.h. The timers are clock_t values in USER_HZ
// ticks.
const (
	NHA_RES_GROUP_PAD              = 0
	NHA_RES_GROUP_BUCKETS          = 1
	NHA_RES_GROUP_IDLE_TIMER       = 2
	NHA_RES_GROUP_UNBALANCED_TIMER = 3
	NHA_RES_GROUP_UNBALANCED_TIME  = 4
)

// USER_HZ is the clock_t tick rate of the timers in NHA_RES_GROUP. The
// uapi header include/uapi/asm-generic/param.h exports it as HZ 100, and
// the kernel converts clock_t to and from this rate on every architecture.
const USER_HZ = 100
