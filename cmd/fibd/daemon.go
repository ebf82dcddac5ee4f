package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"slices"
	"sync"
	"time"

	"golang.org/x/sync/errgroup"
	"google.golang.org/grpc"

	"github.com/fibd/fibd/api/server"
	"github.com/fibd/fibd/fib"
	"github.com/fibd/fibd/fib/kernel"
	"github.com/fibd/fibd/fib/kernel/monitor"
	"github.com/fibd/fibd/gobgp"
	"github.com/fibd/fibd/internal/config"
	"github.com/fibd/fibd/internal/logging"
	"github.com/fibd/fibd/internal/metrics"
	"github.com/fibd/fibd/internal/sdnotify"
	"github.com/fibd/fibd/nexthop"
)

// Timeouts of the shutdown steps.
const (
	grpcStopTimeout = 5 * time.Second
	flushTimeout    = 30 * time.Second // dump and delete with flush-on-exit
)

// daemon holds the running components. The fields below the first group
// are set by start and read by run and reload.
type daemon struct {
	configPath string
	logger     *logging.Logger
	log        *slog.Logger
	notifier   *sdnotify.Notifier
	reloads    <-chan struct{}

	// mu guards cfg, which reload replaces.
	mu  sync.Mutex
	cfg *config.Config

	instance  *instanceLock
	kernel    *kernel.Kernel
	fib       *fib.FIB
	monitor   *monitor.Monitor
	api       *server.Server
	grpc      *grpc.Server
	listeners []net.Listener
	metrics   *metrics.Server
	bgp       *gobgp.Source

	// adoptedRoutes is the number of fibd's routes that the kernel held at
	// start, from a previous run.
	adoptedRoutes int
}

// run builds the components, adopts the kernel's state, runs until ctx is
// cancelled or a component fails, and stops everything.
func (d *daemon) run(ctx context.Context) error {
	defer d.close()

	if err := d.start(ctx); err != nil {
		// A signal during start is a stop, not a failure.
		if ctx.Err() != nil && errors.Is(err, context.Canceled) {
			d.log.Info("stopped during start", logging.Err(err))

			return nil
		}

		return err
	}

	return d.serve(ctx)
}

// start builds the components in dependency order. The monitor subscribes
// before the dump that adopts the kernel's state, so that no change made
// after the dump is missed. The state is adopted before any producer can
// offer routes, so that routes installed by a previous run are matched
// instead of rewritten.
func (d *daemon) start(ctx context.Context) error {
	steps := []struct {
		name string
		fn   func(context.Context) error
	}{
		{"instance lock", d.lockInstance},
		{"kernel", d.openKernel},
		{"fib", d.newFIB},
		{"monitor", d.newMonitor},
		{"adoption", d.adopt},
		{"api", d.newAPI},
		{"metrics", d.newMetrics},
		{"bgp", d.newBGP},
	}

	for _, s := range steps {
		if err := s.fn(ctx); err != nil {
			return fmt.Errorf("start %s: %w", s.name, err)
		}
	}

	return nil
}

// lockInstance makes sure that no other fibd with the same protocol runs
// in this network namespace, before fibd reads or changes the kernel.
func (d *daemon) lockInstance(context.Context) error {
	lock, err := lockInstance(uint8(d.cfg.Kernel.Protocol))
	if err != nil {
		return err
	}

	d.instance = lock

	return nil
}

func (d *daemon) openKernel(context.Context) error {
	k := d.cfg.Kernel
	kern, err := kernel.Open(kernel.Config{
		Protocol:    uint8(k.Protocol),
		ReadBuffer:  k.ReadBuffer,
		WriteBuffer: k.WriteBuffer,
		Range:       nexthop.Range(k.NexthopIDs),
		AckEach:     k.AckPerMessage,
		// The configuration's 0 keeps the thread's own value.
		WriterNice:     k.WriterNice,
		KeepWriterNice: k.WriterNice == 0,
	})
	if err != nil {
		return err
	}

	d.kernel = kern
	d.log.Info("kernel opened", "protocol", k.Protocol, "nexthop_ids", k.NexthopIDs.String())

	// A missing protocol name only makes `ip route` print a number.
	if dir := k.ProtocolNamesDir; dir != "" {
		if err := kernel.WriteProtocolName(dir, uint8(k.Protocol), "fibd"); err != nil {
			d.log.Warn("write protocol name for iproute2 failed, so ip route shows the number", "dir", dir, logging.Err(err))
		}
	}

	return nil
}

