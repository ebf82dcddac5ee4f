package nlmsg

import (
	"net/netip"
	"testing"
)

func BenchmarkAppendRoute(b *testing.B) {
	r := routeNHID
	h := Header{Type: RTM_NEWROUTE, Flags: create}
	buf := make([]byte, 0, 4096)

	b.ReportAllocs()
	for b.Loop() {
		h.Seq++
		buf = AppendRoute(buf[:0], h, &r)
	}

	b.SetBytes(int64(len(buf)))
}

func BenchmarkAppendRouteBatch(b *testing.B) {
	// One batch of 1,000 IPv4 routes with distinct prefixes, as fibd sends
	// after a BGP session comes up.
	routes := make([]Route, 1000)
	for i := range routes {
		routes[i] = routeNHID
		routes[i].Dst = netip.AddrFrom4([4]byte{10, byte(i >> 8), byte(i), 0})
	}

	h := Header{Type: RTM_NEWROUTE, Flags: create}
	buf := make([]byte, 0, 64*len(routes))

	b.ReportAllocs()
	for b.Loop() {
		buf = buf[:0]
		for i := range routes {
			h.Seq++
			buf = AppendRoute(buf, h, &routes[i])
		}
	}
}

func BenchmarkAppendNexthop(b *testing.B) {
	n := nexthopGroup
	buf := make([]byte, 0, 4096)

	b.ReportAllocs()
	for b.Loop() {
		buf = AppendNexthop(buf[:0], Header{Type: RTM_NEWNEXTHOP, Flags: create}, &n)
	}
}

func BenchmarkUnmarshalRoute(b *testing.B) {
	var r Route

	b.ReportAllocs()
	for b.Loop() {
		if err := r.UnmarshalBinary(kernelNHIDPayload); err != nil {
			b.Fatal(err)
		}
	}
}

func TestAppendAllocs(t *testing.T) {
	buf := make([]byte, 0, 4096)
	for name, fn := range map[string]func(){
		"route":     func() { buf = AppendRoute(buf[:0], Header{}, &routeNHID) },
		"via":       func() { buf = AppendRoute(buf[:0], Header{}, &routeVia) },
		"multipath": func() { buf = AppendRoute(buf[:0], Header{}, &routeMultipath) },
		"nexthop":   func() { buf = AppendNexthop(buf[:0], Header{}, &nexthopResilient) },
		"group":     func() { buf = AppendNexthop(buf[:0], Header{}, &nexthopGroup) },
		"dump":      func() { buf = AppendRouteDump(buf[:0], Header{}, AF_INET, 201, 1000) },
		"get":       func() { buf = AppendRouteGet(buf[:0], Header{}, routeVia.Gateway, 2) },
	} {
		if allocs := testing.AllocsPerRun(100, fn); allocs != 0 {
			t.Errorf("%s: %v allocations per message, want 0", name, allocs)
		}
	}
}
