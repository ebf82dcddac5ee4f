package bench

// This file holds the small netlink codec the benchmark needs: encoding of
// route and nexthop requests for the minimal writer, and decoding of the
// route and nexthop messages the monitor follows. It is kept here, and not
// shared with fibd's codec, so that the minimal writer stays an independent
// reference for the kernel's own speed.

import (
	"encoding/binary"
	"net/netip"

	"golang.org/x/sys/unix"
)

// Constants from include/uapi/linux/rtnetlink.h and nexthop.h that
// x/sys/unix lacks.
const (
	rtaNHID = 30 // RTA_NH_ID
)

const (
	nlmsgHdrLen = 16
	rtmsgLen    = 12
	nhmsgLen    = 8
	rtnhLen     = 8
)

var native = binary.NativeEndian

// hopAttrs are the next hops of a route in the writer's encoding: each
// with its gateway and output interface index.
type hopAttrs struct {
	Gateway netip.Addr
	Ifindex int
}

// routeMsg describes one route request.
type routeMsg struct {
	Type     uint16 // RTM_NEWROUTE or RTM_DELROUTE
	Flags    uint16
	Prefix   netip.Prefix
	Protocol uint8
	Hops     []hopAttrs // empty with NHID or for a delete
	Weights  []uint32   // of Hops, in order; nil means weight 1 each
	NHID     uint32
}

// appendRoute appends the encoded request to b.
func appendRoute(b []byte, m routeMsg, seq uint32) []byte {
	start := len(b)
	b = appendHeader(b, m.Type, m.Flags, seq)

	family := uint8(unix.AF_INET)
	if m.Prefix.Addr().Is6() {
		family = unix.AF_INET6
	}

	scope := uint8(unix.RT_SCOPE_UNIVERSE)
	b = append(b, family, uint8(m.Prefix.Bits()), 0, 0, unix.RT_TABLE_MAIN, m.Protocol, scope, unix.RTN_UNICAST)
	b = native.AppendUint32(b, 0)
	b = appendAttr(b, unix.RTA_DST, m.Prefix.Addr().AsSlice())

	switch {
	case m.NHID != 0:
		b = appendAttr(b, rtaNHID, native.AppendUint32(nil, m.NHID))
	case len(m.Hops) == 1:
		b = appendAttr(b, unix.RTA_GATEWAY, m.Hops[0].Gateway.AsSlice())
		b = appendAttr(b, unix.RTA_OIF, native.AppendUint32(nil, uint32(m.Hops[0].Ifindex)))
	case len(m.Hops) > 1:
		b = appendMultipath(b, m.Hops, m.Weights)
	}

	native.PutUint32(b[start:], uint32(len(b)-start))

	return b
}

func appendMultipath(b []byte, hops []hopAttrs, weights []uint32) []byte {
	var mp []byte
	for i, h := range hops {
		gw := appendAttr(nil, unix.RTA_GATEWAY, h.Gateway.AsSlice())
		mp = native.AppendUint16(mp, uint16(rtnhLen+len(gw)))
		mp = append(mp, 0, weightByte(weights, i)) // flags, hops (weight-1)
		mp = native.AppendUint32(mp, uint32(h.Ifindex))
		mp = append(mp, gw...)
	}

	return appendAttr(b, unix.RTA_MULTIPATH, mp)
}

// nexthopMsg describes one nexthop object request.
type nexthopMsg struct {
	Flags    uint16
	ID       uint32
	Protocol uint8
	Hop      hopAttrs // a single object
	Group    []uint32 // a group of single objects
	Weights  []uint32 // of Group, in order; nil means weight 1 each
}

// appendNexthop appends an RTM_NEWNEXTHOP request to b.
func appendNexthop(b []byte, m nexthopMsg, seq uint32) []byte {
	start := len(b)
	b = appendHeader(b, unix.RTM_NEWNEXTHOP, m.Flags, seq)

	family := uint8(unix.AF_UNSPEC)
	if m.Group == nil {
		family = unix.AF_INET
		if m.Hop.Gateway.Is6() {
			family = unix.AF_INET6
		}
	}

	b = append(b, family, 0, m.Protocol, 0)
	b = native.AppendUint32(b, 0)
	b = appendAttr(b, unix.NHA_ID, native.AppendUint32(nil, m.ID))

	if m.Group != nil {
		var g []byte
		for i, id := range m.Group {
			g = native.AppendUint32(g, id)
			g = append(g, weightByte(m.Weights, i), 0, 0, 0) // weight-1, reserved
		}

		b = appendAttr(b, unix.NHA_GROUP, g)
	} else {
		b = appendAttr(b, unix.NHA_OIF, native.AppendUint32(nil, uint32(m.Hop.Ifindex)))
		b = appendAttr(b, unix.NHA_GATEWAY, m.Hop.Gateway.AsSlice())
	}

	native.PutUint32(b[start:], uint32(len(b)-start))

	return b
}

// weightByte returns weight i of weights as the kernel's weight-1 byte,
// 0 (weight 1) when weights is nil.
func weightByte(weights []uint32, i int) byte {
	if weights == nil {
		return 0
	}

	return byte(weights[i] - 1)
}

