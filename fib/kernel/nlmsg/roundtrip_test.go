package nlmsg

import (
	"bytes"
	"testing"
)

// checkRouteRoundTrip encodes r, decodes the bytes and encodes again: the
// structs and the bytes must be equal at each step.
func checkRouteRoundTrip(t testing.TB, r *Route) {
	t.Helper()

	b1, err := r.MarshalBinary()
	if err != nil {
		t.Fatalf("marshal route: %v", err)
	}

	var r2 Route
	if err := r2.UnmarshalBinary(b1); err != nil {
		t.Fatalf("unmarshal marshalled route: %v\nroute: %+v", err, r)
	}

	if diff := diffValues(r2, *r); diff != "" {
		t.Fatalf("route changed in a round trip (-got +want):\n%s", diff)
	}

	b2, err := r2.MarshalBinary()
	if err != nil {
		t.Fatalf("marshal route: %v", err)
	}

	if !bytes.Equal(b1, b2) {
		t.Fatalf("route bytes changed in a round trip:\n%x\n%x", b1, b2)
	}
}

// checkNexthopRoundTrip is checkRouteRoundTrip for nexthops.
func checkNexthopRoundTrip(t testing.TB, n *Nexthop) {
	t.Helper()

	b1, err := n.MarshalBinary()
	if err != nil {
		t.Fatalf("marshal nexthop: %v", err)
	}

	var n2 Nexthop
	if err := n2.UnmarshalBinary(b1); err != nil {
		t.Fatalf("unmarshal marshalled nexthop: %v\nnexthop: %+v", err, n)
	}

	if diff := diffValues(n2, *n); diff != "" {
		t.Fatalf("nexthop changed in a round trip (-got +want):\n%s", diff)
	}

	b2, err := n2.MarshalBinary()
	if err != nil {
		t.Fatalf("marshal nexthop: %v", err)
	}

	if !bytes.Equal(b1, b2) {
		t.Fatalf("nexthop bytes changed in a round trip:\n%x\n%x", b1, b2)
	}
}

func TestRouteRoundTrip(t *testing.T) {
	for name, r := range map[string]Route{
		"zero":      {},
		"nhid":      routeNHID,
		"via":       routeVia,
		"multipath": routeMultipath,
		"default6":  {Family: AF_INET6, Table: RT_TABLE_MAIN, Type: RTN_UNICAST, Priority: 1024, NHID: 3},
		"source":    {Family: AF_INET6, DstLen: 64, SrcLen: 48, Dst: mustAddr("2001:db8:1::"), Src: mustAddr("2001:db8:2::"), PrefSrc: mustAddr("2001:db8::1")},
		"via4in6":   {Family: AF_INET6, DstLen: 64, Dst: mustAddr("2001:db8:1::"), Gateway: mustAddr("198.51.100.2")},
		"blackhole": {Family: AF_INET, DstLen: 32, Table: RT_TABLE_MAX, Type: RTN_BLACKHOLE, Dst: mustAddr("203.0.113.7"), Flags: RTM_F_OFFLOAD},
	} {
		t.Run(name, func(t *testing.T) {
			checkRouteRoundTrip(t, &r)
		})
	}
}

func TestNexthopRoundTrip(t *testing.T) {
	for name, n := range map[string]Nexthop{
		"zero":      {},
		"gateway":   nexthopGateway,
		"resilient": nexthopResilient,
		"weights":   {ID: 12, Group: []GroupMember{{ID: 1, Weight: MaxWeight}, {ID: 2, Weight: 256}, {ID: 3, Weight: 257}}, OpFlags: NHA_OP_FLAG_RESP_GRP_RESVD_0},
		"blackhole": {Family: AF_INET6, ID: 4, Blackhole: true},
		"fdb":       {Family: AF_INET6, ID: 5, FDB: true, Gateway: mustAddr("2001:db8::2")},
		"filters":   {Family: AF_INET, OIF: 3, Master: 7, GroupsOnly: true},
		"reported":  {ID: 13, Group: []GroupMember{{ID: 1, Weight: 1}}, GroupType: NEXTHOP_GRP_TYPE_RES, Resilient: &Resilient{Buckets: 8, UnbalancedTime: 12345}},
	} {
		t.Run(name, func(t *testing.T) {
			checkNexthopRoundTrip(t, &n)
		})
	}
}

func TestGroupWeightHigh(t *testing.T) {
	// Without NHA_OP_FLAG_RESP_GRP_RESVD_0 the weight_high byte may hold
	// garbage from a kernel before 6.12 and is ignored.
	payload := []byte{
		0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, // nhmsg
		0x0c, 0x00, 0x02, 0x00, // len 12, NHA_GROUP
		0x01, 0x00, 0x00, 0x00, // id 1
		0x2b, 0x01, 0x00, 0x00, // weight 0x2b, weight_high 1
	}

	var n Nexthop
	if err := n.UnmarshalBinary(payload); err != nil {
		t.Fatalf("unmarshal: %v", err)
	}

	if n.Group[0].Weight != 0x2c {
		t.Errorf("weight without op flags = %d, want %d", n.Group[0].Weight, 0x2c)
	}

	// The flag may follow NHA_GROUP; the weight then uses both bytes.
	payload = append(payload, 0x08, 0x00, 0x0e, 0x00, 0x00, 0x00, 0x00, 0x80)
	if err := n.UnmarshalBinary(payload); err != nil {
		t.Fatalf("unmarshal: %v", err)
	}

	if n.Group[0].Weight != 300 {
		t.Errorf("weight with op flags = %d, want 300", n.Group[0].Weight)
	}
}

func TestWireWeight(t *testing.T) {
	for weight, want := range map[uint32]uint16{0: 0, 1: 0, 2: 1, 256: 255, 257: 256, MaxWeight: 0xfffe, MaxWeight + 1: 0xffff, 1 << 20: 0xffff} {
		if got := wireWeight(weight); got != want {
			t.Errorf("wireWeight(%d) = %#x, want %#x", weight, got, want)
		}
	}
}
