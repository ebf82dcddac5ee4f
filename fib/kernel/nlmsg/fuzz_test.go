package nlmsg

import (
	"testing"
)

func FuzzRoute(f *testing.F) {
	for _, b := range [][]byte{routeNHIDBytes, routeViaBytes, routeMultipathBytes} {
		f.Add(b[SizeofNlmsghdr:])
	}

	for _, b := range [][]byte{kernelViaPayload, kernelNHIDPayload} {
		f.Add(b)
	}

	f.Fuzz(func(t *testing.T, payload []byte) {
		var r Route
		if err := r.UnmarshalBinary(payload); err != nil {
			return
		}

		checkRouteRoundTrip(t, &r)
	})
}

func FuzzNexthop(f *testing.F) {
	for _, b := range [][]byte{nexthopGatewayBytes, nexthopGroupBytes, nexthopResilientBytes} {
		f.Add(b[SizeofNlmsghdr:])
	}

	for _, b := range [][]byte{kernelGroupPayload, kernelResilientPayload} {
		f.Add(b)
	}

	f.Fuzz(func(t *testing.T, payload []byte) {
		var n Nexthop
		if err := n.UnmarshalBinary(payload); err != nil {
			return
		}

		checkNexthopRoundTrip(t, &n)
	})
}

func FuzzSplitMessages(f *testing.F) {
	var batch []byte
	for _, b := range [][]byte{routeNHIDBytes, routeViaBytes, nexthopGroupBytes} {
		f.Add(b)
		batch = append(batch, b...)
	}
	f.Add(batch)
	f.Add(AppendNoop(nil, Header{Seq: 1}))

	f.Fuzz(func(t *testing.T, b []byte) {
		// The messages tile the buffer: each starts where the previous
		// one's aligned length ends, and its payload lies inside b.
		offset := 0
		err := SplitMessages(b, func(h Header, payload []byte) error {
			if int(h.Length) != SizeofNlmsghdr+len(payload) {
				t.Fatalf("message at offset %d: length %d, payload %d bytes", offset, h.Length, len(payload))
			}

			if got := decodeHeader(b[offset:]); got != h {
				t.Fatalf("message at offset %d: header %+v, bytes hold %+v", offset, h, got)
			}

			offset += align(int(h.Length))

			return nil
		})
		if err != nil {
			return
		}

		if offset < len(b) || offset > align(len(b)) {
			t.Fatalf("messages end at offset %d of a %d-byte buffer", offset, len(b))
		}
	})
}

func FuzzParseError(f *testing.F) {
	f.Add(uint16(NLM_F_ACK_TLVS), kernelErrorPayload)
	f.Add(uint16(NLM_F_CAPPED|NLM_F_ACK_TLVS), kernelCappedErrorPayload)
	f.Add(uint16(NLM_F_CAPPED), kernelCappedErrorPayload[:SizeofNlmsgerr])

	f.Fuzz(func(t *testing.T, flags uint16, payload []byte) {
		// ParseError infers what ParseErrorMessage reads from the flags; it
		// must not panic, and both must agree on the fixed part.
		inferred, inferErr := ParseError(payload)

		e, err := ParseErrorMessage(Header{Type: NLMSG_ERROR, Flags: flags}, payload)
		if err != nil {
			return
		}

		if inferErr == nil && (inferred.Errno != e.Errno || inferred.Request != e.Request) {
			t.Fatalf("ParseError = %+v, ParseErrorMessage = %+v", inferred, e)
		}

		// Re-encoding gives the same error.
		var again Error
		msg := AppendError(nil, Header{Seq: 1}, e)
		err = SplitMessages(msg, func(h Header, payload []byte) error {
			var err error
			again, err = ParseErrorMessage(h, payload)

			return err
		})
		if err != nil {
			t.Fatalf("parse re-encoded error %+v: %v", e, err)
		}

		if diff := diffValues(again, e); diff != "" {
			t.Fatalf("error changed in a round trip (-got +want):\n%s", diff)
		}
	})
}
