package bench

import (
	"context"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"time"
)

// grpcBatch is the number of routes in each message the controller sends:
// api.max-batch's default, the largest batch fibd accepts unconfigured.
const grpcBatch = 10_000

// grpcSource is the source name under which the controller offers its
// routes.
const grpcSource = "bench"

// stopGrace bounds a restart's wait for fibd to exit after SIGTERM before
// it is killed.
const stopGrace = 30 * time.Second

// FibdGRPC runs the fibd daemon (`fibd run`, BGP off) in the router
// namespace and feeds it over its gRPC API from a controller child
// process, so that the API's cost shows beside fibd in-process.
type FibdGRPC struct {
	env        *Env
	w          Workload
	conf       string
	sock       string
	procs      daemons
	fibd       *daemon
	controller *Child
}

// NewFibdGRPC returns the contender.
func NewFibdGRPC() *FibdGRPC { return &FibdGRPC{} }

// Name implements Contender.
func (c *FibdGRPC) Name() string { return "fibd-grpc" }

// Protocol implements Contender.
func (c *FibdGRPC) Protocol() uint8 { return protoFibd }

// Describe implements Describer.
func (c *FibdGRPC) Describe() string {
	return fmt.Sprintf("the fibd daemon (`fibd run --config FILE`, built from this commit, BGP off) in the namespace, fed over its unix socket by a gRPC controller in a child process: install is one StreamRoutes stream of %d-route messages; failover streams every route again with the hop1 next hop only (the API has no gateway-down call, so this rewrites every route) and recover with both; withdraw streams the deletes; restart is SIGTERM, a new `fibd run` that adopts the kernel, and a Session that sends every route again in %d-route updates and ends with end_of_table. CPU and memory are fibd's, not the controller's", grpcBatch, grpcBatch)
}

// Version implements Describer.
func (c *FibdGRPC) Version() string { return "this commit (fibd run, gRPC)" }

// Supports implements Contender.
func (c *FibdGRPC) Supports(w Workload, s Scenario) string { return "" }

// Start implements Contender.
func (c *FibdGRPC) Start(ctx context.Context, env *Env, w Workload) error {
	c.env, c.w = env, w
	c.conf = filepath.Join(env.Dir, "fibd.yaml")
	c.sock = filepath.Join(env.Dir, "fibd.sock")
	if err := os.WriteFile(c.conf, []byte(c.config()), 0o644); err != nil {
		return fmt.Errorf("write fibd config: %w", err)
	}

	if err := c.start(ctx); err != nil {
		return err
	}

	var spec controllerSpec
	spec.ChildSpec = ChildSpec{Kind: controllerKind, Workload: w, Protocol: protoFibd, Hops: env.Links}
	spec.Socket, spec.Batch = c.sock, grpcBatch
	ch, err := StartChild(env.Router, spec)
	if err != nil {
		return err
	}

	c.controller = ch

	return nil
}

// config returns fibd's configuration: the benchmark's source is held at
// start, so that a restarted fibd keeps the adopted routes until the
// controller's end_of_table. No file outside env.Dir is written, so the
// iproute2 protocol name and the metrics listener are off.
func (c *FibdGRPC) config() string {
	return fmt.Sprintf(`log:
  level: warn
kernel:
  protocol: %d
  protocol-names-dir: ""
fib:
  hold: [%s]
api:
  socket: %s
  max-batch: %d
metrics:
  address: ""
`, protoFibd, grpcSource, c.sock, grpcBatch)
}

// start starts `fibd run` and waits until its socket accepts connections,
// which it does once the kernel's state is adopted.
func (c *FibdGRPC) start(ctx context.Context) error {
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

	return c.waitListening(ctx)
}

func (c *FibdGRPC) waitListening(ctx context.Context) error {
	for {
		conn, err := net.DialTimeout("unix", c.sock, time.Second)
		if err == nil {
			conn.Close()
			return nil
		}

		if c.fibd.exited() {
			return fmt.Errorf("fibd exited: %s", c.logTail())
		}

		select {
		case <-ctx.Done():
			return fmt.Errorf("wait for fibd's socket %s: %w: %s", c.sock, ctx.Err(), c.logTail())
		case <-time.After(5 * time.Millisecond):
		}
	}
}

// logTail returns the end of fibd's log, for error messages.
func (c *FibdGRPC) logTail() string {
	return fileTail(filepath.Join(c.env.Dir, "fibd.log"), 600)
}

// Run implements Contender. A restart stops fibd with SIGTERM, which
// leaves its routes in the kernel, and starts it again. The controller
// then sends its whole table in a session.
func (c *FibdGRPC) Run(ctx context.Context, s Scenario, mark func()) error {
	if s != Restart {
		return c.controller.Run(ctx, s, mark)
	}

	mark()
	c.fibd.stop(stopGrace)
	if err := c.start(ctx); err != nil {
		return fmt.Errorf("restart fibd: %w", err)
	}

	return c.controller.Run(ctx, s, func() {})
}

// Diagnose implements Diagnoser.
func (c *FibdGRPC) Diagnose() string { return "fibd: " + c.logTail() }

// Usage implements Contender: fibd's processes, not the controller.
func (c *FibdGRPC) Usage() Usage { return c.procs.usage() }

// Stop implements Contender.
func (c *FibdGRPC) Stop() error {
	var err error
	if c.controller != nil {
		err = c.controller.Close()
	}

	c.procs.stop()

	return err
}
