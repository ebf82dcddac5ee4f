package gobgp

// This file forwards the embedded speaker's log to slog.

import (
	"context"
	"fmt"
	"log/slog"
	"net/netip"
	"sync"

	gobgplog "github.com/osrg/gobgp/v3/pkg/log"
)

// gobgpLogger is a GoBGP log.Logger that writes to slog. GoBGP calls Fatal
// for errors it cannot handle, such as a peer that cannot be added or an
// API address that cannot be listened on. The logger records them instead
// of exiting the process, and the source stops with the first one.
type gobgpLogger struct {
	log *slog.Logger

	// onPeerDown, when set, is called with the neighbor address of each
	// session that leaves the established state, from GoBGP's "Peer Down"
	// line.
	onPeerDown func(addr netip.Addr)

	mu    sync.Mutex
	level gobgplog.LogLevel
	fatal chan error
}

var _ gobgplog.Logger = (*gobgpLogger)(nil)

func newGobgpLogger(l *slog.Logger) *gobgpLogger {
	return &gobgpLogger{
		log:   l.With("component", "gobgp"),
		level: gobgplog.InfoLevel,
		fatal: make(chan error, 1),
	}
}

// Panic logs msg as an error; the speaker goes on.
func (l *gobgpLogger) Panic(msg string, fields gobgplog.Fields) {
	l.write(gobgplog.PanicLevel, slog.LevelError, msg, fields)
}

// Fatal logs msg as an error and records it as the speaker's failure.
func (l *gobgpLogger) Fatal(msg string, fields gobgplog.Fields) {
	l.write(gobgplog.FatalLevel, slog.LevelError, msg, fields)

	err := fmt.Errorf("gobgp: %s", msg)
	if e, ok := fields["Error"]; ok {
		err = fmt.Errorf("gobgp: %s: %v", msg, e)
	} else if e, ok := fields["Err"]; ok {
		err = fmt.Errorf("gobgp: %s: %v", msg, e)
	}

	select {
	case l.fatal <- err:
	default:
	}
}

// Error logs msg at level error.
func (l *gobgpLogger) Error(msg string, fields gobgplog.Fields) {
	l.write(gobgplog.ErrorLevel, slog.LevelError, msg, fields)
}

// Warn logs msg at level warn.
func (l *gobgpLogger) Warn(msg string, fields gobgplog.Fields) {
	l.write(gobgplog.WarnLevel, slog.LevelWarn, msg, fields)
}

// Info logs msg at level info.
func (l *gobgpLogger) Info(msg string, fields gobgplog.Fields) {
	if msg == peerDownMessage && l.onPeerDown != nil {
		l.peerDown(fields)
	}

	l.write(gobgplog.InfoLevel, slog.LevelInfo, msg, fields)
}

// peerDownMessage is the line GoBGP v3.37.0 logs from a session's FSM
// goroutine when the session leaves the established state (fsm.go), with
// the neighbor address as field "Key". It comes before GoBGP's main loop
// removes the session's paths and then reports the new state, which takes
// seconds for a full table, so the line is the earliest sign of the loss.
const peerDownMessage = "Peer Down"

func (l *gobgpLogger) peerDown(fields gobgplog.Fields) {
	key, ok := fields["Key"].(string)
	if !ok {
		return
	}

	addr, err := netip.ParseAddr(key)
	if err != nil {
		return
	}

	l.onPeerDown(addr.Unmap().WithZone(""))
}

// Debug logs msg at level debug.
func (l *gobgpLogger) Debug(msg string, fields gobgplog.Fields) {
	l.write(gobgplog.DebugLevel, slog.LevelDebug, msg, fields)
}

// SetLevel sets the most verbose GoBGP level that is forwarded.
func (l *gobgpLogger) SetLevel(level gobgplog.LogLevel) {
	l.mu.Lock()
	defer l.mu.Unlock()

	l.level = level
}

// GetLevel returns the most verbose GoBGP level that is forwarded.
func (l *gobgpLogger) GetLevel() gobgplog.LogLevel {
	l.mu.Lock()
	defer l.mu.Unlock()

	return l.level
}

func (l *gobgpLogger) write(level gobgplog.LogLevel, to slog.Level, msg string, fields gobgplog.Fields) {
	if level > l.GetLevel() || !l.log.Enabled(context.Background(), to) {
		return
	}

	attrs := make([]slog.Attr, 0, len(fields))
	for k, v := range fields {
		attrs = append(attrs, slog.Any(k, v))
	}

	l.log.LogAttrs(context.Background(), to, msg, attrs...)
}
