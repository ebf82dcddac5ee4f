package gobgp

// This file runs the two watch streams of one connection to a speaker,
// the same way for the embedded speaker and a remote gobgpd.

import (
	"context"
	"fmt"
	"net/netip"
	"time"

	api "github.com/osrg/gobgp/v3/api"
	"golang.org/x/sync/errgroup"
)

// backend is a connection to a GoBGP speaker.
type backend interface {
	// watch calls fn for each message of the watch until ctx is
	// cancelled or the stream fails. fn runs on one goroutine per watch.
	watch(ctx context.Context, req *api.WatchEventRequest, fn func(*api.WatchEventResponse)) error

	// peer returns a neighbor's details, or nil when it is not
	// configured.
	peer(ctx context.Context, addr netip.Addr) (*api.Peer, error)

	// peers returns every neighbor's details.
	peers(ctx context.Context) ([]*api.Peer, error)

	// localAS returns the speaker's AS number.
	localAS(ctx context.Context) (uint32, error)
}

// peerQueryTimeout bounds one query of a neighbor's details. The query
// waits while the speaker is busy removing a lost session's paths, which
// takes seconds for a full table.
const peerQueryTimeout = 30 * time.Second

// tableRequest watches best paths, starting with the whole table, and
// End-of-RIB markers.
func tableRequest() *api.WatchEventRequest {
	return &api.WatchEventRequest{
		Table: &api.WatchEventRequest_Table{
			Filters: []*api.WatchEventRequest_Table_Filter{
				{Type: api.WatchEventRequest_Table_Filter_BEST, Init: true},
				{Type: api.WatchEventRequest_Table_Filter_EOR, Init: true},
			},
		},
		BatchSize: watchBatchSize,
	}
}

// peerRequest watches session state changes, starting with every
// neighbor's current state. It has a stream of its own so that a session
// loss is seen without waiting behind the paths GoBGP removes before it
// reports the loss.
func peerRequest() *api.WatchEventRequest {
	return &api.WatchEventRequest{Peer: &api.WatchEventRequest_Peer{}}
}

// runSession watches the speaker behind b until ctx is cancelled or a
// stream fails.
func (s *Source) runSession(ctx context.Context, b backend) error {
	as, err := b.localAS(ctx)
	if err != nil {
		return fmt.Errorf("read local AS: %w", err)
	}

	s.peers.beginInit(as)
	s.table.check = func(addr netip.Addr) bool { return s.sessionEstablished(ctx, b, addr) }
	s.table.lookupIface = func(addr netip.Addr) string { return s.readSessionInterface(ctx, b, addr) }
	s.table.onEndOfRIB = func(e endOfRIB) {
		s.peers.endOfRIB(e)
		s.checkConverged()
	}
	s.table.onSynced = func() {
		s.synced.Store(true)
		s.log.Info("bgp table synchronised", "routes", s.table.stats.routes.Load())
		s.checkConverged()
	}
	connected := time.Now()
	s.table.sweepReady = func() bool { return s.resynced(connected) }
	s.synced.Store(false)
	s.table.startResync()

	// A neighbor that never comes back must not keep the routes gone
	// since the last connection forever.
	sweepTimer := time.AfterFunc(s.opts.ConvergenceTimeout, s.table.finishResync)
	defer sweepTimer.Stop()

	g, ctx := errgroup.WithContext(ctx)
	g.Go(func() error { return s.watchResync(ctx, connected) })
	g.Go(func() error {
		return b.watch(ctx, peerRequest(), func(r *api.WatchEventResponse) {
			if ev := r.GetPeer(); ev != nil {
				s.handlePeerEvent(ctx, b, ev)
			}
		})
	})
	g.Go(func() error {
		return b.watch(ctx, tableRequest(), func(r *api.WatchEventResponse) {
			if ev := r.GetTable(); ev != nil {
				s.table.handle(ev.GetPaths())
			}
		})
	})

	return g.Wait()
}

