package monitor

import (
	"encoding/binary"
	"net/netip"
	"slices"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/fibd/fibd/fib"
	"github.com/fibd/fibd/fib/kernel/nlmsg"
	"github.com/fibd/fibd/nexthop"
)

const (
	testProtocol = 201
	ownPort      = 4242
	otherPort    = 999
)

var (
	prefix4 = netip.MustParsePrefix("203.0.113.0/24")
	prefix6 = netip.MustParsePrefix("2001:db8:1::/48")
)

// fakeLookup returns a lookup over fixed states.
func fakeLookup(states ...fib.RouteState) lookupFunc {
	return func(k fib.Key) (fib.RouteState, bool) {
		for _, st := range states {
			if st.Key == k {
				return st, true
			}
		}

		return fib.RouteState{}, false
	}
}

func installedState(p netip.Prefix, metric uint32, id nexthop.ID) fib.RouteState {
	kr := fib.KernelRoute{Table: 254, Prefix: p, Metric: metric, Type: fib.TypeUnicast, Nexthop: id}

	return fib.RouteState{
		Key:        fib.Key{Table: 254, Prefix: p},
		Candidates: []fib.Route{{Prefix: p, Table: 254, Metric: metric, Type: fib.TypeUnicast, Source: "bgp"}},
		Installed:  &kr,
	}
}

func routePayload(t *testing.T, p netip.Prefix, protocol uint8, metric uint32, flags uint32) []byte {
	t.Helper()

	family := uint8(nlmsg.AF_INET)
	if p.Addr().Is6() {
		family = nlmsg.AF_INET6
	}

	r := nlmsg.Route{
		Family:   family,
		DstLen:   uint8(p.Bits()),
		Table:    254,
		Protocol: protocol,
		Type:     nlmsg.RTN_UNICAST,
		Flags:    flags,
		Dst:      p.Addr(),
		Priority: metric,
		NHID:     3000000001,
	}
	b, err := r.MarshalBinary()
	if err != nil {
		t.Fatalf("marshal route: %v", err)
	}

	return b
}

func nexthopPayload(t *testing.T, id uint32, protocol uint8) []byte {
	t.Helper()

	n := nlmsg.Nexthop{Family: nlmsg.AF_INET, Protocol: protocol, ID: id, OIF: 2, Gateway: netip.MustParseAddr("192.0.2.2")}
	b, err := n.MarshalBinary()
	if err != nil {
		t.Fatalf("marshal nexthop: %v", err)
	}

	return b
}

// linkPayload encodes an ifinfomsg with IFLA_IFNAME.
func linkPayload(index uint32, name string, flags uint32) []byte {
	b := make([]byte, sizeofIfinfomsg)
	binary.NativeEndian.PutUint32(b[4:], index)
	binary.NativeEndian.PutUint32(b[8:], flags)

	attr := append([]byte(name), 0)
	b = binary.NativeEndian.AppendUint16(b, uint16(4+len(attr)))
	b = binary.NativeEndian.AppendUint16(b, unix.IFLA_IFNAME)
	b = append(b, attr...)
	for len(b)%4 != 0 {
		b = append(b, 0)
	}

	return b
}

func addrPayload(family uint8, scope uint8, index uint32) []byte {
	b := []byte{family, 24, 0, scope, 0, 0, 0, 0}
	binary.NativeEndian.PutUint32(b[4:], index)

	return b
}

const (
	flagsUp   = unix.IFF_UP | unix.IFF_RUNNING | unix.IFF_LOWER_UP
	flagsDown = 0
	// flagsNoCarrier is an interface that is administratively up but has
	// lost its carrier, as a veth whose peer went down.
	flagsNoCarrier = unix.IFF_UP
)

