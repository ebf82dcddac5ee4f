package lab

// This file runs the baseline router: a plain gobgpd with the same BGP
// configuration as fibd's embedded speaker, which programs no kernel
// routes. Its times are what GoBGP alone takes.

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"time"

	api "github.com/osrg/gobgp/v3/api"
	"google.golang.org/grpc"
)

// baseline is the gobgpd router and a client of its gRPC API.
type baseline struct {
	socket string
	cmd    *exec.Cmd
	conn   *grpc.ClientConn
	client api.GobgpApiClient
}

func (l *Lab) startBaseline(ctx context.Context, _ *Summary) error {
	config := filepath.Join(l.dir, "gobgpd-router.yaml")
	if err := os.WriteFile(config, []byte(l.bgpConfig()), 0o644); err != nil {
		return fmt.Errorf("write gobgpd router config: %w", err)
	}

	b := &baseline{socket: filepath.Join(l.dir, "router.sock")}
	cmd, err := l.start(l.routerNS(), "gobgpd-router.log", l.opts.Gobgpd,
		"-f", config, "-t", "yaml", "--api-hosts", "unix://"+b.socket, "--log-level", "warn", "--pprof-disable")
	if err != nil {
		return err
	}

	b.cmd = cmd
	l.baseline = b
	conn, err := l.dialSocket(ctx, b.socket, "gobgpd router", "gobgpd-router.log")
	if err != nil {
		return err
	}

	b.conn = conn
	b.client = api.NewGobgpApiClient(conn)
	l.printf("router: plain gobgpd %s (baseline, no kernel routes), AS %d, API at %s\n", gobgpVersion, routerAS, b.socket)

	return nil
}

// established returns the number of established sessions and of
// neighbors.
func (b *baseline) established(ctx context.Context) (int, int, error) {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()

	stream, err := b.client.ListPeer(ctx, &api.ListPeerRequest{})
	if err != nil {
		return 0, 0, fmt.Errorf("list gobgpd router peers: %w", err)
	}

	up, all := 0, 0
	for {
		r, err := stream.Recv()
		if errors.Is(err, io.EOF) {
			return up, all, nil
		}

		if err != nil {
			return 0, 0, fmt.Errorf("list gobgpd router peers: %w", err)
		}

		all++
		if r.GetPeer().GetState().GetSessionState() == api.PeerState_ESTABLISHED {
			up++
		}
	}
}

// ribCounts returns the number of prefixes and paths in the router's
// global RIB for IPv4 and IPv6 unicast together. gobgpd counts them with
// a walk of its table, serialised with its route processing, so the
// reply comes after any change it is busy with.
//
// TODO: each call walks the whole table on gobgpd's main loop. Polled
// every pollInterval with the whole table, the walks slow gobgpd down (to
// about a third of its rate in one lab run, an estimate), so the baseline
// suits a subset of the table only.
func (b *baseline) ribCounts(ctx context.Context) (prefixes, paths uint64, err error) {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()

	for _, afi := range []api.Family_Afi{api.Family_AFI_IP, api.Family_AFI_IP6} {
		r, err := b.client.GetTable(ctx, &api.GetTableRequest{
			TableType: api.TableType_GLOBAL,
			Family:    &api.Family{Afi: afi, Safi: api.Family_SAFI_UNICAST},
		})
		if err != nil {
			return 0, 0, fmt.Errorf("read gobgpd router table: %w", err)
		}

		prefixes += r.GetNumDestination()
		paths += r.GetNumPath()
	}

	return prefixes, paths, nil
}

// waitBaselineSessions waits until every session of the gobgpd router is
// established.
func (l *Lab) waitBaselineSessions(ctx context.Context) error {
	deadline := time.Now().Add(time.Minute)
	for {
		up, all, err := l.baseline.established(ctx)
		if err != nil {
			return err
		}

		if all == 2*l.opts.Peers && up == all {
			l.printf("sessions: %d established of %d\n", up, all)

			return nil
		}

		if time.Now().After(deadline) {
			return fmt.Errorf("BGP sessions not established after a minute: %d of %d (see %s)", up, all, filepath.Join(l.dir, "gobgpd-router.log"))
		}

		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// convergeBaseline announces the table and waits until the gobgpd
// router's RIB holds every prefix with one path per upstream.
func (l *Lab) convergeBaseline(ctx context.Context, sum *Summary) error {
	if err := l.waitBaselineSessions(ctx); err != nil {
		return err
	}

	want := uint64(len(l.v4) + len(l.v6))
	start := time.Now()
	fed := make(chan error, 1)
	go func() { fed <- l.announce(ctx) }()

	ticker := time.NewTicker(pollInterval)
	defer ticker.Stop()

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
			prefixes, paths, err := l.baseline.ribCounts(ctx)
			if err != nil {
				return err
			}

			if prefixes == want && paths == want*uint64(l.opts.Peers) {
				sum.Converged = time.Since(start)
				sum.Rate = float64(want) / sum.Converged.Seconds()
				l.printf("converged: %d prefixes in the gobgpd router's RIB with %d paths each\n", prefixes, l.opts.Peers)

				return nil
			}

			if tick%printEvery == 0 {
				l.printf("  %6.1fs  prefixes %d/%d  paths %d/%d\n",
					now.Sub(start).Seconds(), prefixes, want, paths, want*uint64(l.opts.Peers))
			}
		}
	}
}

// failoverBaseline kills the last upstream's gobgpd and waits until the
// router's RIB holds none of its paths.
func (l *Lab) failoverBaseline(ctx context.Context, sum *Summary) error {
	failed := l.peers[len(l.peers)-1]
	l.printf("failover: stopping the BGP speaker of upstream %d (%s, %s)\n", failed.index, failed.v4, failed.v6)

	want := uint64(len(l.v4)+len(l.v6)) * uint64(l.opts.Peers-1)
	start := time.Now()
	if err := failed.cmd.Process.Kill(); err != nil {
		return fmt.Errorf("stop upstream %d: %w", failed.index, err)
	}

	deadline := start.Add(5 * time.Minute)
	for {
		_, paths, err := l.baseline.ribCounts(ctx)
		if err != nil {
			return err
		}

		if paths == want {
			sum.BGPFailover = time.Since(start)
			sum.PeakRSSKiB = peakRSS(l.baseline.cmd)
			l.printf("  BGP: the gobgpd router's RIB has no path from upstream %d after %s\n", failed.index, sum.BGPFailover.Round(time.Millisecond))

			return nil
		}

		if time.Now().After(deadline) {
			return fmt.Errorf("the gobgpd router still has %d paths, want %d, five minutes after upstream %d stopped", paths, want, failed.index)
		}

		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(20 * time.Millisecond):
		}
	}
}