func appendHeader(b []byte, typ, flags uint16, seq uint32) []byte {
	b = native.AppendUint32(b, 0) // length, patched by the caller
	b = native.AppendUint16(b, typ)
	b = native.AppendUint16(b, flags)
	b = native.AppendUint32(b, seq)

	return native.AppendUint32(b, 0)
}

func appendAttr(b []byte, typ uint16, data []byte) []byte {
	b = native.AppendUint16(b, uint16(4+len(data)))
	b = native.AppendUint16(b, typ)
	b = append(b, data...)
	for len(b)%4 != 0 {
		b = append(b, 0)
	}

	return b
}

// message is one netlink message split from a datagram.
type message struct {
	Type  uint16
	Flags uint16
	Seq   uint32
	Data  []byte // after the header
}

// splitMessages splits a datagram into messages; a truncated tail is
// dropped.
func splitMessages(b []byte, fn func(message) bool) {
	for len(b) >= nlmsgHdrLen {
		n := int(native.Uint32(b))
		if n < nlmsgHdrLen || n > len(b) {
			return
		}

		m := message{Type: native.Uint16(b[4:]), Flags: native.Uint16(b[6:]), Seq: native.Uint32(b[8:]), Data: b[nlmsgHdrLen:n]}
		if !fn(m) {
			return
		}

		b = b[align4(n):]
	}
}

// attrs calls fn for each attribute of b.
func attrs(b []byte, fn func(typ uint16, data []byte)) {
	for len(b) >= 4 {
		n := int(native.Uint16(b))
		if n < 4 || n > len(b) {
			return
		}

		fn(native.Uint16(b[2:])&^unix.NLA_F_NESTED, b[4:n])
		b = b[min(align4(n), len(b)):]
	}
}

func align4(n int) int {
	return (n + 3) &^ 3
}

// routeInfo is the part of a route notification that the monitor keeps.
type routeInfo struct {
	Prefix   netip.Prefix
	Table    uint32
	Protocol uint8
	NHID     uint32
	Gateways []netip.Addr
}

// parseRoute decodes an RTM_NEWROUTE or RTM_DELROUTE body.
func parseRoute(b []byte) (routeInfo, bool) {
	if len(b) < rtmsgLen {
		return routeInfo{}, false
	}

	family, bits := b[0], int(b[1])
	r := routeInfo{Table: uint32(b[4]), Protocol: b[5]}
	attrs(b[rtmsgLen:], func(typ uint16, data []byte) {
		switch typ {
		case unix.RTA_DST:
			if a, ok := netip.AddrFromSlice(data); ok {
				r.Prefix = netip.PrefixFrom(a, bits)
			}
		case unix.RTA_TABLE:
			if len(data) == 4 {
				r.Table = native.Uint32(data)
			}
		case rtaNHID:
			if len(data) == 4 {
				r.NHID = native.Uint32(data)
			}
		case unix.RTA_GATEWAY:
			if a, ok := netip.AddrFromSlice(data); ok {
				r.Gateways = append(r.Gateways, a)
			}
		case unix.RTA_VIA:
			if len(data) > 2 {
				if a, ok := netip.AddrFromSlice(data[2:]); ok {
					r.Gateways = append(r.Gateways, a)
				}
			}
		case unix.RTA_MULTIPATH:
			r.Gateways = append(r.Gateways, parseMultipath(data)...)
		}
	})

	if !r.Prefix.IsValid() {
		zero := netip.IPv4Unspecified()
		if family == unix.AF_INET6 {
			zero = netip.IPv6Unspecified()
		}

		r.Prefix = netip.PrefixFrom(zero, bits)
	}

	return r, true
}

func parseMultipath(b []byte) []netip.Addr {
	var gws []netip.Addr
	for len(b) >= rtnhLen {
		n := int(native.Uint16(b))
		if n < rtnhLen || n > len(b) {
			break
		}

		attrs(b[rtnhLen:n], func(typ uint16, data []byte) {
			if typ != unix.RTA_GATEWAY && typ != unix.RTA_VIA {
				return
			}

			if typ == unix.RTA_VIA && len(data) > 2 {
				data = data[2:]
			}

			if a, ok := netip.AddrFromSlice(data); ok {
				gws = append(gws, a)
			}
		})
		b = b[min(align4(n), len(b)):]
	}

	return gws
}

// nexthopInfo is the part of a nexthop notification that the monitor
// keeps.
type nexthopInfo struct {
	ID      uint32
	Gateway netip.Addr
	Group   []uint32
}

// parseNexthop decodes an RTM_NEWNEXTHOP or RTM_DELNEXTHOP body.
func parseNexthop(b []byte) (nexthopInfo, bool) {
	if len(b) < nhmsgLen {
		return nexthopInfo{}, false
	}

	var nh nexthopInfo
	attrs(b[nhmsgLen:], func(typ uint16, data []byte) {
		switch typ {
		case unix.NHA_ID:
			if len(data) == 4 {
				nh.ID = native.Uint32(data)
			}
		case unix.NHA_GATEWAY:
			if a, ok := netip.AddrFromSlice(data); ok {
				nh.Gateway = a
			}
		case unix.NHA_GROUP:
			for len(data) >= 8 {
				nh.Group = append(nh.Group, native.Uint32(data))
				data = data[8:]
			}
		}
	})

	return nh, nh.ID != 0
}