func TestTranslateRoute(t *testing.T) {
	gone := fib.KernelRoute{Table: 254, Prefix: prefix4, Metric: 20, Type: fib.TypeUnicast, Nexthop: 3000000001}
	installed := installedState(prefix4, 20, 3000000007)
	installed6 := installedState(prefix6, 0, 3000000008)
	// The FIB's metric with the kernel's object: the notifications of this
	// test carry object 3000000001.
	gone6 := *installed6.Installed
	gone6.Nexthop = 3000000001
	blocked := installedState(prefix4, 20, 0)
	blocked.Installed = nil

	tests := []struct {
		name   string
		state  []fib.RouteState
		typ    uint16
		flags  uint16
		pid    uint32
		prefix netip.Prefix
		proto  uint8
		metric uint32
		rflags uint32
		want   []action
	}{
		{
			name: "own route deleted", typ: nlmsg.RTM_DELROUTE, pid: otherPort,
			prefix: prefix4, proto: testProtocol, metric: 20,
			want: []action{{kind: actRouteGone, route: gone}},
		},
		{
			name: "own IPv6 route deleted", state: []fib.RouteState{installed6}, typ: nlmsg.RTM_DELROUTE, pid: otherPort,
			prefix: prefix6, proto: testProtocol, metric: 1024,
			want: []action{{kind: actRouteGone, route: gone6}},
		},
		{
			name: "own route added", typ: nlmsg.RTM_NEWROUTE, pid: otherPort,
			prefix: prefix4, proto: testProtocol, metric: 20,
		},
		{
			name: "echo of own delete", typ: nlmsg.RTM_DELROUTE, pid: ownPort,
			prefix: prefix4, proto: testProtocol, metric: 20,
		},
		{
			name: "foreign replace", state: []fib.RouteState{installed},
			typ: nlmsg.RTM_NEWROUTE, flags: nlmsg.NLM_F_REPLACE, pid: otherPort,
			prefix: prefix4, proto: nlmsg.RTPROT_STATIC, metric: 20,
			want: []action{{kind: actRouteGone, route: *installed.Installed, conflict: true}, {kind: actReresolve}},
		},
		{
			name: "foreign replace IPv6 default metric", state: []fib.RouteState{installed6},
			typ: nlmsg.RTM_NEWROUTE, flags: nlmsg.NLM_F_REPLACE, pid: otherPort,
			prefix: prefix6, proto: nlmsg.RTPROT_STATIC, metric: 1024,
			want: []action{{kind: actRouteGone, route: *installed6.Installed, conflict: true}, {kind: actReresolve}},
		},
		{
			name: "foreign replace other metric", state: []fib.RouteState{installed},
			typ: nlmsg.RTM_NEWROUTE, flags: nlmsg.NLM_F_REPLACE, pid: otherPort,
			prefix: prefix4, proto: nlmsg.RTPROT_STATIC, metric: 10,
			want: []action{{kind: actReresolve}},
		},
		{
			name: "foreign append", state: []fib.RouteState{installed},
			typ: nlmsg.RTM_NEWROUTE, flags: nlmsg.NLM_F_CREATE | nlmsg.NLM_F_APPEND, pid: otherPort,
			prefix: prefix4, proto: nlmsg.RTPROT_STATIC, metric: 20,
			want: []action{{kind: actReresolve}},
		},
		{
			name: "foreign route elsewhere", typ: nlmsg.RTM_NEWROUTE, pid: otherPort,
			prefix: prefix4, proto: nlmsg.RTPROT_KERNEL, metric: 0,
			want: []action{{kind: actReresolve}},
		},
		{
			name: "blocking route deleted", state: []fib.RouteState{blocked},
			typ: nlmsg.RTM_DELROUTE, pid: otherPort,
			prefix: prefix4, proto: nlmsg.RTPROT_STATIC, metric: 20,
			want: []action{
				{kind: actRouteGone, route: fib.KernelRoute{Table: 254, Prefix: prefix4, Metric: 20, Type: fib.TypeUnicast}},
				{kind: actReresolve},
			},
		},
		{
			name: "cloned route", typ: nlmsg.RTM_NEWROUTE, pid: otherPort,
			prefix: prefix4, proto: nlmsg.RTPROT_STATIC, metric: 20, rflags: nlmsg.RTM_F_CLONED,
		},
	}

	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tr := newTranslator(testProtocol, nexthop.DefaultRange, []uint32{ownPort}, fakeLookup(tt.state...))
			h := nlmsg.Header{Type: tt.typ, Flags: tt.flags, PID: tt.pid}

			got, err := tr.translate(nil, h, routePayload(t, tt.prefix, tt.proto, tt.metric, tt.rflags))
			if err != nil {
				t.Fatalf("translate: %v", err)
			}

			if !slices.Equal(got, tt.want) {
				t.Errorf("actions:\n got %+v\nwant %+v", got, tt.want)
			}
		})
	}
}

