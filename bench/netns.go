package bench

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"strings"
	"sync"
)

// NamePrefix starts the name of every namespace the benchmark creates.
const NamePrefix = "fibdb-"

// Link is one of the two veth links that carry a next hop: its name in the
// router namespace, the router's own address and the gateway's address in
// the peer namespace, for both families.
type Link struct {
	Device           string
	Local4, Gateway4 netip.Addr
	Local6, Gateway6 netip.Addr
}

// Gateway returns the gateway address of the family.
func (l Link) Gateway(family int) netip.Addr {
	if family == 6 {
		return l.Gateway6
	}

	return l.Gateway4
}

// Local returns the router's own address of the family.
func (l Link) Local(family int) netip.Addr {
	if family == 6 {
		return l.Local6
	}

	return l.Local4
}

// Env is the pair of namespaces one contender runs in: Router holds the
// routes, Peer holds the gateways (and the BGP peers), and Links joins
// them. Dir is a private temporary directory removed with the namespaces.
type Env struct {
	Router, Peer string
	Links        [2]Link
	Dir          string
	CompatMode   int
}

// Path returns the path of the router namespace under /run/netns.
func (e *Env) Path() string {
	return "/run/netns/" + e.Router
}

// Links used by every environment. Each link has its own documentation
// prefix per family.
var defaultLinks = [2]Link{
	{
		Device: "hop0",
		Local4: netip.MustParseAddr("192.0.2.1"), Gateway4: netip.MustParseAddr("192.0.2.2"),
		Local6: netip.MustParseAddr("2001:db8:ffff:1::1"), Gateway6: netip.MustParseAddr("2001:db8:ffff:1::2"),
	},
	{
		Device: "hop1",
		Local4: netip.MustParseAddr("198.51.100.1"), Gateway4: netip.MustParseAddr("198.51.100.2"),
		Local6: netip.MustParseAddr("2001:db8:ffff:2::1"), Gateway6: netip.MustParseAddr("2001:db8:ffff:2::2"),
	},
}

// NewEnv creates the namespaces, the veth links with their addresses and
// the temporary directory. On error it removes whatever it created.
func NewEnv(compatMode int) (env *Env, err error) {
	suffix := randomSuffix()
	env = &Env{
		Router:     NamePrefix + suffix + "-r",
		Peer:       NamePrefix + suffix + "-p",
		Links:      defaultLinks,
		CompatMode: compatMode,
	}
	defer func() {
		if err != nil {
			env.Close()
			env = nil
		}
	}()

	env.Dir, err = os.MkdirTemp("", "fibd-bench-")
	if err != nil {
		return env, fmt.Errorf("create temporary directory: %w", err)
	}

	for _, ns := range []string{env.Router, env.Peer} {
		if err := runIP("netns", "add", ns); err != nil {
			return env, err
		}

		createdMu.Lock()
		created[ns] = true
		createdMu.Unlock()

		if err := runIP("-n", ns, "link", "set", "lo", "up"); err != nil {
			return env, err
		}
	}

	if err := env.sysctls(); err != nil {
		return env, err
	}

	for _, l := range env.Links {
		if err := env.addLink(l); err != nil {
			return env, err
		}
	}

	return env, nil
}

func (e *Env) sysctls() error {
	for _, ns := range []string{e.Router, e.Peer} {
		settings := []string{
			"net.ipv6.conf.all.accept_dad=0", "net.ipv6.conf.default.accept_dad=0",
			"net.ipv6.conf.all.keep_addr_on_down=1", "net.ipv6.conf.default.keep_addr_on_down=1",
			"net.ipv4.ip_forward=1", "net.ipv6.conf.all.forwarding=1",
			// The IPv6 FIB refuses routes beyond max_size (4096 by default
			// in older kernels); a million routes need a larger limit.
			"net.ipv6.route.max_size=16777216",
			fmt.Sprintf("net.ipv4.nexthop_compat_mode=%d", e.CompatMode),
		}
		for _, s := range settings {
			if out, err := exec.Command("ip", "netns", "exec", ns, "sysctl", "-qw", s).CombinedOutput(); err != nil {
				return fmt.Errorf("set sysctl %s in %s: %w: %s", s, ns, err, strings.TrimSpace(string(out)))
			}
		}
	}

	return nil
}

func (e *Env) addLink(l Link) error {
	if err := runIP("-n", e.Router, "link", "add", l.Device, "type", "veth", "peer", "name", l.Device, "netns", e.Peer); err != nil {
		return err
	}

	steps := [][]string{
		{"-n", e.Router, "addr", "add", l.Local4.String() + "/24", "dev", l.Device},
		{"-n", e.Router, "addr", "add", l.Local6.String() + "/64", "dev", l.Device, "nodad"},
		{"-n", e.Peer, "addr", "add", l.Gateway4.String() + "/24", "dev", l.Device},
		{"-n", e.Peer, "addr", "add", l.Gateway6.String() + "/64", "dev", l.Device, "nodad"},
		{"-n", e.Router, "link", "set", l.Device, "up"},
		{"-n", e.Peer, "link", "set", l.Device, "up"},
	}
	for _, s := range steps {
		if err := runIP(s...); err != nil {
			return err
		}
	}

	return nil
}

// Close deletes the namespaces and the temporary directory. It is safe to
// call more than once and on a partly created environment.
func (e *Env) Close() error {
	var first error
	for _, ns := range []string{e.Router, e.Peer} {
		if _, err := os.Stat("/run/netns/" + ns); err != nil {
			continue
		}

		if err := runIP("netns", "del", ns); err != nil {
			if first == nil {
				first = err
			}

			continue
		}

		createdMu.Lock()
		delete(created, ns)
		createdMu.Unlock()
	}

	if e.Dir != "" {
		if err := os.RemoveAll(e.Dir); err != nil && first == nil {
			first = fmt.Errorf("remove %s: %w", e.Dir, err)
		}
	}

	return first
}

// created records the namespaces this process created and has not
// deleted yet.
var (
	createdMu sync.Mutex
	created   = map[string]bool{}
)

// OwnNamespaces lists the namespaces this process created that still
// exist; after a run it should be empty.
func OwnNamespaces() []string {
	createdMu.Lock()
	defer createdMu.Unlock()

	var names []string
	for name := range created {
		if _, err := os.Stat("/run/netns/" + name); err == nil {
			names = append(names, name)
		}
	}

	return names
}

func runIP(args ...string) error {
	out, err := exec.Command("ip", args...).CombinedOutput()
	if err != nil {
		return fmt.Errorf("run ip %s: %w: %s", strings.Join(args, " "), err, strings.TrimSpace(string(out)))
	}

	return nil
}

func randomSuffix() string {
	b := make([]byte, 4)
	if _, err := rand.Read(b); err != nil {
		panic(fmt.Sprintf("read random bytes: %v", err))
	}

	return hex.EncodeToString(b)
}
