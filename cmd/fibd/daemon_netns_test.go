package main

import (
	"bytes"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/fibd/fibd/internal/netnstest"
)

// The restart test checks fibd's promise to keep forwarding across a
// restart: a route added through the API survives SIGTERM, and the next
// run adopts it. To prove that the route was neither deleted nor
// rewritten, `ip monitor route nexthop` runs in the namespace across the
// whole restart and must print nothing about the route or its nexthop.

const (
	testPrefix  = "198.51.100.0/24"
	testGateway = "192.0.2.2"
)

// syncBuffer is a bytes.Buffer safe for a process's output and the test.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()

	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()

	return b.buf.String()
}

// process is a command started by the test, stopped by pid at cleanup.
type process struct {
	cmd  *exec.Cmd
	out  *syncBuffer
	done chan struct{}
	err  error
}

func startProcess(t *testing.T, cmd *exec.Cmd) *process {
	t.Helper()

	p := &process{cmd: cmd, out: &syncBuffer{}, done: make(chan struct{})}
	cmd.Stdout = p.out
	cmd.Stderr = p.out

	if err := cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", cmd, err)
	}

	go func() {
		p.err = cmd.Wait()
		close(p.done)
	}()

	t.Cleanup(func() {
		select {
		case <-p.done:
		default:
			_ = cmd.Process.Kill()
			<-p.done
		}
	})

	return p
}

func (p *process) running() bool {
	select {
	case <-p.done:
		return false
	default:
		return true
	}
}

// stop sends sig and waits for the process to exit.
func (p *process) stop(t *testing.T, sig syscall.Signal) error {
	t.Helper()

	if err := p.cmd.Process.Signal(sig); err != nil {
		t.Fatalf("send %s: %v", sig, err)
	}

	select {
	case <-p.done:
		return p.err
	case <-time.After(20 * time.Second):
		t.Fatalf("process did not exit within 20s of %s; output:\n%s", sig, p.out)
	}

	return nil
}

// waitFor polls cond until it holds or the timeout ends.
func waitFor(t *testing.T, what string, timeout time.Duration, cond func() bool) {
	t.Helper()

	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", timeout, what)
		}

		time.Sleep(50 * time.Millisecond)
	}
}

type kernelRoute struct {
	Dst      string `json:"dst"`
	Gateway  string `json:"gateway"`
	Dev      string `json:"dev"`
	Protocol string `json:"protocol"`
	NHID     int    `json:"nhid"`
}

func showRoute(ns *netnstest.NS) []kernelRoute {
	var routes []kernelRoute
	ns.JSON(&routes, "route", "show", testPrefix)

	return routes
}

// fibdHarness runs fibd in a namespace with a config in a temp dir.
type fibdHarness struct {
	t      *testing.T
	ns     *netnstest.NS
	bin    string
	config string
	socket string

	// notify, when set, receives fibd's sd_notify messages.
	notify *net.UnixConn
}

// listenNotify makes the harness's fibd send sd_notify messages to a
// socket in dir.
func (h *fibdHarness) listenNotify(dir string) {
	h.t.Helper()

	conn, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: filepath.Join(dir, "notify.sock"), Net: "unixgram"})
	if err != nil {
		h.t.Fatal(err)
	}
	h.t.Cleanup(func() { conn.Close() })

	h.notify = conn
}

// expectNotify waits for a notification that contains want.
func (h *fibdHarness) expectNotify(want string) {
	h.t.Helper()

	buf := make([]byte, 4096)
	deadline := time.Now().Add(20 * time.Second)
	for {
		if err := h.notify.SetReadDeadline(deadline); err != nil {
			h.t.Fatal(err)
		}

		n, err := h.notify.Read(buf)
		if err != nil {
			h.t.Fatalf("wait for notification %q: %v", want, err)
		}

		if strings.Contains(string(buf[:n]), want) {
			return
		}
	}
}

