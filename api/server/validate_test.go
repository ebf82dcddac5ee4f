package server

import (
	"fmt"
	"reflect"
	"strings"
	"testing"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/fibd/fibd/api/fibdv1"
	"github.com/fibd/fibd/fib"
)

func TestAddRoutesInvalid(t *testing.T) {
	eachBackend(t, func(t *testing.T, start func(Config) *harness) {
		h := start(Config{Sources: map[string]fib.Distance{"backup": 50}})
		h.add(t, "grpc", unicast("203.0.113.0/24", "198.51.100.2"))

		manyHops := make([]*fibdv1.Nexthop, 257)
		for i := range manyHops {
			manyHops[i] = &fibdv1.Nexthop{Gateway: fmt.Sprintf("198.51.100.%d", i%250+1), Device: "v0", Weight: ptr(uint32(i/250 + 1))}
		}

		tooMany := make([]*fibdv1.Route, 17)
		for i := range tooMany {
			tooMany[i] = unicast(fmt.Sprintf("192.0.2.%d/32", i), "198.51.100.2")
		}

		hop := func(gw, dev string) *fibdv1.Nexthop { return &fibdv1.Nexthop{Gateway: gw, Device: dev} }
		route := func(prefix string, hops ...*fibdv1.Nexthop) *fibdv1.Route {
			return &fibdv1.Route{Prefix: prefix, Nexthops: hops}
		}

		tests := []struct {
			name   string
			source string
			routes []*fibdv1.Route
			want   []string // substrings of the status message
		}{
			{"host bits", "grpc", []*fibdv1.Route{unicast("192.0.2.1/24", "198.51.100.2")},
				[]string{"routes[0].prefix", "prefix 192.0.2.1/24 has host bits set; use 192.0.2.0/24"}},
			{"bad prefix", "grpc", []*fibdv1.Route{unicast("192.0.2.0/33", "198.51.100.2")},
				[]string{"routes[0].prefix", `"192.0.2.0/33"`}},
			{"no prefix", "grpc", []*fibdv1.Route{unicast("", "198.51.100.2")},
				[]string{"routes[0].prefix", `invalid prefix ""`}},
			{"mapped prefix", "grpc", []*fibdv1.Route{unicast("::ffff:192.0.2.0/120", "198.51.100.2")},
				[]string{"routes[0].prefix", "use the plain IPv4 form 192.0.2.0/24"}},
			{"bad gateway", "grpc", []*fibdv1.Route{unicast("192.0.2.0/24", "198.51.100.300")},
				[]string{"routes[0].nexthops[0].gateway", `"198.51.100.300"`}},
			{"unknown device", "grpc", []*fibdv1.Route{route("192.0.2.0/24", hop("198.51.100.2", "v9"))},
				[]string{"routes[0].nexthops[0].device", `unknown interface "v9"`}},
			{"long device", "grpc", []*fibdv1.Route{route("192.0.2.0/24", hop("", "averyveryverylongname"))},
				[]string{"routes[0].nexthops[0].device", "averyveryverylongname", "limit of 15"}},
			{"weight zero", "grpc", []*fibdv1.Route{route("192.0.2.0/24", &fibdv1.Nexthop{Gateway: "198.51.100.2", Device: "v0", Weight: ptr(uint32(0))})},
				[]string{"routes[0].nexthops[0].weight", "weight 0", "1 to 65535"}},
			{"weight too big", "grpc", []*fibdv1.Route{route("192.0.2.0/24", &fibdv1.Nexthop{Gateway: "198.51.100.2", Device: "v0", Weight: ptr(uint32(65537))})},
				[]string{"routes[0].nexthops[0].weight", "weight 65537"}},
			{"too many hops", "grpc", []*fibdv1.Route{route("192.0.2.0/24", manyHops...)},
				[]string{"routes[0].nexthops", "257 next hops", "limit of 256"}},
			{"duplicate hop", "grpc", []*fibdv1.Route{route("192.0.2.0/24", hop("198.51.100.2", "v0"), hop("198.51.100.3", "v0"), hop("198.51.100.2", "v0"))},
				[]string{"routes[0].nexthops[2]", "via 198.51.100.2 dev v0", "repeats routes[0].nexthops[0]"}},
			{"ipv4 hop on ipv6", "grpc", []*fibdv1.Route{route("2001:db8::/32", hop("198.51.100.2", "v0"))},
				[]string{"routes[0].nexthops[0].gateway", "198.51.100.2 is IPv4", "2001:db8::/32 is IPv6"}},
			{"link-local no dev", "grpc", []*fibdv1.Route{route("2001:db8::/32", hop("fe80::1", ""))},
				[]string{"routes[0].nexthops[0].gateway", "fe80::1 is link-local", "device"}},
			{"zone and device", "grpc", []*fibdv1.Route{route("2001:db8::/32", hop("fe80::1%v1", "v0"))},
				[]string{"routes[0].nexthops[0].gateway", `"v1"`, `"v0"`}},
			{"empty hop", "grpc", []*fibdv1.Route{route("192.0.2.0/24", hop("", ""))},
				[]string{"routes[0].nexthops[0]", "neither gateway nor device"}},
			{"onlink no dev", "grpc", []*fibdv1.Route{route("192.0.2.0/24", &fibdv1.Nexthop{Gateway: "198.51.100.2", Onlink: true})},
				[]string{"routes[0].nexthops[0].onlink", "198.51.100.2"}},
			{"no hops", "grpc", []*fibdv1.Route{{Prefix: "192.0.2.0/24"}},
				[]string{"routes[0].nexthops", "192.0.2.0/24 has no next hops"}},
			{"blackhole hops", "grpc", []*fibdv1.Route{{Prefix: "192.0.2.0/24", Type: fibdv1.RouteType_ROUTE_TYPE_BLACKHOLE, Nexthops: []*fibdv1.Nexthop{hop("198.51.100.2", "v0")}}},
				[]string{"routes[0].nexthops", "blackhole route takes no next hops"}},
			{"unknown type", "grpc", []*fibdv1.Route{{Prefix: "192.0.2.0/24", Type: 42}},
				[]string{"routes[0].type", "route type 42"}},
			{"resilient buckets", "grpc", []*fibdv1.Route{{Prefix: "192.0.2.0/24", Nexthops: []*fibdv1.Nexthop{hop("198.51.100.2", "v0")}, Resilient: &fibdv1.ResilientGroup{}}},
				[]string{"routes[0].resilient.buckets", "buckets 0"}},
			{"table 0", "grpc", []*fibdv1.Route{{Prefix: "192.0.2.0/24", Table: ptr(uint32(0)), Type: fibdv1.RouteType_ROUTE_TYPE_BLACKHOLE}},
				[]string{"routes[0].table", "table 0 is reserved"}},
			{"table 252", "grpc", []*fibdv1.Route{{Prefix: "192.0.2.0/24", Table: ptr(uint32(252)), Type: fibdv1.RouteType_ROUTE_TYPE_BLACKHOLE}},
				[]string{"routes[0].table", "table 252 is reserved"}},
			{"table 253", "grpc", []*fibdv1.Route{{Prefix: "192.0.2.0/24", Table: ptr(uint32(253)), Type: fibdv1.RouteType_ROUTE_TYPE_BLACKHOLE}},
				[]string{"routes[0].table", "table 253 is reserved"}},
			{"table 255", "grpc", []*fibdv1.Route{{Prefix: "192.0.2.0/24", Table: ptr(uint32(255)), Type: fibdv1.RouteType_ROUTE_TYPE_BLACKHOLE}},
				[]string{"routes[0].table", "table 255 is reserved"}},
			{"empty source", "", []*fibdv1.Route{unicast("192.0.2.0/24", "198.51.100.2")},
				[]string{"source", "source is empty"}},
			{"reserved source", "bgp", []*fibdv1.Route{unicast("192.0.2.0/24", "198.51.100.2")},
				[]string{"source", `source "bgp" is reserved`}},
			{"source mismatch", "grpc", []*fibdv1.Route{{Prefix: "192.0.2.0/24", Source: "other", Type: fibdv1.RouteType_ROUTE_TYPE_BLACKHOLE}},
				[]string{"routes[0].source", `"other"`, `"grpc"`}},
			{"distance lowered", "backup", []*fibdv1.Route{{Prefix: "192.0.2.0/24", Distance: ptr(uint32(20)), Type: fibdv1.RouteType_ROUTE_TYPE_BLACKHOLE}},
				[]string{"routes[0].distance", "distance 20", "configured distance 50", "api.sources.backup.distance"}},
			{"distance too big", "grpc", []*fibdv1.Route{{Prefix: "192.0.2.0/24", Distance: ptr(uint32(256)), Type: fibdv1.RouteType_ROUTE_TYPE_BLACKHOLE}},
				[]string{"routes[0].distance", "distance 256"}},
			{"duplicate key", "grpc", []*fibdv1.Route{unicast("192.0.2.0/24", "198.51.100.2"), unicast("192.0.2.0/24", "198.51.100.3")},
				[]string{"routes[1]", "192.0.2.0/24 table 254", "routes[0]"}},
			{"batch too big", "grpc", tooMany,
				[]string{"routes", "batch of 17", "limit of 16", "api.max-batch"}},
			// A valid route before an invalid one is not offered either.
			{"all or nothing", "grpc", []*fibdv1.Route{unicast("192.0.2.0/24", "198.51.100.2"), unicast("198.51.100.0/24", "bogus")},
				[]string{"routes[1].nexthops[0].gateway", `"bogus"`}},
		}

		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				before := h.snapshot()

				_, err := h.client.AddRoutes(testContext(t), &fibdv1.AddRoutesRequest{Source: tt.source, Routes: tt.routes})
				checkInvalid(t, err, tt.want)

				if after := h.snapshot(); !reflect.DeepEqual(before, after) {
					t.Errorf("FIB changed:\nbefore %v\nafter  %v", before, after)
				}
			})
		}
	})
}

