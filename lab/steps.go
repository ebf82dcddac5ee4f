package lab

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	fibdv1 "github.com/fibd/fibd/api/fibdv1"
)

func (l *Lab) readTable(ctx context.Context, sum *Summary) error {
	data, err := l.locationDump(ctx)
	if err != nil {
		return err
	}

	v4, v6, err := ReadLocationDump(bytes.NewReader(data))
	if err != nil {
		return err
	}

	if l.opts.IPv4Only {
		v6 = nil
	}

	l.v4, l.v6 = subset(v4, v6, l.opts.Routes)
	sum.IPv4, sum.IPv6 = len(l.v4), len(l.v6)
	l.printf("table: %d IPv4 and %d IPv6 prefixes from the IPFire Location database (CC BY-SA 4.0)\n", sum.IPv4, sum.IPv6)

	return nil
}

// locationDump returns the text of `location dump`, or of Options.Dump.
func (l *Lab) locationDump(ctx context.Context) ([]byte, error) {
	if l.opts.Dump != "" {
		data, err := os.ReadFile(l.opts.Dump)
		if err != nil {
			return nil, fmt.Errorf("read saved location dump: %w", err)
		}

		return data, nil
	}

	if _, err := exec.LookPath("location"); err != nil {
		return nil, errors.New("the location tool is missing: install the real table with sudo ./scripts/setup (Debian packages location and libloc-database)")
	}

	var stderr bytes.Buffer
	cmd := exec.CommandContext(ctx, "location", "dump")
	cmd.Stderr = &stderr
	data, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("location dump: %w: %s (is libloc-database installed? run sudo ./scripts/setup)", err, strings.TrimSpace(stderr.String()))
	}

	return data, nil
}

// subset takes n networks spread evenly over both families, keeping their
// share of the whole table; n of zero, or larger than the table, keeps all.
func subset(v4, v6 []Network, n int) ([]Network, []Network) {
	total := len(v4) + len(v6)
	if n <= 0 || n >= total {
		return v4, v6
	}

	n6 := int(int64(n) * int64(len(v6)) / int64(total))

	return every(v4, n-n6), every(v6, n6)
}

// every returns n networks taken at even steps, so that a subset keeps the
// length mix and the overlaps of the whole.
func every(all []Network, n int) []Network {
	if n <= 0 {
		return nil
	}

	out := make([]Network, 0, n)
	for i := range n {
		out = append(out, all[i*len(all)/n])
	}

	return out
}

// gobgpVersion is the GoBGP release whose gobgpd and gobgp the lab runs:
// the one fibd embeds.
const gobgpVersion = "v3.37.0"

// prepare builds fibd from this module, and installs gobgpd and gobgp with
// `go install` (which resolves GoBGP's own dependencies), unless Options
// names the binaries.
func (l *Lab) prepare(ctx context.Context, _ *Summary) error {
	dir, err := l.workDir()
	if err != nil {
		return err
	}

	builds := []struct {
		target *string
		args   []string
		name   string
	}{
		{&l.opts.Fibd, []string{"build", "-o", filepath.Join(dir, "fibd"), "github.com/fibd/fibd/cmd/fibd"}, "fibd"},
		{&l.opts.Gobgpd, []string{"install", "github.com/osrg/gobgp/v3/cmd/gobgpd@" + gobgpVersion}, "gobgpd"},
		{&l.gobgp, []string{"install", "github.com/osrg/gobgp/v3/cmd/gobgp@" + gobgpVersion}, "gobgp"},
	}

	// A gobgp command beside the given gobgpd is used as it is.
	if l.opts.Gobgpd != "" {
		if path := filepath.Join(filepath.Dir(l.opts.Gobgpd), "gobgp"); fileExists(path) {
			l.gobgp = path
		}
	}

	for _, b := range builds {
		if *b.target != "" {
			continue
		}

		l.printf("building %s\n", b.name)
		cmd := exec.CommandContext(ctx, "go", b.args...)
		cmd.Env = append(os.Environ(), "GOBIN="+dir)
		if msg, err := cmd.CombinedOutput(); err != nil {
			return fmt.Errorf("go %s: %w: %s", strings.Join(b.args, " "), err, msg)
		}

		*b.target = filepath.Join(dir, b.name)
	}

	return nil
}

