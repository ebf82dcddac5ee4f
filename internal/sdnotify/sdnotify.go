// Package sdnotify sends service state notifications to systemd (the
// sd_notify protocol): one datagram of "KEY=VALUE" lines per notification
// on the unix socket that $NOTIFY_SOCKET names. A name starting with "@"
// is an abstract socket. Without $NOTIFY_SOCKET, as when the daemon runs
// outside a Type=notify unit, every call does nothing and succeeds.
package sdnotify

import (
	"fmt"
	"net"
	"os"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// Notifier sends notifications to one socket. The zero value and a nil
// *Notifier do nothing. A Notifier is safe for concurrent use.
type Notifier struct {
	addr *net.UnixAddr
}

// New returns a notifier for $NOTIFY_SOCKET, or one that does nothing when
// the variable is unset or empty.
func New() *Notifier {
	return ForSocket(os.Getenv("NOTIFY_SOCKET"))
}

// ForSocket returns a notifier for the socket path; "" does nothing.
func ForSocket(path string) *Notifier {
	if path == "" {
		return &Notifier{}
	}

	name := path
	if strings.HasPrefix(name, "@") {
		name = "\x00" + name[1:]
	}

	return &Notifier{addr: &net.UnixAddr{Name: name, Net: "unixgram"}}
}

// Enabled reports whether notifications are sent anywhere.
func (n *Notifier) Enabled() bool {
	return n != nil && n.addr != nil
}

// Notify sends the lines as one notification, such as "READY=1".
func (n *Notifier) Notify(lines ...string) error {
	if !n.Enabled() {
		return nil
	}

	conn, err := net.DialUnix("unixgram", nil, n.addr)
	if err != nil {
		return fmt.Errorf("notify systemd at %s: %w", n.addr.Name, err)
	}
	defer conn.Close()

	if _, err := conn.Write([]byte(strings.Join(lines, "\n") + "\n")); err != nil {
		return fmt.Errorf("notify systemd at %s: %w", n.addr.Name, err)
	}

	return nil
}

// Ready sends READY=1, which reports that start-up is complete, with a
// status line.
func (n *Notifier) Ready(status string) error {
	return n.Notify("READY=1", "STATUS="+oneLine(status))
}

// Reloading sends RELOADING=1, which reports a configuration reload. The
// MONOTONIC_USEC line lets a Type=notify-reload unit match the reload; a
// plain Type=notify unit ignores it. Call Ready when the reload is done.
func (n *Notifier) Reloading() error {
	return n.Notify("RELOADING=1", fmt.Sprintf("MONOTONIC_USEC=%d", monotonicMicroseconds()))
}

// Stopping sends STOPPING=1, which reports that the service shuts down.
func (n *Notifier) Stopping() error {
	return n.Notify("STOPPING=1")
}

// Status sets the one-line status that `systemctl status` shows.
func (n *Notifier) Status(status string) error {
	return n.Notify("STATUS=" + oneLine(status))
}

// oneLine keeps a status to one line, because a newline would start a new
// KEY=VALUE assignment.
func oneLine(s string) string {
	return strings.ReplaceAll(s, "\n", " ")
}

func monotonicMicroseconds() int64 {
	var ts unix.Timespec
	if err := unix.ClockGettime(unix.CLOCK_MONOTONIC, &ts); err != nil {
		return time.Now().UnixMicro()
	}

	return ts.Sec*1_000_000 + ts.Nsec/1000
}