func (d *daemon) newFIB(context.Context) error {
	var dp fib.Dataplane = d.kernel
	if d.cfg.Kernel.DryRun {
		dp = dryRun{kernel: d.kernel}
		d.log.Warn("dry run: fibd writes nothing to the kernel, adopts nothing and repairs nothing")
	}

	f, err := fib.New(fib.Config{
		Dataplane:         dp,
		Nexthops:          nexthop.Range(d.cfg.Kernel.NexthopIDs),
		BatchSize:         d.cfg.FIB.BatchSize,
		Hold:              d.cfg.FIB.Hold,
		HoldTimeout:       time.Duration(d.cfg.FIB.HoldTimeout),
		RestoreWait:       time.Duration(d.cfg.FIB.RestoreWait),
		TakeoverConflicts: d.cfg.FIB.TakeoverConflicts,
	})
	if err != nil {
		return err
	}

	d.fib = f

	return nil
}

// adopt loads what a previous run left in the kernel into the FIB. Routes
// and nexthop objects that the sources offer again unchanged are neither
// rewritten nor removed. The FIB keeps the others until the sources in
// fib.hold have converged or the hold timeout ends.
func (d *daemon) adopt(ctx context.Context) error {
	if d.cfg.Kernel.DryRun {
		return d.reserveKernelIDs(ctx)
	}

	snap, err := d.kernel.Dump(ctx)
	if err != nil {
		return fmt.Errorf("dump kernel: %w", err)
	}

	d.fib.Reconcile(snap)
	d.adoptedRoutes = len(snap.Routes)
	d.log.Info("kernel state adopted",
		"routes", len(snap.Routes), "nexthops", len(snap.Nexthops),
		"foreign_nexthop_ids", len(snap.ForeignNexthops),
		"hold", d.cfg.FIB.Hold, "hold_timeout", d.cfg.FIB.HoldTimeout.String())

	return nil
}

// reserveKernelIDs keeps a dry run from showing nexthop ids that the
// kernel already uses: it reads the kernel's objects in fibd's range, its
// own from a previous run included, and reserves their ids without
// adopting anything.
func (d *daemon) reserveKernelIDs(ctx context.Context) error {
	snap, err := d.kernel.Dump(ctx)
	if err != nil {
		return fmt.Errorf("dump kernel: %w", err)
	}

	ids := slices.Clone(snap.ForeignNexthops)
	for _, o := range snap.Nexthops {
		ids = append(ids, o.ID)
	}

	d.fib.Reconcile(fib.Snapshot{ForeignNexthops: ids})
	d.log.Info("dry run: nexthop ids in the kernel reserved, nothing adopted", "ids", len(ids), "kernel_routes", len(snap.Routes))

	return nil
}

func (d *daemon) newMonitor(context.Context) error {
	if d.cfg.Kernel.DryRun {
		return nil
	}

	m, err := monitor.New(monitor.Config{
		Protocol:          uint8(d.cfg.Kernel.Protocol),
		ReadBuffer:        d.cfg.Kernel.ReadBuffer,
		Kernel:            d.kernel,
		FIB:               d.fib,
		TakeoverConflicts: d.cfg.FIB.TakeoverConflicts,
		AuditInterval:     time.Duration(d.cfg.Kernel.AuditInterval),
		Nexthops:          nexthop.Range(d.cfg.Kernel.NexthopIDs),
	})
	if err != nil {
		return err
	}

	d.monitor = m

	return nil
}

func (d *daemon) newAPI(context.Context) error {
	a := d.cfg.API
	srv, err := server.New(server.Config{
		FIB:             d.fib,
		Devices:         d.kernel.LinkExists,
		Resolve:         rejectLocalGateways(d.kernel.Resolve),
		Verify:          d.verify,
		SyncState:       func() string { return d.syncStatus().State },
		Sources:         sourceDistances(a.Sources),
		DefaultDistance: fib.Distance(a.DefaultDistance),
		GracePeriod:     time.Duration(a.GracePeriod),
		MaxBatch:        a.MaxBatch,
		Version:         buildVersion(),
		Extra:           d.statusExtra,
		Logger:          componentLogger(d.log, "api"),
	})
	if err != nil {
		return err
	}

	listeners, opts, err := server.Listen(server.ListenConfig{
		Socket:                a.Socket,
		SocketMode:            fileMode(a.SocketMode),
		TCPAddress:            a.TCP.Address,
		CertFile:              a.TCP.Cert,
		KeyFile:               a.TCP.Key,
		ClientCAFile:          a.TCP.ClientCA,
		AllowInsecureLoopback: a.TCP.AllowInsecureLoopback,
	})
	if err != nil {
		return err
	}

	d.api = srv
	d.listeners = listeners
	d.grpc = grpc.NewServer(opts...)
	srv.Register(d.grpc)

	for _, ln := range listeners {
		d.log.Info("api listening", "address", ln.Addr().String())
	}

	return nil
}

