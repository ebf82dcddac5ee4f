package nlmsg

import (
	"fmt"
	"net/netip"
)

// Route is a route message: struct rtmsg and the attributes fibd uses.
// Attributes the codec does not know are skipped when decoding and lost on
// re-encoding. The zero Route encodes an rtmsg of zeros and the RTA_TABLE
// attribute.
type Route struct {
	Family uint8 // rtm_family: AF_INET or AF_INET6
	DstLen uint8 // rtm_dst_len: prefix length of Dst
	SrcLen uint8 // rtm_src_len: prefix length of Src
	TOS    uint8 // rtm_tos

	// Table is the routing table. It is encoded in rtm_table when below 256
	// (else rtm_table is RT_TABLE_UNSPEC) and always in RTA_TABLE; decoding
	// takes RTA_TABLE when present and rtm_table otherwise.
	Table uint32

	Protocol uint8  // rtm_protocol: RTPROT_*
	Scope    uint8  // rtm_scope: RT_SCOPE_*
	Type     uint8  // rtm_type: RTN_*
	Flags    uint32 // rtm_flags: RTM_F_* and, on dumps, RTNH_F_*

	Dst      netip.Addr // RTA_DST, the invalid Addr for a default route
	Src      netip.Addr // RTA_SRC, source prefix of a source-specific route
	Priority uint32     // RTA_PRIORITY, the metric; 0 is not encoded
	NHID     uint32     // RTA_NH_ID, the nexthop object; 0 is not encoded
	OIF      uint32     // RTA_OIF, the output interface index; 0 is not encoded

	// Gateway is the next hop. It is encoded as RTA_GATEWAY when its family
	// is the route's and as RTA_VIA (struct rtvia) otherwise, such as an
	// IPv4 route via an IPv6 link-local gateway (RFC 5549).
	Gateway netip.Addr

	PrefSrc netip.Addr // RTA_PREFSRC, the preferred source address

	// Multipath holds the next hops of a route with RTA_MULTIPATH. A route
	// uses either Multipath or Gateway and OIF, and NHID excludes both.
	Multipath []NextHop
}

// NextHop is one next hop of RTA_MULTIPATH: struct rtnexthop and its
// gateway attribute.
type NextHop struct {
	Flags   uint8      // rtnh_flags: RTNH_F_*
	Hops    uint8      // rtnh_hops: the weight minus one
	OIF     uint32     // rtnh_ifindex
	Gateway netip.Addr // RTA_GATEWAY, or RTA_VIA across address families
}

// Prefix returns the destination prefix: Dst/DstLen, with the family's
// unspecified address for a route without RTA_DST (a default route). It
// returns the zero Prefix when Dst is missing and Family is neither AF_INET
// nor AF_INET6.
func (r *Route) Prefix() netip.Prefix {
	if r.Dst.IsValid() {
		return netip.PrefixFrom(r.Dst, int(r.DstLen))
	}

	switch r.Family {
	case AF_INET:
		return netip.PrefixFrom(netip.IPv4Unspecified(), int(r.DstLen))
	case AF_INET6:
		return netip.PrefixFrom(netip.IPv6Unspecified(), int(r.DstLen))
	}

	return netip.Prefix{}
}

// AppendRoute appends a complete route message to b: h with its length
// computed, the rtmsg and the attributes. The caller sets h.Type
// (RTM_NEWROUTE, RTM_DELROUTE) and h.Flags. It allocates only when b must
// grow.
func AppendRoute(b []byte, h Header, r *Route) []byte {
	b, start := appendHeader(b, h)
	b = r.appendPayload(b)

	return finishMessage(b, start)
}

// MarshalBinary returns the route's payload: the rtmsg and attributes,
// without a netlink header.
func (r *Route) MarshalBinary() ([]byte, error) {
	return r.appendPayload(make([]byte, 0, 128)), nil
}

func (r *Route) appendPayload(b []byte) []byte {
	b = appendRtmsg(b, r)
	b = appendU32Attr(b, RTA_TABLE, r.Table)

	if r.Dst.IsValid() {
		b = appendAddrAttr(b, RTA_DST, r.Dst)
	}

	if r.Src.IsValid() {
		b = appendAddrAttr(b, RTA_SRC, r.Src)
	}

	if r.Priority != 0 {
		b = appendU32Attr(b, RTA_PRIORITY, r.Priority)
	}

	if r.NHID != 0 {
		b = appendU32Attr(b, RTA_NH_ID, r.NHID)
	}

	if r.OIF != 0 {
		b = appendU32Attr(b, RTA_OIF, r.OIF)
	}

	if r.Gateway.IsValid() {
		b = appendGateway(b, r.Family, r.Gateway)
	}

	if r.PrefSrc.IsValid() {
		b = appendAddrAttr(b, RTA_PREFSRC, r.PrefSrc)
	}

	if len(r.Multipath) > 0 {
		b = appendMultipath(b, r.Family, r.Multipath)
	}

	return b
}

