package bench

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"
)

// IPBatch drives iproute2 the way scripts do: a generated file of route
// commands run by `ip -batch`, one ip process per scenario.
type IPBatch struct {
	env   *Env
	w     Workload
	usage Usage
}

// NewIPBatch returns the ip -batch contender.
func NewIPBatch() *IPBatch { return &IPBatch{} }

// Name implements Contender.
func (c *IPBatch) Name() string { return "ip-batch" }

// Protocol implements Contender.
func (c *IPBatch) Protocol() uint8 { return ProtoIPBatch }

// Describe implements Describer.
func (c *IPBatch) Describe() string {
	return "`ip -n NS -batch FILE` over a generated file of `route add|replace|del` lines (gateways in each route, no nexthop objects); failover rewrites every route"
}

// Version implements Describer.
func (c *IPBatch) Version() string { return commandVersion("ip", "-V") }

// Supports implements Contender.
func (c *IPBatch) Supports(w Workload, s Scenario) string { return "" }

// Start implements Contender.
func (c *IPBatch) Start(ctx context.Context, env *Env, w Workload) error {
	c.env, c.w = env, w

	return nil
}

// Run implements Contender: it writes the scenario's batch file, then
// runs ip on it (measured).
func (c *IPBatch) Run(ctx context.Context, s Scenario, mark func()) error {
	file := filepath.Join(c.env.Dir, "ip-"+string(s)+".batch")
	if err := c.writeBatch(file, s); err != nil {
		return err
	}

	cmd := exec.CommandContext(ctx, "ip", "-n", c.env.Router, "-batch", file)
	var stderr strings.Builder
	cmd.Stderr = &stderr

	mark()
	err := c.runSampled(cmd)
	if cmd.ProcessState != nil {
		if ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage); ok {
			c.usage.CPU += time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
		}
	}

	if err != nil {
		return fmt.Errorf("run ip -batch %s: %w: %s", file, err, firstLines(stderr.String(), 3))
	}

	return os.Remove(file)
}

// runSampled runs cmd and samples its VmHWM every 5 ms. The rusage of the
// ended process would report the harness's RSS instead (see selfUsage),
// so the peak is the last sample: it can miss growth in the last 5 ms.
func (c *IPBatch) runSampled(cmd *exec.Cmd) error {
	if err := cmd.Start(); err != nil {
		return err
	}

	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()

	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()

	for {
		select {
		case err := <-done:
			return err
		case <-tick.C:
			c.usage.PeakRSSKB = max(c.usage.PeakRSSKB, vmHWM(cmd.Process.Pid))
		}
	}
}

func (c *IPBatch) writeBatch(file string, s Scenario) error {
	f, err := os.Create(file)
	if err != nil {
		return fmt.Errorf("create batch file: %w", err)
	}
	defer f.Close()

	links := c.env.Links[:1]
	if c.w.ECMP {
		links = c.env.Links[:]
	}

	verb := "add"
	switch s {
	case Restart, Recover:
		verb = "replace"
	case Failover:
		verb, links = "replace", c.env.Links[1:]
	case Withdraw:
		verb, links = "del", nil
	}

	// The next-hop text of each group, which follows the prefix on each line.
	vias := make([]string, c.w.GroupCount())
	for g := range vias {
		w0, w1 := c.w.Weights(g)
		vias[g] = viaText(c.w.Family, links, []uint32{w0, w1})
	}

	bw := bufio.NewWriterSize(f, 1<<20)
	for i := range c.w.Routes {
		fmt.Fprintf(bw, "route %s %s proto %d%s\n", verb, Prefix(c.w.Family, i), ProtoIPBatch, vias[c.w.Group(i)])
	}

	if err := bw.Flush(); err != nil {
		return fmt.Errorf("write batch file: %w", err)
	}

	return f.Close()
}

// viaText returns the next hops of a route over links for ip route. A
// route over several links weighs link i weights[i].
func viaText(family int, links []Link, weights []uint32) string {
	switch len(links) {
	case 0:
		return ""
	case 1:
		return fmt.Sprintf(" via %s dev %s", links[0].Gateway(family), links[0].Device)
	}

	var b strings.Builder
	for i, l := range links {
		fmt.Fprintf(&b, " nexthop via %s dev %s weight %d", l.Gateway(family), l.Device, weights[i])
	}

	return b.String()
}

// Usage implements Contender.
func (c *IPBatch) Usage() Usage { return c.usage }

// Stop implements Contender.
func (c *IPBatch) Stop() error { return nil }

// commandVersion returns the first line a command prints, or the error.
func commandVersion(name string, args ...string) string {
	out, err := exec.Command(name, args...).CombinedOutput()
	if err != nil {
		return fmt.Sprintf("unknown (%s: %v)", name, err)
	}

	return firstLines(string(out), 1)
}

func firstLines(s string, n int) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	if len(lines) > n {
		lines = lines[:n]
	}

	return strings.Join(lines, " | ")
}

// Synchronous implements Synchronous: ip waits for the kernel's
// acknowledgement of each command.
func (c *IPBatch) Synchronous() bool { return true }
