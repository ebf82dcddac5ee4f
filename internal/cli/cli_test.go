package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/durationpb"

	"github.com/fibd/fibd/api/fibdv1"
)

func u32(v uint32) *uint32 { return &v }

// testRoutes are three keys: an ECMP route with a backup candidate, a
// single-hop route, and a blackhole the kernel rejected.
var testRoutes = []*fibdv1.RouteState{
	{
		Prefix: "192.0.2.0/24", Table: 254,
		Candidates: []*fibdv1.Route{
			{Prefix: "192.0.2.0/24", Table: u32(254), Metric: 20, Type: fibdv1.RouteType_ROUTE_TYPE_UNICAST, Source: "grpc", Distance: u32(10),
				Nexthops: []*fibdv1.Nexthop{{Gateway: "198.51.100.2", Device: "v0", Weight: u32(1)}, {Gateway: "198.51.100.3", Device: "v1", Weight: u32(3)}}},
			{Prefix: "192.0.2.0/24", Table: u32(254), Metric: 20, Type: fibdv1.RouteType_ROUTE_TYPE_UNICAST, Source: "bgp", Distance: u32(20),
				Nexthops: []*fibdv1.Nexthop{{Gateway: "198.51.100.9", Device: "v0", Weight: u32(1)}}},
		},
		Installed: &fibdv1.InstalledRoute{Metric: 20, Type: fibdv1.RouteType_ROUTE_TYPE_UNICAST, NexthopId: 3000000003},
	},
	{
		Prefix: "2001:db8::/32", Table: 254,
		Candidates: []*fibdv1.Route{
			{Prefix: "2001:db8::/32", Table: u32(254), Type: fibdv1.RouteType_ROUTE_TYPE_UNICAST, Source: "cli", Distance: u32(10),
				Nexthops: []*fibdv1.Nexthop{{Gateway: "fe80::1", Device: "v0", Weight: u32(1)}}},
		},
		Installed: &fibdv1.InstalledRoute{Type: fibdv1.RouteType_ROUTE_TYPE_UNICAST, NexthopId: 3000000004},
	},
	{
		Prefix: "203.0.113.0/24", Table: 100,
		Candidates: []*fibdv1.Route{
			{Prefix: "203.0.113.0/24", Table: u32(100), Type: fibdv1.RouteType_ROUTE_TYPE_BLACKHOLE, Source: "cli", Distance: u32(10)},
		},
		Error: "create route 203.0.113.0/24 table 100: no such table",
	},
}

const routeListGolden = `192.0.2.0/24 nhid 3000000003 proto fibd metric 20 table 254 source grpc distance 10
	nexthop via 198.51.100.2 dev v0 weight 1
	nexthop via 198.51.100.3 dev v1 weight 3
2001:db8::/32 nhid 3000000004 via fe80::1 dev v0 proto fibd metric 0 table 254 source cli distance 10
blackhole 203.0.113.0/24 proto fibd metric 0 table 100 source cli distance 10 failed "create route 203.0.113.0/24 table 100: no such table"
`

const candidatesGolden = `   Network         Table  Source  Distance  Metric  Next Hop                                           State
*> 192.0.2.0/24    254    grpc    10        20      198.51.100.2 dev v0, 198.51.100.3 dev v1 weight 3  installed nhid 3000000003
*  192.0.2.0/24    254    bgp     20        20      198.51.100.9 dev v0
*> 2001:db8::/32   254    cli     10        0       fe80::1 dev v0                                     installed nhid 3000000004
*> 203.0.113.0/24  100    cli     10        0       blackhole                                          failed "create route 203.0.113.0/24 table 100: no such table"
`

var testNexthops = []*fibdv1.NexthopObject{
	{Id: 3000000001, Hop: &fibdv1.Nexthop{Gateway: "198.51.100.2", Device: "v0"}, Family: fibdv1.Family_FAMILY_INET, Refs: 1, Installed: true},
	{Id: 3000000002, Hop: &fibdv1.Nexthop{Device: "v1"}, Family: fibdv1.Family_FAMILY_INET6, Refs: 2, Installed: true, Down: []string{"link"}},
	{Id: 3000000003, Group: []*fibdv1.GroupMember{{Id: 3000000001, Weight: 1}, {Id: 3000000002, Weight: 1}}, Refs: 10000, Installed: true},
	{Id: 3000000005, Group: []*fibdv1.GroupMember{{Id: 3000000001, Weight: 1}, {Id: 3000000002, Weight: 3}},
		Resilient: &fibdv1.ResilientGroup{Buckets: 64, IdleTimer: 120}, Refs: 1},
}

