package e2e

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/fibd/fibd/api/fibdv1"
	"github.com/fibd/fibd/internal/netnstest"
)

// The two gateways of the ECMP group, each on its own veth link to the
// peer namespace, and their IPv6 counterparts for IPv6 routes.
const (
	gateway0   = "198.51.100.2"
	gateway1   = "198.51.100.130"
	gateway0v6 = "2001:db8:ffff:1::2"
	gateway1v6 = "2001:db8:ffff:2::2"
)

// startTimeout bounds the start of fibd up to a served API, which
// includes the adoption of the kernel's routes.
const startTimeout = 2 * time.Minute

// lab is a namespace for fibd with two veth links to a peer namespace
// that holds the gateways, and fibd's config in a temporary directory.
type lab struct {
	t      *testing.T
	ns     *netnstest.NS
	peer   *netnstest.NS
	dir    string
	config string
	socket string
}

// labConfig sets the parts of fibd's config that differ between tests.
type labConfig struct {
	// hold is the source whose convergence ends the hold of adopted routes.
	hold string

	// holdTimeout is fib.hold-timeout, such as "2m".
	holdTimeout string
}

// newLab creates the namespaces and links and writes fibd's config.
func newLab(t *testing.T, cfg labConfig) *lab {
	t.Helper()

	ns := netnstest.New(t)
	peer := netnstest.New(t)
	for i, link := range []string{"v0", "v1"} {
		ns.Veth(link, peer, "p"+link)
		ns.IP("addr", "add", fmt.Sprintf("198.51.100.%d/25", 128*i+1), "dev", link)
		peer.IP("addr", "add", fmt.Sprintf("198.51.100.%d/25", 128*i+2), "dev", "p"+link)
		ns.IP("addr", "add", fmt.Sprintf("2001:db8:ffff:%d::1/64", i+1), "dev", link, "nodad")
		peer.IP("addr", "add", fmt.Sprintf("2001:db8:ffff:%d::2/64", i+1), "dev", "p"+link, "nodad")
	}

	dir := t.TempDir()
	l := &lab{
		t:      t,
		ns:     ns,
		peer:   peer,
		dir:    dir,
		config: filepath.Join(dir, "fibd.yaml"),
		socket: filepath.Join(dir, "fibd.sock"),
	}

	// The protocol name file lives on the host, so fibd must not write it.
	text := fmt.Sprintf(`log: {level: info}
kernel: {protocol-names-dir: ""}
fib: {hold: [%s], hold-timeout: %s}
api: {socket: %s, grace-period: 1s, max-batch: 10000}
metrics: {address: ""}
gobgp: {mode: off}
`, cfg.hold, cfg.holdTimeout, l.socket)
	if err := os.WriteFile(l.config, []byte(text), 0o600); err != nil {
		t.Fatalf("write config: %v", err)
	}

	return l
}

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

// daemon is one run of fibd in the lab's namespace.
type daemon struct {
	t      *testing.T
	cmd    *exec.Cmd
	out    *lockedBuffer
	done   chan struct{}
	err    error
	conn   *grpc.ClientConn
	client fibdv1.FibClient

	// started is when the process started, and ready is when its API
	// first returned a Status.
	started time.Time
	ready   time.Time
}

// start runs fibd and waits until its API serves Status, which happens
// only after fibd has adopted the kernel's state. env is added to the
// process's environment.
func (l *lab) start(env ...string) *daemon {
	l.t.Helper()

	d := l.spawn(env...)
	d.waitReady(l.socket)

	return d
}

