package gobgp

// This file runs the GoBGP speaker inside the process.

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"sync/atomic"

	api "github.com/osrg/gobgp/v3/api"
	"github.com/osrg/gobgp/v3/pkg/config"
	"github.com/osrg/gobgp/v3/pkg/server"
	"golang.org/x/sync/errgroup"
	"google.golang.org/grpc"
)

// embeddedRunning is set while an embedded speaker runs. GoBGP keeps
// multipath and route-selection settings in package variables, so one
// process runs one embedded speaker at a time.
var embeddedRunning atomic.Bool

// apiMessageSize is the largest gRPC message the exposed GoBGP API sends
// and receives, for gobgp commands that list a full table.
const apiMessageSize = 256 << 20

// runEmbedded starts the speaker with the configuration, watches it until
// ctx is cancelled, and stops it.
func (s *Source) runEmbedded(ctx context.Context) error {
	if !embeddedRunning.CompareAndSwap(false, true) {
		return errors.New("run embedded bgp speaker: another one runs in this process, GoBGP allows one")
	}

	defer embeddedRunning.Store(false)

	logger := newGobgpLogger(s.log)
	logger.onPeerDown = func(addr netip.Addr) {
		// Stopping the speaker ends every session ("Peer Down", reason
		// dying): the routes stay in the kernel across a restart of fibd.
		if ctx.Err() == nil {
			s.sessionLost(addr)
		}
	}
	opts := []server.ServerOption{server.LoggerOption(logger)}
	if s.opts.APIAddress != "" {
		opts = append(opts,
			server.GrpcListenAddress(s.opts.APIAddress),
			server.GrpcOption([]grpc.ServerOption{
				grpc.MaxRecvMsgSize(apiMessageSize),
				grpc.MaxSendMsgSize(apiMessageSize),
			}))
	}

	bs := server.NewBgpServer(opts...)
	// TODO: BgpServer.Serve of GoBGP v3.37.0 never returns, so its
	// goroutine stays after Stop.
	go bs.Serve()
	defer bs.Stop()

	if _, err := config.InitialConfig(ctx, bs, s.config.set, false); err != nil {
		return fmt.Errorf("start embedded bgp speaker: %w", err)
	}

	select {
	case err := <-logger.fatal:
		return fmt.Errorf("start embedded bgp speaker: %w", err)
	default:
	}

	b := &embeddedBackend{server: bs}
	s.setBackend(b, true, nil)
	defer s.setBackend(nil, false, nil)

	s.log.Info("embedded bgp speaker started", "as", s.config.set.Global.Config.As,
		"router-id", s.config.set.Global.Config.RouterId, "neighbors", len(s.config.set.Neighbors),
		"api", s.opts.APIAddress)

	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() error { return s.runSession(gctx, b) })
	g.Go(func() error {
		select {
		case err := <-logger.fatal:
			return fmt.Errorf("embedded bgp speaker failed: %w", err)
		case <-gctx.Done():
			return nil
		}
	})

	return g.Wait()
}

// sessionLost handles a session that the embedded speaker's FSM reports
// down, before the speaker has removed its paths: the next hops only this
// peer announced go down at once, unless graceful restart keeps its paths.
func (s *Source) sessionLost(addr netip.Addr) {
	if !s.peers.markDown(addr) {
		return
	}

	s.log.Info("bgp session lost", "peer", addr)
	if !s.peers.gracefulRestart(addr) {
		s.gateways.peerDown(addr)
	}
}

// embeddedBackend is the speaker running in the process.
type embeddedBackend struct {
	server *server.BgpServer
}

var _ backend = (*embeddedBackend)(nil)

func (b *embeddedBackend) watch(ctx context.Context, req *api.WatchEventRequest, fn func(*api.WatchEventResponse)) error {
	if err := b.server.WatchEvent(ctx, req, fn); err != nil {
		return fmt.Errorf("watch embedded bgp speaker: %w", err)
	}

	<-ctx.Done()

	return nil
}

func (b *embeddedBackend) peers(ctx context.Context) ([]*api.Peer, error) {
	var out []*api.Peer
	err := b.server.ListPeer(ctx, &api.ListPeerRequest{}, func(p *api.Peer) {
		out = append(out, p)
	})

	return out, err
}

func (b *embeddedBackend) peer(ctx context.Context, addr netip.Addr) (*api.Peer, error) {
	all, err := b.peers(ctx)
	if err != nil {
		return nil, err
	}

	return findPeer(all, addr), nil
}

func (b *embeddedBackend) localAS(ctx context.Context) (uint32, error) {
	r, err := b.server.GetBgp(ctx, &api.GetBgpRequest{})
	if err != nil {
		return 0, err
	}

	return r.GetGlobal().GetAsn(), nil
}

// findPeer returns the neighbor with addr, whatever zone its configured
// address has, or nil. A neighbor is looked up in the whole list because
// GoBGP matches a requested address only against the configured string.
func findPeer(all []*api.Peer, addr netip.Addr) *api.Peer {
	for _, p := range all {
		for _, s := range []string{p.GetState().GetNeighborAddress(), p.GetConf().GetNeighborAddress()} {
			a, err := netip.ParseAddr(s)
			if err == nil && a.Unmap().WithZone("") == addr {
				return p
			}
		}
	}

	return nil
}