const nexthopListGolden = `id 3000000001 via 198.51.100.2 dev v0 refs 1
id 3000000002 dev v1 inet6 refs 2 down link
id 3000000003 group 3000000001/3000000002 refs 10000
id 3000000005 group 3000000001/3000000002,3 type resilient buckets 64 idle_timer 120 unbalanced_timer 0 refs 1 not-installed
`

// fakeFib returns canned data to the CLI's calls with canned data and records requests.
type fakeFib struct {
	fibdv1.UnimplementedFibServer

	add    *fibdv1.AddRoutesRequest
	del    *fibdv1.DeleteRoutesRequest
	filter *fibdv1.RouteFilter
	verify *fibdv1.VerifyResponse

	// routes is the listing that ListRoutes returns; nil means testRoutes.
	routes []*fibdv1.RouteState
}

func (f *fakeFib) AddRoutes(_ context.Context, req *fibdv1.AddRoutesRequest) (*fibdv1.AddRoutesResponse, error) {
	f.add = req

	resp := &fibdv1.AddRoutesResponse{}
	for _, r := range req.GetRoutes() {
		res := &fibdv1.RouteResult{Prefix: r.GetPrefix(), Table: 254, Code: fibdv1.ResultCode_RESULT_CODE_OK, Selected: true}
		if r.GetPrefix() == "203.0.113.0/24" {
			res.Code = fibdv1.ResultCode_RESULT_CODE_KERNEL_ERROR
			res.Message = "create route 203.0.113.0/24 table 254: network is unreachable"
		}

		if r.GetPrefix() == "2001:db8::/32" {
			return nil, status.Error(codes.InvalidArgument, `routes[0].nexthops[0].gateway: gateway 198.51.100.2 is IPv4 but prefix 2001:db8::/32 is IPv6; use an IPv6 gateway`)
		}

		resp.Results = append(resp.Results, res)
	}

	return resp, nil
}

func (f *fakeFib) DeleteRoutes(_ context.Context, req *fibdv1.DeleteRoutesRequest) (*fibdv1.DeleteRoutesResponse, error) {
	f.del = req

	return &fibdv1.DeleteRoutesResponse{Results: []*fibdv1.RouteResult{{Prefix: req.GetKeys()[0].GetPrefix(), Table: 254, Code: fibdv1.ResultCode_RESULT_CODE_OK}}}, nil
}

func (f *fakeFib) ListRoutes(req *fibdv1.ListRoutesRequest, stream fibdv1.Fib_ListRoutesServer) error {
	f.filter = req.GetFilter()
	routes := f.routes
	if routes == nil {
		routes = testRoutes
	}

	// Two chunks, as the daemon sends long listings.
	if err := stream.Send(&fibdv1.ListRoutesResponse{Routes: routes[:1]}); err != nil {
		return err
	}

	return stream.Send(&fibdv1.ListRoutesResponse{Routes: routes[1:]})
}

func (f *fakeFib) ListNexthops(_ *fibdv1.ListNexthopsRequest, stream fibdv1.Fib_ListNexthopsServer) error {
	return stream.Send(&fibdv1.ListNexthopsResponse{Nexthops: testNexthops})
}

func (f *fakeFib) Status(context.Context, *fibdv1.StatusRequest) (*fibdv1.StatusResponse, error) {
	return &fibdv1.StatusResponse{
		Version: "v0.1.0", Uptime: durationpb.New(3723e9), KernelSync: "in-sync",
		Routes: 2, Installed: 4, Adopted: 3, Failed: 1, Nexthops: 2, Groups: 1, Ops: 7,
		BySource: []*fibdv1.Count{{Name: "cli", Routes: 2}},
		ByTable:  []*fibdv1.Count{{Name: "100", Routes: 1}, {Name: "254", Routes: 1}},
		Extra:    map[string]string{"bgp": "2 peers, 2 established"},
	}, nil
}

