package main

import (
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/fibd/fibd/fib/kernel"
	"github.com/fibd/fibd/fib/kernel/monitor"
	"github.com/fibd/fibd/gobgp"
	"github.com/fibd/fibd/internal/config"
	"github.com/fibd/fibd/internal/logging"
	"github.com/fibd/fibd/internal/metrics"
)

// metricSources connects the metrics collector to the components.
func (d *daemon) metricSources() metrics.Sources {
	src := metrics.Sources{
		Version: buildVersion(),
		FIB:     d.fib.Stats,
		Kernel:  func() metrics.KernelStats { return kernelStats(d.kernel.Stats()) },
		Sync:    func() metrics.SyncStatus { return syncStatus(d.syncStatus()) },
	}

	if d.cfg.BGPEnabled() {
		src.BGP = func() metrics.BGPStatus {
			if d.bgp == nil {
				return metrics.BGPStatus{}
			}

			return bgpStatus(d.bgp.Status())
		}
	}

	return src
}

// kernelStats converts the kernel's counters for the collector.
func kernelStats(s kernel.Stats) metrics.KernelStats {
	out := metrics.KernelStats{
		Operations:   s.Ops,
		Errors:       make(map[string]uint64, len(s.Errors)),
		Batches:      s.Batches,
		SocketErrors: s.SocketErrors,
	}

	for errno, n := range s.Errors {
		out.Errors[logging.ErrnoName(errno)] += n
	}

	return out
}

func syncStatus(s monitor.Status) metrics.SyncStatus {
	return metrics.SyncStatus{
		State:     s.State,
		Events:    s.Events,
		Overruns:  s.Overruns,
		Resyncs:   s.Resyncs,
		Repairs:   s.Repairs,
		Conflicts: s.Conflicts,
	}
}

func bgpStatus(s gobgp.Status) metrics.BGPStatus {
	out := metrics.BGPStatus{Converged: s.Converged}
	for _, p := range s.Peers {
		out.Peers = append(out.Peers, metrics.Peer{
			Address:  p.Address.String(),
			State:    strings.ToLower(p.State),
			Received: p.Received,
		})
	}

	return out
}

// statusExtra returns the takeover and BGP lines of `fibd status`.
func (d *daemon) statusExtra() map[string]string {
	extra := d.bgpStatusLines()

	d.mu.Lock()
	takeover := d.cfg.FIB.TakeoverConflicts
	d.mu.Unlock()

	if takeover {
		extra["route takeovers"] = fmt.Sprint(d.fib.Stats().Takeovers)
	}

	return extra
}

// bgpStatusLines returns the BGP lines of `fibd status`.
func (d *daemon) bgpStatusLines() map[string]string {
	if d.bgp == nil {
		return map[string]string{"bgp": "off"}
	}

	// The lines need no path counters, so GoBGP is not asked for them.
	st := d.bgp.Snapshot()
	established := 0
	for _, p := range st.Peers {
		if strings.EqualFold(p.State, "established") {
			established++
		}
	}

	lines := map[string]string{
		"bgp":             st.Mode,
		"bgp connected":   fmt.Sprint(st.Connected),
		"bgp peers":       fmt.Sprintf("%d established of %d", established, len(st.Peers)),
		"bgp routes":      bgpRoutesLine(st),
		"bgp converged":   fmt.Sprint(st.Converged),
		"bgp updates":     fmt.Sprint(st.Updates + st.Withdrawals),
		"bgp last update": formatTime(st.LastChange),
	}

	// One line per neighbor: its state and the routes that use it, which
	// the lab reads to time the per-prefix updates after a session loss.
	for _, p := range st.Peers {
		lines["bgp peer "+p.Address.String()] = fmt.Sprintf("%s, %d routes, changed %s",
			strings.ToLower(p.State), p.Routes, formatTime(p.RoutesChanged))
	}

	return lines
}

// formatTime formats a status time with nanoseconds in UTC; "never" for
// the zero time.
func formatTime(t time.Time) string {
	if t.IsZero() {
		return "never"
	}

	return t.UTC().Format(time.RFC3339Nano)
}

func fileMode(m config.FileMode) os.FileMode {
	return os.FileMode(m)
}

// bgpRoutesLine returns the count of BGP's routes, and notes when they
// wait for BGP's convergence after a restart.
func bgpRoutesLine(st gobgp.Status) string {
	if st.Deferring {
		return fmt.Sprintf("%d, deferred until bgp converges (the kernel keeps the previous run's routes)", st.Routes)
	}

	return fmt.Sprint(st.Routes)
}
