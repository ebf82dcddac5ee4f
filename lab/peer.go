package lab

import (
	"context"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"
)

// routerAS is the router's AS; upstream i has AS 65000+i.
const routerAS = 65000

// peer is one upstream: a gobgpd in its own namespace announcing the table.
type peer struct {
	index    int
	ns       string
	as       uint32
	v4, v6   netip.Addr // the peer's addresses, the next hops it announces
	routerV4 netip.Addr
	routerV6 netip.Addr
	socket   string // gobgpd's gRPC API, a unix socket in the lab directory
	cmd      *exec.Cmd
}

func newPeer(name string, i int, dir string) *peer {
	rv4, pv4, rv6, pv6 := peerAddresses(i)

	return &peer{
		index: i, ns: PeerNS(name, i), as: uint32(routerAS + i),
		v4: pv4, v6: pv6, routerV4: rv4, routerV6: rv6,
		socket: filepath.Join(dir, fmt.Sprintf("up%d.sock", i)),
	}
}

// config returns the gobgpd configuration: one session per family, each
// over the link's own addresses.
func (p *peer) config() string {
	var b strings.Builder
	fmt.Fprintf(&b, "global:\n  config:\n    as: %d\n    router-id: %s\n    port: 179\n", p.as, p.v4)
	b.WriteString("neighbors:\n")
	for _, n := range []struct {
		neighbor, local netip.Addr
		family          string
	}{{p.routerV4, p.v4, "ipv4-unicast"}, {p.routerV6, p.v6, "ipv6-unicast"}} {
		fmt.Fprintf(&b, "  - config:\n      neighbor-address: %s\n      peer-as: %d\n", n.neighbor, routerAS)
		fmt.Fprintf(&b, "    transport:\n      config:\n        local-address: %s\n", n.local)
		fmt.Fprintf(&b, "    timers:\n      config:\n        connect-retry: 1\n")
		fmt.Fprintf(&b, "    afi-safis:\n      - config:\n          afi-safi-name: %s\n", n.family)
	}

	return b.String()
}

func (l *Lab) startPeers(ctx context.Context, _ *Summary) error {
	for i := 1; i <= l.opts.Peers; i++ {
		p := newPeer(l.opts.Name, i, l.dir)
		path := filepath.Join(l.dir, fmt.Sprintf("up%d.yaml", i))
		if err := os.WriteFile(path, []byte(p.config()), 0o644); err != nil {
			return fmt.Errorf("write config of upstream %d: %w", i, err)
		}

		cmd, err := l.start(p.ns, fmt.Sprintf("up%d.log", i), l.opts.Gobgpd,
			"-f", path, "-t", "yaml", "--api-hosts", "unix://"+p.socket, "--log-level", "warn")
		if err != nil {
			return err
		}

		p.cmd = cmd
		l.peers = append(l.peers, p)
	}

	for _, p := range l.peers {
		if err := waitForFile(ctx, p.socket, 30*time.Second); err != nil {
			return fmt.Errorf("gobgpd of upstream %d did not open its API (see %s): %w", p.index, filepath.Join(l.dir, fmt.Sprintf("up%d.log", p.index)), err)
		}
	}

	l.printf("upstreams: %d gobgpd peers, AS %d to %d\n", len(l.peers), routerAS+1, routerAS+len(l.peers))

	return nil
}

// announce feeds the table to every peer at once.
func (l *Lab) announce(ctx context.Context) error {
	errs := make(chan error, len(l.peers))
	for _, p := range l.peers {
		go func() {
			err := Feed(ctx, "unix://"+p.socket, l.v4, p.v4)
			if err == nil && len(l.v6) > 0 {
				err = Feed(ctx, "unix://"+p.socket, l.v6, p.v6)
			}

			errs <- err
		}()
	}

	for range l.peers {
		if err := <-errs; err != nil {
			return err
		}
	}

	return nil
}

func fileExists(path string) bool {
	_, err := os.Stat(path)

	return err == nil
}

// waitForFile waits until path exists.
func waitForFile(ctx context.Context, path string, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for {
		if _, err := os.Stat(path); err == nil {
			return nil
		}

		if time.Now().After(deadline) {
			return fmt.Errorf("%s did not appear within %s", path, timeout)
		}

		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
}
