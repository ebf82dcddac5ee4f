package cli

import (
	"strings"
	"testing"

	"google.golang.org/protobuf/encoding/prototext"
	"google.golang.org/protobuf/proto"

	"github.com/fibd/fibd/api/fibdv1"
)

func TestParseAddSpec(t *testing.T) {
	tests := []struct {
		line   string
		want   string // the route in prototext
		source string
	}{
		{"192.0.2.0/24 via 198.51.100.2 dev v0",
			`prefix:"192.0.2.0/24" nexthops:{gateway:"198.51.100.2" device:"v0"}`, ""},
		{"192.0.2.0/24 via 198.51.100.2 dev v0 weight 3 onlink table 100 metric 20 source ctl",
			`prefix:"192.0.2.0/24" table:100 metric:20 nexthops:{gateway:"198.51.100.2" device:"v0" weight:3 onlink:true}`, "ctl"},
		{"192.0.2.0/24 nexthop via 198.51.100.2 dev v0 weight 2 nexthop via 198.51.100.3 dev v1",
			`prefix:"192.0.2.0/24" nexthops:{gateway:"198.51.100.2" device:"v0" weight:2} nexthops:{gateway:"198.51.100.3" device:"v1"}`, ""},
		{"192.0.2.0/24 via 198.51.100.2 dev v0 via 198.51.100.3 dev v1 weight 4",
			`prefix:"192.0.2.0/24" nexthops:{gateway:"198.51.100.2" device:"v0"} nexthops:{gateway:"198.51.100.3" device:"v1" weight:4}`, ""},
		{"192.0.2.0/24 dev v0 via 198.51.100.2",
			`prefix:"192.0.2.0/24" nexthops:{gateway:"198.51.100.2" device:"v0"}`, ""},
		{"2001:db8::/32 via fe80::1 dev v0",
			`prefix:"2001:db8::/32" nexthops:{gateway:"fe80::1" device:"v0"}`, ""},
		{"blackhole 203.0.113.0/24 table 100",
			`prefix:"203.0.113.0/24" table:100 type:ROUTE_TYPE_BLACKHOLE`, ""},
		{"203.0.113.0/24 type unreachable distance 200",
			`prefix:"203.0.113.0/24" type:ROUTE_TYPE_UNREACHABLE distance:200`, ""},
		{"192.0.2.0/24 via 198.51.100.2 dev v0 via 198.51.100.3 dev v0 resilient buckets 64 idle_timer 120",
			`prefix:"192.0.2.0/24" nexthops:{gateway:"198.51.100.2" device:"v0"} nexthops:{gateway:"198.51.100.3" device:"v0"} resilient:{buckets:64 idle_timer:120}`, ""},
		{"192.0.2.0/24 via 198.51.100.2 dev v0 resilient buckets 8 metric 5",
			`prefix:"192.0.2.0/24" metric:5 nexthops:{gateway:"198.51.100.2" device:"v0"} resilient:{buckets:8}`, ""},
	}

	for _, tt := range tests {
		t.Run(tt.line, func(t *testing.T) {
			spec, err := parseAddSpec(strings.Fields(tt.line))
			if err != nil {
				t.Fatalf("parse: %v", err)
			}

			want := &fibdv1.Route{}
			if err := prototext.Unmarshal([]byte(tt.want), want); err != nil {
				t.Fatalf("bad test: %v", err)
			}

			if !proto.Equal(spec.route, want) {
				t.Errorf("route:\n got %v\nwant %v", spec.route, want)
			}

			if spec.source != tt.source {
				t.Errorf("source = %q, want %q", spec.source, tt.source)
			}
		})
	}
}

func TestParseAddSpecInvalid(t *testing.T) {
	tests := []struct {
		line string
		want string
	}{
		{"", "missing prefix"},
		{"via 198.51.100.2 dev v0", "missing prefix"},
		{"192.0.2.0/24 via", "missing value after via"},
		{"192.0.2.0/24 weight 2", "weight must follow a next hop"},
		{"192.0.2.0/24 onlink", "onlink must follow a next hop"},
		{"192.0.2.0/24 via 198.51.100.2 weight 2 weight 3", "weight is given twice for next hop 1"},
		{"192.0.2.0/24 via 198.51.100.2 weight x", "invalid weight x: use 1 to 65535"},
		{"192.0.2.0/24 via 198.51.100.2 weight -1", "invalid weight -1: use 1 to 65535"},
		{"192.0.2.0/24 via 198.51.100.2 weight 0", "invalid weight 0: use 1 to 65535"},
		{"192.0.2.0/24 via 198.51.100.2 weight 65536", "invalid weight 65536: use 1 to 65535"},
		{"192.0.2.0/24 table main", `invalid table "main"`},
		{"192.0.2.0/24 table 1 table 2", "table is given twice"},
		{"192.0.2.0/24 metric -1", `invalid metric "-1"`},
		{"192.0.2.0/24 type anycast", `unknown route type "anycast"`},
		{"192.0.2.0/24 198.51.100.0/24", `unexpected argument "198.51.100.0/24" after prefix 192.0.2.0/24`},
		{"192.0.2.0/24 nexthop weight 2", "nexthop must be followed by via ADDR or dev NAME"},
		{"192.0.2.0/24 via 198.51.100.2 resilient idle_timer 3", "resilient needs buckets"},
	}

	for _, tt := range tests {
		t.Run(tt.line, func(t *testing.T) {
			_, err := parseAddSpec(strings.Fields(tt.line))
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error = %v, want one containing %q", err, tt.want)
			}
		})
	}
}

func TestParseKeySpec(t *testing.T) {
	key, source, err := parseKeySpec(strings.Fields("192.0.2.0/24 table 100 source ctl"))
	if err != nil {
		t.Fatalf("parse: %v", err)
	}

	if key.GetPrefix() != "192.0.2.0/24" || key.GetTable() != 100 || source != "ctl" {
		t.Errorf("key = %v, source %q; want 192.0.2.0/24 table 100, source ctl", key, source)
	}

	for _, line := range []string{"", "table 100", "192.0.2.0/24 198.51.100.0/24", "192.0.2.0/24 table"} {
		if _, _, err := parseKeySpec(strings.Fields(line)); err == nil {
			t.Errorf("parse %q succeeded, want an error", line)
		}
	}
}

func TestParseFilter(t *testing.T) {
	f, err := parseFilter(strings.Fields("table 254 source bgp family inet6"))
	if err != nil {
		t.Fatalf("parse: %v", err)
	}

	want := &fibdv1.RouteFilter{Table: 254, Source: "bgp", Family: fibdv1.Family_FAMILY_INET6}
	if !proto.Equal(f, want) {
		t.Errorf("filter = %v, want %v", f, want)
	}

	if _, err := parseFilter(strings.Fields("family ipx")); err == nil || !strings.Contains(err.Error(), `unknown family "ipx"`) {
		t.Errorf("family ipx: error %v, want unknown family", err)
	}
}