func (f *fakeFib) Verify(context.Context, *fibdv1.VerifyRequest) (*fibdv1.VerifyResponse, error) {
	return f.verify, nil
}

// startFake serves a fakeFib on a unix socket in a temp dir and returns
// the socket's path.
func startFake(t *testing.T, f *fakeFib) string {
	t.Helper()

	socket := filepath.Join(t.TempDir(), "fibd.sock")
	l, err := netListenUnix(socket)
	if err != nil {
		t.Fatalf("listen: %v", err)
	}

	gs := grpc.NewServer()
	fibdv1.RegisterFibServer(gs, f)

	go func() { _ = gs.Serve(l) }()
	t.Cleanup(gs.Stop)

	return socket
}

// runCLI runs a command function and returns its exit code and output.
func runCLI(fn func([]string, io.Writer, io.Writer) int, args ...string) (int, string, string) {
	var stdout, stderr bytes.Buffer
	code := fn(args, &stdout, &stderr)

	return code, stdout.String(), stderr.String()
}

func TestRouteList(t *testing.T) {
	f := &fakeFib{}
	socket := startFake(t, f)

	code, out, errOut := runCLI(Route, "list", "--socket", socket, "table", "254", "source", "grpc")
	if code != 0 || errOut != "" {
		t.Fatalf("exit %d, stderr %q", code, errOut)
	}

	if out != routeListGolden {
		t.Errorf("route list:\n%s\nwant:\n%s", out, routeListGolden)
	}

	want := &fibdv1.RouteFilter{Table: 254, Source: "grpc"}
	if !proto.Equal(f.filter, want) {
		t.Errorf("filter = %v, want %v", f.filter, want)
	}
}

func TestRouteListCandidates(t *testing.T) {
	socket := startFake(t, &fakeFib{})

	code, out, _ := runCLI(Route, "list", "--candidates", "--socket="+socket)
	if code != 0 {
		t.Fatalf("exit %d", code)
	}

	if out != candidatesGolden {
		t.Errorf("route list --candidates:\n%s\nwant:\n%s", out, candidatesGolden)
	}
}

func TestRouteListJSON(t *testing.T) {
	socket := startFake(t, &fakeFib{})

	code, out, _ := runCLI(Route, "list", "--json", "--socket", socket)
	if code != 0 {
		t.Fatalf("exit %d", code)
	}

	var got struct {
		Routes []struct {
			Prefix     string
			Table      int
			Candidates []struct{ Source string }
			Error      string
			Unresolved bool
		}
	}
	if err := json.Unmarshal([]byte(out), &got); err != nil {
		t.Fatalf("decode %s: %v", out, err)
	}

	if len(got.Routes) != 3 || got.Routes[0].Prefix != "192.0.2.0/24" || got.Routes[0].Candidates[1].Source != "bgp" {
		t.Errorf("JSON routes = %+v, want the three test routes", got.Routes)
	}

	if !strings.Contains(out, `"unresolved": false`) {
		t.Errorf("JSON lacks default values:\n%s", out)
	}
}

// bgpRoutes are the keys where source bgp has a candidate, as the daemon
// lists them for the filter source bgp: two where another source's
// candidate is selected, and one where bgp's is.
var bgpRoutes = []*fibdv1.RouteState{
	testRoutes[0],
	{
		Prefix: "203.0.113.0/24", Table: 254,
		Candidates: []*fibdv1.Route{
			{Prefix: "203.0.113.0/24", Table: u32(254), Type: fibdv1.RouteType_ROUTE_TYPE_BLACKHOLE, Source: "cli", Distance: u32(10)},
			{Prefix: "203.0.113.0/24", Table: u32(254), Type: fibdv1.RouteType_ROUTE_TYPE_UNICAST, Source: "bgp", Distance: u32(20),
				Nexthops: []*fibdv1.Nexthop{{Gateway: "198.51.100.9", Device: "v0", Weight: u32(1)}, {Gateway: "198.51.100.10", Device: "v1", Weight: u32(2)}}},
		},
		Installed: &fibdv1.InstalledRoute{Type: fibdv1.RouteType_ROUTE_TYPE_BLACKHOLE},
	},
	{
		Prefix: "2001:db8:1::/48", Table: 254,
		Candidates: []*fibdv1.Route{
			{Prefix: "2001:db8:1::/48", Table: u32(254), Metric: 20, Type: fibdv1.RouteType_ROUTE_TYPE_UNICAST, Source: "bgp", Distance: u32(20),
				Nexthops: []*fibdv1.Nexthop{{Gateway: "2001:db8::9", Device: "v0", Weight: u32(1)}}},
		},
		Installed: &fibdv1.InstalledRoute{Metric: 20, Type: fibdv1.RouteType_ROUTE_TYPE_UNICAST, NexthopId: 3000000006},
	},
}