func (h *fibdHarness) start() *process {
	h.t.Helper()

	cmd := h.ns.Command(h.bin, "run", "--config", h.config)
	if h.notify != nil {
		cmd.Env = append(os.Environ(), "NOTIFY_SOCKET="+h.notify.LocalAddr().String())
	}

	p := startProcess(h.t, cmd)
	h.t.Cleanup(func() {
		if h.t.Failed() || testing.Verbose() {
			h.t.Logf("fibd output:\n%s", p.out)
		}
	})

	waitFor(h.t, "the API socket "+h.socket, 30*time.Second, func() bool {
		if !p.running() {
			h.t.Fatalf("fibd exited during start: %v\n%s", p.err, p.out)
		}

		_, err := os.Stat(h.socket)

		return err == nil
	})

	return p
}

// client runs a fibd client command against the harness's socket.
func (h *fibdHarness) client(args ...string) (string, error) {
	args = append(args, "--socket", h.socket)
	out, err := exec.Command(h.bin, args...).CombinedOutput()

	return string(out), err
}

func (h *fibdHarness) mustClient(args ...string) string {
	h.t.Helper()

	out, err := h.client(args...)
	if err != nil {
		h.t.Fatalf("fibd %s: %v\n%s", strings.Join(args, " "), err, out)
	}

	return out
}

func buildFibd(t *testing.T, dir string) string {
	t.Helper()

	bin := filepath.Join(dir, "fibd")
	out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput()
	if err != nil {
		t.Fatalf("build fibd: %v\n%s", err, out)
	}

	return bin
}

