package fibdcontender

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"time"

	"github.com/fibd/fibd/bench"
	"github.com/fibd/fibd/fib"
	"github.com/fibd/fibd/fib/kernel"
	"github.com/fibd/fibd/nexthop"
)

const (
	childKind = "fibd"

	// protocol is fibd's default kernel protocol.
	protocol = kernel.DefaultProtocol

	// source names the benchmark's routes in the FIB.
	source = "bench"
)

// child is the fibd side of the child process.
type child struct {
	spec   bench.ChildSpec
	ns     *os.File
	kern   *kernel.Kernel
	fib    *fib.FIB
	routes []fib.Route
	cancel context.CancelFunc
	ran    chan error
}

func newChild(raw json.RawMessage) (bench.ChildHandler, error) {
	var spec bench.ChildSpec
	if err := json.Unmarshal(raw, &spec); err != nil {
		return nil, fmt.Errorf("decode fibd child spec: %w", err)
	}

	ns, err := os.Open(spec.NSPath)
	if err != nil {
		return nil, fmt.Errorf("open namespace %s: %w", spec.NSPath, err)
	}

	h := &child{spec: spec, ns: ns}
	h.routes = h.buildRoutes()

	return h, nil
}

// open starts the kernel dataplane and the FIB's loop.
func (h *child) open() error {
	kern, err := kernel.Open(kernel.Config{NetNS: int(h.ns.Fd()), Protocol: h.spec.Protocol})
	if err != nil {
		return fmt.Errorf("open kernel: %w", err)
	}

	f, err := fib.New(fib.Config{Dataplane: kern, Hold: []string{source}})
	if err != nil {
		kern.Close()
		return fmt.Errorf("create fib: %w", err)
	}

	h.kern, h.fib = kern, f

	return nil
}

func (h *child) run() {
	ctx, cancel := context.WithCancel(context.Background())
	h.cancel, h.ran = cancel, make(chan error, 1)
	go func() { h.ran <- h.fib.Run(ctx) }()
}

func (h *child) buildRoutes() []fib.Route {
	w := h.spec.Workload
	links := h.spec.Hops[:1]
	if w.ECMP {
		links = h.spec.Hops[:]
	}

	sets := make([]nexthop.Set, w.GroupCount())
	for g := range sets {
		w0, w1 := w.Weights(g)
		weights := []uint32{w0, w1}
		for i, l := range links {
			gw := l.Gateway(w.Family)
			sets[g].Members = append(sets[g].Members, nexthop.Member{
				Hop:    nexthop.Hop{Family: nexthop.FamilyOf(gw), Gateway: gw, Device: l.Device},
				Weight: weights[i],
			})
		}
	}

	routes := make([]fib.Route, w.Routes)
	for i := range routes {
		routes[i] = fib.Route{
			Prefix: bench.Prefix(w.Family, i), Table: fib.TableMain, Type: fib.TypeUnicast,
			NextHops: sets[w.Group(i)], Source: source, Distance: fib.DistanceGRPC,
		}
	}

	return routes
}

// Prepare opens the FIB for the first scenario and for a restart; the
// restart's own time is counted by the contender from before the kill.
func (h *child) Prepare(s bench.Scenario) error {
	if h.fib != nil {
		return nil
	}

	return h.open()
}

// Do performs a scenario and waits until the dataplane has applied it,
// profiled when profileEnv is set.
func (h *child) Do(s bench.Scenario) error {
	stop, err := startProfile(s)
	if err != nil {
		return err
	}

	err = h.do(s)
	if perr := stop(); err == nil {
		err = perr
	}

	return err
}

func (h *child) do(s bench.Scenario) error {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()

	gw := h.spec.Hops[0].Gateway(h.spec.Workload.Family)
	switch s {
	case bench.Install:
		h.run()
		if err := firstError(h.fib.Update(h.routes)); err != nil {
			return err
		}
	case bench.Restart:
		if err := h.adopt(ctx); err != nil {
			return err
		}

		h.run()
		if err := firstError(h.fib.Update(h.routes)); err != nil {
			return err
		}

		h.fib.Converged(source)
	case bench.Failover:
		h.fib.SetGatewayDown(gw, "bench", true)
	case bench.Recover:
		h.fib.SetGatewayDown(gw, "bench", false)
	case bench.Withdraw:
		h.fib.WithdrawSource(source)
	default:
		return fmt.Errorf("unknown scenario %q", s)
	}

	if err := h.fib.Sync(ctx); err != nil {
		return fmt.Errorf("sync fib after %s: %w", s, err)
	}

	if st := h.fib.Stats(); st.Failed > 0 {
		return fmt.Errorf("%d routes failed after %s: %v", st.Failed, s, st.LastErrors)
	}

	return nil
}

// adopt loads what the killed process left, as the daemon does at start.
func (h *child) adopt(ctx context.Context) error {
	snap, err := h.kern.Dump(ctx)
	if err != nil {
		return fmt.Errorf("dump kernel: %w", err)
	}

	h.fib.Reconcile(snap)

	return nil
}

func firstError(errs []error) error {
	n, first := 0, error(nil)
	for _, err := range errs {
		if err != nil {
			n++
			if first == nil {
				first = err
			}
		}
	}

	if n > 0 {
		return fmt.Errorf("%d routes rejected, first: %w", n, first)
	}

	return nil
}
