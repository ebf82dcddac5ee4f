package nlmsg

import (
	"fmt"
)

// Header is a netlink message header (struct nlmsghdr). Append functions
// compute Length themselves and ignore the caller's value.
type Header struct {
	Length uint32
	Type   uint16
	Flags  uint16
	Seq    uint32
	PID    uint32
}

// appendHeader appends h with a zero length and returns the offset of the
// message, which finishMessage uses to fill in the length.
func appendHeader(b []byte, h Header) ([]byte, int) {
	start := len(b)
	b = native.AppendUint32(b, 0)
	b = native.AppendUint16(b, h.Type)
	b = native.AppendUint16(b, h.Flags)
	b = native.AppendUint32(b, h.Seq)
	b = native.AppendUint32(b, h.PID)

	return b, start
}

// finishMessage sets the length of the message that starts at start.
// Messages built by this package are always 4-byte aligned.
func finishMessage(b []byte, start int) []byte {
	native.PutUint32(b[start:], uint32(len(b)-start))

	return b
}

func decodeHeader(b []byte) Header {
	return Header{
		Length: native.Uint32(b),
		Type:   native.Uint16(b[4:]),
		Flags:  native.Uint16(b[6:]),
		Seq:    native.Uint32(b[8:]),
		PID:    native.Uint32(b[12:]),
	}
}

// AppendNoop appends an NLMSG_NOOP message with h's flags, sequence number
// and port id. With NLM_F_ACK the kernel acknowledges it after every earlier
// message of the same send, which makes it a cheap batch barrier.
func AppendNoop(b []byte, h Header) []byte {
	h.Type = NLMSG_NOOP
	b, start := appendHeader(b, h)

	return finishMessage(b, start)
}

// SplitMessages calls fn for each message in a receive buffer, in order,
// with its header and payload (the bytes after the header, excluding
// alignment padding). The payload aliases b and is valid only during the
// call. SplitMessages stops at the first error from fn and returns it, and
// returns an error wrapping ErrTruncated when a message runs past the end
// of b.
func SplitMessages(b []byte, fn func(h Header, payload []byte) error) error {
	for offset := 0; len(b) > 0; {
		if len(b) < SizeofNlmsghdr {
			return fmt.Errorf("split messages: header at offset %d: %d bytes left, need %d: %w", offset, len(b), SizeofNlmsghdr, ErrTruncated)
		}

		h := decodeHeader(b)
		if h.Length < SizeofNlmsghdr || uint64(h.Length) > uint64(len(b)) {
			return fmt.Errorf("split messages: message at offset %d: length %d with %d bytes left: %w", offset, h.Length, len(b), ErrTruncated)
		}

		if err := fn(h, b[SizeofNlmsghdr:h.Length]); err != nil {
			return err
		}

		// The last message of a buffer may omit its padding.
		next := min(align(int(h.Length)), len(b))
		b = b[next:]
		offset += next
	}

	return nil
}

// Error is the content of an NLMSG_ERROR message: an error reply or, with
// Errno zero, an acknowledgement.
type Error struct {
	// Errno is the positive errno of the failure, or 0 for an
	// acknowledgement. The kernel sends it negated; ParseError flips it.
	Errno int32

	// Request is the echoed header of the request this message replies to.
	Request Header

	// Message is the extended acknowledgement text (NLMSGERR_ATTR_MSG),
	// empty unless the socket set NETLINK_EXT_ACK and the kernel gave one.
	Message string

	// Offset is the byte offset of the rejected attribute in the request
	// (NLMSGERR_ATTR_OFFS), or 0.
	Offset uint32
}

// ParseError decodes the payload of an NLMSG_ERROR message, including the
// extended acknowledgement attributes. It cannot see the message's flags,
// so it infers whether the kernel echoed the request's payload. It reads
// the bytes after the echoed header as attributes (NLM_F_CAPPED) when they
// decode as known NLMSGERR_ATTR_* attributes, and else skips the echoed
// payload first. Use ParseErrorMessage when the header is at hand.
//
// NOTE: The inference misreads an echoed request whose payload happens to
// decode as NLMSGERR_ATTR_* attributes, such as an AF_INET6 nhmsg with an
// nh_protocol of 1 to 6. Most rtmsg and nhmsg headers do not, because their
// first four bytes make no valid attribute header of those types.
func ParseError(payload []byte) (Error, error) {
	e, rest, err := parseErrorHead(payload)
	if err != nil {
		return Error{}, err
	}

	if !errorAttrsValid(rest) {
		echoed := int(e.Request.Length) - SizeofNlmsghdr
		if uncapped := rest[min(max(align(echoed), 0), len(rest)):]; echoed > 0 && len(rest) >= echoed && errorAttrsValid(uncapped) {
			rest = uncapped
		}
	}

	if err := decodeErrorAttrs(&e, rest); err != nil {
		return Error{}, err
	}

	return e, nil
}

