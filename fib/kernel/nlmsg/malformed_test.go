package nlmsg

import (
	"errors"
	"strings"
	"testing"
)

func TestRouteMalformed(t *testing.T) {
	skipBigEndian(t)

	rtmsg := []byte{0x02, 0x18, 0, 0, 0xfe, 0xc9, 0, 0x01, 0, 0, 0, 0}
	for _, tc := range []struct {
		name    string
		payload []byte
		want    string
	}{
		{"short rtmsg", rtmsg[:11], "decode rtmsg"},
		{"short attribute header", cat(rtmsg, []byte{0x08, 0x00}), "attribute header"},
		{"attribute past end", cat(rtmsg, []byte{0x0c, 0x00, 0x0f, 0x00, 1, 0, 0, 0}), "attribute 15: length 12"},
		{"attribute below header", cat(rtmsg, []byte{0x02, 0x00, 0x0f, 0x00}), "length 2"},
		{"short table", cat(rtmsg, []byte{0x06, 0x00, 0x0f, 0x00, 1, 0, 0, 0}), "RTA_TABLE: 2 bytes"},
		{"gateway of 3 bytes", cat(rtmsg, []byte{0x07, 0x00, 0x05, 0x00, 1, 2, 3, 0}), "RTA_GATEWAY: address of 3 bytes"},
		{"via without family", cat(rtmsg, []byte{0x05, 0x00, 0x12, 0x00, 1, 0, 0, 0}), "RTA_VIA family"},
		{"via short address", cat(rtmsg, []byte{0x0a, 0x00, 0x12, 0x00, 0x0a, 0x00, 0xfe, 0x80, 0, 0, 0, 0}), "RTA_VIA address of family 10: 4 bytes"},
		{"via unknown family", cat(rtmsg, []byte{0x0a, 0x00, 0x12, 0x00, 0x07, 0x00, 1, 2, 3, 4, 0, 0}), "unsupported address family 7"},
		{"short rtnexthop", cat(rtmsg, []byte{0x08, 0x00, 0x09, 0x00, 0x08, 0x00, 0x00, 0x00}), "next hop 0: 4 bytes"},
		{"rtnexthop past end", cat(rtmsg, []byte{0x0c, 0x00, 0x09, 0x00, 0x10, 0x00, 0, 0, 2, 0, 0, 0}), "next hop 0: length 16"},
		{"rtnexthop bad gateway", cat(rtmsg, []byte{0x14, 0x00, 0x09, 0x00, 0x10, 0x00, 0, 0, 2, 0, 0, 0, 0x06, 0x00, 0x05, 0x00, 1, 2, 0, 0}), "next hop 0: decode RTA_GATEWAY"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var r Route
			err := r.UnmarshalBinary(tc.payload)
			checkError(t, err, tc.want)
		})
	}
}

func TestNexthopMalformed(t *testing.T) {
	skipBigEndian(t)

	nhmsg := []byte{0x02, 0, 0xc9, 0, 0, 0, 0, 0}
	for _, tc := range []struct {
		name    string
		payload []byte
		want    string
	}{
		{"short nhmsg", nhmsg[:7], "decode nhmsg"},
		{"group not whole", cat(nhmsg, []byte{0x0a, 0x00, 0x02, 0x00, 1, 0, 0, 0, 0, 0, 0, 0}), "NHA_GROUP: 6 bytes"},
		{"short id", cat(nhmsg, []byte{0x05, 0x00, 0x01, 0x00, 1, 0, 0, 0}), "NHA_ID: 1 bytes"},
		{"short group type", cat(nhmsg, []byte{0x05, 0x00, 0x03, 0x00, 1, 0, 0, 0}), "NHA_GROUP_TYPE: 1 bytes"},
		{"gateway of 5 bytes", cat(nhmsg, []byte{0x09, 0x00, 0x06, 0x00, 1, 2, 3, 4, 5, 0, 0, 0}), "NHA_GATEWAY: address of 5 bytes"},
		{"nested past end", cat(nhmsg, []byte{0x0c, 0x00, 0x0c, 0x80, 0x0c, 0x00, 0x01, 0x00, 8, 0, 0, 0}), "NHA_RES_GROUP: decode attribute 1: length 12"},
		{"short unbalanced time", cat(nhmsg, []byte{0x0c, 0x00, 0x0c, 0x80, 0x08, 0x00, 0x04, 0x00, 1, 0, 0, 0}), "NHA_RES_GROUP_UNBALANCED_TIME: 4 bytes"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var n Nexthop
			err := n.UnmarshalBinary(tc.payload)
			checkError(t, err, tc.want)
		})
	}
}

func TestSplitMessagesMalformed(t *testing.T) {
	skipBigEndian(t)

	noop := AppendNoop(nil, Header{Seq: 1})
	for _, tc := range []struct {
		name string
		b    []byte
		want string
	}{
		{"short header", noop[:15], "header at offset 0: 15 bytes left"},
		{"length past end", cat(noop, []byte{0x20, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0}), "message at offset 16: length 32"},
		{"length below header", []byte{0x04, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0}, "length 4"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := SplitMessages(tc.b, func(Header, []byte) error { return nil })
			checkError(t, err, tc.want)
		})
	}
}

