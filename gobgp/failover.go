package gobgp

// This file tracks which peers announce each next hop, and marks next hops
// down in the sink when the only peers announcing them go down.

import (
	"net/netip"
	"sync"
)

// gatewayReason is the reason fibd gives the FIB for a next hop that is
// down because the BGP session that announced it went down.
const gatewayReason = "bgp-peer"

// gateways maps next hops to the peers that announce them. It is safe for
// concurrent use: the table goroutine changes the announcements and the
// peer goroutine reports sessions that go down or come up.
type gateways struct {
	sink Sink

	mu sync.Mutex

	// peers counts, per next hop and peer, the interned member sets that
	// contain the pair.
	peers map[netip.Addr]map[netip.Addr]int

	// down maps each next hop marked down to the peer whose session loss
	// caused it.
	down map[netip.Addr]netip.Addr

	// deferred is non-nil while the source defers its routes. A next hop
	// that comes back is then kept in it instead of being marked up: the
	// sink still has routes of a previous run that request it, whatever
	// its peer announces now.
	deferred map[netip.Addr]bool
}

func newGateways(sink Sink) *gateways {
	return &gateways{
		sink:  sink,
		peers: make(map[netip.Addr]map[netip.Addr]int),
		down:  make(map[netip.Addr]netip.Addr),
	}
}

// up marks a next hop up in the sink, or keeps it for releaseUps while
// the source defers.
func (g *gateways) up(gw netip.Addr) {
	if g.deferred != nil {
		g.deferred[gw] = true

		return
	}

	g.sink.SetGatewayDown(gw, gatewayReason, false)
}

// releaseUps ends the deferral of next hops that came back: the sink marks
// them up now, after the source has offered its routes.
func (g *gateways) releaseUps() {
	g.mu.Lock()
	defer g.mu.Unlock()

	for gw := range g.deferred {
		g.sink.SetGatewayDown(gw, gatewayReason, false)
	}

	g.deferred = nil
}

// addSet records the pairs of a member set that came into use. A next hop
// marked down that an established peer now announces is marked up again.
func (g *gateways) addSet(members []member, established func(netip.Addr) bool) {
	g.mu.Lock()
	defer g.mu.Unlock()

	for _, m := range members {
		gw := m.hop.Gateway
		byPeer := g.peers[gw]
		if byPeer == nil {
			byPeer = make(map[netip.Addr]int)
			g.peers[gw] = byPeer
		}

		byPeer[m.peer]++

		if _, ok := g.down[gw]; ok && established(m.peer) {
			delete(g.down, gw)
			g.up(gw)
		}
	}
}

// removeSet removes the pairs of a member set that is no longer used.
func (g *gateways) removeSet(members []member) {
	g.mu.Lock()
	defer g.mu.Unlock()

	for _, m := range members {
		gw := m.hop.Gateway
		byPeer := g.peers[gw]
		byPeer[m.peer]--
		if byPeer[m.peer] <= 0 {
			delete(byPeer, m.peer)
		}

		if len(byPeer) == 0 {
			delete(g.peers, gw)
		}
	}
}

// peerDown marks down every next hop that only peer announces and returns
// them. Calling it again for the same peer changes nothing.
func (g *gateways) peerDown(peer netip.Addr) []netip.Addr {
	g.mu.Lock()
	defer g.mu.Unlock()

	var marked []netip.Addr
	for gw, byPeer := range g.peers {
		if _, ok := g.down[gw]; ok {
			continue
		}

		if _, ok := byPeer[peer]; !ok || len(byPeer) != 1 {
			continue
		}

		g.down[gw] = peer
		delete(g.deferred, gw)
		g.sink.SetGatewayDown(gw, gatewayReason, true)
		marked = append(marked, gw)
	}

	return marked
}

// peerUp marks up again the next hops that peer's session loss marked
// down.
func (g *gateways) peerUp(peer netip.Addr) {
	g.mu.Lock()
	defer g.mu.Unlock()

	for gw, cause := range g.down {
		if cause == peer {
			delete(g.down, gw)
			g.up(gw)
		}
	}
}

// downCount returns the number of next hops marked down.
func (g *gateways) downCount() int {
	g.mu.Lock()
	defer g.mu.Unlock()

	return len(g.down)
}