func TestTranslateNexthop(t *testing.T) {
	taken := action{kind: actResync, conflict: true, reason: "nexthop 3000000005 taken by protocol 4"}
	reresolve := action{kind: actReresolve}

	tests := []struct {
		name  string
		typ   uint16
		pid   uint32
		id    uint32
		proto uint8
		want  []action
	}{
		{"own deleted", nlmsg.RTM_DELNEXTHOP, otherPort, 3000000005, testProtocol, []action{{kind: actNexthopGone, nexthop: 3000000005}}},
		{"echo of own delete", nlmsg.RTM_DELNEXTHOP, ownPort, 3000000005, testProtocol, nil},
		{"own group shrunk", nlmsg.RTM_NEWNEXTHOP, otherPort, 3000000005, testProtocol, nil},
		{"foreign deleted", nlmsg.RTM_DELNEXTHOP, otherPort, 3000000005, nlmsg.RTPROT_ZEBRA, []action{reresolve}},
		{"foreign in range", nlmsg.RTM_NEWNEXTHOP, otherPort, 3000000005, nlmsg.RTPROT_STATIC, []action{taken}},
		{"foreign out of range", nlmsg.RTM_NEWNEXTHOP, otherPort, 77, nlmsg.RTPROT_ZEBRA, []action{reresolve}},
	}

	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tr := newTranslator(testProtocol, nexthop.DefaultRange, []uint32{ownPort}, nil)
			h := nlmsg.Header{Type: tt.typ, PID: tt.pid}

			got, err := tr.translate(nil, h, nexthopPayload(t, tt.id, tt.proto))
			if err != nil {
				t.Fatalf("translate: %v", err)
			}

			if !slices.Equal(got, tt.want) {
				t.Errorf("actions:\n got %+v\nwant %+v", got, tt.want)
			}
		})
	}
}

// linkStep is one notification of a link scenario and the actions it must
// produce.
type linkStep struct {
	typ   uint16
	index uint32
	name  string
	flags uint32
	want  []action
}

func down(name string) action { return action{kind: actLinkChanged, device: name, up: false} }
func up(name string) action   { return action{kind: actLinkChanged, device: name, up: true} }

var refresh = action{kind: actRefreshLinks}

// again is the request to resolve gateways again that follows every link
// change.
var again = action{kind: actReresolve}

func TestTranslateLink(t *testing.T) {
	tests := []struct {
		name  string
		steps []linkStep
	}{
		{"admin down and up", []linkStep{
			{nlmsg.RTM_NEWLINK, 2, "v0", flagsDown, []action{down("v0"), again}},
			{nlmsg.RTM_NEWLINK, 2, "v0", flagsDown, nil},
			{nlmsg.RTM_NEWLINK, 2, "v0", flagsUp, []action{up("v0"), again}},
		}},
		{"carrier lost and back", []linkStep{
			{nlmsg.RTM_NEWLINK, 2, "v0", flagsNoCarrier, []action{down("v0"), again}},
			{nlmsg.RTM_NEWLINK, 2, "v0", flagsUp, []action{up("v0"), again}},
		}},
		{"deleted and created again", []linkStep{
			{nlmsg.RTM_DELLINK, 2, "v0", flagsDown, []action{refresh, down("v0"), again}},
			{nlmsg.RTM_NEWLINK, 7, "v0", flagsDown, []action{refresh}},
			{nlmsg.RTM_NEWLINK, 7, "v0", flagsNoCarrier, nil},
			{nlmsg.RTM_NEWLINK, 7, "v0", flagsUp, []action{up("v0"), again}},
		}},
		{"created again unseen delete", []linkStep{
			{nlmsg.RTM_NEWLINK, 7, "v0", flagsUp, []action{refresh, down("v0"), again, refresh, up("v0"), again}},
		}},
		{"renamed", []linkStep{
			{nlmsg.RTM_NEWLINK, 2, "uplink", flagsUp, []action{refresh, down("v0"), again, refresh, up("uplink"), again}},
		}},
		{"unknown deleted", []linkStep{
			{nlmsg.RTM_DELLINK, 9, "v9", flagsDown, nil},
		}},
	}

	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tr := newTranslator(testProtocol, nexthop.DefaultRange, nil, nil)
			tr.setLinks(nil, []link{{Index: 1, Name: "lo", Up: true}, {Index: 2, Name: "v0", Up: true}})

			for i, step := range tt.steps {
				got, err := tr.translate(nil, nlmsg.Header{Type: step.typ}, linkPayload(step.index, step.name, step.flags))
				if err != nil {
					t.Fatalf("step %d: translate: %v", i, err)
				}

				if !slices.Equal(got, step.want) {
					t.Errorf("step %d: actions:\n got %+v\nwant %+v", i, got, step.want)
				}
			}
		})
	}
}