const bgpRouteListGolden = `192.0.2.0/24 nhid 3000000003 proto fibd metric 20 table 254 source grpc distance 10
	nexthop via 198.51.100.2 dev v0 weight 1
	nexthop via 198.51.100.3 dev v1 weight 3
	candidate source bgp distance 20 metric 20 via 198.51.100.9 dev v0
blackhole 203.0.113.0/24 proto fibd metric 0 table 254 source cli distance 10
	candidate source bgp distance 20 metric 0 nexthop via 198.51.100.9 dev v0 weight 1 nexthop via 198.51.100.10 dev v1 weight 2
2001:db8:1::/48 nhid 3000000006 via 2001:db8::9 dev v0 proto fibd metric 20 table 254 source bgp distance 20
`

// TestRouteListSourceFilter checks that the plain listing shows the
// filtered source's candidate of every route that the JSON listing has,
// also where another source's candidate is selected.
func TestRouteListSourceFilter(t *testing.T) {
	socket := startFake(t, &fakeFib{routes: bgpRoutes})

	code, text, errOut := runCLI(Route, "list", "--socket", socket, "source", "bgp")
	if code != 0 || errOut != "" {
		t.Fatalf("exit %d, stderr %q", code, errOut)
	}

	if text != bgpRouteListGolden {
		t.Errorf("route list source bgp:\n%s\nwant:\n%s", text, bgpRouteListGolden)
	}

	code, out, errOut := runCLI(Route, "list", "--json", "--socket", socket, "source", "bgp")
	if code != 0 || errOut != "" {
		t.Fatalf("--json: exit %d, stderr %q", code, errOut)
	}

	var listed struct {
		Routes []struct{ Prefix string }
	}
	if err := json.Unmarshal([]byte(out), &listed); err != nil {
		t.Fatalf("decode %s: %v", out, err)
	}

	blocks := routeBlocks(text)
	if len(blocks) != len(listed.Routes) {
		t.Errorf("plain listing has %d routes, JSON has %d", len(blocks), len(listed.Routes))
	}

	for _, r := range listed.Routes {
		if block := blocks[r.Prefix]; !strings.Contains(block, "source bgp distance ") {
			t.Errorf("plain listing of %s lacks the candidate of source bgp:\n%s", r.Prefix, block)
		}
	}
}

// routeBlocks splits a plain route listing into each route's first line
// and its indented lines, by prefix.
func routeBlocks(text string) map[string]string {
	blocks := make(map[string]string)
	prefix := ""
	for _, line := range strings.SplitAfter(text, "\n") {
		if line == "" {
			continue
		}

		// A first line starts with the prefix, or with the type and then
		// the prefix.
		if !strings.HasPrefix(line, "\t") {
			fields := strings.Fields(line)
			prefix = fields[0]
			if !strings.Contains(prefix, "/") && len(fields) > 1 {
				prefix = fields[1]
			}
		}

		blocks[prefix] += line
	}

	return blocks
}

func TestNexthopList(t *testing.T) {
	socket := startFake(t, &fakeFib{})

	code, out, _ := runCLI(Nexthop, "list", "--socket", socket)
	if code != 0 {
		t.Fatalf("exit %d", code)
	}

	if out != nexthopListGolden {
		t.Errorf("nexthop list:\n%s\nwant:\n%s", out, nexthopListGolden)
	}
}

