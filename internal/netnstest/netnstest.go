// Package netnstest gives privileged tests their own network namespaces,
// veth pairs and processes, and removes all of them when the test ends.
//
// Namespaces are created with iproute2 ("ip netns add") under a random name
// starting with "fibdt-", so that `ip netns list` shows a test's leftovers
// and any process can enter them by name. A test never moves its own thread
// into a namespace: netlink sockets are opened with the namespace's file
// descriptor, and commands run through `ip -n NAME` or `ip netns exec NAME`.
//
// # Privileges
//
// Tests that need root call Privileged first. It skips the test with a
// reason when the suite does not run as root, and fails it instead when the
// environment variable FIBD_REQUIRE_PRIVILEGED=1 is set, as CI does, so that
// a privileged test can never be skipped silently there.
package netnstest

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"
)

// Privileged skips t unless it runs as root, or fails it when
// FIBD_REQUIRE_PRIVILEGED=1 requires privileged tests to run.
func Privileged(t testing.TB) {
	t.Helper()

	if os.Geteuid() == 0 {
		if _, err := exec.LookPath("ip"); err != nil {
			t.Fatalf("privileged test needs iproute2's ip command: %v", err)
		}

		return
	}

	if os.Getenv("FIBD_REQUIRE_PRIVILEGED") == "1" {
		t.Fatalf("privileged test cannot run: not root (euid %d) and FIBD_REQUIRE_PRIVILEGED=1", os.Geteuid())
	}

	t.Skipf("skipping privileged test: needs root (CAP_NET_ADMIN) to create network namespaces, euid is %d", os.Geteuid())
}

// NS is a network namespace created for one test.
type NS struct {
	// Name is the namespace's name, as `ip netns` shows it.
	Name string

	t testing.TB
	f *os.File
}

// New creates a network namespace with the loopback interface up and
// registers its removal with t.Cleanup. It calls Privileged.
func New(t testing.TB) *NS {
	t.Helper()
	Privileged(t)

	name := "fibdt-" + randomSuffix()
	run(t, "ip", "netns", "add", name)

	ns := &NS{Name: name, t: t}
	t.Cleanup(ns.remove)

	f, err := os.Open("/run/netns/" + name)
	if err != nil {
		t.Fatalf("open namespace %s: %v", name, err)
	}

	ns.f = f
	ns.IP("link", "set", "lo", "up")

	return ns
}

// FD returns the namespace's file descriptor, for netlink.Config.NetNS.
// It stays valid until the test ends.
func (ns *NS) FD() int {
	return int(ns.f.Fd())
}

// Path returns the namespace's path under /run/netns.
func (ns *NS) Path() string {
	return "/run/netns/" + ns.Name
}

// IP runs `ip -n NAME ARGS...` and fails the test on error. It returns
// standard output.
func (ns *NS) IP(args ...string) string {
	ns.t.Helper()

	return run(ns.t, "ip", append([]string{"-n", ns.Name}, args...)...)
}

// TryIP runs `ip -n NAME ARGS...` and returns its combined output and
// error without failing the test.
func (ns *NS) TryIP(args ...string) (string, error) {
	out, err := exec.Command("ip", append([]string{"-n", ns.Name}, args...)...).CombinedOutput()

	return string(out), err
}

// JSON runs `ip -j -n NAME ARGS...` and decodes its output into v.
func (ns *NS) JSON(v any, args ...string) {
	ns.t.Helper()

	out := run(ns.t, "ip", append([]string{"-j", "-n", ns.Name}, args...)...)
	if strings.TrimSpace(out) == "" {
		out = "[]"
	}

	if err := json.Unmarshal([]byte(out), v); err != nil {
		ns.t.Fatalf("decode output of ip -j %s: %v\n%s", strings.Join(args, " "), err, out)
	}
}

// Command returns a command that runs inside the namespace through
// `ip netns exec`. The caller starts it and must stop it; see Start.
func (ns *NS) Command(name string, args ...string) *exec.Cmd {
	return exec.Command("ip", append([]string{"netns", "exec", ns.Name, name}, args...)...)
}

// Start starts a command inside the namespace and kills it (by its own pid)
// when the test ends. Output goes to the test log when the test fails.
func (ns *NS) Start(name string, args ...string) *exec.Cmd {
	ns.t.Helper()

	cmd := ns.Command(name, args...)
	var out bytes.Buffer
	cmd.Stdout = &out
	cmd.Stderr = &out

	if err := cmd.Start(); err != nil {
		ns.t.Fatalf("start %s in %s: %v", name, ns.Name, err)
	}

	ns.t.Cleanup(func() {
		if cmd.ProcessState == nil {
			_ = cmd.Process.Kill()
			_ = cmd.Wait()
		}

		if ns.t.Failed() {
			ns.t.Logf("output of %s %s:\n%s", name, strings.Join(args, " "), out.String())
		}
	})

	return cmd
}

// Veth creates a veth pair with one end, name, in ns and the other end,
// peerName, in peer, and sets both up. IPv6 addresses are kept when a link
// goes down, so that tests can flap links without losing them.
func (ns *NS) Veth(name string, peer *NS, peerName string) {
	ns.t.Helper()

	ns.IP("link", "add", name, "type", "veth", "peer", "name", peerName, "netns", peer.Name)
	for _, side := range []struct {
		ns   *NS
		link string
	}{{ns, name}, {peer, peerName}} {
		side.ns.Sysctl("net.ipv6.conf."+side.link+".keep_addr_on_down", "1")
		side.ns.Sysctl("net.ipv6.conf."+side.link+".accept_dad", "0")
		side.ns.IP("link", "set", side.link, "up")
	}
}

// Sysctl sets a sysctl inside the namespace.
func (ns *NS) Sysctl(key, value string) {
	ns.t.Helper()

	run(ns.t, "ip", "netns", "exec", ns.Name, "sysctl", "-qw", key+"="+value)
}

func (ns *NS) remove() {
	if ns.f != nil {
		ns.f.Close()
	}

	if out, err := exec.Command("ip", "netns", "del", ns.Name).CombinedOutput(); err != nil {
		ns.t.Errorf("delete namespace %s: %v: %s", ns.Name, err, out)
	}
}

func run(t testing.TB, name string, args ...string) string {
	t.Helper()

	var stdout, stderr bytes.Buffer
	cmd := exec.Command(name, args...)
	cmd.Stdout = &stdout
	cmd.Stderr = &stderr

	if err := cmd.Run(); err != nil {
		t.Fatalf("%s %s: %v: %s", name, strings.Join(args, " "), err, stderr.String())
	}

	return stdout.String()
}

func randomSuffix() string {
	b := make([]byte, 4)
	if _, err := rand.Read(b); err != nil {
		panic(fmt.Sprintf("read random bytes: %v", err))
	}

	return hex.EncodeToString(b)
}