// errorAttrsValid reports whether b decodes as attributes of the types
// NLMSGERR_ATTR_MSG to NLMSGERR_ATTR_MISS_NEST.
func errorAttrsValid(b []byte) bool {
	d := newAttrDecoder(b)
	for d.Next() {
		if d.Type() < NLMSGERR_ATTR_MSG || d.Type() > NLMSGERR_ATTR_MISS_NEST {
			return false
		}
	}

	return d.Err() == nil
}

// ParseErrorMessage decodes the payload of the NLMSG_ERROR message with
// header h, using its NLM_F_CAPPED and NLM_F_ACK_TLVS flags to find the
// extended acknowledgement attributes.
func ParseErrorMessage(h Header, payload []byte) (Error, error) {
	e, rest, err := parseErrorHead(payload)
	if err != nil {
		return Error{}, err
	}

	if h.Flags&NLM_F_ACK_TLVS == 0 {
		return e, nil
	}

	if h.Flags&NLM_F_CAPPED == 0 {
		echoed := max(int(e.Request.Length)-SizeofNlmsghdr, 0)
		if len(rest) < echoed {
			return Error{}, fmt.Errorf("decode error message: echoed request of %d bytes, %d bytes left: %w", echoed, len(rest), ErrTruncated)
		}

		rest = rest[min(align(echoed), len(rest)):]
	}

	if err := decodeErrorAttrs(&e, rest); err != nil {
		return Error{}, err
	}

	return e, nil
}

// parseErrorHead decodes struct nlmsgerr and returns the bytes after it.
func parseErrorHead(payload []byte) (Error, []byte, error) {
	if len(payload) < SizeofNlmsgerr {
		return Error{}, nil, fmt.Errorf("decode error message: %d bytes, need %d: %w", len(payload), SizeofNlmsgerr, ErrTruncated)
	}

	e := Error{
		Errno:   -int32(native.Uint32(payload)),
		Request: decodeHeader(payload[4:]),
	}

	return e, payload[SizeofNlmsgerr:], nil
}

func decodeErrorAttrs(e *Error, b []byte) error {
	d := newAttrDecoder(b)
	for d.Next() {
		switch d.Type() {
		case NLMSGERR_ATTR_MSG:
			e.Message = cString(d.Data())
		case NLMSGERR_ATTR_OFFS:
			e.Offset = d.Uint32("NLMSGERR_ATTR_OFFS")
		}
	}

	if err := d.Err(); err != nil {
		return fmt.Errorf("decode error message attributes: %w", err)
	}

	return nil
}

// cString returns b up to its first NUL byte.
func cString(b []byte) string {
	for i, c := range b {
		if c == 0 {
			return string(b[:i])
		}
	}

	return string(b)
}

// AppendError appends an NLMSG_ERROR message as the kernel sends it on a
// socket with NETLINK_CAP_ACK and NETLINK_EXT_ACK: e's errno negated, the
// echoed request header without its payload (NLM_F_CAPPED) and, when
// e.Message or e.Offset is set, the extended acknowledgement attributes
// (NLM_F_ACK_TLVS). It serves fake kernels in tests.
func AppendError(b []byte, h Header, e Error) []byte {
	h.Type = NLMSG_ERROR
	h.Flags |= NLM_F_CAPPED
	if e.Message != "" || e.Offset != 0 {
		h.Flags |= NLM_F_ACK_TLVS
	}

	b, start := appendHeader(b, h)
	b = native.AppendUint32(b, uint32(-e.Errno))
	b, _ = appendHeader(b, e.Request)
	native.PutUint32(b[len(b)-SizeofNlmsghdr:], e.Request.Length)

	if e.Message != "" {
		b = appendAttrHeader(b, NLMSGERR_ATTR_MSG, len(e.Message)+1)
		b = append(b, e.Message...)
		b = append(b, 0)
		b = append(b, make([]byte, align(len(b)-start)-(len(b)-start))...)
	}

	if e.Offset != 0 {
		b = appendU32Attr(b, NLMSGERR_ATTR_OFFS, e.Offset)
	}

	return finishMessage(b, start)
}

// AppendDone appends the NLMSG_DONE message that ends a dump, with an
// error code of 0. It serves fake kernels in tests.
func AppendDone(b []byte, h Header) []byte {
	h.Type = NLMSG_DONE
	b, start := appendHeader(b, h)
	b = native.AppendUint32(b, 0)

	return finishMessage(b, start)
}
