package lab

import (
	"context"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/fibd/fibd/gobgp/gobgptest"
	"github.com/fibd/fibd/internal/netnstest"
)

// TestLabOnce runs the lab once on 50k prefixes of the real table and
// checks what it promises: every prefix over an ECMP group, no route on the
// failed upstream afterwards, and nothing left behind.
func TestLabOnce(t *testing.T) {
	netnstest.Privileged(t)

	if _, err := os.Stat("/usr/share/libloc-location/location.db"); err != nil {
		t.Fatalf("the real table is missing (%v): run sudo ./scripts/setup", err)
	}

	dir := t.TempDir()
	gobgpd, _ := gobgptest.Binaries(t)

	// fibd writes its protocol name into the test's directory, not into
	// the host's /etc/iproute2.
	namesDir := filepath.Join(dir, "rt_protos.d")
	opts := Options{Name: "fibdlabt" + strconv.Itoa(os.Getpid()%10000), Routes: 50000, Once: true, Dir: dir, Gobgpd: gobgpd, ProtocolNamesDir: namesDir, Out: testWriter{t}}

	l, err := New(opts)
	if err != nil {
		t.Fatal(err)
	}

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()

	sum, err := l.Run(ctx)
	if err != nil {
		t.Fatal(err)
	}

	if want := sum.IPv4 + sum.IPv6; sum.MultipathRoutes != want {
		t.Errorf("routes over a %d-way group = %d, want every prefix (%d)", opts.Peers, sum.MultipathRoutes, want)
	}

	if sum.RoutesViaFailed != 0 {
		t.Errorf("routes still using the failed upstream = %d, want 0", sum.RoutesViaFailed)
	}

	if want := sum.IPv4 + sum.IPv6; sum.RoutesAfter != want {
		t.Errorf("routes after failover = %d, want %d (every prefix over the survivor)", sum.RoutesAfter, want)
	}

	for _, ns := range append([]string{RouterNS(opts.Name)}, peerNames(opts.Name, 2)...) {
		if namespaceExists(ns) {
			t.Errorf("namespace %s left behind", ns)
		}
	}

	if leftovers := processesMentioning(dir); len(leftovers) > 0 {
		t.Errorf("processes left behind: %v", leftovers)
	}

	if data, err := os.ReadFile(filepath.Join(namesDir, "fibd.conf")); err != nil || string(data) != "201 fibd\n" {
		t.Errorf("protocol name in the test's directory = %q, %v, want \"201 fibd\\n\"", data, err)
	}
}

// processesMentioning returns the command lines of processes whose
// arguments contain s.
func processesMentioning(s string) []string {
	entries, _ := filepath.Glob("/proc/[0-9]*/cmdline")

	var found []string
	for _, path := range entries {
		data, err := os.ReadFile(path)
		if err != nil {
			continue
		}

		cmdline := strings.ReplaceAll(string(data), "\x00", " ")
		if strings.Contains(cmdline, s) {
			found = append(found, cmdline)
		}
	}

	return found
}

type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(p), "\n"))

	return len(p), nil
}
