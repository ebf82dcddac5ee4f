package logging

import (
	"bytes"
	"encoding/json"
	"fmt"
	"log/slog"
	"strings"
	"syscall"
	"testing"
	"time"
)

// fakeClock is a settable time source for the limiter.
type fakeClock struct{ t time.Time }

func (c *fakeClock) now() time.Time { return c.t }

func newLimited(t *testing.T, repeats int, interval time.Duration) (*slog.Logger, *Limiter, *bytes.Buffer, *fakeClock) {
	t.Helper()

	var buf bytes.Buffer
	inner := slog.NewTextHandler(&buf, &slog.HandlerOptions{
		ReplaceAttr: func(groups []string, a slog.Attr) slog.Attr {
			if a.Key == slog.TimeKey && len(groups) == 0 {
				return slog.Attr{}
			}
			return a
		},
	})

	clock := &fakeClock{t: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
	limiter := NewLimiter(inner, repeats, interval)
	limiter.shared.now = clock.now

	return slog.New(limiter), limiter, &buf, clock
}

func lines(buf *bytes.Buffer) []string {
	text := strings.TrimSpace(buf.String())
	if text == "" {
		return nil
	}

	return strings.Split(text, "\n")
}

func TestLimiterSuppresses(t *testing.T) {
	log, _, buf, clock := newLimited(t, 3, time.Minute)

	for i := range 10 {
		log.Warn("route failed", KeyPrefix, fmt.Sprintf("192.0.2.%d/32", i))
	}

	if got := lines(buf); len(got) != 3 {
		t.Fatalf("wrote %d lines in the first interval, want 3:\n%s", len(got), buf)
	}

	buf.Reset()
	clock.t = clock.t.Add(time.Minute)
	log.Warn("route failed", KeyPrefix, "192.0.2.99/32")

	got := lines(buf)
	if len(got) != 2 {
		t.Fatalf("wrote %d lines after the interval, want summary and record:\n%s", len(got), buf)
	}

	want := `level=WARN msg="suppressed repeats of a message" message="route failed" repeats=7`
	if got[0] != want {
		t.Errorf("summary = %s, want %s", got[0], want)
	}

	if !strings.Contains(got[1], "prefix=192.0.2.99/32") {
		t.Errorf("record after the summary = %s", got[1])
	}
}

func TestLimiterKeys(t *testing.T) {
	log, _, buf, _ := newLimited(t, 1, time.Minute)

	log.Warn("a")
	log.Warn("a")
	log.Warn("b")
	log.Error("a")
	log.With(KeyComponent, "kernel").Warn("a")
	log.WithGroup("bgp").Warn("a")

	if got := lines(buf); len(got) != 5 {
		t.Errorf("wrote %d lines, want 5 (one per message, level and logger):\n%s", len(got), buf)
	}
}

func TestLimiterSharedState(t *testing.T) {
	log, _, buf, _ := newLimited(t, 2, time.Minute)
	kernel := log.With(KeyComponent, "kernel")

	for range 3 {
		kernel.Info("dump done")
		log.With(KeyComponent, "kernel").Info("dump done")
	}

	if got := lines(buf); len(got) != 2 {
		t.Errorf("wrote %d lines, want 2: loggers with the same attributes share a window:\n%s", len(got), buf)
	}
}

func TestLimiterFlush(t *testing.T) {
	log, limiter, buf, _ := newLimited(t, 1, time.Hour)

	log.Info("x")
	log.Info("x")
	log.Info("x")
	limiter.Flush()

	got := lines(buf)
	if len(got) != 2 || !strings.Contains(got[1], "repeats=2") {
		t.Errorf("after Flush wrote:\n%s\nwant the record and a summary of 2 repeats", buf)
	}

	buf.Reset()
	limiter.Flush()
	if buf.Len() != 0 {
		t.Errorf("second Flush wrote %q, want nothing", buf)
	}
}

func TestLimiterNoSummary(t *testing.T) {
	log, limiter, buf, clock := newLimited(t, 5, time.Minute)

	log.Info("x")
	clock.t = clock.t.Add(2 * time.Minute)
	log.Info("x")
	limiter.Flush()

	if got := lines(buf); len(got) != 2 {
		t.Errorf("wrote %d lines, want 2 without summaries:\n%s", len(got), buf)
	}
}

func TestNewJSON(t *testing.T) {
	var buf bytes.Buffer
	log, err := New(&buf, Options{Level: "warn", Format: "json"})
	if err != nil {
		t.Fatal(err)
	}

	log.Info("hidden")
	log.Warn("shown", KeyTable, 254, Err(fmt.Errorf("add route: %w", syscall.EEXIST)))

	var rec map[string]any
	if err := json.Unmarshal(buf.Bytes(), &rec); err != nil {
		t.Fatalf("decode %q: %v", buf.String(), err)
	}

	if rec["msg"] != "shown" || rec[KeyErrno] != "EEXIST" || rec[KeyError] != "add route: file exists" || rec[KeyTable] != 254.0 {
		t.Errorf("record = %v", rec)
	}

	if err := log.SetLevel("info"); err != nil {
		t.Fatal(err)
	}

	buf.Reset()
	log.Info("now shown")
	if !strings.Contains(buf.String(), "now shown") {
		t.Errorf("SetLevel(info) did not enable info: %q", buf.String())
	}
}

func TestNewErrors(t *testing.T) {
	if _, err := New(&bytes.Buffer{}, Options{Level: "loud"}); err == nil || !strings.Contains(err.Error(), `"loud"`) {
		t.Errorf("New with level loud = %v", err)
	}

	if _, err := New(&bytes.Buffer{}, Options{Format: "xml"}); err == nil || !strings.Contains(err.Error(), `"xml"`) {
		t.Errorf("New with format xml = %v", err)
	}
}

func TestErrnoName(t *testing.T) {
	if got := ErrnoName(syscall.ENOBUFS); got != "ENOBUFS" {
		t.Errorf("ErrnoName(ENOBUFS) = %s", got)
	}

	if got := ErrnoName(syscall.Errno(200)); got != "errno 200" {
		t.Errorf("ErrnoName(200) = %s", got)
	}
}
