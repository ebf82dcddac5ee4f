// Package logging builds the daemon's log/slog logger: a text or JSON
// handler at a level that can change while the daemon runs, wrapped in a
// limiter that keeps a repeating message from flooding the log.
//
// Libraries in fibd do not log. They return errors and events, and the
// daemon logs them with the attribute keys declared here, so that every
// line about one prefix or one nexthop id can be found with one search.
package logging

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"syscall"
	"time"
)

// Attribute keys used by all of fibd's log lines.
const (
	KeyComponent = "component"  // the daemon part that logs: kernel, fib, monitor, api, metrics, bgp
	KeyPrefix    = "prefix"     // a route's prefix, such as 192.0.2.0/24
	KeyTable     = "table"      // a kernel routing table id
	KeyNexthopID = "nexthop_id" // a kernel nexthop object id
	KeySource    = "source"     // a route source: bgp or an API client name
	KeyPeer      = "peer"       // a BGP neighbor address
	KeyErrno     = "errno"      // the errno name of a failed kernel operation
	KeyError     = "error"      // the error text
)

// Options configure New.
type Options struct {
	// Level is debug, info, warn or error; "" means info.
	Level string

	// Format is text or json; "" means text.
	Format string

	// Repeats is the number of lines with the same level and message that
	// one logger writes per Interval before it suppresses the rest. Zero
	// means 10.
	Repeats int

	// Interval is the window of Repeats; zero means one minute.
	Interval time.Duration
}

// Logger is the daemon's logger with a level that can be changed while it
// runs.
type Logger struct {
	*slog.Logger

	level   *slog.LevelVar
	limiter *Limiter
}

// New returns a logger that writes to w.
func New(w io.Writer, opts Options) (*Logger, error) {
	level, err := ParseLevel(opts.Level)
	if err != nil {
		return nil, err
	}

	levelVar := new(slog.LevelVar)
	levelVar.Set(level)
	handlerOpts := &slog.HandlerOptions{Level: levelVar}

	var inner slog.Handler
	switch opts.Format {
	case "", "text":
		inner = slog.NewTextHandler(w, handlerOpts)
	case "json":
		inner = slog.NewJSONHandler(w, handlerOpts)
	default:
		return nil, fmt.Errorf("invalid log format %q: use text or json", opts.Format)
	}

	limiter := NewLimiter(inner, opts.Repeats, opts.Interval)

	return &Logger{Logger: slog.New(limiter), level: levelVar, limiter: limiter}, nil
}

// SetLevel changes the level of the logger and of every logger derived
// from it.
func (l *Logger) SetLevel(name string) error {
	level, err := ParseLevel(name)
	if err != nil {
		return err
	}

	l.level.Set(level)

	return nil
}

// Flush writes the summary lines of messages that were suppressed and not
// yet reported. The daemon calls it before it exits.
func (l *Logger) Flush() {
	l.limiter.Flush()
}

// ParseLevel parses debug, info, warn or error; "" means info.
func ParseLevel(name string) (slog.Level, error) {
	switch strings.ToLower(name) {
	case "debug":
		return slog.LevelDebug, nil
	case "", "info":
		return slog.LevelInfo, nil
	case "warn":
		return slog.LevelWarn, nil
	case "error":
		return slog.LevelError, nil
	}

	return 0, fmt.Errorf("invalid log level %q: use debug, info, warn or error", name)
}

// Err returns the error attribute, plus the errno attribute when err wraps
// a syscall.Errno, so that kernel failures can be counted by errno.
func Err(err error) slog.Attr {
	if err == nil {
		return slog.String(KeyError, "")
	}

	var errno syscall.Errno
	if errors.As(err, &errno) {
		return slog.Group("", slog.String(KeyError, err.Error()), slog.String(KeyErrno, ErrnoName(errno)))
	}

	return slog.String(KeyError, err.Error())
}

// ErrnoName returns the symbolic name of an errno, such as "EEXIST", or
// "errno N" for one without a name here.
func ErrnoName(errno syscall.Errno) string {
	if name, ok := errnoNames[errno]; ok {
		return name
	}

	return fmt.Sprintf("errno %d", int(errno))
}

// errnoNames lists the errnos that netlink route and nexthop requests
// return in practice.
var errnoNames = map[syscall.Errno]string{
	syscall.EPERM:        "EPERM",
	syscall.ENOENT:       "ENOENT",
	syscall.ESRCH:        "ESRCH",
	syscall.EINTR:        "EINTR",
	syscall.EIO:          "EIO",
	syscall.ENOBUFS:      "ENOBUFS",
	syscall.EAGAIN:       "EAGAIN",
	syscall.ENOMEM:       "ENOMEM",
	syscall.EACCES:       "EACCES",
	syscall.EBUSY:        "EBUSY",
	syscall.EEXIST:       "EEXIST",
	syscall.ENODEV:       "ENODEV",
	syscall.EINVAL:       "EINVAL",
	syscall.ENOSPC:       "ENOSPC",
	syscall.ERANGE:       "ERANGE",
	syscall.EOPNOTSUPP:   "EOPNOTSUPP",
	syscall.EAFNOSUPPORT: "EAFNOSUPPORT",
	syscall.ENETDOWN:     "ENETDOWN",
	syscall.ENETUNREACH:  "ENETUNREACH",
	syscall.EHOSTUNREACH: "EHOSTUNREACH",
	syscall.EMSGSIZE:     "EMSGSIZE",
}