func TestDeleteRoutesInvalid(t *testing.T) {
	eachBackend(t, func(t *testing.T, start func(Config) *harness) {
		h := start(Config{})
		h.add(t, "grpc", unicast("192.0.2.0/24", "198.51.100.2"))

		tests := []struct {
			name   string
			source string
			keys   []*fibdv1.RouteKey
			want   []string
		}{
			{"host bits", "grpc", []*fibdv1.RouteKey{{Prefix: "192.0.2.0/24"}, {Prefix: "192.0.2.1/24"}},
				[]string{"keys[1].prefix", "192.0.2.1/24 has host bits set; use 192.0.2.0/24"}},
			{"table 255", "grpc", []*fibdv1.RouteKey{{Prefix: "192.0.2.0/24", Table: ptr(uint32(255))}},
				[]string{"keys[0].table", "table 255 is reserved"}},
			{"empty source", "", []*fibdv1.RouteKey{{Prefix: "192.0.2.0/24"}},
				[]string{"source", "source is empty"}},
		}

		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				before := h.snapshot()

				_, err := h.client.DeleteRoutes(testContext(t), &fibdv1.DeleteRoutesRequest{Source: tt.source, Keys: tt.keys})
				checkInvalid(t, err, tt.want)

				if after := h.snapshot(); !reflect.DeepEqual(before, after) {
					t.Errorf("FIB changed:\nbefore %v\nafter  %v", before, after)
				}
			})
		}
	})
}