func TestDaemonRestart(t *testing.T) {
	netnstest.Privileged(t)

	dir := t.TempDir()
	ns := netnstest.New(t)
	peer := netnstest.New(t)
	ns.Veth("up0", peer, "down0")
	ns.IP("addr", "add", "192.0.2.1/24", "dev", "up0")
	peer.IP("addr", "add", testGateway+"/24", "dev", "down0")

	h := &fibdHarness{
		t:      t,
		ns:     ns,
		bin:    buildFibd(t, dir),
		config: filepath.Join(dir, "fibd.yaml"),
		socket: filepath.Join(dir, "fibd.sock"),
	}

	// The CLI's source is held, so that the second run keeps the adopted
	// route until the source offers it again.
	// The metrics port is fixed because the namespace is the test's own.
	goodConfig := fmt.Sprintf(`log: {level: debug}
kernel: {protocol-names-dir: ""}
fib: {hold: [cli], hold-timeout: 10m}
api: {socket: %s}
metrics: {address: "127.0.0.1:9342", pprof: true}
`, h.socket)
	writeFile(t, h.config, goodConfig)
	h.listenNotify(dir)

	// First run: add a route through the API.
	first := h.start()
	h.expectNotify("READY=1")
	h.mustClient("route", "add", testPrefix, "via", testGateway, "dev", "up0")
	waitFor(t, "the route in the kernel", 10*time.Second, func() bool { return len(showRoute(ns)) == 1 })

	before := showRoute(ns)[0]
	if before.Gateway != testGateway || before.Dev != "up0" || before.NHID == 0 {
		t.Fatalf("installed route = %+v, want via %s dev up0 with a nexthop id", before, testGateway)
	}

	// SIGTERM stops fibd cleanly and keeps the route.
	if err := first.stop(t, syscall.SIGTERM); err != nil {
		t.Fatalf("fibd exited with %v after SIGTERM, want status 0\n%s", err, first.out)
	}

	h.expectNotify("STOPPING=1")

	if routes := showRoute(ns); len(routes) != 1 || routes[0] != before {
		t.Fatalf("after SIGTERM the route is %+v, want it kept as %+v", routes, before)
	}

	if _, err := os.Stat(h.socket); !os.IsNotExist(err) {
		t.Errorf("API socket left behind after exit: %v", err)
	}

	// Watch every route and nexthop change from here on. A marker route
	// of another protocol proves that the monitor is subscribed.
	// ip monitor subscribes some time after it starts, so a new marker
	// is added until one is printed.
	monitor := startProcess(t, exec.Command("ip", "-n", ns.Name, "monitor", "route", "nexthop"))
	marker := 0
	waitFor(t, "ip monitor to print a marker route", 10*time.Second, func() bool {
		if strings.Contains(monitor.out.String(), "203.0.113.") {
			return true
		}

		marker++
		ns.IP("route", "add", fmt.Sprintf("203.0.113.%d/32", marker), "dev", "up0", "proto", "static")

		return false
	})

	// Second run: adopt the route, and offer it again unchanged.
	second := h.start()
	h.mustClient("route", "add", testPrefix, "via", testGateway, "dev", "up0")
	time.Sleep(time.Second)

	if out, err := h.client("verify"); err != nil {
		t.Errorf("fibd verify after restart: %v\n%s", err, out)
	}

	if routes := showRoute(ns); len(routes) != 1 || routes[0] != before {
		t.Errorf("after restart the route is %+v, want it unchanged as %+v", routes, before)
	}

	checkMetrics(t, ns, []string{
		`fibd_routes_by_table{table="254"} 1`,
		`fibd_routes_by_family{family="inet"} 1`,
		`fibd_source_candidates{source="cli"} 1`,
		`fibd_routes_installed 1`,
		`fibd_nexthop_objects 1`,
	})

	nhid := fmt.Sprintf("id %d ", before.NHID)
	for _, line := range strings.Split(monitor.out.String(), "\n") {
		if strings.Contains(line, testPrefix) || strings.HasPrefix(strings.TrimPrefix(line, "Deleted "), nhid) {
			t.Errorf("the restart touched the route or its nexthop: %s", line)
		}
	}

	// SIGHUP with an invalid file keeps the daemon and its config.
	writeFile(t, h.config, "kernel: {protocol: 300}\n")
	if err := second.cmd.Process.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}

	waitFor(t, "the reload failure in the log", 10*time.Second, func() bool {
		return strings.Contains(second.out.String(), "reload failed, keeping the running configuration")
	})

	if !second.running() {
		t.Fatalf("fibd exited after a SIGHUP with an invalid file: %v", second.err)
	}

	h.mustClient("status")

	// SIGHUP with a valid file applies the keys that can change live and
	// lists the others.
	writeFile(t, h.config, fmt.Sprintf(`log: {level: info}
kernel: {protocol-names-dir: "", read-buffer: 1048576}
fib: {hold: [cli], hold-timeout: 9m}
api: {socket: %s, grace-period: 1m, sources: {ops: {distance: 5}}}
metrics: {address: "127.0.0.1:9342", pprof: true}
`, h.socket))
	if err := second.cmd.Process.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}

	waitFor(t, "the reload in the log", 10*time.Second, func() bool {
		return strings.Contains(second.out.String(), "configuration reloaded")
	})

	want := `applied="[api.grace-period api.sources fib.hold-timeout log.level]" restart_needed=[kernel.read-buffer]`
	if !strings.Contains(second.out.String(), want) {
		t.Errorf("reload log lacks %s", want)
	}

	if err := second.stop(t, syscall.SIGTERM); err != nil {
		t.Fatalf("fibd exited with %v after SIGTERM\n%s", err, second.out)
	}

	if routes := showRoute(ns); len(routes) != 1 {
		t.Errorf("after the second SIGTERM the routes are %+v, want the route kept", routes)
	}
}

