package e2e

import (
	"bytes"
	"context"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"

	"github.com/fibd/fibd/api/fibdv1"
	"github.com/fibd/fibd/internal/netnstest"
)

// grpcurlVersion is the grpcurl release the test installs with go install.
// Its -unix flag does not take effect with this toolchain, so the test
// names the socket as a unix:// address instead.
const grpcurlVersion = "v1.9.3"

// The two ECMP next hops, on veth links to a peer namespace.
const (
	gateway0 = "2001:db8:ffff:1::2"
	gateway1 = "2001:db8:ffff:2::2"
)

// lockedBuffer collects a process's output.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()

	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()

	return b.buf.String()
}

// daemon is fibd running in a namespace.
type daemon struct {
	ns     *netnstest.NS
	bin    string
	socket string
	client fibdv1.FibClient
	conn   *grpc.ClientConn
}

// goBuild builds a package of this module into dir and returns the
// binary's path.
func goBuild(t *testing.T, dir, name string, args ...string) string {
	t.Helper()

	bin := filepath.Join(dir, name)
	cmd := exec.Command("go", append([]string{"build", "-o", bin}, args...)...)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("build %s: %v\n%s", name, err, out)
	}

	return bin
}

// startDaemon builds fibd, writes its config and runs it in a new
// namespace with two veth links to a peer namespace.
func startDaemon(t *testing.T) *daemon {
	t.Helper()

	dir := t.TempDir()
	ns := netnstest.New(t)
	peer := netnstest.New(t)
	for i, link := range []string{"v0", "v1"} {
		ns.Veth(link, peer, "p"+link)
		ns.IP("addr", "add", fmt.Sprintf("2001:db8:ffff:%d::1/64", i+1), "dev", link, "nodad")
		peer.IP("addr", "add", fmt.Sprintf("2001:db8:ffff:%d::2/64", i+1), "dev", "p"+link, "nodad")
	}

	d := &daemon{
		ns:     ns,
		bin:    goBuild(t, dir, "fibd", "-tags", "fibd_wiring", "github.com/fibd/fibd/cmd/fibd"),
		socket: filepath.Join(dir, "fibd.sock"),
	}

	config := filepath.Join(dir, "fibd.yaml")
	text := fmt.Sprintf("kernel: {protocol-names-dir: \"\"}\napi: {socket: %s, grace-period: 1s}\nmetrics: {address: \"\"}\n", d.socket)
	if err := os.WriteFile(config, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}

	var out lockedBuffer
	cmd := ns.Command(d.bin, "run", "--config", config)
	cmd.Stdout = &out
	cmd.Stderr = &out
	if err := cmd.Start(); err != nil {
		t.Fatalf("start fibd: %v", err)
	}

	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		if t.Failed() {
			t.Logf("fibd output:\n%s", out.String())
		}
	})

	conn, err := grpc.NewClient("unix://"+d.socket, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatalf("dial %s: %v", d.socket, err)
	}

	t.Cleanup(func() { conn.Close() })
	d.conn = conn
	d.client = fibdv1.NewFibClient(conn)
	d.waitServing(t)

	return d
}

// waitServing waits until the health service reports fibd serving.
func (d *daemon) waitServing(t *testing.T) {
	t.Helper()

	health := healthpb.NewHealthClient(d.conn)
	deadline := time.Now().Add(30 * time.Second)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		resp, err := health.Check(ctx, &healthpb.HealthCheckRequest{Service: "fibd.v1.Fib"})
		cancel()

		if err == nil && resp.GetStatus() == healthpb.HealthCheckResponse_SERVING {
			return
		}

		if time.Now().After(deadline) {
			t.Fatalf("fibd not serving on %s after 30s: %v", d.socket, err)
		}

		time.Sleep(100 * time.Millisecond)
	}
}

// cli runs a fibd client command and returns its output; it fails the
// test on a non-zero exit.
func (d *daemon) cli(t *testing.T, args ...string) string {
	t.Helper()

	args = append(args, "--socket", d.socket)
	out, err := exec.Command(d.bin, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("fibd %s: %v\n%s", strings.Join(args, " "), err, out)
	}

	return string(out)
}

// kernelRoutes counts fibd's IPv6 routes in the namespace's main table.
func (d *daemon) kernelRoutes(t *testing.T) int {
	t.Helper()

	var routes []struct {
		Dst string `json:"dst"`
	}
	d.ns.JSON(&routes, "-6", "route", "show", "table", "254", "proto", "201")

	return len(routes)
}

