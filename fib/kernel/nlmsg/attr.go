package nlmsg

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net/netip"
)

// ErrTruncated reports input that ends inside a header, structure or
// attribute. Errors that the decoders return wrap it with the name of what
// was cut short.
var ErrTruncated = errors.New("truncated")

var native = binary.NativeEndian

// align rounds n up to the 4-byte alignment of netlink messages and
// attributes (NLMSG_ALIGN, RTA_ALIGN, NLA_ALIGN).
func align(n int) int {
	return (n + 3) &^ 3
}

// appendAttrHeader appends an attribute header for a payload of n bytes.
func appendAttrHeader(b []byte, typ uint16, n int) []byte {
	b = native.AppendUint16(b, uint16(SizeofRtattr+n))

	return native.AppendUint16(b, typ)
}

func appendU8Attr(b []byte, typ uint16, v uint8) []byte {
	b = appendAttrHeader(b, typ, 1)

	return append(b, v, 0, 0, 0)
}

func appendU16Attr(b []byte, typ uint16, v uint16) []byte {
	b = appendAttrHeader(b, typ, 2)
	b = native.AppendUint16(b, v)

	return append(b, 0, 0)
}

func appendU32Attr(b []byte, typ uint16, v uint32) []byte {
	b = appendAttrHeader(b, typ, 4)

	return native.AppendUint32(b, v)
}

func appendU64Attr(b []byte, typ uint16, v uint64) []byte {
	b = appendAttrHeader(b, typ, 8)

	return native.AppendUint64(b, v)
}

func appendFlagAttr(b []byte, typ uint16) []byte {
	return appendAttrHeader(b, typ, 0)
}

// appendAddrAttr appends a 4- or 16-byte address in network byte order.
func appendAddrAttr(b []byte, typ uint16, a netip.Addr) []byte {
	if a.Is4() {
		v := a.As4()
		b = appendAttrHeader(b, typ, 4)

		return append(b, v[:]...)
	}

	v := a.As16()
	b = appendAttrHeader(b, typ, 16)

	return append(b, v[:]...)
}

// appendViaAttr appends an RTA_VIA attribute: struct rtvia, a 16-bit
// address family followed by the address.
func appendViaAttr(b []byte, a netip.Addr) []byte {
	if a.Is4() {
		v := a.As4()
		b = appendAttrHeader(b, RTA_VIA, 2+4)
		b = native.AppendUint16(b, AF_INET)
		b = append(b, v[:]...)

		return append(b, 0, 0)
	}

	v := a.As16()
	b = appendAttrHeader(b, RTA_VIA, 2+16)
	b = native.AppendUint16(b, AF_INET6)
	b = append(b, v[:]...)

	return append(b, 0, 0)
}

// beginNested appends the header of a nested attribute whose length is
// filled in by endNested.
func beginNested(b []byte, typ uint16) ([]byte, int) {
	return appendAttrHeader(b, typ, 0), len(b)
}

func endNested(b []byte, start int) []byte {
	native.PutUint16(b[start:], uint16(len(b)-start))

	return b
}

// attrDecoder walks the attributes of a message. Next reports false at the
// end of the input or on malformed input; callers check Err after the loop.
type attrDecoder struct {
	b    []byte
	typ  uint16
	data []byte
	err  error
}

func newAttrDecoder(b []byte) *attrDecoder {
	return &attrDecoder{b: b}
}

func (d *attrDecoder) Next() bool {
	if d.err != nil || len(d.b) == 0 {
		return false
	}

	if len(d.b) < SizeofRtattr {
		d.err = fmt.Errorf("decode attribute header: %d bytes left, need %d: %w", len(d.b), SizeofRtattr, ErrTruncated)

		return false
	}

	n := int(native.Uint16(d.b))
	typ := native.Uint16(d.b[2:]) & NLA_TYPE_MASK
	if n < SizeofRtattr || n > len(d.b) {
		d.err = fmt.Errorf("decode attribute %d: length %d with %d bytes left: %w", typ, n, len(d.b), ErrTruncated)

		return false
	}

	d.typ = typ
	d.data = d.b[SizeofRtattr:n]
	d.b = d.b[min(align(n), len(d.b)):]

	return true
}

func (d *attrDecoder) Type() uint16 { return d.typ }

func (d *attrDecoder) Err() error { return d.err }

// Uint8, Uint16, Uint32 and Uint64 decode the current attribute's value
// and record an error when its length is wrong.
func (d *attrDecoder) Uint8(name string) uint8 {
	if !d.want(name, 1) {
		return 0
	}

	return d.data[0]
}

func (d *attrDecoder) Uint16(name string) uint16 {
	if !d.want(name, 2) {
		return 0
	}

	return native.Uint16(d.data)
}

func (d *attrDecoder) Uint32(name string) uint32 {
	if !d.want(name, 4) {
		return 0
	}

	return native.Uint32(d.data)
}

func (d *attrDecoder) Uint64(name string) uint64 {
	if !d.want(name, 8) {
		return 0
	}

	return native.Uint64(d.data)
}

// Addr decodes a 4- or 16-byte address in network byte order.
func (d *attrDecoder) Addr(name string) netip.Addr {
	a, err := addrFromBytes(d.data)
	if err != nil {
		d.fail(fmt.Errorf("decode %s: %w", name, err))
	}

	return a
}

// Via decodes an RTA_VIA attribute (struct rtvia).
func (d *attrDecoder) Via() netip.Addr {
	a, err := decodeVia(d.data)
	if err != nil {
		d.fail(err)
	}

	return a
}

// Data returns the current attribute's payload, which aliases the input.
func (d *attrDecoder) Data() []byte { return d.data }

// fail records err and stops the walk.
func (d *attrDecoder) fail(err error) {
	if d.err == nil {
		d.err = err
	}

	d.b = nil
}

func (d *attrDecoder) want(name string, n int) bool {
	if len(d.data) < n {
		d.fail(fmt.Errorf("decode %s: %d bytes, need %d: %w", name, len(d.data), n, ErrTruncated))

		return false
	}

	return true
}

func addrFromBytes(b []byte) (netip.Addr, error) {
	switch len(b) {
	case 4:
		return netip.AddrFrom4([4]byte(b)), nil
	case 16:
		return netip.AddrFrom16([16]byte(b)), nil
	}

	return netip.Addr{}, fmt.Errorf("address of %d bytes, want 4 or 16: %w", len(b), ErrTruncated)
}

func decodeVia(b []byte) (netip.Addr, error) {
	if len(b) < 2 {
		return netip.Addr{}, fmt.Errorf("decode RTA_VIA family: %d bytes: %w", len(b), ErrTruncated)
	}

	family := native.Uint16(b)
	addr := b[2:]
	switch {
	case family == AF_INET && len(addr) >= 4:
		return netip.AddrFrom4([4]byte(addr[:4])), nil
	case family == AF_INET6 && len(addr) >= 16:
		return netip.AddrFrom16([16]byte(addr[:16])), nil
	case family == AF_INET || family == AF_INET6:
		return netip.Addr{}, fmt.Errorf("decode RTA_VIA address of family %d: %d bytes: %w", family, len(addr), ErrTruncated)
	}

	return netip.Addr{}, fmt.Errorf("decode RTA_VIA: unsupported address family %d", family)
}
