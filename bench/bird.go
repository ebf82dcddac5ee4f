package bench

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"
)

// ProtoBIRD is RTPROT_BIRD, the kernel protocol BIRD's routes carry.
const ProtoBIRD = 12

// BIRD drives BIRD 2 as its users do: a configuration with static
// protocols exported to the kernel protocol, controlled through birdc.
// With ECMP, each next hop has its own static protocol (as two BGP peers
// would) and the kernel protocol merges the paths.
type BIRD struct {
	env   *Env
	w     Workload
	conf  string
	sock  string
	procs daemons
	bird  *daemon
}

// NewBIRD returns the BIRD 2 contender.
func NewBIRD() *BIRD { return &BIRD{} }

// BIRDAvailable returns "" when bird and birdc are installed.
func BIRDAvailable() string {
	for _, name := range []string{"bird", "birdc"} {
		if _, err := exec.LookPath(name); err != nil {
			return name + " not found (run bench/setup.sh)"
		}
	}

	return ""
}

// Name implements Contender.
func (c *BIRD) Name() string { return "bird" }

// Protocol implements Contender.
func (c *BIRD) Protocol() uint8 { return ProtoBIRD }

// Describe implements Describer.
func (c *BIRD) Describe() string {
	return "BIRD 2 in the namespace (`bird -f -c CONF -s SOCK`) with one static protocol per next hop holding all routes, exported to the kernel protocol (learn off, persist off, merge paths on), with hop0's weight on its routes for weighted groups; install starts bird, failover is `birdc disable` of the hop0 static protocol, withdraw disables both, restart is SIGKILL and a new bird"
}

// Version implements Describer.
func (c *BIRD) Version() string { return commandVersion("bird", "--version") }

// Supports implements Contender.
func (c *BIRD) Supports(w Workload, s Scenario) string { return "" }

// Start implements Contender: it writes the configuration.
func (c *BIRD) Start(ctx context.Context, env *Env, w Workload) error {
	c.env, c.w = env, w
	c.conf = filepath.Join(env.Dir, "bird.conf")
	c.sock = filepath.Join(env.Dir, "bird.ctl")

	return c.writeConfig()
}

func (c *BIRD) writeConfig() error {
	f, err := os.Create(c.conf)
	if err != nil {
		return fmt.Errorf("create bird config: %w", err)
	}
	defer f.Close()

	b := bufio.NewWriterSize(f, 1<<20)
	channel := "ipv4"
	if c.w.Family == 6 {
		channel = "ipv6"
	}

	fmt.Fprintf(b, "router id %s;\n", c.env.Links[0].Local4)
	fmt.Fprintf(b, "protocol device { scan time 10; }\n")
	fmt.Fprintf(b, "protocol kernel kernel1 {\n  %s { import none; export all; };\n  learn off;\n  persist off;\n  merge paths on;\n  scan time 60;\n}\n", channel)

	links := c.env.Links[:1]
	if c.w.ECMP {
		links = c.env.Links[:]
	}

	for i, l := range links {
		fmt.Fprintf(b, "protocol static static%d {\n  %s;\n", i, channel)
		gw := l.Gateway(c.w.Family)
		for r := range c.w.Routes {
			fmt.Fprintf(b, "  route %s via %s%s;\n", Prefix(c.w.Family, r), gw, c.weightText(i, r))
		}

		fmt.Fprintf(b, "}\n")
	}

	if err := b.Flush(); err != nil {
		return fmt.Errorf("write bird config: %w", err)
	}

	return f.Close()
}

// weightText returns the weight option of route r's next hop over link
// i, empty for weight 1. The kernel protocol merges the paths of the
// static protocols with their weights.
func (c *BIRD) weightText(i, r int) string {
	w0, w1 := c.w.Weights(c.w.Group(r))
	weight := w0
	if i == 1 {
		weight = w1
	}

	if !c.w.ECMP || weight == 1 {
		return ""
	}

	return fmt.Sprintf(" weight %d", weight)
}

// Run implements Contender.
func (c *BIRD) Run(ctx context.Context, s Scenario, mark func()) error {
	switch s {
	case Install:
		mark()
		return c.start()
	case Restart:
		mark()
		c.bird.kill()
		if err := c.start(); err != nil {
			return err
		}

		return c.waitReady(ctx)
	case Failover:
		mark()
		return c.birdc(ctx, "disable", "static0")
	case Recover:
		mark()
		return c.birdc(ctx, "enable", "static0")
	case Withdraw:
		mark()
		return c.birdc(ctx, "disable", `"static*"`)
	}

	return fmt.Errorf("unknown scenario %q", s)
}

func (c *BIRD) start() error {
	os.Remove(c.sock)
	d, err := startDaemon(c.env.Router, filepath.Join(c.env.Dir, "bird.log"), "bird", "-f", "-c", c.conf, "-s", c.sock, "-P", filepath.Join(c.env.Dir, "bird.pid"))
	if err != nil {
		return err
	}

	c.bird = d
	c.procs.add(d)

	return nil
}

// waitReady polls birdc until the kernel protocol is up, as an operator's
// health check would.
func (c *BIRD) waitReady(ctx context.Context) error {
	for {
		out, err := exec.CommandContext(ctx, "birdc", "-s", c.sock, "show", "protocols", "kernel1").CombinedOutput()
		if err == nil && strings.Contains(string(out), " up ") {
			return nil
		}

		if c.bird.exited() {
			return fmt.Errorf("bird exited: %s", c.logTail())
		}

		select {
		case <-ctx.Done():
			return fmt.Errorf("wait for bird: %w: %s", ctx.Err(), strings.TrimSpace(string(out)))
		case <-time.After(20 * time.Millisecond):
		}
	}
}

func (c *BIRD) birdc(ctx context.Context, args ...string) error {
	out, err := exec.CommandContext(ctx, "birdc", append([]string{"-s", c.sock}, args...)...).CombinedOutput()
	if err != nil {
		return fmt.Errorf("run birdc %s: %w: %s", strings.Join(args, " "), err, strings.TrimSpace(string(out)))
	}

	return nil
}

func (c *BIRD) logTail() string {
	return fileTail(filepath.Join(c.env.Dir, "bird.log"), 500)
}

// Usage implements Contender.
func (c *BIRD) Usage() Usage { return c.procs.usage() }

// Stop implements Contender.
func (c *BIRD) Stop() error {
	c.procs.stop()

	return nil
}