func appendRtmsg(b []byte, r *Route) []byte {
	table := uint8(RT_TABLE_UNSPEC)
	if r.Table < 256 {
		table = uint8(r.Table)
	}

	b = append(b, r.Family, r.DstLen, r.SrcLen, r.TOS, table, r.Protocol, r.Scope, r.Type)

	return native.AppendUint32(b, r.Flags)
}

// appendGateway appends RTA_GATEWAY when gw has the route's family and
// RTA_VIA otherwise.
func appendGateway(b []byte, family uint8, gw netip.Addr) []byte {
	if addrFamily(gw) == family {
		return appendAddrAttr(b, RTA_GATEWAY, gw)
	}

	return appendViaAttr(b, gw)
}

func addrFamily(a netip.Addr) uint8 {
	if a.Is4() {
		return AF_INET
	}

	return AF_INET6
}

// appendMultipath appends RTA_MULTIPATH: one struct rtnexthop per next hop,
// each followed by its gateway attribute.
func appendMultipath(b []byte, family uint8, hops []NextHop) []byte {
	b, nested := beginNested(b, RTA_MULTIPATH)
	for i := range hops {
		nh := &hops[i]
		start := len(b)
		b = native.AppendUint16(b, 0)
		b = append(b, nh.Flags, nh.Hops)
		b = native.AppendUint32(b, nh.OIF)

		if nh.Gateway.IsValid() {
			b = appendGateway(b, family, nh.Gateway)
		}

		native.PutUint16(b[start:], uint16(len(b)-start))
	}

	return endNested(b, nested)
}

// UnmarshalBinary decodes a route payload: the rtmsg and its attributes.
// It resets r first and skips unknown attributes.
func (r *Route) UnmarshalBinary(payload []byte) error {
	*r = Route{}
	if len(payload) < SizeofRtmsg {
		return fmt.Errorf("decode rtmsg: %d bytes, need %d: %w", len(payload), SizeofRtmsg, ErrTruncated)
	}

	r.Family, r.DstLen, r.SrcLen, r.TOS = payload[0], payload[1], payload[2], payload[3]
	r.Table = uint32(payload[4])
	r.Protocol, r.Scope, r.Type = payload[5], payload[6], payload[7]
	r.Flags = native.Uint32(payload[8:])

	if err := r.decodeAttrs(payload[SizeofRtmsg:]); err != nil {
		return fmt.Errorf("decode route attributes: %w", err)
	}

	return nil
}

func (r *Route) decodeAttrs(b []byte) error {
	d := newAttrDecoder(b)
	for d.Next() {
		switch d.Type() {
		case RTA_TABLE:
			r.Table = d.Uint32("RTA_TABLE")
		case RTA_DST:
			r.Dst = d.Addr("RTA_DST")
		case RTA_SRC:
			r.Src = d.Addr("RTA_SRC")
		case RTA_PRIORITY:
			r.Priority = d.Uint32("RTA_PRIORITY")
		case RTA_NH_ID:
			r.NHID = d.Uint32("RTA_NH_ID")
		case RTA_OIF:
			r.OIF = d.Uint32("RTA_OIF")
		case RTA_GATEWAY:
			r.Gateway = d.Addr("RTA_GATEWAY")
		case RTA_VIA:
			r.Gateway = d.Via()
		case RTA_PREFSRC:
			r.PrefSrc = d.Addr("RTA_PREFSRC")
		case RTA_MULTIPATH:
			hops, err := decodeMultipath(d.Data())
			if err != nil {
				d.fail(err)
			}

			r.Multipath = hops
		}
	}

	return d.Err()
}

// decodeMultipath decodes the payload of RTA_MULTIPATH.
func decodeMultipath(b []byte) ([]NextHop, error) {
	var hops []NextHop
	for len(b) > 0 {
		if len(b) < SizeofRtnexthop {
			return nil, fmt.Errorf("decode RTA_MULTIPATH next hop %d: %d bytes, need %d: %w", len(hops), len(b), SizeofRtnexthop, ErrTruncated)
		}

		n := int(native.Uint16(b))
		if n < SizeofRtnexthop || n > len(b) {
			return nil, fmt.Errorf("decode RTA_MULTIPATH next hop %d: length %d with %d bytes left: %w", len(hops), n, len(b), ErrTruncated)
		}

		nh := NextHop{Flags: b[2], Hops: b[3], OIF: native.Uint32(b[4:])}
		if err := nh.decodeAttrs(b[SizeofRtnexthop:n]); err != nil {
			return nil, fmt.Errorf("decode RTA_MULTIPATH next hop %d: %w", len(hops), err)
		}

		hops = append(hops, nh)
		b = b[min(align(n), len(b)):]
	}

	return hops, nil
}

func (nh *NextHop) decodeAttrs(b []byte) error {
	d := newAttrDecoder(b)
	for d.Next() {
		switch d.Type() {
		case RTA_GATEWAY:
			nh.Gateway = d.Addr("RTA_GATEWAY")
		case RTA_VIA:
			nh.Gateway = d.Via()
		}
	}

	return d.Err()
}