// spawn starts fibd without waiting for it. The process is killed by its
// pid when the test ends, if it still runs.
func (l *lab) spawn(env ...string) *daemon {
	l.t.Helper()

	d := &daemon{t: l.t, out: &lockedBuffer{}, done: make(chan struct{})}
	d.cmd = l.ns.Command(fibdBinary, "run", "--config", l.config)
	d.cmd.Env = append(os.Environ(), env...)
	d.cmd.Stdout = d.out
	d.cmd.Stderr = d.out

	d.started = time.Now()
	if err := d.cmd.Start(); err != nil {
		l.t.Fatalf("start fibd: %v", err)
	}

	go func() {
		d.err = d.cmd.Wait()
		close(d.done)
	}()

	l.t.Cleanup(d.cleanup)

	conn, err := grpc.NewClient("unix://"+l.socket, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		l.t.Fatalf("create client for %s: %v", l.socket, err)
	}

	d.conn = conn
	d.client = fibdv1.NewFibClient(conn)

	return d
}

func (d *daemon) cleanup() {
	d.conn.Close()

	if d.running() {
		_ = d.cmd.Process.Kill()
		<-d.done
	}

	if d.t.Failed() {
		d.t.Logf("output of fibd (pid %d):\n%s", d.cmd.Process.Pid, d.tail(200))
	}
}

// tail returns the last n lines of fibd's output.
func (d *daemon) tail(n int) string {
	lines := strings.Split(d.out.String(), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}

	return strings.Join(lines, "\n")
}

func (d *daemon) running() bool {
	select {
	case <-d.done:
		return false
	default:
		return true
	}
}

// waitReady polls Status until it succeeds. A socket left by a killed run
// refuses connections, so only the new run can serve the call.
func (d *daemon) waitReady(socket string) {
	d.t.Helper()

	deadline := time.Now().Add(startTimeout)
	for {
		if !d.running() {
			d.t.Fatalf("fibd exited during start: %v\n%s", d.err, d.tail(50))
		}

		if _, err := os.Stat(socket); err == nil {
			ctx, cancel := context.WithTimeout(context.Background(), time.Second)
			_, err := d.client.Status(ctx, &fibdv1.StatusRequest{})
			cancel()

			if err == nil {
				d.ready = time.Now()

				return
			}
		}

		if time.Now().After(deadline) {
			d.t.Fatalf("fibd's API did not answer within %s", startTimeout)
		}

		time.Sleep(5 * time.Millisecond)
	}
}

// signal sends sig to fibd and waits until it exits. It returns the exit
// error, which is nil after a clean stop.
func (d *daemon) signal(sig syscall.Signal) error {
	d.t.Helper()

	if err := d.cmd.Process.Signal(sig); err != nil {
		d.t.Fatalf("send %s to fibd: %v", sig, err)
	}

	select {
	case <-d.done:
	case <-time.After(60 * time.Second):
		d.t.Fatalf("fibd did not exit within 60s of %s\n%s", sig, d.tail(50))
	}

	d.conn.Close()

	return d.err
}

// stop stops fibd with SIGTERM and requires a clean exit.
func (d *daemon) stop() {
	d.t.Helper()

	if err := d.signal(syscall.SIGTERM); err != nil {
		d.t.Fatalf("fibd exited with %v after SIGTERM, want status 0\n%s", err, d.tail(50))
	}
}

// status returns fibd's Status.
func (d *daemon) status(ctx context.Context) *fibdv1.StatusResponse {
	d.t.Helper()

	resp, err := d.client.Status(ctx, &fibdv1.StatusRequest{})
	if err != nil {
		d.t.Fatalf("status: %v", err)
	}

	return resp
}

// verify returns the differences Verify reports between fibd's desired
// state and the kernel.
func (d *daemon) verify(ctx context.Context) []string {
	d.t.Helper()

	resp, err := d.client.Verify(ctx, &fibdv1.VerifyRequest{})
	if err != nil {
		d.t.Fatalf("verify: %v", err)
	}

	if !resp.GetInSync() && len(resp.GetDifferences()) == 0 {
		return []string{"verify reports not in sync without differences"}
	}

	return resp.GetDifferences()
}

