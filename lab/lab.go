package lab

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"syscall"
	"time"
)

// Options configures a lab run. The zero value of each field has the
// meaning its comment gives.
type Options struct {
	// Name prefixes the lab's namespace names (NAME-router, NAME-up1, ...);
	// "" means DefaultName.
	Name string

	// Routes is the number of prefixes to announce, taken evenly across
	// the real table so that the length mix stays real; zero means the
	// whole table.
	Routes int

	// IPv4Only leaves the IPv6 table out.
	IPv4Only bool

	// Peers is the number of upstream peers; zero means 2.
	Peers int

	// Once runs the lab through convergence and failover and returns a
	// summary instead of waiting for ctx to end.
	Once bool

	// CompatMode sets net.ipv4.nexthop_compat_mode in the router's
	// namespace: "0" or "1"; "" keeps the kernel's default (1).
	CompatMode string

	// Dir is the working directory for configs, sockets and logs; ""
	// means a new temporary directory, removed at the end.
	Dir string

	// Fibd and Gobgpd are the binaries; "" means build them with the Go
	// toolchain.
	Fibd, Gobgpd string

	// ProtocolNamesDir is the directory where fibd writes the iproute2
	// name of its protocol (kernel.protocol-names-dir), so that `ip route`
	// prints "proto fibd". "" keeps fibd's default,
	// /etc/iproute2/rt_protos.d.
	ProtocolNamesDir string

	// Dump is the path of a saved `location dump` output; "" runs the
	// location tool.
	Dump string

	// Router is the BGP router under test: RouterFibd is fibd with its
	// embedded speaker. RouterGobgpd is a plain gobgpd with the same BGP
	// configuration, the baseline that programs no kernel routes. ""
	// means RouterFibd.
	Router string

	// Out receives progress lines; nil means os.Stdout.
	Out io.Writer
}

// Routers of Options.Router.
const (
	RouterFibd   = "fibd"
	RouterGobgpd = "gobgpd"
	// RouterFibdDry is fibd with kernel.dry-run: the same embedded speaker
	// and FIB, with its kernel programming switched off.
	RouterFibdDry = "fibd-dry"
)

// Summary holds the measurements of one run. Durations are zero when not
// measured.
type Summary struct {
	Router     string // RouterFibd, RouterFibdDry or RouterGobgpd
	CompatMode string // net.ipv4.nexthop_compat_mode of the router, "" for the default
	IPv4, IPv6 int    // prefixes announced
	Peers      int

	// Converged is the time from the first announcement until every
	// prefix is in the kernel over a group of Peers members (fibd), or in
	// the router's RIB with Peers paths (gobgpd).
	Converged time.Duration
	Rate      float64 // prefixes per second during convergence

	Nexthops, Groups int // fibd's kernel objects at convergence
	MultipathRoutes  int // routes over a group of Peers members

	// KernelFailover is the time from the upstream's kill until no
	// kernel group uses its next hops (fibd only).
	KernelFailover time.Duration

	// BGPFailover is the time from the upstream's kill until the router
	// has processed the per-prefix changes that follow: fibd has
	// replaced every route using the upstream, or gobgpd's RIB holds none
	// of its paths.
	BGPFailover time.Duration

	// BGPUpdates is the number of per-prefix changes fibd's BGP source
	// handed to the FIB during the failover, and RoutesViaPeer the routes
	// it offered with a member from the upstream before the kill.
	BGPUpdates    uint64
	RoutesViaPeer int

	RoutesAfter     int // fibd routes in the kernel after failover
	RoutesViaFailed int // routes that still used the failed peer (must be 0)
	PeakRSSKiB      int64

	// LoadAverage is the 1-minute load average when the run ended.
	LoadAverage float64
}

// DefaultName is the prefix of the lab's namespace names when Options.Name
// is empty. The names are fixed, so that the commands the lab prints can be
// typed as they are; a second lab with the same name refuses to start.
const DefaultName = "fibdlab"

// RouterNS returns the name of the router's namespace of the lab name.
func RouterNS(name string) string {
	return name + "-router"
}

// PeerNS returns the namespace name of upstream i (1-based) of the lab name.
func PeerNS(name string, i int) string {
	return name + "-up" + strconv.Itoa(i)
}

// routerNS returns the name of this lab's router namespace.
func (l *Lab) routerNS() string {
	return RouterNS(l.opts.Name)
}

// Lab is one running lab.
type Lab struct {
	opts  Options
	out   io.Writer
	dir   string
	owned bool // dir was created by the lab

	mu         sync.Mutex
	namespaces []string
	procs      []*exec.Cmd

	gobgp    string // the gobgp command
	v4, v6   []Network
	peers    []*peer
	router   *router
	baseline *baseline
}