func (d *daemon) newMetrics(context.Context) error {
	m := d.cfg.Metrics
	if m.Address == "" {
		d.log.Info("metrics off")

		return nil
	}

	srv, err := metrics.Listen(metrics.ServerConfig{
		Address:  m.Address,
		Pprof:    m.Pprof,
		Gatherer: metrics.NewRegistry(d.metricSources()),
	})
	if err != nil {
		return err
	}

	d.metrics = srv
	d.log.Info("metrics listening", "address", srv.Addr().String(), "pprof", m.Pprof)

	return nil
}

func (d *daemon) newBGP(context.Context) error {
	if !d.cfg.BGPEnabled() {
		d.log.Info("bgp off")

		return nil
	}

	opts := bgpOptions(d.cfg, componentLogger(d.log, "bgp"))

	// The routes of the previous run keep forwarding until BGP has
	// converged, rather than moving to whichever peer returns first.
	// The deferral ends by half the hold timeout at the latest, so that
	// the routes reach the FIB well before it sweeps what no source
	// offered.
	opts.DeferUntilConverged = d.cfg.GoBGP.DeferAfterRestart && d.adoptedRoutes > 0
	opts.DeferLimit = time.Duration(d.cfg.FIB.HoldTimeout) / 2
	if opts.DeferUntilConverged {
		d.log.Info("bgp routes deferred until bgp converges, since the kernel has routes from the previous run",
			"routes", d.adoptedRoutes, "convergence_timeout", time.Duration(d.cfg.GoBGP.ConvergenceTimeout).String(), "limit", opts.DeferLimit.String())
	}

	src, err := gobgp.New(opts, d.fib)
	if err != nil {
		return err
	}

	d.bgp = src

	return nil
}

// serve runs the components until ctx is cancelled or one fails.
//
// The FIB runs under its own context so that it outlives the producers
// (API, BGP) and the monitor: on shutdown they stop first, so that no
// producer offers routes to a FIB that has stopped, then the FIB stops.
// With fib.flush-on-exit, fibd's objects are deleted after that.
func (d *daemon) serve(ctx context.Context) error {
	g, gctx := errgroup.WithContext(ctx)
	producers, pctx := errgroup.WithContext(gctx)
	fibCtx, stopFIB := context.WithCancel(context.WithoutCancel(ctx))
	defer stopFIB()

	g.Go(func() error { return d.component(fibCtx, "fib", d.fib.Run) })

	d.startProducers(pctx, producers)

	g.Go(func() error {
		err := producers.Wait()
		stopFIB()

		return err
	})

	d.ready()
	err := g.Wait()

	d.mu.Lock()
	flush := d.cfg.FIB.FlushOnExit
	d.mu.Unlock()

	// By default fibd's routes stay in the kernel so that a restart does
	// not interrupt forwarding; the next run adopts them.
	switch {
	case d.cfg.Kernel.DryRun:
		d.log.Info("dry run: fibd wrote nothing to the kernel", "routes", d.fib.Stats().Installed)
	case flush:
		d.flushKernel()
	default:
		d.log.Info("keeping fibd's routes in the kernel", "installed", d.fib.Stats().Installed)
	}

	return err
}

func (d *daemon) startProducers(ctx context.Context, g *errgroup.Group) {
	if d.monitor != nil {
		g.Go(func() error { return d.component(ctx, "monitor", d.monitor.Run) })
	}

	g.Go(func() error { return d.component(ctx, "api", d.serveAPI) })

	if d.metrics != nil {
		g.Go(func() error { return d.component(ctx, "metrics", d.metrics.Run) })
	}

	if d.bgp != nil {
		g.Go(func() error { return d.component(ctx, "bgp", d.bgp.Run) })
	}

	g.Go(func() error { return d.component(ctx, "report", d.report) })
	g.Go(func() error { d.reloadLoop(ctx); return nil })
}

