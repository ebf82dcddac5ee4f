package nlmsg

import "net/netip"

// AppendRouteDump appends an RTM_GETROUTE dump request for family
// (AF_UNSPEC for all), adding NLM_F_REQUEST|NLM_F_DUMP to h.Flags. A non-zero
// protocol or table restricts the dump to those routes. The kernel applies
// this filter only on a socket with NETLINK_GET_STRICT_CHK, and then marks
// the replies NLM_F_DUMP_FILTERED.
func AppendRouteDump(b []byte, h Header, family uint8, protocol uint8, table uint32) []byte {
	h.Type = RTM_GETROUTE
	h.Flags |= NLM_F_REQUEST | NLM_F_DUMP

	rtm := uint8(RT_TABLE_UNSPEC)
	if table < 256 {
		rtm = uint8(table)
	}

	b, start := appendHeader(b, h)
	b = append(b, family, 0, 0, 0, rtm, protocol, 0, 0)
	b = native.AppendUint32(b, 0)

	// Tables of 256 and above fit only in RTA_TABLE.
	if table != RT_TABLE_UNSPEC {
		b = appendU32Attr(b, RTA_TABLE, table)
	}

	return finishMessage(b, start)
}

// AppendRouteGet appends an RTM_GETROUTE request that looks up the route
// the kernel would use for dst, restricted to output interface oif when it
// is not zero. It adds NLM_F_REQUEST to h.Flags. The reply is one
// RTM_NEWROUTE with the chosen RTA_OIF and RTA_GATEWAY.
func AppendRouteGet(b []byte, h Header, dst netip.Addr, oif uint32) []byte {
	h.Type = RTM_GETROUTE
	h.Flags |= NLM_F_REQUEST

	family, bits := uint8(AF_INET6), uint8(128)
	if dst.Is4() {
		family, bits = AF_INET, 32
	}

	b, start := appendHeader(b, h)
	b = append(b, family, bits, 0, 0, 0, 0, 0, 0)
	b = native.AppendUint32(b, 0)
	b = appendAddrAttr(b, RTA_DST, dst)

	if oif != 0 {
		b = appendU32Attr(b, RTA_OIF, oif)
	}

	return finishMessage(b, start)
}

// AppendNexthopDump appends an RTM_GETNEXTHOP dump request for family
// (AF_UNSPEC for all), adding NLM_F_REQUEST|NLM_F_DUMP to h.Flags.
func AppendNexthopDump(b []byte, h Header, family uint8) []byte {
	h.Type = RTM_GETNEXTHOP
	h.Flags |= NLM_F_REQUEST | NLM_F_DUMP

	b, start := appendHeader(b, h)
	b = append(b, family, 0, 0, 0)
	b = native.AppendUint32(b, 0)

	return finishMessage(b, start)
}

// AppendNexthopGet appends an RTM_GETNEXTHOP request for the object with
// id, adding NLM_F_REQUEST to h.Flags. The reply is one RTM_NEWNEXTHOP.
func AppendNexthopGet(b []byte, h Header, id uint32) []byte {
	h.Type = RTM_GETNEXTHOP
	h.Flags |= NLM_F_REQUEST

	b, start := appendHeader(b, h)
	b = append(b, AF_UNSPEC, 0, 0, 0)
	b = native.AppendUint32(b, 0)
	b = appendU32Attr(b, NHA_ID, id)

	return finishMessage(b, start)
}
