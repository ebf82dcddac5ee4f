package sdnotify

import (
	"net"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func listen(t *testing.T, name string) *net.UnixConn {
	t.Helper()

	conn, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: name, Net: "unixgram"})
	if err != nil {
		t.Fatalf("listen on %q: %v", name, err)
	}
	t.Cleanup(func() { conn.Close() })

	return conn
}

func receive(t *testing.T, conn *net.UnixConn) string {
	t.Helper()

	if err := conn.SetReadDeadline(time.Now().Add(2 * time.Second)); err != nil {
		t.Fatal(err)
	}

	buf := make([]byte, 4096)
	n, err := conn.Read(buf)
	if err != nil {
		t.Fatalf("read notification: %v", err)
	}

	return string(buf[:n])
}

func TestNotifyPath(t *testing.T) {
	path := filepath.Join(t.TempDir(), "notify.sock")
	conn := listen(t, path)
	t.Setenv("NOTIFY_SOCKET", path)

	n := New()
	if !n.Enabled() {
		t.Fatal("notifier disabled with NOTIFY_SOCKET set")
	}

	steps := []struct {
		send func() error
		want string
	}{
		{func() error { return n.Ready("adopted 3 routes\nlistening") }, "READY=1\nSTATUS=adopted 3 routes listening\n"},
		{n.Stopping, "STOPPING=1\n"},
		{func() error { return n.Status("in sync") }, "STATUS=in sync\n"},
	}
	for _, s := range steps {
		if err := s.send(); err != nil {
			t.Fatal(err)
		}

		if got := receive(t, conn); got != s.want {
			t.Errorf("received %q, want %q", got, s.want)
		}
	}

	if err := n.Reloading(); err != nil {
		t.Fatal(err)
	}

	got := receive(t, conn)
	if !strings.HasPrefix(got, "RELOADING=1\nMONOTONIC_USEC=") {
		t.Errorf("reloading sent %q", got)
	}
}

func TestNotifyAbstract(t *testing.T) {
	name := "fibd-sdnotify-test-" + filepath.Base(t.TempDir())
	conn := listen(t, "@"+name)

	if err := ForSocket("@" + name).Notify("READY=1"); err != nil {
		t.Fatal(err)
	}

	if got := receive(t, conn); got != "READY=1\n" {
		t.Errorf("received %q", got)
	}
}

func TestNotifyDisabled(t *testing.T) {
	t.Setenv("NOTIFY_SOCKET", "")

	n := New()
	if n.Enabled() {
		t.Error("notifier enabled without NOTIFY_SOCKET")
	}

	if err := n.Ready("x"); err != nil {
		t.Errorf("Ready without a socket = %v, want nil", err)
	}

	var nilNotifier *Notifier
	if err := nilNotifier.Stopping(); err != nil {
		t.Errorf("Stopping on nil = %v, want nil", err)
	}
}

func TestNotifyMissingSocket(t *testing.T) {
	path := filepath.Join(t.TempDir(), "absent.sock")

	err := ForSocket(path).Notify("READY=1")
	if err == nil || !strings.Contains(err.Error(), path) {
		t.Errorf("Notify to a missing socket = %v, want an error naming it", err)
	}
}