// component runs one part and logs its start and stop. A return after ctx
// is cancelled is a clean stop. Every component runs until it is
// cancelled, so a return before that is an error even when err is nil.
func (d *daemon) component(ctx context.Context, name string, run func(context.Context) error) error {
	log := componentLogger(d.log, name)
	log.Info("component starting")

	err := run(ctx)
	switch {
	case ctx.Err() != nil && (err == nil || errors.Is(err, context.Canceled)):
		log.Info("component stopped")

		return nil
	case err == nil:
		err = errors.New("stopped before the daemon did")
	}

	log.Error("component failed", logging.Err(err))

	return fmt.Errorf("%s: %w", name, err)
}

// serveAPI serves gRPC on every listener until ctx is cancelled, then
// stops gracefully, cutting open streams after grpcStopTimeout.
func (d *daemon) serveAPI(ctx context.Context) error {
	g, gctx := errgroup.WithContext(ctx)
	for _, ln := range d.listeners {
		g.Go(func() error {
			if err := d.grpc.Serve(ln); err != nil {
				return fmt.Errorf("serve api on %s: %w", ln.Addr(), err)
			}

			return nil
		})
	}

	g.Go(func() error {
		<-gctx.Done()
		d.api.Shutdown()
		stopGRPC(d.grpc, grpcStopTimeout)

		return nil
	})

	return g.Wait()
}

func stopGRPC(gs *grpc.Server, timeout time.Duration) {
	stopped := make(chan struct{})
	go func() {
		gs.GracefulStop()
		close(stopped)
	}()

	select {
	case <-stopped:
	case <-time.After(timeout):
		gs.Stop()
		<-stopped
	}
}

// ready reports readiness once the kernel is adopted and the API listens,
// both of which start has done.
func (d *daemon) ready() {
	status := fmt.Sprintf("adopted kernel state, api on %d listeners", len(d.listeners))
	if err := d.notifier.Ready(status); err != nil {
		d.log.Warn("notify systemd of readiness failed", logging.Err(err))
	}

	d.log.Info("fibd ready")
}

// flushKernel deletes every route and nexthop object with fibd's protocol,
// for fib.flush-on-exit. It runs after the FIB and the monitor have
// stopped, so nothing programs or repairs behind it, and it works from a
// dump, so it also removes routes adopted from a previous run that no
// source offered again. Routes go first, then groups, then the nexthops
// that the groups used.
func (d *daemon) flushKernel() {
	ctx, cancel := context.WithTimeout(context.Background(), flushTimeout)
	defer cancel()

	snap, err := d.kernel.Dump(ctx)
	if err != nil {
		d.log.Error("flush on exit failed", logging.Err(err))

		return
	}

	ops := flushOps(snap)
	if err := d.kernel.Apply(ctx, ops); err != nil {
		d.log.Error("flush on exit failed", logging.Err(err))

		return
	}

	failed := 0
	for _, op := range ops {
		if op.Err != nil {
			failed++
			d.log.Warn("flush on exit: delete failed", "op", op.Kind.String(), logging.KeyPrefix, op.Route.Prefix.String(), logging.KeyNexthopID, uint32(op.Nexthop.ID), logging.Err(op.Err))
		}
	}

	d.log.Info("flushed fibd's routes and nexthops", "routes", len(snap.Routes), "nexthops", len(snap.Nexthops), "failed", failed)
}

// close releases what start opened, in reverse order.
func (d *daemon) close() {
	if d.grpc != nil {
		d.grpc.Stop()
	}

	// Listeners that never reached Serve are not closed by Stop.
	for _, ln := range d.listeners {
		_ = ln.Close()
	}

	if d.kernel != nil {
		if err := d.kernel.Close(); err != nil {
			d.log.Warn("close kernel sockets failed", logging.Err(err))
		}
	}

	// The lock goes last, after the flush on exit.
	if d.instance != nil {
		if err := d.instance.release(); err != nil {
			d.log.Warn("release instance socket failed", logging.Err(err))
		}
	}
}

func (d *daemon) verify(ctx context.Context) ([]string, error) {
	if d.monitor == nil {
		return nil, errors.New("verify: fibd runs with kernel.dry-run and programs nothing, so there is nothing to compare")
	}

	report, err := d.monitor.Verify(ctx)
	if err != nil {
		return nil, err
	}

	return report.Differences, nil
}

// syncStatus returns the monitor's status, or the state "dry-run" when
// there is no monitor.
func (d *daemon) syncStatus() monitor.Status {
	if d.monitor == nil {
		return monitor.Status{State: stateDryRun}
	}

	return d.monitor.Status()
}

func sourceDistances(sources map[string]config.Source) map[string]fib.Distance {
	out := make(map[string]fib.Distance, len(sources))
	for name, s := range sources {
		out[name] = fib.Distance(s.Distance)
	}

	return out
}