func TestRouteAdd(t *testing.T) {
	f := &fakeFib{}
	socket := startFake(t, f)

	code, out, errOut := runCLI(Route, "add", "192.0.2.0/24", "via", "198.51.100.2", "dev", "v0", "--socket", socket)
	if code != 0 || out != "" || errOut != "" {
		t.Fatalf("exit %d, stdout %q, stderr %q", code, out, errOut)
	}

	if f.add.GetSource() != DefaultSource || f.add.GetRoutes()[0].GetNexthops()[0].GetGateway() != "198.51.100.2" {
		t.Errorf("request = %v, want source %s and gateway 198.51.100.2", f.add, DefaultSource)
	}
}

func TestRouteAddKernelError(t *testing.T) {
	socket := startFake(t, &fakeFib{})

	code, _, errOut := runCLI(Route, "add", "blackhole", "203.0.113.0/24", "--socket", socket)
	want := "fibd route add: route 203.0.113.0/24 table 254: kernel error: create route 203.0.113.0/24 table 254: network is unreachable\n"
	if code != 1 || errOut != want {
		t.Errorf("exit %d, stderr %q; want 1, %q", code, errOut, want)
	}
}

func TestRouteAddInvalid(t *testing.T) {
	socket := startFake(t, &fakeFib{})

	code, _, errOut := runCLI(Route, "add", "2001:db8::/32", "via", "198.51.100.2", "--socket", socket)
	if code != 1 || !strings.Contains(errOut, "invalid request: routes[0].nexthops[0].gateway: gateway 198.51.100.2 is IPv4") {
		t.Errorf("exit %d, stderr %q; want 1 and the daemon's message", code, errOut)
	}
}

func TestRouteDel(t *testing.T) {
	f := &fakeFib{}
	socket := startFake(t, f)

	code, _, errOut := runCLI(Route, "del", "192.0.2.0/24", "table", "100", "source", "ctl", "--socket", socket)
	if code != 0 {
		t.Fatalf("exit %d, stderr %q", code, errOut)
	}

	if f.del.GetSource() != "ctl" || f.del.GetKeys()[0].GetTable() != 100 {
		t.Errorf("request = %v, want source ctl, table 100", f.del)
	}
}

func TestRouteAddFile(t *testing.T) {
	f := &fakeFib{}
	socket := startFake(t, f)

	file := filepath.Join(t.TempDir(), "routes")
	lines := "# test routes\n192.0.2.0/24 via 198.51.100.2 dev v0 source ctl\n\n198.51.100.0/24 nexthop via 198.51.100.2 dev v0 nexthop via 198.51.100.3 dev v1 source ctl\n"
	if err := os.WriteFile(file, []byte(lines), 0o644); err != nil {
		t.Fatal(err)
	}

	code, _, errOut := runCLI(Route, "add", "--file", file, "--socket", socket)
	if code != 0 {
		t.Fatalf("exit %d, stderr %q", code, errOut)
	}

	if f.add.GetSource() != "ctl" || len(f.add.GetRoutes()) != 2 || len(f.add.GetRoutes()[1].GetNexthops()) != 2 {
		t.Errorf("request = %v, want two routes of source ctl", f.add)
	}

	// The same file deletes the routes.
	code, _, errOut = runCLI(Route, "del", "--file", file, "--socket", socket)
	if code != 0 {
		t.Fatalf("del: exit %d, stderr %q", code, errOut)
	}

	if f.del.GetSource() != "ctl" || len(f.del.GetKeys()) != 2 || f.del.GetKeys()[1].GetPrefix() != "198.51.100.0/24" {
		t.Errorf("delete request = %v, want two keys of source ctl", f.del)
	}
}

func TestStatusText(t *testing.T) {
	socket := startFake(t, &fakeFib{})

	code, out, _ := runCLI(Status, "--socket", socket)
	if code != 0 {
		t.Fatalf("exit %d", code)
	}

	want := `version     v0.1.0
uptime      1h2m3s
kernel      in-sync
routes      2 selected (installed 1, failed 1, unresolved 0, conflicts 0, pending 0)
adopted     3 routes from the previous run, held until the sources converge
nexthops    3 objects (2 single, 1 groups)
operations  7 (errors 0)
source cli  2 routes
table 100   1 routes
table 254   1 routes
bgp         2 peers, 2 established
`
	if out != want {
		t.Errorf("status:\n%s\nwant:\n%s", out, want)
	}
}

