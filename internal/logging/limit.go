package logging

import (
	"context"
	"log/slog"
	"strings"
	"sync"
	"time"
)

// Limiter is a slog.Handler that passes to the handler it wraps at most a
// set number of records with the same level, message and logger attributes
// per interval. When a suppressed message appears again after its interval, or at
// Flush, one line reports how many repeats were suppressed.
//
// Records that differ only in their own attributes (another prefix, another
// errno) count as repeats of one message: a flood of failures for many
// prefixes is one problem. Loggers derived with With or WithGroup share
// the limiter's state. A Limiter is safe for concurrent use.
type Limiter struct {
	inner  slog.Handler
	scope  string // attributes and groups of this derived handler
	shared *limitState
}

type limitState struct {
	mu       sync.Mutex
	repeats  int
	interval time.Duration
	now      func() time.Time
	windows  map[limitKey]*window
}

type limitKey struct {
	scope string
	level slog.Level
	msg   string
}

type window struct {
	start      time.Time
	count      int
	suppressed int
	handler    slog.Handler // the handler of the first record, for the summary
}

// maxWindows bounds the memory of the limiter; windows that have ended are
// dropped when it is reached.
const maxWindows = 4096

// NewLimiter wraps inner. Repeats of zero means 10 and an interval of zero
// means one minute.
func NewLimiter(inner slog.Handler, repeats int, interval time.Duration) *Limiter {
	if repeats <= 0 {
		repeats = 10
	}

	if interval <= 0 {
		interval = time.Minute
	}

	return &Limiter{
		inner: inner,
		shared: &limitState{
			repeats:  repeats,
			interval: interval,
			now:      time.Now,
			windows:  map[limitKey]*window{},
		},
	}
}

// Enabled reports whether the wrapped handler handles level.
func (l *Limiter) Enabled(ctx context.Context, level slog.Level) bool {
	return l.inner.Enabled(ctx, level)
}

// Handle passes r on unless its message has been repeated too often in the
// current interval.
func (l *Limiter) Handle(ctx context.Context, r slog.Record) error {
	key := limitKey{scope: l.scope, level: r.Level, msg: r.Message}

	pass, summary := l.shared.admit(key, l.inner)
	if summary != nil {
		if err := summary.handler.Handle(ctx, summaryRecord(key, summary.suppressed, r.Time)); err != nil {
			return err
		}
	}

	if !pass {
		return nil
	}

	return l.inner.Handle(ctx, r)
}

// WithAttrs returns a limiter for a logger with more attributes.
func (l *Limiter) WithAttrs(attrs []slog.Attr) slog.Handler {
	var b strings.Builder
	b.WriteString(l.scope)
	for _, a := range attrs {
		b.WriteString(a.String())
		b.WriteByte(' ')
	}

	return &Limiter{inner: l.inner.WithAttrs(attrs), scope: b.String(), shared: l.shared}
}

// WithGroup returns a limiter for a logger with a group.
func (l *Limiter) WithGroup(name string) slog.Handler {
	return &Limiter{inner: l.inner.WithGroup(name), scope: l.scope + name + ".", shared: l.shared}
}

// Flush writes a summary line for each message that has suppressed
// repeats, and clears all windows.
func (l *Limiter) Flush() {
	s := l.shared
	s.mu.Lock()
	windows := s.windows
	s.windows = map[limitKey]*window{}
	s.mu.Unlock()

	now := s.now()
	for key, w := range windows {
		if w.suppressed > 0 {
			_ = w.handler.Handle(context.Background(), summaryRecord(key, w.suppressed, now))
		}
	}
}

// admit counts a record and reports whether it passes. It returns the
// window that just ended when that window suppressed records, so that the
// caller writes the summary.
func (s *limitState) admit(key limitKey, handler slog.Handler) (bool, *window) {
	s.mu.Lock()
	defer s.mu.Unlock()

	now := s.now()
	w, ok := s.windows[key]

	var ended *window
	if ok && now.Sub(w.start) >= s.interval {
		if w.suppressed > 0 {
			ended = w
		}
		ok = false
	}

	if !ok {
		s.pruneLocked(now)
		w = &window{start: now, handler: handler}
		s.windows[key] = w
	}

	w.count++
	if w.count > s.repeats {
		w.suppressed++

		return false, ended
	}

	return true, ended
}

// pruneLocked drops windows that have ended and suppressed nothing, once
// the map is full. Windows with suppressed records are kept for Flush.
func (s *limitState) pruneLocked(now time.Time) {
	if len(s.windows) < maxWindows {
		return
	}

	for key, w := range s.windows {
		if now.Sub(w.start) >= s.interval && w.suppressed == 0 {
			delete(s.windows, key)
		}
	}
}

func summaryRecord(key limitKey, suppressed int, t time.Time) slog.Record {
	r := slog.NewRecord(t, key.level, "suppressed repeats of a message", 0)
	r.AddAttrs(slog.String("message", key.msg), slog.Int("repeats", suppressed))

	return r
}