// New checks the prerequisites and returns a lab that Run starts.
func New(opts Options) (*Lab, error) {
	if os.Geteuid() != 0 {
		return nil, errors.New("the lab creates network namespaces and needs root: run it with sudo")
	}

	if opts.Peers == 0 {
		opts.Peers = 2
	}

	if opts.Peers < 2 || opts.Peers > 8 {
		return nil, fmt.Errorf("invalid number of peers %d: use 2 to 8", opts.Peers)
	}

	switch opts.Router {
	case "":
		opts.Router = RouterFibd
	case RouterFibd, RouterFibdDry, RouterGobgpd:
	default:
		return nil, fmt.Errorf("invalid router %q: use %s, %s or %s", opts.Router, RouterFibd, RouterFibdDry, RouterGobgpd)
	}

	if opts.Routes < 0 {
		return nil, fmt.Errorf("invalid number of routes %d: use 0 (the whole table) or more", opts.Routes)
	}

	switch opts.CompatMode {
	case "", "0", "1":
	default:
		return nil, fmt.Errorf("invalid nexthop compat mode %q: use 0 or 1", opts.CompatMode)
	}

	if _, err := exec.LookPath("ip"); err != nil {
		return nil, errors.New("iproute2's ip command is missing: run sudo ./scripts/setup")
	}

	if opts.Name == "" {
		opts.Name = DefaultName
	}

	for _, ns := range []string{RouterNS(opts.Name), PeerNS(opts.Name, 1)} {
		if namespaceExists(ns) {
			return nil, fmt.Errorf("namespace %s exists: another lab is running, or one was killed; stop it, run fibd-lab --cleanup if it was yours, or give this one another --name", ns)
		}
	}

	l := &Lab{opts: opts, out: opts.Out}
	if l.out == nil {
		l.out = os.Stdout
	}

	return l, nil
}

// Run builds the lab, converges the table, demonstrates failover and, unless
// Options.Once is set, waits for ctx to end. It removes every namespace and
// process it made before it returns, also when ctx ends early.
func (l *Lab) Run(ctx context.Context) (Summary, error) {
	defer l.cleanup()

	sum := Summary{Router: l.opts.Router, CompatMode: l.opts.CompatMode, Peers: l.opts.Peers}
	steps := []struct {
		name string
		fn   func(context.Context, *Summary) error
	}{
		{"read the real table", l.readTable},
		{"prepare binaries", l.prepare},
		{"create namespaces", l.createNamespaces},
		{"start upstream peers", l.startPeers},
		{"start the router", l.startRouter},
		{"announce the table", l.converge},
		{"fail over", l.failover},
	}
	switch l.opts.Router {
	case RouterGobgpd:
		steps[4].fn, steps[5].fn, steps[6].fn = l.startBaseline, l.convergeBaseline, l.failoverBaseline
	case RouterFibdDry:
		steps[6].fn = l.skipFailover
	}

	for _, step := range steps {
		if err := step.fn(ctx, &sum); err != nil {
			return sum, fmt.Errorf("%s: %w", step.name, err)
		}
	}

	sum.LoadAverage = loadAverage()
	l.printf("\n%s\n", sum)
	if l.opts.Once {
		return sum, nil
	}

	if l.opts.Router != RouterGobgpd {
		l.printLookAround()
	} else {
		l.printf("\nThe lab keeps running until you press Ctrl-C. Logs: %s\n", l.dir)
	}

	<-ctx.Done()
	l.printf("\nstopping the lab and removing its namespaces\n")

	return sum, nil
}

func (l *Lab) printf(format string, args ...any) {
	fmt.Fprintf(l.out, format, args...)
}

// workDir returns the lab's directory, creating it on first use.
func (l *Lab) workDir() (string, error) {
	if l.dir != "" {
		return l.dir, nil
	}

	if l.opts.Dir != "" {
		if err := os.MkdirAll(l.opts.Dir, 0o755); err != nil {
			return "", fmt.Errorf("create lab directory: %w", err)
		}

		l.dir = l.opts.Dir

		return l.dir, nil
	}

	dir, err := os.MkdirTemp("", "fibd-lab-")
	if err != nil {
		return "", fmt.Errorf("create lab directory: %w", err)
	}

	l.dir, l.owned = dir, true

	return dir, nil
}

func (l *Lab) addNamespace(name string) error {
	if _, err := ip("netns", "add", name); err != nil {
		return err
	}

	l.mu.Lock()
	l.namespaces = append(l.namespaces, name)
	l.mu.Unlock()

	_, err := ip("-n", name, "link", "set", "lo", "up")

	return err
}