func TestVerifyExit(t *testing.T) {
	f := &fakeFib{verify: &fibdv1.VerifyResponse{InSync: true}}
	socket := startFake(t, f)

	if code, out, _ := runCLI(Verify, "--socket", socket); code != 0 || !strings.HasPrefix(out, "in sync") {
		t.Errorf("in sync: exit %d, output %q; want 0, in sync", code, out)
	}

	f.verify = &fibdv1.VerifyResponse{Differences: []string{"missing route 192.0.2.0/24 table 254"}}
	code, out, _ := runCLI(Verify, "--socket", socket)
	want := "not in sync: 1 differences\n  missing route 192.0.2.0/24 table 254\n"
	if code != 1 || out != want {
		t.Errorf("not in sync: exit %d, output %q; want 1, %q", code, out, want)
	}

	many := make([]string, verifyLines+3)
	for i := range many {
		many[i] = fmt.Sprintf("missing route 192.0.2.%d/32 table 254 metric 20: unresolved: no live next hop", i)
	}

	f.verify = &fibdv1.VerifyResponse{Differences: many}
	_, out, _ = runCLI(Verify, "--socket", socket)
	if lines := strings.Count(out, "\n"); lines != verifyLines+2 {
		t.Errorf("capped output has %d lines, want %d", lines, verifyLines+2)
	}

	if !strings.HasSuffix(out, "  ... and 3 more differences (fibd verify --all lists every one)\n") {
		t.Errorf("capped output does not end with the count of the others:\n%s", out)
	}

	_, out, _ = runCLI(Verify, "--socket", socket, "--all")
	if lines := strings.Count(out, "\n"); lines != len(many)+1 {
		t.Errorf("output with --all has %d lines, want %d", lines, len(many)+1)
	}
}

func TestUsageErrors(t *testing.T) {
	tests := []struct {
		fn   func([]string, io.Writer, io.Writer) int
		args []string
		want string
	}{
		{Route, nil, "missing subcommand add, del or list"},
		{Route, []string{"flush"}, `unknown subcommand "flush"`},
		{Route, []string{"add"}, "missing prefix"},
		{Route, []string{"add", "192.0.2.0/24", "via"}, "missing value after via"},
		{Route, []string{"add", "192.0.2.0/24", "--bogus"}, "flag provided but not defined: -bogus"},
		{Route, []string{"add", "192.0.2.0/24", "via", "198.51.100.2", "weight", "-1"}, "invalid weight -1: use 1 to 65535"},
		{Route, []string{"del", "192.0.2.0/24", "metric", "5"}, `unexpected argument "metric"`},
		{Route, []string{"list", "family", "ipx"}, `unknown family "ipx"`},
		{Nexthop, nil, "missing subcommand list"},
		{Status, []string{"now"}, `unexpected argument "now"`},
		{Verify, []string{"--timeout", "soon"}, `invalid value "soon" for flag -timeout`},
	}

	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			code, _, errOut := runCLI(tt.fn, tt.args...)
			if code != 2 {
				t.Errorf("exit %d, want 2", code)
			}

			if !strings.Contains(errOut, tt.want) || !strings.Contains(errOut, "usage: fibd") {
				t.Errorf("stderr %q, want %q and the usage", errOut, tt.want)
			}
		})
	}
}

func TestConnectError(t *testing.T) {
	socket := filepath.Join(t.TempDir(), "missing.sock")

	code, _, errOut := runCLI(Status, "--socket", socket, "--timeout", "5s")
	if code != 1 {
		t.Errorf("exit %d, want 1", code)
	}

	for _, want := range []string{"cannot connect to fibd on unix socket " + socket, "fibd run", "--socket"} {
		if !strings.Contains(errOut, want) {
			t.Errorf("stderr %q lacks %q", errOut, want)
		}
	}
}

func TestSocketFromEnvironment(t *testing.T) {
	socket := startFake(t, &fakeFib{})
	t.Setenv("FIBD_SOCKET", socket)

	if code, _, errOut := runCLI(Status); code != 0 {
		t.Errorf("exit %d, stderr %q; want 0 with $FIBD_SOCKET", code, errOut)
	}
}

func netListenUnix(path string) (net.Listener, error) {
	return net.Listen("unix", path)
}
