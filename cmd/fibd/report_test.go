package main

import (
	"bytes"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/fibd/fibd/fib"
	"github.com/fibd/fibd/fib/kernel/monitor"
)

func TestReporterObserve(t *testing.T) {
	var buf bytes.Buffer
	log := slog.New(slog.NewTextHandler(&buf, nil))
	var r reporter

	status := r.observe(log, fib.Stats{Installed: 5}, monitor.Status{State: "in-sync"})
	if buf.Len() != 0 {
		t.Errorf("first quiet step logged:\n%s", buf.String())
	}

	if status != "5 routes installed, 0 failed, 0 unresolved, kernel in-sync" {
		t.Errorf("status = %q", status)
	}

	st := fib.Stats{Installed: 4, Failed: 1, OpErrors: 2, LastErrors: []string{"a", "b", "c", "add route 198.51.100.0/24 table 254: file exists"}}
	st.Sweep = fib.Sweep{At: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC), Routes: 152627, TimedOut: true}
	ms := monitor.Status{State: "in-sync", Overruns: 2, Resyncs: 1, LastResyncReason: "overrun", LastResync: time.Second, LastError: "dump: interrupted"}
	r.observe(log, st, ms)

	out := buf.String()
	for _, want := range []string{
		`msg="kernel operations failed" new_errors=2 failed_routes=1`,
		`last_errors="[b c add route 198.51.100.0/24 table 254: file exists]"`,
		`msg="kernel resynced" resyncs=1 reason=overrun duration=1s`,
		`msg="kernel sync failed" error="dump: interrupted"`,
		`raise kernel.read-buffer if this repeats" overruns=2 overruns_total=2`,
		`msg="hold timed out before every held source converged, deleting the adopted routes no source offered again" routes=152627 at=2026-01-02T03:04:05Z`,
	} {
		if !strings.Contains(out, want) {
			t.Errorf("log lacks %s:\n%s", want, out)
		}
	}

	buf.Reset()
	r.observe(log, st, ms)
	if buf.Len() != 0 {
		t.Errorf("a step without news logged:\n%s", buf.String())
	}
}