func TestDaemonFlushOnExit(t *testing.T) {
	netnstest.Privileged(t)

	dir := t.TempDir()
	ns := netnstest.New(t)
	peer := netnstest.New(t)
	ns.Veth("up0", peer, "down0")
	ns.IP("addr", "add", "192.0.2.1/24", "dev", "up0")
	peer.IP("addr", "add", testGateway+"/24", "dev", "down0")

	h := &fibdHarness{
		t:      t,
		ns:     ns,
		bin:    buildFibd(t, dir),
		config: filepath.Join(dir, "fibd.yaml"),
		socket: filepath.Join(dir, "fibd.sock"),
	}
	writeFile(t, h.config, fmt.Sprintf(`kernel: {protocol-names-dir: ""}
fib: {flush-on-exit: true}
api: {socket: %s}
metrics: {address: ""}
`, h.socket))

	p := h.start()
	h.mustClient("route", "add", testPrefix, "via", testGateway, "dev", "up0")
	waitFor(t, "the route in the kernel", 10*time.Second, func() bool { return len(showRoute(ns)) == 1 })

	if err := p.stop(t, syscall.SIGTERM); err != nil {
		t.Fatalf("fibd exited with %v after SIGTERM\n%s", err, p.out)
	}

	if routes := showRoute(ns); len(routes) != 0 {
		t.Errorf("after SIGTERM with flush-on-exit the routes are %+v, want none", routes)
	}

	if out := ns.IP("nexthop", "list", "protocol", "201"); strings.TrimSpace(out) != "" {
		t.Errorf("after SIGTERM with flush-on-exit fibd's nexthops remain:\n%s", out)
	}
}

// checkMetrics scrapes fibd's metrics inside the namespace with curl and
// checks that each line is present.
func checkMetrics(t *testing.T, ns *netnstest.NS, want []string) {
	t.Helper()

	if _, err := exec.LookPath("curl"); err != nil {
		t.Log("curl not found, metrics not checked")

		return
	}

	out, err := ns.Command("curl", "-sS", "--max-time", "5", "http://127.0.0.1:9342/metrics").CombinedOutput()
	if err != nil {
		t.Fatalf("scrape metrics: %v\n%s", err, out)
	}

	for _, line := range want {
		if !strings.Contains(string(out), "\n"+line+"\n") {
			t.Errorf("metrics lack %s", line)
		}
	}
}

func TestDaemonBGP(t *testing.T) {
	netnstest.Privileged(t)

	dir := t.TempDir()
	ns := netnstest.New(t)
	peer := netnstest.New(t)
	ns.Veth("up0", peer, "down0")
	ns.IP("addr", "add", "192.0.2.1/24", "dev", "up0")
	peer.IP("addr", "add", testGateway+"/24", "dev", "down0")

	h := &fibdHarness{
		t:      t,
		ns:     ns,
		bin:    buildFibd(t, dir),
		config: filepath.Join(dir, "fibd.yaml"),
		socket: filepath.Join(dir, "fibd.sock"),
	}

	// Nothing listens at the neighbor address, so the session never comes
	// up. The convergence timeout must not declare BGP converged then:
	// that would sweep every route adopted from a previous run.
	writeFile(t, h.config, fmt.Sprintf(`kernel: {protocol-names-dir: ""}
api: {socket: %s}
metrics: {address: "127.0.0.1:9342"}
gobgp: {convergence-timeout: 1s}
bgp:
  global:
    config: {as: 64512, router-id: 192.0.2.1}
  neighbors:
    - config: {neighbor-address: %s, peer-as: 64513}
`, h.socket, testGateway))

	p := h.start()

	waitFor(t, "the BGP peer count in fibd status", 10*time.Second, func() bool {
		return strings.Contains(h.mustClient("status"), "0 established of 1")
	})

	time.Sleep(3 * time.Second) // three convergence timeouts
	status := h.mustClient("status")
	if !regexp.MustCompile(`bgp converged +false`).MatchString(status) {
		t.Errorf("BGP declared convergence with no session established:\n%s", status)
	}

	checkMetrics(t, ns, []string{`fibd_bgp_converged 0`})

	if err := p.stop(t, syscall.SIGTERM); err != nil {
		t.Fatalf("fibd exited with %v after SIGTERM\n%s", err, p.out)
	}
}