// prefix returns the i-th test prefix of a block (0 or 1).
func prefix(block, i int) string {
	return netip.MustParsePrefix(fmt.Sprintf("2001:db8:%x:%x::/64", block, i)).String()
}

func ecmp() []*fibdv1.Nexthop {
	return []*fibdv1.Nexthop{{Gateway: gateway0, Device: "v0"}, {Gateway: gateway1, Device: "v1"}}
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()

	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after 30s waiting for %s", what)
		}

		time.Sleep(100 * time.Millisecond)
	}
}

func TestDaemonTenThousandECMP(t *testing.T) {
	const n = 5000 // per client: 10,000 routes in all
	d := startDaemon(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()

	// Watch everything from the start: an empty snapshot, then changes.
	watch, err := d.client.WatchRoutes(ctx, &fibdv1.WatchRoutesRequest{Filter: &fibdv1.RouteFilter{Family: fibdv1.Family_FAMILY_INET6}})
	if err != nil {
		t.Fatalf("watch: %v", err)
	}

	events := collectEvents(watch)

	// The CLI adds one block from a file, the generated client the other.
	var lines strings.Builder
	for i := range n {
		fmt.Fprintf(&lines, "%s nexthop via %s dev v0 nexthop via %s dev v1 metric 20\n", prefix(0, i), gateway0, gateway1)
	}

	file := filepath.Join(t.TempDir(), "routes")
	if err := os.WriteFile(file, []byte(lines.String()), 0o600); err != nil {
		t.Fatal(err)
	}

	d.cli(t, "route", "add", "--file", file)

	for start := 0; start < n; start += 1000 {
		req := &fibdv1.AddRoutesRequest{Source: "client"}
		for i := start; i < start+1000; i++ {
			req.Routes = append(req.Routes, &fibdv1.Route{Prefix: prefix(1, i), Metric: 20, Nexthops: ecmp()})
		}

		resp, err := d.client.AddRoutes(ctx, req)
		if err != nil {
			t.Fatalf("add routes %d to %d: %v", start, start+1000, err)
		}

		for _, r := range resp.GetResults() {
			if r.GetCode() != fibdv1.ResultCode_RESULT_CODE_OK {
				t.Fatalf("route %s: %s %s", r.GetPrefix(), r.GetCode(), r.GetMessage())
			}
		}
	}

	if got := d.kernelRoutes(t); got != 2*n {
		t.Errorf("kernel has %d fibd routes, want %d", got, 2*n)
	}

	// One group serves every route.
	groups := strings.Count(d.ns.IP("nexthop", "show", "proto", "201"), "group")
	if groups != 1 {
		t.Errorf("kernel has %d fibd groups, want 1:\n%s", groups, d.ns.IP("nexthop", "show"))
	}

	nexthops := d.cli(t, "nexthop", "list")
	if !strings.Contains(nexthops, fmt.Sprintf("refs %d", 2*n)) {
		t.Errorf("nexthop list lacks a group with refs %d:\n%s", 2*n, nexthops)
	}

	listed := d.cli(t, "route", "list", "source", "cli", "family", "inet6")
	if got := strings.Count(listed, "source cli distance 10"); got != n {
		t.Errorf("route list shows %d routes of source cli, want %d", got, n)
	}

	wantLine := prefix(0, 0) + " nhid "
	if !strings.HasPrefix(listed, wantLine) || !strings.Contains(listed, "\tnexthop via "+gateway0+" dev v0 weight 1\n") {
		t.Errorf("route list does not read like ip route:\n%s", listed[:min(len(listed), 400)])
	}

	if out := d.cli(t, "verify"); !strings.HasPrefix(out, "in sync") {
		t.Errorf("verify: %s", out)
	}

	checkGrpcurl(t, d)

	// Delete: the CLI from the file, the client by keys.
	d.cli(t, "route", "del", "--file", file)
	for start := 0; start < n; start += 1000 {
		req := &fibdv1.DeleteRoutesRequest{Source: "client"}
		for i := start; i < start+1000; i++ {
			req.Keys = append(req.Keys, &fibdv1.RouteKey{Prefix: prefix(1, i)})
		}

		if _, err := d.client.DeleteRoutes(ctx, req); err != nil {
			t.Fatalf("delete routes: %v", err)
		}
	}

	if got := d.kernelRoutes(t); got != 0 {
		t.Errorf("kernel has %d fibd routes after the deletes, want 0", got)
	}

	// The watch saw every route, grpcurl's included.
	want := 2*n + 1
	waitFor(t, "the watch to report every delete", func() bool {
		if err := events.ended(); err != nil {
			t.Fatalf("watch ended after %d updates and %d deletes: %v", events.updated(), events.deleted(), err)
		}

		return events.deleted() == want
	})

	if got := events.updated(); got != want {
		t.Errorf("watch reported updates of %d prefixes, want %d", got, want)
	}

	if !events.synced() {
		t.Errorf("watch sent no synced marker")
	}
}

// watchEvents counts the prefixes a watch reported, by kind.
type watchEvents struct {
	mu       sync.Mutex
	isSynced bool
	updates  map[string]bool
	deletes  map[string]bool
	err      error // why the stream ended
}

func collectEvents(stream fibdv1.Fib_WatchRoutesClient) *watchEvents {
	e := &watchEvents{updates: make(map[string]bool), deletes: make(map[string]bool)}

	go func() {
		for {
			msg, err := stream.Recv()
			if err != nil {
				e.mu.Lock()
				e.err = err
				e.mu.Unlock()

				return
			}

			e.mu.Lock()
			switch msg.GetKind() {
			case fibdv1.WatchRoutesResponse_KIND_SYNCED:
				e.isSynced = true
			case fibdv1.WatchRoutesResponse_KIND_UPDATE:
				e.updates[msg.GetRoute().GetPrefix()] = true
			case fibdv1.WatchRoutesResponse_KIND_DELETE:
				e.deletes[msg.GetRoute().GetPrefix()] = true
			}
			e.mu.Unlock()
		}
	}()

	return e
}

func (e *watchEvents) deleted() int {
	e.mu.Lock()
	defer e.mu.Unlock()

	return len(e.deletes)
}

func (e *watchEvents) updated() int {
	e.mu.Lock()
	defer e.mu.Unlock()

	return len(e.updates)
}

func (e *watchEvents) synced() bool {
	e.mu.Lock()
	defer e.mu.Unlock()

	return e.isSynced
}

// checkGrpcurl lists the services by reflection, adds a route and reads
// the validation error of a bad one, with grpcurl and no proto files.
func checkGrpcurl(t *testing.T, d *daemon) {
	t.Helper()

	dir := t.TempDir()
	cmd := exec.Command("go", "install", "github.com/fullstorydev/grpcurl/cmd/grpcurl@"+grpcurlVersion)
	cmd.Env = append(os.Environ(), "GOBIN="+dir)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("install grpcurl %s: %v\n%s", grpcurlVersion, err, out)
	}

	grpcurl := func(args ...string) (string, error) {
		args = append([]string{"-plaintext"}, args...)
		out, err := exec.Command(filepath.Join(dir, "grpcurl"), args...).CombinedOutput()

		return string(out), err
	}

	address := "unix://" + d.socket
	out, err := grpcurl(address, "list")
	if err != nil || !strings.Contains(out, "fibd.v1.Fib\n") || !strings.Contains(out, "grpc.health.v1.Health") {
		t.Errorf("grpcurl list: %v\n%s", err, out)
	}

	add := `{"source": "grpcurl", "routes": [{"prefix": "2001:db8:2::/64", "nexthops": [{"gateway": "` + gateway0 + `", "device": "v0"}]}]}`
	out, err = grpcurl("-d", add, address, "fibd.v1.Fib/AddRoutes")
	if err != nil || !strings.Contains(out, "RESULT_CODE_OK") {
		t.Errorf("grpcurl AddRoutes: %v\n%s", err, out)
	}

	bad := `{"source": "grpcurl", "routes": [{"prefix": "2001:db8:2::1/64", "nexthops": [{"device": "v0"}]}]}`
	out, err = grpcurl("-d", bad, address, "fibd.v1.Fib/AddRoutes")
	if err == nil || !strings.Contains(out, "InvalidArgument") || !strings.Contains(out, "use 2001:db8:2::/64") {
		t.Errorf("grpcurl AddRoutes with host bits: %v\n%s", err, out)
	}

	del := `{"source": "grpcurl", "keys": [{"prefix": "2001:db8:2::/64"}]}`
	if out, err := grpcurl("-d", del, address, "fibd.v1.Fib/DeleteRoutes"); err != nil {
		t.Errorf("grpcurl DeleteRoutes: %v\n%s", err, out)
	}
}

func (e *watchEvents) ended() error {
	e.mu.Lock()
	defer e.mu.Unlock()

	return e.err
}