func (l *Lab) converge(ctx context.Context, sum *Summary) error {
	if err := l.waitSessions(ctx); err != nil {
		return err
	}

	want := uint64(len(l.v4) + len(l.v6))
	start := time.Now()
	fed := make(chan error, 1)
	go func() { fed <- l.announce(ctx) }()

	ticker := time.NewTicker(pollInterval)
	defer ticker.Stop()

	var last uint64
	lastAt := start
	for tick := 1; ; tick++ {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case err := <-fed:
			if err != nil {
				return err
			}

			fed = nil
			l.printf("  upstreams have taken all %d prefixes after %s\n", want, time.Since(start).Round(time.Millisecond))
		case now := <-ticker.C:
			st, err := l.router.status(ctx)
			if err != nil {
				return fmt.Errorf("read fibd status: %w", err)
			}

			multipath, err := l.router.multipathRoutes(ctx, l.opts.Peers)
			if err != nil {
				return err
			}

			if st.Installed >= want && st.Pending == 0 && multipath >= want {
				sum.Converged = time.Since(start)
				sum.Rate = float64(want) / sum.Converged.Seconds()
				sum.Nexthops, sum.Groups = int(st.Nexthops), int(st.Groups)

				return l.checkMultipath(sum)
			}

			if tick%printEvery != 0 {
				continue
			}

			rate := float64(st.Installed-last) / now.Sub(lastAt).Seconds()
			last, lastAt = st.Installed, now
			l.printf("  %6.1fs  routes installed %d/%d  %8.0f routes/s  over %d-way groups %d  nexthops %d  groups %d  errors %d\n",
				now.Sub(start).Seconds(), st.Installed, want, rate, l.opts.Peers, multipath, st.Nexthops, st.Groups, st.OpErrors)
		}
	}
}

// pollInterval is how often the lab reads the router's state while the
// table converges, so it bounds the precision of the convergence time.
// Every printEvery-th reading is printed.
const (
	pollInterval = 500 * time.Millisecond
	printEvery   = 2
)