// resyncSettle is how long a neighbor without End-of-RIB must have been
// established, with no watch message for as long, before the routes still
// missing after a reconnection are withdrawn. GoBGP v3.37.0 sends
// End-of-RIB only with graceful restart (getBestFromLocal in
// pkg/server/server.go), so a restarted gobgpd's peers often send none.
const resyncSettle = 5 * time.Second

// resynced reports whether a resynchronisation after a connection at
// connected may withdraw the routes still missing.
func (s *Source) resynced(connected time.Time) bool {
	now := time.Now()
	quiet := now.Sub(s.table.lastMessage()) >= resyncSettle

	return s.peers.resynced(connected, quiet, now)
}

// watchResync ends the resynchronisation once the neighbors have resent
// their routes, checking every second; peer events and End-of-RIB markers
// may end it sooner.
func (s *Source) watchResync(ctx context.Context, connected time.Time) error {
	ticker := time.NewTicker(time.Second)
	defer ticker.Stop()

	for s.table.resyncPending() {
		select {
		case <-ctx.Done():
			return nil
		case <-ticker.C:
		}

		if s.resynced(connected) {
			s.table.finishResync()
		}
	}

	return nil
}

// handlePeerEvent follows a session's state. A session that goes down
// takes down the next hops only it announced, unless graceful restart
// keeps its paths in use. A session that comes up brings them back.
func (s *Source) handlePeerEvent(ctx context.Context, b backend, ev *api.WatchEventResponse_PeerEvent) {
	switch ev.GetType() {
	case api.WatchEventResponse_PeerEvent_END_OF_INIT:
		for _, addr := range s.peers.endOfInit() {
			s.gateways.peerDown(addr)
		}

	case api.WatchEventResponse_PeerEvent_INIT, api.WatchEventResponse_PeerEvent_STATE:
		addr, tr := s.peers.update(ev.GetPeer(), time.Now())
		switch tr {
		case transitionDown:
			s.log.Info("bgp session down", "peer", addr, "state", ev.GetPeer().GetState().GetSessionState().String())
			if !s.peers.gracefulRestart(addr) {
				s.gateways.peerDown(addr)
			}

		case transitionUp:
			s.log.Info("bgp session established", "peer", addr)
			s.readDetails(ctx, b, addr)
			s.gateways.peerUp(addr)
		}
	}

	s.checkConverged()
}

// readDetails reads an established session's negotiated families,
// graceful restart and interface.
func (s *Source) readDetails(ctx context.Context, b backend, addr netip.Addr) {
	ctx, cancel := context.WithTimeout(ctx, peerQueryTimeout)
	defer cancel()

	d, err := b.peer(ctx, addr)
	if err != nil || d == nil {
		s.log.Warn("read bgp neighbor details failed", "peer", addr, "error", err)

		return
	}

	s.peers.setDetails(addr, d)
}

// sessionEstablished queries the speaker whether the session with addr is
// established. The query waits until the speaker has handled any state
// change it is busy with. An error counts as established, so that no next
// hop is taken down on a failed query.
func (s *Source) sessionEstablished(ctx context.Context, b backend, addr netip.Addr) bool {
	ctx, cancel := context.WithTimeout(ctx, peerQueryTimeout)
	defer cancel()

	d, err := b.peer(ctx, addr)
	if err != nil || d == nil {
		return err != nil
	}

	return d.GetState().GetSessionState() == api.PeerState_ESTABLISHED
}

// readSessionInterface finds the interface of the session with addr, for
// a link-local next hop that arrives before the session's details.
func (s *Source) readSessionInterface(ctx context.Context, b backend, addr netip.Addr) string {
	ctx, cancel := context.WithTimeout(ctx, peerQueryTimeout)
	defer cancel()

	d, err := b.peer(ctx, addr)
	if err != nil || d == nil {
		return ""
	}

	iface := sessionInterface(d)
	if iface != "" {
		s.peers.setIface(addr, iface)
	}

	return iface
}
