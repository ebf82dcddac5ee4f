package bench

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// ProtoBGP is RTPROT_BGP, the kernel protocol of the routes zebra
// installs for bgpd.
const ProtoBGP = 186

// frrDir is the directory of the Debian frr package's daemons.
const frrDir = "/usr/lib/frr"

// Zebra drives FRR the way a BGP router runs it. bgpd learns the routes
// from a BGP peer (GoBGP in the peer namespace, one session per link), and
// zebra programs them with kernel nexthop groups, which FRR 8.4 uses by
// default. The figures are those of bgpd and zebra together.
type Zebra struct {
	env   *Env
	w     Workload
	dir   string
	procs daemons
	zebra *daemon
	bgpd  *daemon
	peer  *Child
}

// NewZebra returns the FRR contender.
func NewZebra() *Zebra { return &Zebra{} }

// ZebraAvailable returns "" when FRR's zebra, bgpd and vtysh and the frr
// user exist.
func ZebraAvailable() string {
	for _, p := range []string{frrDir + "/zebra", frrDir + "/bgpd"} {
		if _, err := os.Stat(p); err != nil {
			return p + " not found (run bench/setup.sh)"
		}
	}

	if _, err := user.Lookup("frr"); err != nil {
		return "user frr not found (run bench/setup.sh)"
	}

	return ""
}

// Name implements Contender.
func (c *Zebra) Name() string { return "zebra" }

// Protocol implements Contender.
func (c *Zebra) Protocol() uint8 { return ProtoBGP }

// Describe implements Describer.
func (c *Zebra) Describe() string {
	return "FRR bgpd + zebra as user frr in the namespace (per-daemon configs, pid and vty sockets in a private directory; zebra with `-s 90000000` as Debian starts it, kernel nexthop groups on, the default), fed by a GoBGP peer in the peer namespace with one eBGP session per link (`maximum-paths 2`); install brings the sessions up with the table already in GoBGP's RIB (the clock starts when the first session is established), failover shuts the hop0 session down (NOTIFICATION), withdraw withdraws every path, restart is SIGKILL of zebra and bgpd and a new start (zebra without -K, so it sweeps the old routes). Measures bgpd and zebra together"
}

// Version implements Describer.
func (c *Zebra) Version() string { return commandVersion(frrDir+"/zebra", "--version") }

// Supports implements Contender.
func (c *Zebra) Supports(w Workload, s Scenario) string { return bgpSupports(w) }

// Start implements Contender: it writes the configurations, starts zebra,
// bgpd and the BGP peer (sessions still down, routes in its RIB).
func (c *Zebra) Start(ctx context.Context, env *Env, w Workload) error {
	c.env, c.w = env, w
	c.dir = filepath.Join(env.Dir, "frr")
	if err := c.prepareDir(); err != nil {
		return err
	}

	if err := c.startDaemons(ctx); err != nil {
		return err
	}

	peer, err := startPeer(env, w)
	if err != nil {
		return err
	}

	c.peer = peer

	return nil
}

func (c *Zebra) prepareDir() error {
	u, err := user.Lookup("frr")
	if err != nil {
		return fmt.Errorf("look up user frr: %w", err)
	}

	uid, _ := strconv.Atoi(u.Uid)
	gid, _ := strconv.Atoi(u.Gid)

	// frr must reach its directory through the benchmark's private one.
	if err := os.Chmod(c.env.Dir, 0o711); err != nil {
		return fmt.Errorf("open %s to user frr: %w", c.env.Dir, err)
	}

	if err := os.Mkdir(c.dir, 0o750); err != nil {
		return fmt.Errorf("create frr directory: %w", err)
	}

	files := map[string]string{"zebra.conf": c.zebraConfig(), "bgpd.conf": c.bgpdConfig(), "vtysh.conf": ""}
	for name, text := range files {
		if err := os.WriteFile(filepath.Join(c.dir, name), []byte(text), 0o640); err != nil {
			return fmt.Errorf("write %s: %w", name, err)
		}
	}

	return filepath.Walk(c.dir, func(path string, _ os.FileInfo, err error) error {
		if err != nil {
			return err
		}

		return os.Chown(path, uid, gid)
	})
}

func (c *Zebra) zebraConfig() string {
	return fmt.Sprintf("hostname zebra\nlog file %s/zebra.log\n!\n", c.dir)
}

