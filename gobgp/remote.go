package gobgp

// This file connects to a remote gobgpd over its gRPC API.

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"time"

	api "github.com/osrg/gobgp/v3/api"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
)

// Reconnection backoff of the remote mode: the delay doubles from
// minBackoff to maxBackoff, and starts again from minBackoff after a
// connection that lasted healthyAfter.
const (
	minBackoff   = 500 * time.Millisecond
	maxBackoff   = 30 * time.Second
	healthyAfter = time.Minute
)

// remoteMessageSize is the largest watch message accepted from gobgpd.
// Messages hold at most watchBatchSize+1 paths, but a path with many
// communities or a long AS path can be kilobytes.
const remoteMessageSize = 256 << 20

// runRemote connects to gobgpd and watches it, reconnecting with
// exponential backoff, until ctx is cancelled.
func (s *Source) runRemote(ctx context.Context) error {
	backoff := minBackoff
	for {
		start := time.Now()
		err := s.connect(ctx)
		if ctx.Err() != nil {
			return nil
		}

		if time.Since(start) >= healthyAfter {
			backoff = minBackoff
		}

		s.setBackend(nil, false, err)
		s.log.Warn("gobgpd connection lost, reconnecting", "address", s.opts.RemoteAddress, "error", err, "retry-in", backoff)

		select {
		case <-ctx.Done():
			return nil
		case <-time.After(backoff):
		}

		backoff = min(2*backoff, maxBackoff)
	}
}

// connect runs one connection to gobgpd until it fails.
func (s *Source) connect(ctx context.Context) error {
	// TODO: the connection to gobgpd has no TLS; gobgpd's API is
	// expected on loopback or a trusted network.
	conn, err := grpc.NewClient(s.opts.RemoteAddress,
		grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithDefaultCallOptions(grpc.MaxCallRecvMsgSize(remoteMessageSize)))
	if err != nil {
		return fmt.Errorf("connect to gobgpd %s: %w", s.opts.RemoteAddress, err)
	}

	defer conn.Close()

	b := &remoteBackend{client: api.NewGobgpApiClient(conn)}
	if _, err := b.localAS(ctx); err != nil {
		return fmt.Errorf("connect to gobgpd %s: %w", s.opts.RemoteAddress, err)
	}

	s.setBackend(b, true, nil)
	s.log.Info("connected to gobgpd", "address", s.opts.RemoteAddress)

	if err := s.runSession(ctx, b); err != nil {
		return fmt.Errorf("watch gobgpd %s: %w", s.opts.RemoteAddress, err)
	}

	return errors.New("watch gobgpd " + s.opts.RemoteAddress + ": stream ended")
}

// remoteBackend is a gobgpd reached over gRPC.
type remoteBackend struct {
	client api.GobgpApiClient
}

var _ backend = (*remoteBackend)(nil)

func (b *remoteBackend) watch(ctx context.Context, req *api.WatchEventRequest, fn func(*api.WatchEventResponse)) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()

	stream, err := b.client.WatchEvent(ctx, req)
	if err != nil {
		return err
	}

	for {
		r, err := stream.Recv()
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}

			return err
		}

		fn(r)
	}
}

func (b *remoteBackend) peers(ctx context.Context) ([]*api.Peer, error) {
	stream, err := b.client.ListPeer(ctx, &api.ListPeerRequest{})
	if err != nil {
		return nil, err
	}

	var out []*api.Peer
	for {
		r, err := stream.Recv()
		if errors.Is(err, io.EOF) {
			return out, nil
		}

		if err != nil {
			return nil, err
		}

		out = append(out, r.GetPeer())
	}
}

func (b *remoteBackend) peer(ctx context.Context, addr netip.Addr) (*api.Peer, error) {
	all, err := b.peers(ctx)
	if err != nil {
		return nil, err
	}

	return findPeer(all, addr), nil
}

func (b *remoteBackend) localAS(ctx context.Context) (uint32, error) {
	r, err := b.client.GetBgp(ctx, &api.GetBgpRequest{})
	if err != nil {
		return 0, err
	}

	return r.GetGlobal().GetAsn(), nil
}
