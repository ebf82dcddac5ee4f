package bench

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"time"
)

// protoFibd is fibd's default kernel protocol.
const protoFibd = 201

// FibdBGP runs the fibd daemon (`fibd run`) in the router namespace with
// its embedded GoBGP, fed by the same BGP peer as zebra, so that the two
// are compared on the same footing.
type FibdBGP struct {
	env   *Env
	w     Workload
	conf  string
	sock  string
	procs daemons
	fibd  *daemon
	peer  *Child
}

// NewFibdBGP returns the contender.
func NewFibdBGP() *FibdBGP { return &FibdBGP{} }

var (
	fibdBinaryOnce sync.Once
	fibdBinary     string
	fibdBinaryErr  error
	fibdBuildDir   string
)

// RemoveBuilds removes the fibd binary that the fibd-bgp contender built.
// Call it once the benchmark is over.
func RemoveBuilds() {
	if fibdBuildDir != "" {
		os.RemoveAll(fibdBuildDir)
	}
}

// buildFibd builds cmd/fibd of this module once per process, unless
// FIBD_BENCH_FIBD names a binary to use instead.
func buildFibd() (string, error) {
	fibdBinaryOnce.Do(func() {
		if path := os.Getenv("FIBD_BENCH_FIBD"); path != "" {
			fibdBinary = path
			return
		}

		dir, err := os.MkdirTemp("", "fibd-bench-bin-")
		if err != nil {
			fibdBinaryErr = fmt.Errorf("create build directory: %w", err)
			return
		}

		fibdBuildDir = dir
		fibdBinary = filepath.Join(dir, "fibd")
		out, err := exec.Command("go", "build", "-o", fibdBinary, "github.com/fibd/fibd/cmd/fibd").CombinedOutput()
		if err != nil {
			fibdBinaryErr = fmt.Errorf("build cmd/fibd (set FIBD_BENCH_FIBD to use a built binary): %w: %s", err, firstLines(string(out), 5))
		}
	})

	return fibdBinary, fibdBinaryErr
}

// Name implements Contender.
func (c *FibdBGP) Name() string { return "fibd-bgp" }

// Protocol implements Contender.
func (c *FibdBGP) Protocol() uint8 { return protoFibd }

// Describe implements Describer.
func (c *FibdBGP) Describe() string {
	return "the fibd daemon (`fibd run --config FILE`, built from this commit) in the namespace with its embedded GoBGP (use-multiple-paths on), fed by the same GoBGP peer and sessions as zebra; failover shuts the hop0 session down; restart is SIGKILL and a new `fibd run`, ready when `fibd status` reports BGP converged (convergence-timeout 30s, in case the peer sends no End-of-RIB). Measures GoBGP and fibd together"
}

// Version implements Describer.
func (c *FibdBGP) Version() string { return "this commit (fibd run)" }

// Supports implements Contender.
func (c *FibdBGP) Supports(w Workload, s Scenario) string { return bgpSupports(w) }

// Start implements Contender.
func (c *FibdBGP) Start(ctx context.Context, env *Env, w Workload) error {
	c.env, c.w = env, w
	c.conf = filepath.Join(env.Dir, "fibd.yaml")
	c.sock = filepath.Join(env.Dir, "fibd.sock")
	if err := os.WriteFile(c.conf, []byte(c.config()), 0o644); err != nil {
		return fmt.Errorf("write fibd config: %w", err)
	}

	if err := c.start(ctx, false); err != nil {
		return err
	}

	peer, err := startPeer(env, w)
	if err != nil {
		return err
	}

	c.peer = peer

	return nil
}

func (c *FibdBGP) config() string {
	afi := "ipv4-unicast"
	if c.w.Family == 6 {
		afi = "ipv6-unicast"
	}

	links := c.env.Links[:1]
	if c.w.ECMP {
		links = c.env.Links[:]
	}

	var b strings.Builder
	fmt.Fprintf(&b, "log:\n  level: warn\nkernel:\n  protocol: %d\n  protocol-names-dir: \"\"\nfib:\n  hold: [bgp]\napi:\n  socket: %s\nmetrics:\n  address: \"\"\n", protoFibd, c.sock)
	fmt.Fprintf(&b, "gobgp:\n  table: 254\n  metric: 20\n  convergence-timeout: 30s\nbgp:\n  global:\n    config:\n      as: %d\n      router-id: %s\n    use-multiple-paths:\n      config:\n        enabled: true\n  neighbors:\n", routerAS, c.env.Links[0].Local4)
	for _, l := range links {
		fmt.Fprintf(&b, "    - config:\n        neighbor-address: %s\n        peer-as: %d\n      timers:\n        config:\n          connect-retry: 1\n      afi-safis:\n        - config:\n            afi-safi-name: %s\n", l.Gateway(c.w.Family), peerAS, afi)
	}

	return b.String()
}

var bgpConverged = regexp.MustCompile(`bgp converged\s+true`)

func (c *FibdBGP) start(ctx context.Context, converged bool) error {
	bin, err := buildFibd()
	if err != nil {
		return err
	}

	os.Remove(c.sock)
	d, err := startDaemon(c.env.Router, filepath.Join(c.env.Dir, "fibd.log"), bin, "run", "--config", c.conf)
	if err != nil {
		return err
	}

	c.fibd = d
	c.procs.add(d)

	return c.waitReady(ctx, bin, converged)
}

// waitReady polls `fibd status` until the daemon replies on its socket
// and, with converged, reports BGP converged. Only then does fibd delete
// adopted routes that BGP no longer has.
func (c *FibdBGP) waitReady(ctx context.Context, bin string, converged bool) error {
	for {
		out, err := exec.CommandContext(ctx, bin, "status", "--socket", c.sock).Output()
		if err == nil && (!converged || bgpConverged.Match(out)) {
			return nil
		}

		if c.fibd.exited() {
			return fmt.Errorf("fibd exited: %s", c.logTail())
		}

		select {
		case <-ctx.Done():
			return fmt.Errorf("wait for fibd: %w: %s", ctx.Err(), c.logTail())
		case <-time.After(20 * time.Millisecond):
		}
	}
}

func (c *FibdBGP) logTail() string {
	return fileTail(filepath.Join(c.env.Dir, "fibd.log"), 600)
}

// Run implements Contender.
func (c *FibdBGP) Run(ctx context.Context, s Scenario, mark func()) error {
	if s != Restart {
		return c.peer.Run(ctx, s, mark)
	}

	mark()
	c.fibd.kill()

	return c.start(ctx, true)
}

// Diagnose implements Diagnoser.
func (c *FibdBGP) Diagnose() string { return "fibd: " + c.logTail() }

// Usage implements Contender: fibd, not the peer.
func (c *FibdBGP) Usage() Usage { return c.procs.usage() }

// Stop implements Contender.
func (c *FibdBGP) Stop() error {
	if c.peer != nil {
		c.peer.Close()
	}

	c.procs.stop()

	return nil
}