// waitQuiet waits until fibd has nothing pending, its kernel monitor is
// in sync, and Verify reports no difference, twice in a row half a second
// apart. It returns the last differences on timeout.
func (d *daemon) waitQuiet(ctx context.Context, timeout time.Duration) []string {
	d.t.Helper()

	deadline := time.Now().Add(timeout)
	var diffs []string
	quiet := 0
	for quiet < 2 {
		if time.Now().After(deadline) {
			return diffs
		}

		time.Sleep(500 * time.Millisecond)

		st := d.status(ctx)
		if st.GetPending() != 0 || st.GetKernelSync() != "in-sync" {
			quiet = 0
			diffs = []string{fmt.Sprintf("pending %d, kernel sync %q", st.GetPending(), st.GetKernelSync())}

			continue
		}

		diffs = d.verify(ctx)
		if len(diffs) != 0 {
			quiet = 0

			continue
		}

		quiet++
	}

	return nil
}

// explain logs, for the first prefixes named in differences, fibd's state
// of the key and the kernel's routes, and then all of fibd's nexthop
// objects in the kernel, so that a failure shows both sides.
func explain(ctx context.Context, t *testing.T, l *lab, d *daemon, diffs []string) {
	t.Helper()

	// Without prefixes in the differences, explain the keys that failed.
	if stream, err := d.client.ListRoutes(ctx, &fibdv1.ListRoutesRequest{}); err == nil {
		for resp, err := stream.Recv(); err == nil && len(diffs) < 10; resp, err = stream.Recv() {
			for _, rs := range resp.GetRoutes() {
				if rs.GetError() != "" && len(diffs) < 10 {
					diffs = append(diffs, rs.GetPrefix())
				}
			}
		}
	}

	seen := make(map[string]bool)
	for _, line := range diffs {
		for _, word := range strings.Fields(line) {
			p, err := netip.ParsePrefix(strings.Trim(word, ":,"))
			if err != nil || seen[p.String()] || len(seen) >= 5 {
				continue
			}

			seen[p.String()] = true
			var listed []string
			if stream, err := d.client.ListRoutes(ctx, &fibdv1.ListRoutesRequest{Filter: &fibdv1.RouteFilter{Prefix: p.String()}}); err == nil {
				for resp, err := stream.Recv(); err == nil; resp, err = stream.Recv() {
					for _, rs := range resp.GetRoutes() {
						listed = append(listed, rs.String())
					}
				}
			}

			kernel, _ := l.ns.TryIP("route", "show", "table", "all", p.String())
			t.Logf("%s: fibd lists %v; kernel has %q", p, listed, kernel)
		}
	}

	nexthops, _ := l.ns.TryIP("nexthop", "show")
	t.Logf("kernel nexthop objects:\n%s", nexthops)
}

// readyNotifier receives fibd's sd_notify messages on a socket in dir.
type readyNotifier struct {
	conn *net.UnixConn
}

func listenNotify(t *testing.T, dir string) *readyNotifier {
	t.Helper()

	addr := &net.UnixAddr{Name: filepath.Join(dir, "notify.sock"), Net: "unixgram"}
	conn, err := net.ListenUnixgram("unixgram", addr)
	if err != nil {
		t.Fatalf("listen for sd_notify on %s: %v", addr.Name, err)
	}

	t.Cleanup(func() { conn.Close() })

	return &readyNotifier{conn: conn}
}

// env returns the environment variable that points fibd at the socket.
func (n *readyNotifier) env() string {
	return "NOTIFY_SOCKET=" + n.conn.LocalAddr().String()
}

// wait waits for a message that contains want and returns when it came.
func (n *readyNotifier) wait(t *testing.T, want string, timeout time.Duration) time.Time {
	t.Helper()

	buf := make([]byte, 4096)
	if err := n.conn.SetReadDeadline(time.Now().Add(timeout)); err != nil {
		t.Fatal(err)
	}

	for {
		size, err := n.conn.Read(buf)
		if err != nil {
			t.Fatalf("wait for sd_notify message %q: %v", want, err)
		}

		if strings.Contains(string(buf[:size]), want) {
			return time.Now()
		}
	}
}
