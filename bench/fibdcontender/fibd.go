// Package fibdcontender adds fibd itself to the benchmark: the FIB and its
// kernel dataplane in a child process inside the router namespace, fed
// directly through fib.FIB's API, as the daemon's sources feed it.
//
// It is a package of its own so that package bench, with the other
// contenders, builds and tests without fibd's packages. Import it for its
// side effect of registering the "fibd" contender and child kind.
package fibdcontender

import (
	"context"
	"fmt"

	"github.com/fibd/fibd/bench"
)

// Name is the contender's name in flags and on the results page.
const Name = "fibd"

func init() {
	bench.Register(Name, true, func() bench.Contender { return &Contender{} }, nil)
	bench.RegisterChild(childKind, newChild)
}

// Contender runs fibd in-process in a child: fib.New over kernel.Open on the
// router namespace's file descriptor.
type Contender struct {
	env   *bench.Env
	w     bench.Workload
	child *bench.Child
	ended bench.Usage // of children that were killed by a restart
}

// Name implements bench.Contender.
func (c *Contender) Name() string { return Name }

// Protocol implements bench.Contender.
func (c *Contender) Protocol() uint8 { return protocol }

// Describe implements bench.Describer.
func (c *Contender) Describe() string {
	return "fibd's fib.FIB over fib/kernel in a child process (kernel.Open on the namespace's file descriptor): Update with every route then Sync; failover is SetGatewayDown(hop0 gateway) and Sync (one group replace); withdraw is WithdrawSource and Sync; restart is SIGKILL, then a new process that dumps the kernel, adopts it (Reconcile), offers every route again, declares convergence and syncs"
}

// Version implements bench.Describer.
func (c *Contender) Version() string { return "this commit (in-process)" }

// Synchronous implements bench.Synchronous: Sync returns after the
// dataplane applied every change.
func (c *Contender) Synchronous() bool { return true }

// Supports implements bench.Contender.
func (c *Contender) Supports(w bench.Workload, s bench.Scenario) string { return "" }

// Start implements bench.Contender.
func (c *Contender) Start(ctx context.Context, env *bench.Env, w bench.Workload) error {
	c.env, c.w = env, w

	return c.startChild()
}

func (c *Contender) startChild() error {
	ch, err := bench.StartChild(c.env.Router, bench.ChildSpec{
		Kind: childKind, NSPath: c.env.Path(), Workload: c.w, Protocol: protocol, Hops: c.env.Links,
	})
	if err != nil {
		return err
	}

	c.child = ch

	return nil
}

// Run implements bench.Contender. A restart kills the child, as a crash
// would, and starts a new one over the routes it left.
func (c *Contender) Run(ctx context.Context, s bench.Scenario, mark func()) error {
	if s != bench.Restart {
		return c.child.Run(ctx, s, mark)
	}

	mark()
	u := c.child.Usage()
	c.child.Kill()
	c.ended = bench.Usage{CPU: c.ended.CPU + u.CPU, PeakRSSKB: max(c.ended.PeakRSSKB, u.PeakRSSKB)}
	if err := c.startChild(); err != nil {
		return fmt.Errorf("restart fibd: %w", err)
	}

	return c.child.Run(ctx, s, func() {})
}

// Usage implements bench.Contender.
func (c *Contender) Usage() bench.Usage {
	if c.child == nil {
		return c.ended
	}

	u := c.child.Usage()

	return bench.Usage{CPU: c.ended.CPU + u.CPU, PeakRSSKB: max(c.ended.PeakRSSKB, u.PeakRSSKB)}
}

// Stop implements bench.Contender.
func (c *Contender) Stop() error {
	if c.child == nil {
		return nil
	}

	return c.child.Close()
}