// start starts a command inside a namespace with its output in a log file
// of the lab directory, and records it for cleanup.
func (l *Lab) start(ns, logName string, name string, args ...string) (*exec.Cmd, error) {
	logFile, err := os.Create(filepath.Join(l.dir, logName))
	if err != nil {
		return nil, fmt.Errorf("create log file: %w", err)
	}
	defer logFile.Close()

	cmd := exec.Command("ip", append([]string{"netns", "exec", ns, name}, args...)...)
	cmd.Stdout = logFile
	cmd.Stderr = logFile
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}

	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s in %s: %w", name, ns, err)
	}

	l.mu.Lock()
	l.procs = append(l.procs, cmd)
	l.mu.Unlock()

	return cmd, nil
}

// stop ends one process the lab started: SIGTERM, then SIGKILL after a
// grace period.
func stop(cmd *exec.Cmd, grace time.Duration) {
	if cmd.Process == nil || cmd.ProcessState != nil {
		return
	}

	done := make(chan struct{})
	go func() {
		_ = cmd.Wait()
		close(done)
	}()

	_ = cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-done:
	case <-time.After(grace):
		_ = cmd.Process.Kill()
		<-done
	}
}

// cleanup stops every process and deletes every namespace the lab made.
func (l *Lab) cleanup() {
	l.mu.Lock()
	procs, namespaces := l.procs, l.namespaces
	l.procs, l.namespaces = nil, nil
	l.mu.Unlock()

	for i := len(procs) - 1; i >= 0; i-- {
		stop(procs[i], 5*time.Second)
	}

	for _, ns := range namespaces {
		if _, err := ip("netns", "del", ns); err != nil {
			l.printf("cleanup: %v\n", err)
		}
	}

	if l.owned {
		os.RemoveAll(l.dir)
	}
}

// Cleanup removes the namespaces that a killed lab of that name left
// behind.
func Cleanup(name string, peers int) error {
	var errs []error
	for _, ns := range append([]string{RouterNS(name)}, peerNames(name, peers)...) {
		if !namespaceExists(ns) {
			continue
		}

		// TODO: processes of a killed lab die with their parent
		// (Pdeathsig); a process started by hand inside these namespaces
		// keeps running after they are deleted.
		if _, err := ip("netns", "del", ns); err != nil {
			errs = append(errs, err)
		}
	}

	return errors.Join(errs...)
}

func peerNames(name string, n int) []string {
	names := make([]string, 0, n)
	for i := 1; i <= n; i++ {
		names = append(names, PeerNS(name, i))
	}

	return names
}

// peerAddresses returns the addresses of upstream i's link (1-based): the
// router's and the peer's, in 198.51.100.0/24 and 2001:db8::/32.
func peerAddresses(i int) (routerV4, peerV4, routerV6, peerV6 netip.Addr) {
	base := byte(4 * (i - 1))
	routerV4 = netip.AddrFrom4([4]byte{198, 51, 100, base + 1})
	peerV4 = netip.AddrFrom4([4]byte{198, 51, 100, base + 2})
	routerV6 = netip.MustParseAddr(fmt.Sprintf("2001:db8:%x::1", i))
	peerV6 = netip.MustParseAddr(fmt.Sprintf("2001:db8:%x::2", i))

	return routerV4, peerV4, routerV6, peerV6
}

func (l *Lab) createNamespaces(ctx context.Context, _ *Summary) error {
	if _, err := l.workDir(); err != nil {
		return err
	}

	if err := l.addNamespace(l.routerNS()); err != nil {
		return err
	}

	for _, key := range []string{"net.ipv4.ip_forward", "net.ipv6.conf.all.forwarding"} {
		if err := sysctl(l.routerNS(), key, "1"); err != nil {
			return err
		}
	}

	if l.opts.CompatMode != "" {
		if err := sysctl(l.routerNS(), "net.ipv4.nexthop_compat_mode", l.opts.CompatMode); err != nil {
			return err
		}
	}

	for i := 1; i <= l.opts.Peers; i++ {
		if err := ctx.Err(); err != nil {
			return err
		}

		ns := PeerNS(l.opts.Name, i)
		if err := l.addNamespace(ns); err != nil {
			return err
		}

		rv4, pv4, rv6, pv6 := peerAddresses(i)
		lk := link{
			router: "up" + strconv.Itoa(i), peer: "router",
			routerV4: rv4.String() + "/30", peerV4: pv4.String() + "/30",
			routerV6: rv6.String() + "/64", peerV6: pv6.String() + "/64",
			routerNS: l.routerNS(), peerNS: ns,
		}

		if err := lk.create(); err != nil {
			return err
		}
	}

	l.printf("namespaces: %s and %d upstreams (%s ...), joined by veth pairs\n", l.routerNS(), l.opts.Peers, PeerNS(l.opts.Name, 1))

	return nil
}
