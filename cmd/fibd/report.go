package main

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/fibd/fibd/fib"
	"github.com/fibd/fibd/fib/kernel/monitor"
	"github.com/fibd/fibd/internal/logging"
)

// reportInterval is how often the daemon logs new programming errors and
// resyncs and updates its systemd status line.
const reportInterval = 10 * time.Second

// reporter logs what the silent libraries count: failed kernel operations
// of the FIB and the monitor's resyncs and errors. It remembers the last
// counters so that each line reports only what is new.
type reporter struct {
	fib     fib.Stats
	monitor monitor.Status
}

// report runs until ctx is cancelled.
func (d *daemon) report(ctx context.Context) error {
	ticker := time.NewTicker(reportInterval)
	defer ticker.Stop()

	var r reporter
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-ticker.C:
			r.step(d)
		}
	}
}

func (r *reporter) step(d *daemon) {
	status := r.observe(d.log, d.fib.Stats(), d.syncStatus())
	if err := d.notifier.Status(status); err != nil {
		d.log.Warn("notify systemd of status failed", logging.Err(err))
	}
}

// observe logs what changed since the last call and returns the status
// line for systemd.
func (r *reporter) observe(log *slog.Logger, st fib.Stats, ms monitor.Status) string {
	if n := st.OpErrors - r.fib.OpErrors; n > 0 {
		log.Warn("kernel operations failed",
			"new_errors", n, "failed_routes", st.Failed, "unresolved_routes", st.Unresolved,
			"conflicts", st.Conflicts, "last_errors", lastN(st.LastErrors, 3))
	}

	if n := ms.Overruns - r.monitor.Overruns; n > 0 {
		log.Warn("kernel notifications lost, resync scheduled; raise kernel.read-buffer if this repeats", "overruns", n, "overruns_total", ms.Overruns)
	}

	if ms.Resyncs > r.monitor.Resyncs {
		log.Info("kernel resynced", "resyncs", ms.Resyncs-r.monitor.Resyncs, "reason", ms.LastResyncReason, "duration", ms.LastResync.String())
	}

	if ms.LastError != "" && ms.LastError != r.monitor.LastError {
		log.Warn("kernel sync failed", logging.KeyError, ms.LastError)
	}

	if !st.Sweep.At.IsZero() && r.fib.Sweep.At.IsZero() {
		logSweep(log, st.Sweep)
	}

	r.fib, r.monitor = st, ms

	return fmt.Sprintf("%d routes installed, %d failed, %d unresolved, kernel %s", st.Installed, st.Failed, st.Unresolved, ms.State)
}

// logSweep logs the end of the hold on the routes adopted at start.
func logSweep(log *slog.Logger, sw fib.Sweep) {
	if sw.TimedOut {
		log.Warn("hold timed out before every held source converged, deleting the adopted routes no source offered again",
			"routes", sw.Routes, "at", sw.At.Format(time.RFC3339))

		return
	}

	log.Info("held sources converged, deleting the adopted routes no source offered again",
		"routes", sw.Routes, "at", sw.At.Format(time.RFC3339))
}

// lastN returns the last n entries of list.
func lastN(list []string, n int) []string {
	return list[max(0, len(list)-n):]
}