func TestDaemonTakeover(t *testing.T) {
	netnstest.Privileged(t)

	dir := t.TempDir()
	ns := netnstest.New(t)
	peer := netnstest.New(t)
	ns.Veth("up0", peer, "down0")
	ns.IP("addr", "add", "192.0.2.1/24", "dev", "up0")
	peer.IP("addr", "add", testGateway+"/24", "dev", "down0")

	// Another protocol holds the prefix at the metric fibd uses.
	ns.IP("route", "add", testPrefix, "via", testGateway, "proto", "static")

	h := &fibdHarness{
		t:      t,
		ns:     ns,
		bin:    buildFibd(t, dir),
		config: filepath.Join(dir, "fibd.yaml"),
		socket: filepath.Join(dir, "fibd.sock"),
	}
	writeFile(t, h.config, fmt.Sprintf(`kernel: {protocol-names-dir: "", audit-interval: 1s}
fib: {takeover-conflicts: true}
api: {socket: %s}
metrics: {address: ""}
`, h.socket))

	h.start()
	h.mustClient("route", "add", testPrefix, "via", testGateway, "dev", "up0")
	waitFor(t, "fibd's route in place of the static one", 10*time.Second, func() bool {
		routes := showRoute(ns)

		return len(routes) == 1 && routes[0].NHID != 0
	})

	if out := h.mustClient("status"); !strings.Contains(out, "route takeovers") {
		t.Errorf("fibd status lacks the takeover count:\n%s", out)
	}
}

// TestDaemonDryRun checks that kernel.dry-run computes the FIB, resolving
// the gateway through the kernel, but leaves the kernel without a route or
// nexthop of fibd's.
func TestDaemonDryRun(t *testing.T) {
	netnstest.Privileged(t)

	h := newRouterHarness(t, "")
	ns := h.ns

	// An object of another tool in fibd's id range: the dry run must not
	// show its id as fibd's.
	ns.IP("nexthop", "add", "id", "3000000000", "via", testGateway, "dev", "up0")

	writeFile(t, h.config, fmt.Sprintf(`kernel: {protocol-names-dir: "", dry-run: true}
api: {socket: %s}
metrics: {address: ""}
`, h.socket))

	p := h.start()
	h.mustClient("route", "add", testPrefix, "via", testGateway)
	waitFor(t, "the route installed in the FIB", 10*time.Second, func() bool {
		return strings.Contains(h.mustClient("route", "list"), "nhid")
	})

	out := h.mustClient("nexthop", "list")
	if !strings.Contains(out, "dev up0") {
		t.Errorf("nexthop list = %q, want the gateway resolved to dev up0", out)
	}

	if strings.Contains(out, "id 3000000000 ") {
		t.Errorf("nexthop list = %q, want no object with the id the kernel holds for another tool", out)
	}

	if status := h.mustClient("status"); !strings.Contains(status, "dry-run") {
		t.Errorf("status = %q, want the sync state dry-run", status)
	}

	if out, err := h.client("verify"); err == nil || !strings.Contains(out, "dry-run") {
		t.Errorf("verify = %q, %v; want a failure that names dry-run", out, err)
	}

	if routes := showRoute(ns); len(routes) != 0 {
		t.Errorf("kernel routes for %s = %+v, want none in a dry run", testPrefix, routes)
	}

	if out := ns.IP("nexthop", "list", "protocol", "201"); strings.TrimSpace(out) != "" {
		t.Errorf("kernel nexthops of fibd in a dry run:\n%s", out)
	}

	if err := p.stop(t, syscall.SIGTERM); err != nil {
		t.Fatalf("fibd exited with %v after SIGTERM\n%s", err, p.out)
	}

	if !strings.Contains(p.out.String(), "dry run: fibd wrote nothing to the kernel") {
		t.Errorf("fibd's log at exit lacks the dry-run line:\n%s", p.out)
	}
}
