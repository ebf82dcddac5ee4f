package gobgp

// This file reports the source's state for `fibd status` and metrics.

import (
	"context"
	"net/netip"
	"time"

	api "github.com/osrg/gobgp/v3/api"
)

// statusQueryTimeout bounds the query of the speaker's neighbor counters
// in Status.
const statusQueryTimeout = 2 * time.Second

// Status is a snapshot of a Source.
type Status struct {
	// Mode is ModeEmbedded or ModeRemote.
	Mode string

	// RemoteAddress is gobgpd's address in remote mode.
	RemoteAddress string

	// Connected reports an embedded speaker that runs, or a connection to
	// gobgpd that is up.
	Connected bool

	// Synced reports that the whole table has been offered once since
	// the last connection.
	Synced bool

	// Converged reports that convergence was declared to the sink.
	Converged bool

	// Peers are the configured neighbors, sorted by address.
	Peers []PeerStatus

	// Routes is the number of prefixes offered to the sink, or while
	// Deferring, the number it will be offered.
	Routes int

	// Deferring reports that the routes are kept from the sink until
	// convergence (Options.DeferUntilConverged).
	Deferring bool

	// Messages and Paths count the watch messages and paths received.
	Messages, Paths uint64

	// Updates and Withdrawals count the routes offered and the keys
	// withdrawn; Rejected counts routes the sink rejected. Each best-path
	// change of a prefix that reaches the sink counts once in Updates or
	// Withdrawals.
	Updates, Withdrawals, Rejected uint64

	// LastChange is when the source last handed a route or a withdrawal
	// to the sink; zero before the first.
	LastChange time.Time

	// Skipped counts paths without a usable next hop: originated by the
	// speaker itself, or link-local without a known interface.
	Skipped uint64

	// GatewaysDown is the number of next hops marked down because the
	// only sessions announcing them are down.
	GatewaysDown int

	// LastError is the last error seen: a connection failure, a path that
	// could not be decoded, or a rejected route.
	LastError string
}

// PeerStatus describes one neighbor.
type PeerStatus struct {
	Address netip.Addr
	AS      uint32
	State   string // GoBGP's session state, such as "ESTABLISHED"

	// Uptime is how long the session has been established; zero when it
	// is not.
	Uptime time.Duration

	// Received and Accepted count the paths the peer sent and those that
	// passed import policy; zero when the speaker could not be asked.
	Received, Accepted uint64

	// Interface is the interface of the session, used for link-local
	// next hops; "" when not known.
	Interface string

	// Routes is the number of routes offered to the sink with a member
	// learned from the peer, and RoutesChanged when it last changed.
	// After a session loss, RoutesChanged with Routes zero is when the
	// last route using the peer was replaced or withdrawn.
	Routes        int
	RoutesChanged time.Time
}

// Status returns a snapshot of the source. It queries the speaker for the
// neighbors' path counters, waiting at most 2 seconds. Without a reply
// by then, Received and Accepted are zero.
func (s *Source) Status() Status {
	return s.status(true)
}

// Snapshot returns the status without querying the speaker, so it is
// cheap to call often: the peers' Received and Accepted are zero. GoBGP
// walks a neighbor's whole Adj-RIB-In to count its paths, on the loop
// that also handles the BGP updates.
func (s *Source) Snapshot() Status {
	return s.status(false)
}

func (s *Source) status(counters bool) Status {
	st := Status{
		Mode:         s.opts.Mode,
		Converged:    s.converged.Load(),
		Synced:       s.synced.Load(),
		Routes:       int(s.table.stats.routes.Load()),
		Messages:     s.table.stats.messages.Load(),
		Paths:        s.table.stats.paths.Load(),
		Updates:      s.table.stats.updates.Load(),
		Withdrawals:  s.table.stats.withdraws.Load(),
		Rejected:     s.table.stats.rejected.Load(),
		Skipped:      s.table.stats.skipped.Load(),
		GatewaysDown: s.gateways.downCount(),
		Deferring:    s.table.isDeferring(),
	}

	if s.opts.Mode == ModeRemote {
		st.RemoteAddress = s.opts.RemoteAddress
	}

	s.mu.Lock()
	st.Connected = s.connected
	st.LastError = s.lastError
	b := s.backend
	s.mu.Unlock()

	if ns := s.table.stats.lastChange.Load(); ns != 0 {
		st.LastChange = time.Unix(0, ns)
	}

	s.table.stats.mu.Lock()
	if s.table.stats.lastError != "" {
		st.LastError = s.table.stats.lastError
	}
	s.table.stats.mu.Unlock()

	if !counters {
		b = nil
	}

	st.Peers = s.peerStatus(b)

	return st
}

func (s *Source) peerStatus(b backend) []PeerStatus {
	var details []*api.Peer
	if b != nil {
		details = s.queryPeers(b)
	}

	now := time.Now()
	var out []PeerStatus
	for _, p := range s.peers.snapshot() {
		ps := PeerStatus{Address: p.addr, AS: p.as, State: p.state.String(), Interface: p.iface}
		if !p.since.IsZero() {
			ps.Uptime = now.Sub(p.since)
		}

		ps.Routes, ps.RoutesChanged = s.table.peerRoutes(p.addr)

		if d := findPeer(details, p.addr); d != nil {
			for _, a := range d.GetAfiSafis() {
				if familyOf(a.GetState().GetFamily()) != 0 {
					ps.Received += a.GetState().GetReceived()
					ps.Accepted += a.GetState().GetAccepted()
				}
			}
		}

		out = append(out, ps)
	}

	return out
}

// peerRoutes returns the number of offered routes that use peer, and when
// it last changed.
func (t *table) peerRoutes(peer netip.Addr) (int, time.Time) {
	t.stats.mu.Lock()
	defer t.stats.mu.Unlock()

	c := t.stats.peerRoutes[peer]
	if c == nil {
		return 0, time.Time{}
	}

	return c.routes, c.changed
}

// queryPeers lists the speaker's neighbors, waiting at most
// statusQueryTimeout. The embedded speaker of GoBGP v3.37.0 ignores the
// context of ListPeer and replies only when its main loop is free, which
// takes seconds while it removes a lost session's full table. The query
// then goes on in the background, and Status skips the counters until it
// ends rather than start another one.
func (s *Source) queryPeers(b backend) []*api.Peer {
	if !s.peerQuery.CompareAndSwap(false, true) {
		return nil
	}

	ctx, cancel := context.WithTimeout(context.Background(), statusQueryTimeout)
	done := make(chan []*api.Peer, 1)
	go func() {
		defer s.peerQuery.Store(false)
		defer cancel()

		details, _ := b.peers(ctx)
		done <- details
	}()

	select {
	case details := <-done:
		return details
	case <-ctx.Done():
		return nil
	}
}