// checkInvalid checks that err is INVALID_ARGUMENT with a message holding
// each of want and a BadRequest detail naming the first field.
func checkInvalid(t *testing.T, err error, want []string) {
	t.Helper()

	st, ok := status.FromError(err)
	if !ok || st.Code() != codes.InvalidArgument {
		t.Fatalf("error = %v, want code InvalidArgument", err)
	}

	for _, w := range want {
		if !strings.Contains(st.Message(), w) {
			t.Errorf("message %q does not contain %q", st.Message(), w)
		}
	}

	var fields []string
	for _, d := range st.Details() {
		if br, ok := d.(*errdetails.BadRequest); ok {
			for _, v := range br.GetFieldViolations() {
				fields = append(fields, v.GetField())
			}
		}
	}

	if len(fields) == 0 || !strings.HasPrefix(st.Message(), fields[0]+": ") {
		t.Errorf("BadRequest fields = %v, want the first to start the message %q", fields, st.Message())
	}
}

func TestInvalidGatewayOnly(t *testing.T) {
	h := newHarness(t, Config{})

	_, err := h.client.AddRoutes(testContext(t), &fibdv1.AddRoutesRequest{Source: "ctl", Routes: []*fibdv1.Route{
		{Prefix: "192.0.2.0/24", Nexthops: []*fibdv1.Nexthop{{Gateway: "198.51.100.999"}}},
	}})
	checkInvalid(t, err, []string{"routes[0].nexthops[0].gateway", `invalid gateway "198.51.100.999"`})

	for _, unwanted := range []string{"neither gateway nor device", "more problem"} {
		if strings.Contains(err.Error(), unwanted) {
			t.Errorf("error %q reports %q besides the invalid gateway", err, unwanted)
		}
	}
}

func TestViolationsCount(t *testing.T) {
	var v violations
	v.add("a", "first")
	v.add("b", "second")
	if got := v.message(); got != "a: first (and 1 more problem)" {
		t.Errorf("message = %q", got)
	}

	v.add("c", "third")
	if got := v.message(); got != "a: first (and 2 more problems)" {
		t.Errorf("message = %q", got)
	}
}
