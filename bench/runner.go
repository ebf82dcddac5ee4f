package bench

import (
	"context"
	"fmt"
	"io"
	"net/netip"
	"os/exec"
	"strings"
	"time"
)

// Options configure a benchmark invocation.
type Options struct {
	Contenders []Contender
	Workloads  []Workload
	Runs       int

	// CompatModes lists values of net.ipv4.nexthop_compat_mode. The first
	// is set in every namespace; failover is measured once in each.
	CompatModes []int

	// Timeout bounds each scenario; zero means 10 minutes.
	Timeout time.Duration

	// Log receives one progress line per measurement; nil discards them.
	Log io.Writer
}

// quietPeriod is how long the kernel must see no write after a restart
// before the restart counts as finished.
const quietPeriod = time.Second

// settlePeriod is how long the kernel must be quiet after a step before
// its counters are read and the next step starts.
const settlePeriod = 200 * time.Millisecond

// Run runs every contender on every workload, Runs times, interleaving the
// contenders within each run so that drifts of the machine spread evenly.
// It fills res.Measurements; a failed scenario is recorded in its sample and
// ends that contender's run. Run returns early only when ctx is cancelled.
func Run(ctx context.Context, opts Options, res *Results) error {
	if opts.Timeout == 0 {
		opts.Timeout = 10 * time.Minute
	}

	if opts.Log == nil {
		opts.Log = io.Discard
	}

	if len(opts.CompatModes) == 0 {
		opts.CompatModes = []int{0}
	}

	res.Runs, res.Compat = opts.Runs, opts.CompatModes
	defer func() { res.Machine.LoadEnd = LoadAverage() }()
	for _, w := range opts.Workloads {
		for run := 1; run <= opts.Runs; run++ {
			for _, c := range opts.Contenders {
				if err := ctx.Err(); err != nil {
					return err
				}

				fmt.Fprintf(opts.Log, "run %d/%d: %s on %s\n", run, opts.Runs, c.Name(), w)
				runOnce(ctx, opts, res, c, w)
			}
		}
	}

	return ctx.Err()
}

// step is one scenario of a run and the label it is reported under.
type step struct {
	scenario Scenario
	label    string
	compat   int // the compat mode to set before the step, -1 to keep it
}

func steps(w Workload, modes []int) []step {
	s := []step{{Install, "install", -1}, {Restart, "restart", -1}}
	if w.ECMP {
		for i, mode := range modes {
			if i > 0 {
				s = append(s, step{Recover, "", -1})
			}

			s = append(s, step{Failover, fmt.Sprintf("failover-compat%d", mode), mode})
		}
	}

	return append(s, step{Withdraw, "withdraw", -1})
}

func runOnce(ctx context.Context, opts Options, res *Results, c Contender, w Workload) {
	all := steps(w, opts.CompatModes)
	record := func(label string, s Sample) {
		if label != "" {
			m := res.measurement(c.Name(), label, w)
			m.Samples = append(m.Samples, s)
			fmt.Fprintf(opts.Log, "  %-17s %s\n", label, s)
		}
	}

	// Scenarios the contender cannot run are recorded as skipped.
	for _, st := range all {
		if reason := c.Supports(w, st.scenario); reason != "" && st.label != "" {
			res.measurement(c.Name(), st.label, w).Skipped = reason
		}
	}

	if reason := c.Supports(w, Install); reason != "" {
		return
	}

	env, mon, err := prepare(ctx, opts, c, w)
	if err != nil {
		record("install", Sample{Err: err.Error()})
		return
	}

	defer func() {
		if err := c.Stop(); err != nil {
			fmt.Fprintf(opts.Log, "  stop %s: %v\n", c.Name(), err)
		}

		mon.Close()
		if err := env.Close(); err != nil {
			fmt.Fprintf(opts.Log, "  remove namespaces: %v\n", err)
		}
	}()

	for _, st := range all {
		if c.Supports(w, st.scenario) != "" {
			continue
		}

		s := measure(ctx, opts, env, mon, c, w, st)
		record(st.label, s)
		if s.Err != "" {
			return
		}
	}
}

func prepare(ctx context.Context, opts Options, c Contender, w Workload) (*Env, *Monitor, error) {
	env, err := NewEnv(opts.CompatModes[0])
	if err != nil {
		return nil, nil, err
	}

	mon, err := NewMonitor(env.Path(), w.Family, c.Protocol(), [2]netip.Addr{env.Links[0].Gateway(w.Family), env.Links[1].Gateway(w.Family)})
	if err != nil {
		env.Close()
		return nil, nil, err
	}

	startCtx, cancel := context.WithTimeout(ctx, opts.Timeout)
	defer cancel()

	if err := c.Start(startCtx, env, w); err != nil {
		c.Stop()
		mon.Close()
		env.Close()
		return nil, nil, fmt.Errorf("start %s: %w", c.Name(), err)
	}

	return env, mon, nil
}