func TestTranslateAddress(t *testing.T) {
	resync := action{kind: actResync, reason: "address removed from v0"}
	reresolve := action{kind: actReresolve}

	tests := []struct {
		name    string
		typ     uint16
		payload []byte
		want    []action
	}{
		{"IPv4 added", nlmsg.RTM_NEWADDR, addrPayload(nlmsg.AF_INET, 0, 2), []action{reresolve}},
		{"IPv4 removed", nlmsg.RTM_DELADDR, addrPayload(nlmsg.AF_INET, 0, 2), []action{reresolve, resync}},
		{"IPv6 global removed", nlmsg.RTM_DELADDR, addrPayload(nlmsg.AF_INET6, 0, 2), []action{reresolve, resync}},
		{"IPv6 link-local removed", nlmsg.RTM_DELADDR, addrPayload(nlmsg.AF_INET6, nlmsg.RT_SCOPE_LINK, 2), []action{reresolve}},
		{"unknown device", nlmsg.RTM_DELADDR, addrPayload(nlmsg.AF_INET, 0, 9), []action{reresolve, {kind: actResync, reason: "address removed from index 9"}}},
	}

	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tr := newTranslator(testProtocol, nexthop.DefaultRange, nil, nil)
			tr.setLinks(nil, []link{{Index: 2, Name: "v0", Up: true}})

			got, err := tr.translate(nil, nlmsg.Header{Type: tt.typ}, tt.payload)
			if err != nil {
				t.Fatalf("translate: %v", err)
			}

			if !slices.Equal(got, tt.want) {
				t.Errorf("actions:\n got %+v\nwant %+v", got, tt.want)
			}
		})
	}
}

func TestTranslateTruncated(t *testing.T) {
	tr := newTranslator(testProtocol, nexthop.DefaultRange, nil, nil)
	for _, typ := range []uint16{nlmsg.RTM_NEWROUTE, nlmsg.RTM_DELNEXTHOP, nlmsg.RTM_NEWLINK, nlmsg.RTM_DELADDR} {
		if _, err := tr.translate(nil, nlmsg.Header{Type: typ}, []byte{1, 2}); err == nil {
			t.Errorf("translate of type %d with 2 bytes: no error", typ)
		}
	}
}

func TestSetLinks(t *testing.T) {
	tr := newTranslator(testProtocol, nexthop.DefaultRange, nil, nil)
	tr.setLinks(nil, []link{{Index: 2, Name: "v0", Up: true}, {Index: 3, Name: "v2", Up: true}})

	got := tr.setLinks(nil, []link{{Index: 2, Name: "v0", Up: false}, {Index: 4, Name: "v3", Up: true}})
	want := []action{refresh, down("v2"), again, down("v0"), again, refresh, up("v3"), again}
	if !slices.Equal(got, want) {
		t.Errorf("actions:\n got %+v\nwant %+v", got, want)
	}
}