func (c *Zebra) bgpdConfig() string {
	var b strings.Builder
	afi := "ipv4"
	if c.w.Family == 6 {
		afi = "ipv6"
	}

	links := c.env.Links[:1]
	if c.w.ECMP {
		links = c.env.Links[:]
	}

	fmt.Fprintf(&b, "hostname bgpd\nlog file %s/bgpd.log\n!\n", c.dir)
	fmt.Fprintf(&b, "router bgp %d\n bgp router-id %s\n no bgp ebgp-requires-policy\n no bgp default ipv4-unicast\n", routerAS, c.env.Links[0].Local4)
	for _, l := range links {
		fmt.Fprintf(&b, " neighbor %s remote-as %d\n neighbor %s timers connect 1\n", l.Gateway(c.w.Family), peerAS, l.Gateway(c.w.Family))
	}

	fmt.Fprintf(&b, " address-family %s unicast\n  maximum-paths 2\n", afi)
	for _, l := range links {
		fmt.Fprintf(&b, "  neighbor %s activate\n", l.Gateway(c.w.Family))
	}

	fmt.Fprintf(&b, " exit-address-family\n!\n")

	return b.String()
}

func (c *Zebra) startDaemons(ctx context.Context) error {
	common := []string{"-z", filepath.Join(c.dir, "zserv.api"), "--vty_socket", c.dir, "-u", "frr", "-g", "frr", "-P", "0"}

	zebra, err := startDaemon(c.env.Router, filepath.Join(c.dir, "zebra.out"), append([]string{frrDir + "/zebra",
		"-f", filepath.Join(c.dir, "zebra.conf"), "-i", filepath.Join(c.dir, "zebra.pid"), "-s", "90000000"}, common...)...)
	if err != nil {
		return err
	}

	c.zebra = zebra
	c.procs.add(zebra)
	if err := c.waitVty(ctx, "zebra"); err != nil {
		return err
	}

	bgpd, err := startDaemon(c.env.Router, filepath.Join(c.dir, "bgpd.out"), append([]string{frrDir + "/bgpd",
		"-f", filepath.Join(c.dir, "bgpd.conf"), "-i", filepath.Join(c.dir, "bgpd.pid")}, common...)...)
	if err != nil {
		return err
	}

	c.bgpd = bgpd
	c.procs.add(bgpd)

	return c.waitVty(ctx, "bgpd")
}

// waitVty waits until the daemon's vty socket accepts a command, which
// is its readiness.
func (c *Zebra) waitVty(ctx context.Context, name string) error {
	sock := filepath.Join(c.dir, name+".vty")
	for {
		if _, err := os.Stat(sock); err == nil {
			out, err := exec.CommandContext(ctx, "vtysh", "--vty_socket", c.dir, "-d", name, "-c", "show version").CombinedOutput()
			if err == nil {
				return nil
			}

			_ = out
		}

		d := c.zebra
		if name == "bgpd" {
			d = c.bgpd
		}

		if d.exited() {
			return fmt.Errorf("%s exited: %s", name, c.logTail(name))
		}

		select {
		case <-ctx.Done():
			return fmt.Errorf("wait for %s: %w: %s", name, ctx.Err(), c.logTail(name))
		case <-time.After(20 * time.Millisecond):
		}
	}
}

func (c *Zebra) logTail(name string) string {
	var parts []string
	for _, f := range []string{name + ".out", name + ".log"} {
		b, _ := os.ReadFile(filepath.Join(c.dir, f))
		s := strings.TrimSpace(string(b))
		if len(s) > 400 {
			s = s[len(s)-400:]
		}

		parts = append(parts, s)
	}

	return strings.Join(parts, " | ")
}

// Run implements Contender.
func (c *Zebra) Run(ctx context.Context, s Scenario, mark func()) error {
	if s != Restart {
		return c.peer.Run(ctx, s, mark)
	}

	mark()
	c.bgpd.kill()
	c.zebra.kill()

	return c.startDaemons(ctx)
}

// Diagnose implements Diagnoser: bgpd's view of its sessions and the ends
// of the daemons' logs.
func (c *Zebra) Diagnose() string {
	out, _ := exec.Command("vtysh", "--vty_socket", c.dir, "-c", "show bgp summary").CombinedOutput()

	return strings.TrimSpace(string(out)) + " | zebra: " + c.logTail("zebra") + " | bgpd: " + c.logTail("bgpd")
}

// Usage implements Contender: zebra and bgpd, not the peer.
func (c *Zebra) Usage() Usage { return c.procs.usage() }

// Stop implements Contender.
func (c *Zebra) Stop() error {
	if c.peer != nil {
		c.peer.Close()
	}

	c.procs.stop()

	return nil
}