func measure(ctx context.Context, opts Options, env *Env, mon *Monitor, c Contender, w Workload, st step) Sample {
	ctx, cancel := context.WithTimeout(ctx, opts.Timeout)
	defer cancel()

	if st.compat >= 0 {
		if err := setCompatMode(env.Router, st.compat); err != nil {
			return Sample{Err: err.Error()}
		}
	}

	if err := waitIdle(ctx, opts.Log); err != nil {
		return Sample{Err: err.Error()}
	}

	u0, m0 := c.Usage(), mon.State()
	begin := time.Now()
	var t0 time.Time
	err := c.Run(ctx, st.scenario, func() { t0 = time.Now() })
	returned := time.Now()
	if t0.IsZero() {
		t0 = begin
	}

	if err != nil {
		return Sample{Err: fmt.Sprintf("%s: %v", st.scenario, err)}
	}

	observed, err := waitKernel(ctx, mon, st.scenario, w)
	if err != nil {
		if d, ok := c.(Diagnoser); ok {
			err = fmt.Errorf("%w; %s", err, d.Diagnose())
		}

		return Sample{Err: fmt.Sprintf("%s: %v", st.scenario, err)}
	}

	if st.scenario == Restart && returned.After(observed) {
		observed = returned
	}

	// Notifications that trail the final state (the route notifications
	// of nexthop_compat_mode=1, say) belong to this step, not the next.
	if _, err := mon.WaitQuiet(ctx, settlePeriod); err != nil {
		return Sample{Err: fmt.Sprintf("%s: %v", st.scenario, err)}
	}

	u1, m1 := c.Usage(), mon.State()
	s := Sample{
		ReturnedSeconds: returned.Sub(t0).Seconds(),
		ObservedSeconds: observed.Sub(t0).Seconds(),
		CPUSeconds:      u1.Sub(u0).CPU.Seconds(),
		PeakRSSKB:       u1.PeakRSSKB,
		Writes:          m1.Writes - m0.Writes,
		Overruns:        m1.Overruns - m0.Overruns,
	}

	s.Seconds = s.ObservedSeconds
	if sc, ok := c.(Synchronous); ok && sc.Synchronous() {
		s.Seconds = s.ReturnedSeconds
	}

	if err := verify(env, w, c, st.scenario); err != nil {
		s.Err = err.Error()
	}

	return s
}

// waitKernel waits for the state a scenario ends in and returns the time
// the monitor saw it. After install, restart and recover every route
// forwards over hop0 (and hop1 with ECMP), after failover over hop1 alone,
// and after withdraw no route is left. A restart ends at the last write
// before a quiet period.
func waitKernel(ctx context.Context, mon *Monitor, s Scenario, w Workload) (time.Time, error) {
	full := uint8(1)
	if w.ECMP {
		full = 3
	}

	switch s {
	case Install, Recover:
		return mon.WaitRoutes(ctx, w.Routes, full)
	case Failover:
		return mon.WaitRoutes(ctx, w.Routes, 2)
	case Withdraw:
		return mon.WaitRoutes(ctx, 0, 0)
	case Restart:
		if _, err := mon.WaitRoutes(ctx, w.Routes, full); err != nil {
			return time.Time{}, err
		}

		return mon.WaitQuiet(ctx, quietPeriod)
	}

	return time.Time{}, fmt.Errorf("unknown scenario %q", s)
}

// verify checks the final route count with a dump.
func verify(env *Env, w Workload, c Contender, s Scenario) error {
	want := w.Routes
	if s == Withdraw {
		want = 0
	}

	got, err := CountRoutes(env.Path(), w.Family, c.Protocol())
	if err != nil {
		return err
	}

	if got != want {
		return fmt.Errorf("%s: dump found %d routes of protocol %d, want %d", s, got, c.Protocol(), want)
	}

	return nil
}

func setCompatMode(ns string, mode int) error {
	out, err := exec.Command("ip", "netns", "exec", ns, "sysctl", "-qw", fmt.Sprintf("net.ipv4.nexthop_compat_mode=%d", mode)).CombinedOutput()
	if err != nil {
		return fmt.Errorf("set nexthop_compat_mode=%d in %s: %w: %s", mode, ns, err, strings.TrimSpace(string(out)))
	}

	return nil
}

// String prints a sample for the progress log.
func (s Sample) String() string {
	if s.Err != "" {
		return "error: " + s.Err
	}

	return fmt.Sprintf("%.3fs (returned %.3fs, observed %.3fs) cpu %.2fs rss %d MiB writes %d overruns %d",
		s.Seconds, s.ReturnedSeconds, s.ObservedSeconds, s.CPUSeconds, s.PeakRSSKB/1024, s.Writes, s.Overruns)
}