// waitSessions waits until fibd's BGP speaker has every session
// established, so that convergence is timed from the first announcement
// and not from the first connect retry.
func (l *Lab) waitSessions(ctx context.Context) error {
	want := fmt.Sprintf("%d established of %d", 2*l.opts.Peers, 2*l.opts.Peers)
	deadline := time.Now().Add(time.Minute)
	for {
		st, err := l.router.status(ctx)
		if err != nil {
			return fmt.Errorf("read fibd status: %w", err)
		}

		if st.Extra["bgp peers"] == want {
			l.printf("sessions: %s\n", want)
			return nil
		}

		if time.Now().After(deadline) {
			return fmt.Errorf("BGP sessions not established after a minute: %q (see %s)", st.Extra["bgp peers"], filepath.Join(l.dir, "fibd.log"))
		}

		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// kernelNexthop is one entry of `ip -j nexthop`.
type kernelNexthop struct {
	ID      uint32 `json:"id"`
	Gateway string `json:"gateway"`
	Group   []struct {
		ID uint32 `json:"id"`
	} `json:"group"`
}

func routerNexthops(ns string) ([]kernelNexthop, error) {
	out, err := ip("-j", "-n", ns, "nexthop", "show")
	if err != nil {
		return nil, err
	}

	var nhs []kernelNexthop
	if strings.TrimSpace(out) == "" {
		return nil, nil
	}

	if err := json.Unmarshal([]byte(out), &nhs); err != nil {
		return nil, fmt.Errorf("decode ip -j nexthop: %w", err)
	}

	return nhs, nil
}

// routeNexthops counts the router's fibd routes by nexthop id, reading
// `ip route` text (faster than JSON for a full table).
func routeNexthops(ns string) (map[uint32]int, int, error) {
	counts := make(map[uint32]int)
	total := 0
	for _, family := range []string{"-4", "-6"} {
		cmd := exec.Command("ip", family, "-n", ns, "route", "show", "table", "all", "proto", "201")
		out, err := cmd.StdoutPipe()
		if err != nil {
			return nil, 0, err
		}

		if err := cmd.Start(); err != nil {
			return nil, 0, fmt.Errorf("ip route show: %w", err)
		}

		scanner := bufio.NewScanner(out)
		for scanner.Scan() {
			line := scanner.Text()
			if line == "" || line[0] == ' ' || line[0] == '\t' {
				continue // a member line of a group, printed under its route
			}

			fields := strings.Fields(line)
			total++
			for i := 0; i+1 < len(fields); i++ {
				if fields[i] == "nhid" {
					id, _ := strconv.ParseUint(fields[i+1], 10, 32)
					counts[uint32(id)]++
				}
			}
		}

		if err := cmd.Wait(); err != nil {
			return nil, 0, fmt.Errorf("ip route show: %w", err)
		}
	}

	return counts, total, nil
}

// checkMultipath counts the routes that use a group with one member per
// upstream.
func (l *Lab) checkMultipath(sum *Summary) error {
	if l.opts.Router == RouterFibdDry {
		sum.MultipathRoutes = len(l.v4) + len(l.v6)
		l.printf("converged: every route in fibd's FIB over a group of %d upstreams (dry run: none in the kernel)\n", l.opts.Peers)

		return nil
	}

	nhs, err := routerNexthops(l.routerNS())
	if err != nil {
		return err
	}

	counts, total, err := routeNexthops(l.routerNS())
	if err != nil {
		return err
	}

	for _, nh := range nhs {
		if len(nh.Group) == l.opts.Peers {
			sum.MultipathRoutes += counts[nh.ID]
		}
	}

	l.printf("converged: %d routes in the kernel, %d of them over a group of %d upstreams\n", total, sum.MultipathRoutes, l.opts.Peers)

	return nil
}

// skipFailover stands for failover with a router that programs nothing,
// so there is no kernel failover to time.
func (l *Lab) skipFailover(_ context.Context, sum *Summary) error {
	l.printf("failover: not timed, since fibd runs with kernel.dry-run and the kernel has no route of it\n")
	sum.PeakRSSKiB = peakRSS(l.router.cmd)

	return nil
}

// failover stops the last upstream's BGP speaker and measures how long
// until no kernel route uses it, and until fibd has every per-prefix
// update that BGP sends for it.
func (l *Lab) failover(ctx context.Context, sum *Summary) error {
	failed := l.peers[len(l.peers)-1]
	l.printf("failover: stopping the BGP speaker of upstream %d (%s, %s)\n", failed.index, failed.v4, failed.v6)

	before, err := l.router.status(ctx)
	if err != nil {
		return err
	}

	sum.RoutesViaPeer = peerRoutes(before.Extra, failed)
	l.printf("  fibd's BGP source offers %d routes using upstream %d\n", sum.RoutesViaPeer, failed.index)

	start := time.Now()
	if err := failed.cmd.Process.Kill(); err != nil {
		return fmt.Errorf("stop upstream %d: %w", failed.index, err)
	}

	if err := l.waitKernelFailover(ctx, failed, start, sum); err != nil {
		return err
	}

	if err := l.waitBGPFailover(ctx, failed, before, start, sum); err != nil {
		return err
	}

	sum.PeakRSSKiB = peakRSS(l.router.cmd)

	return l.checkFailover(failed, sum)
}

// usesFailed reports whether a group references a nexthop object whose
// gateway is the failed peer.
func usesFailed(nhs []kernelNexthop, p *peer) (hops map[uint32]bool, inGroups bool) {
	hops = make(map[uint32]bool)
	for _, nh := range nhs {
		if nh.Gateway == p.v4.String() || nh.Gateway == p.v6.String() {
			hops[nh.ID] = true
		}
	}

	for _, nh := range nhs {
		for _, m := range nh.Group {
			if hops[m.ID] {
				return hops, true
			}
		}
	}

	return hops, false
}

func (l *Lab) waitKernelFailover(ctx context.Context, failed *peer, start time.Time, sum *Summary) error {
	deadline := start.Add(2 * time.Minute)
	for time.Now().Before(deadline) {
		nhs, err := routerNexthops(l.routerNS())
		if err != nil {
			return err
		}

		if _, inGroups := usesFailed(nhs, failed); !inGroups {
			sum.KernelFailover = time.Since(start)
			l.printf("  kernel: no group uses upstream %d after %s\n", failed.index, sum.KernelFailover.Round(time.Microsecond))

			return nil
		}

		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(time.Millisecond):
		}
	}

	return fmt.Errorf("groups still use upstream %d two minutes after it stopped", failed.index)
}

// waitBGPFailover waits until fibd has processed the per-prefix updates
// that BGP sends after the peer went down: one best-path change per
// prefix, until no route offered to the FIB uses the peer. The time is
// when fibd's BGP source made its last change to the peer's routes, read
// from the status, so it does not depend on how often the lab polls.
func (l *Lab) waitBGPFailover(ctx context.Context, failed *peer, before *fibdv1.StatusResponse, start time.Time, sum *Summary) error {
	deadline := start.Add(5 * time.Minute)
	for {
		// fibd replies slowly while it takes the failover's updates. The
		// time measured does not depend on when the reply comes.
		st, err := l.router.status(ctx)
		if status.Code(err) == codes.DeadlineExceeded && time.Now().Before(deadline) {
			continue
		}

		if err != nil {
			return fmt.Errorf("read fibd status: %w", err)
		}

		done, last, err := peerRoutesGone(st.Extra, failed)
		if err != nil {
			return err
		}

		if done {
			sum.BGPFailover = last.Sub(start)
			sum.BGPUpdates = counterDelta(before.Extra, st.Extra, "bgp updates")
			l.printf("  BGP: no route from upstream %d in fibd after %s, %d per-prefix updates; the kernel failed over %.0f times sooner\n",
				failed.index, sum.BGPFailover.Round(time.Millisecond), sum.BGPUpdates, ratio(sum.BGPFailover, sum.KernelFailover))

			return nil
		}

		if time.Now().After(deadline) {
			return fmt.Errorf("fibd still has routes from upstream %d five minutes after it stopped", failed.index)
		}

		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// peerRoutesGone reads fibd's "bgp peer ADDR" status lines ("STATE, N
// routes, changed TIME") of both sessions of a peer. It reports whether
// neither has routes left, and the later change time.
func peerRoutesGone(extra map[string]string, p *peer) (bool, time.Time, error) {
	var last time.Time
	for _, addr := range []netip.Addr{p.v4, p.v6} {
		line, ok := extra["bgp peer "+addr.String()]
		if !ok {
			return false, last, fmt.Errorf("fibd status has no line for BGP peer %s", addr)
		}

		fields := strings.Split(line, ", ")
		if len(fields) != 3 {
			return false, last, fmt.Errorf("invalid fibd status line for BGP peer %s: %q", addr, line)
		}

		var routes int
		if _, err := fmt.Sscanf(fields[1], "%d routes", &routes); err != nil {
			return false, last, fmt.Errorf("invalid fibd status line for BGP peer %s: %q", addr, line)
		}

		if routes > 0 {
			return false, last, nil
		}

		changed, err := time.Parse(time.RFC3339Nano, strings.TrimPrefix(fields[2], "changed "))
		if err == nil && changed.After(last) {
			last = changed
		}
	}

	return true, last, nil
}

// peerRoutes returns the routes fibd's BGP source offers with a member
// from either session of a peer, from the "bgp peer ADDR" status lines.
func peerRoutes(extra map[string]string, p *peer) int {
	total := 0
	for _, addr := range []netip.Addr{p.v4, p.v6} {
		fields := strings.Split(extra["bgp peer "+addr.String()], ", ")
		var routes int
		if len(fields) == 3 {
			fmt.Sscanf(fields[1], "%d routes", &routes)
		}

		total += routes
	}

	return total
}

// counterDelta returns how much a numeric status line grew.
func counterDelta(before, after map[string]string, key string) uint64 {
	b, _ := strconv.ParseUint(before[key], 10, 64)
	a, _ := strconv.ParseUint(after[key], 10, 64)
	if a < b {
		return 0
	}

	return a - b
}

// ratio returns a/b, or 0 when b is zero.
func ratio(a, b time.Duration) float64 {
	if b <= 0 {
		return 0
	}

	return float64(a) / float64(b)
}

func (l *Lab) checkFailover(failed *peer, sum *Summary) error {
	nhs, err := routerNexthops(l.routerNS())
	if err != nil {
		return err
	}

	hops, _ := usesFailed(nhs, failed)
	counts, total, err := routeNexthops(l.routerNS())
	if err != nil {
		return err
	}

	sum.RoutesAfter = total
	for id := range hops {
		sum.RoutesViaFailed += counts[id]
	}

	l.printf("  after failover: %d routes in the kernel, %d use upstream %d directly\n", total, sum.RoutesViaFailed, failed.index)

	return nil
}

func (l *Lab) printLookAround() {
	gobgp := l.gobgp
	l.printf(`
The lab keeps running until you press Ctrl-C. To look around:
  ip netns exec %[1]s ip route | head              # the router's kernel table
  ip -n %[1]s nexthop show                         # fibd's nexthop objects and groups
  %[2]s route list --socket %[3]s | head
  %[2]s nexthop list --socket %[3]s
  %[2]s status --socket %[3]s
  ip netns exec %[1]s %[4]s global rib | head      # the embedded BGP speaker's RIB
  ip netns exec %[1]s %[4]s neighbor
  ip netns exec %[1]s curl -s http://%[5]s/metrics | grep ^fibd_
  logs: %[6]s
`, l.routerNS(), l.opts.Fibd, l.router.socket, gobgp, metricsAddress, l.dir)
}

// String formats the summary as the lab prints it at the end.
func (s Summary) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "summary (router %s", s.Router)
	if s.CompatMode != "" {
		fmt.Fprintf(&b, ", nexthop_compat_mode %s", s.CompatMode)
	}

	fmt.Fprintf(&b, ")\n")
	fmt.Fprintf(&b, "  prefixes            %d IPv4, %d IPv6\n", s.IPv4, s.IPv6)
	fmt.Fprintf(&b, "  convergence         %s (%.0f prefixes/s)", s.Converged.Round(time.Millisecond), s.Rate)
	switch s.Router {
	case RouterFibdDry:
		fmt.Fprintf(&b, ", %d nexthops, %d groups, none of them in the kernel\n", s.Nexthops, s.Groups)
	case RouterFibd:
		fmt.Fprintf(&b, ", %d nexthops, %d groups\n", s.Nexthops, s.Groups)
		fmt.Fprintf(&b, "  multipath routes    %d\n", s.MultipathRoutes)
		fmt.Fprintf(&b, "  kernel failover     %s\n", s.KernelFailover.Round(time.Microsecond))
		fmt.Fprintf(&b, "  BGP failover        %s (%d per-prefix updates, %.0f times the kernel failover)\n",
			s.BGPFailover.Round(time.Millisecond), s.BGPUpdates, ratio(s.BGPFailover, s.KernelFailover))
		fmt.Fprintf(&b, "  routes via failed   %d\n", s.RoutesViaFailed)
	default:
		fmt.Fprintf(&b, "\n  BGP failover        %s (RIB without the upstream's paths)\n", s.BGPFailover.Round(time.Millisecond))
	}

	fmt.Fprintf(&b, "  %s peak RSS %*d MiB\n", s.Router, 11-len(s.Router), s.PeakRSSKiB/1024)
	fmt.Fprintf(&b, "  load average        %.2f", s.LoadAverage)

	return b.String()
}