func TestSplitMessages(t *testing.T) {
	b := AppendNoop(nil, Header{Seq: 1})
	b = AppendRoute(b, Header{Type: RTM_NEWROUTE, Seq: 2}, &routeVia)
	b = AppendNexthopDump(b, Header{Seq: 3}, AF_INET)

	var seqs []uint32
	err := SplitMessages(b, func(h Header, payload []byte) error {
		seqs = append(seqs, h.Seq)
		if int(h.Length) != SizeofNlmsghdr+len(payload) {
			t.Errorf("message %d: length %d with a payload of %d bytes", h.Seq, h.Length, len(payload))
		}

		return nil
	})
	if err != nil {
		t.Fatalf("split: %v", err)
	}

	if diff := diffValues(seqs, []uint32{1, 2, 3}); diff != "" {
		t.Errorf("sequence numbers (-got +want):\n%s", diff)
	}

	stop := errors.New("stop")
	calls := 0
	err = SplitMessages(b, func(Header, []byte) error { calls++; return stop })
	if !errors.Is(err, stop) || calls != 1 {
		t.Errorf("split with a failing callback = %v after %d calls, want stop after 1", err, calls)
	}
}

func TestParseErrorMalformed(t *testing.T) {
	skipBigEndian(t)

	if _, err := ParseError(kernelErrorPayload[:19]); !errors.Is(err, ErrTruncated) {
		t.Errorf("ParseError of 19 bytes = %v, want ErrTruncated", err)
	}

	// The flags announce an echoed request, but it is cut short.
	_, err := ParseErrorMessage(Header{Flags: NLM_F_ACK_TLVS}, kernelErrorPayload[:40])
	checkError(t, err, "echoed request of 36 bytes, 20 bytes left")

	// An attribute runs past the end.
	_, err = ParseErrorMessage(Header{Flags: NLM_F_ACK_TLVS | NLM_F_CAPPED}, kernelCappedErrorPayload[:30])
	checkError(t, err, "attribute 1: length 23")
}

func TestParseErrorOffset(t *testing.T) {
	skipBigEndian(t)

	payload := []byte{
		0xfe, 0xff, 0xff, 0xff, // error -2 (ENOENT)
		0x24, 0x00, 0x00, 0x00, // echoed nlmsg_len 36
		0x18, 0x00, // echoed nlmsg_type RTM_NEWROUTE
		0x05, 0x00, // echoed nlmsg_flags REQUEST|ACK
		0x07, 0x00, 0x00, 0x00, // echoed nlmsg_seq 7
		0x00, 0x00, 0x00, 0x00, // echoed nlmsg_pid 0
		0x08, 0x00, 0x01, 0x00, // len 8, NLMSGERR_ATTR_MSG
		'b', 'a', 'd', 0x00, // "bad" and NUL
		0x08, 0x00, 0x02, 0x00, // len 8, NLMSGERR_ATTR_OFFS
		0x1c, 0x00, 0x00, 0x00, // offset 28
		0x08, 0x00, 0x05, 0x00, // len 8, NLMSGERR_ATTR_MISS_TYPE
		0x1e, 0x00, 0x00, 0x00, // RTA_NH_ID: skipped
	}
	want := Error{Errno: 2, Message: "bad", Offset: 28, Request: Header{Length: 36, Type: RTM_NEWROUTE, Flags: NLM_F_REQUEST | NLM_F_ACK, Seq: 7}}

	e, err := ParseErrorMessage(Header{Flags: NLM_F_CAPPED | NLM_F_ACK_TLVS}, payload)
	if err != nil {
		t.Fatalf("ParseErrorMessage: %v", err)
	}

	if diff := diffValues(e, want); diff != "" {
		t.Errorf("ParseErrorMessage (-got +want):\n%s", diff)
	}

	e, err = ParseError(payload)
	if err != nil || e != want {
		t.Errorf("ParseError = %+v, %v, want %+v", e, err, want)
	}

	// A plain acknowledgement has no attributes.
	ack, err := ParseErrorMessage(Header{Flags: NLM_F_CAPPED}, payload[:SizeofNlmsgerr])
	if err != nil || ack.Errno != 0-(-2) || ack.Message != "" {
		t.Errorf("ParseErrorMessage of a capped error without TLVs = %+v, %v", ack, err)
	}
}

func checkError(t *testing.T, err error, want string) {
	t.Helper()

	if err == nil {
		t.Fatalf("error = nil, want one containing %q", want)
	}

	if !strings.Contains(err.Error(), want) {
		t.Errorf("error = %q, want one containing %q", err, want)
	}
}

func cat(parts ...[]byte) []byte {
	var b []byte
	for _, p := range parts {
		b = append(b, p...)
	}

	return b
}
