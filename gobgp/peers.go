package gobgp

// This file keeps the state of the BGP sessions: their state, the
// interface each one runs over, the families they negotiated and the
// End-of-RIB markers received, from which convergence follows.

import (
	"net"
	"net/netip"
	"slices"
	"sync"
	"time"

	api "github.com/osrg/gobgp/v3/api"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/anypb"
)

// peer is the state of one configured neighbor.
type peer struct {
	addr    netip.Addr
	as      uint32
	localAS uint32
	state   api.PeerState_SessionState
	since   time.Time // when the session became established

	// establishedAt is when the speaker established the session, to the
	// second, from its neighbor listing; zero until the details are read.
	establishedAt time.Time

	// iface is the interface the session runs over, for link-local next
	// hops; "" until known.
	iface string

	// families are the unicast families negotiated on the session; nil
	// until the session's details are read after it became established.
	families []family
	eor      map[family]bool

	gracefulRestart bool

	// listed is set when the speaker listed the neighbor since the watch
	// started.
	listed bool
}

// transition is a change of a session between established and not.
type transition uint8

const (
	transitionNone transition = iota
	transitionUp
	transitionDown
)

// peers is the set of neighbors of one speaker. It is safe for concurrent
// use.
type peers struct {
	mu       sync.Mutex
	byAddr   map[netip.Addr]*peer
	complete bool // the speaker listed every configured neighbor
	localAS  uint32
}

func newPeers(localAS uint32) *peers {
	return &peers{byAddr: make(map[netip.Addr]*peer), localAS: localAS}
}

// update applies a peer event and returns whether the session went up or
// down.
func (ps *peers) update(ev *api.Peer, now time.Time) (netip.Addr, transition) {
	addr, err := netip.ParseAddr(ev.GetState().GetNeighborAddress())
	if err != nil {
		return netip.Addr{}, transitionNone
	}

	addr = addr.Unmap().WithZone("")

	ps.mu.Lock()
	defer ps.mu.Unlock()

	p := ps.byAddr[addr]
	if p == nil {
		p = &peer{addr: addr, eor: make(map[family]bool)}
		ps.byAddr[addr] = p
	}

	if as := ev.GetState().GetPeerAsn(); as != 0 {
		p.as = as
	}

	if as := ev.GetState().GetLocalAsn(); as != 0 {
		p.localAS = as
	}

	was := p.state == api.PeerState_ESTABLISHED
	p.state = ev.GetState().GetSessionState()
	is := p.state == api.PeerState_ESTABLISHED

	p.listed = true

	switch {
	case is && !was:
		// End-of-RIB markers are kept: on its own stream, the marker
		// of the new session may come before this event.
		p.since = now
		p.families = nil

		return addr, transitionUp
	case was && !is:
		p.since = time.Time{}
		p.families = nil
		clear(p.eor)

		return addr, transitionDown
	}

	return addr, transitionNone
}

// markDown records that a session is known not to be established, before
// its state event arrives. It reports whether the session was established.
func (ps *peers) markDown(addr netip.Addr) bool {
	ps.mu.Lock()
	defer ps.mu.Unlock()

	p := ps.byAddr[addr]
	if p == nil || p.state != api.PeerState_ESTABLISHED {
		return false
	}

	p.state = api.PeerState_UNKNOWN
	p.since = time.Time{}
	p.families = nil
	clear(p.eor)

	return true
}

// setDetails stores what the speaker's neighbor listing shows of an
// established session: negotiated families, graceful restart and the
// session's interface.
func (ps *peers) setDetails(addr netip.Addr, d *api.Peer) {
	families := negotiatedFamilies(d)
	gr := d.GetGracefulRestart().GetEnabled() && hasCapability(d.GetState().GetRemoteCap(), (*api.GracefulRestartCapability)(nil))
	iface := sessionInterface(d)

	ps.mu.Lock()
	defer ps.mu.Unlock()

	p := ps.byAddr[addr]
	if p == nil || p.state != api.PeerState_ESTABLISHED {
		return
	}

	p.families = families
	p.gracefulRestart = gr
	if iface != "" {
		p.iface = iface
	}

	p.establishedAt = p.since
	if up := d.GetTimers().GetState().GetUptime(); up.IsValid() && up.GetSeconds() > 0 {
		p.establishedAt = up.AsTime()
	}
}

// established reports whether the session with addr is established.
func (ps *peers) established(addr netip.Addr) bool {
	ps.mu.Lock()
	defer ps.mu.Unlock()

	p := ps.byAddr[addr]

	return p != nil && p.state == api.PeerState_ESTABLISHED
}

// gracefulRestart reports whether the session negotiated graceful restart,
// so that its paths stay in use while the peer restarts.
func (ps *peers) gracefulRestart(addr netip.Addr) bool {
	ps.mu.Lock()
	defer ps.mu.Unlock()

	p := ps.byAddr[addr]

	return p != nil && p.gracefulRestart
}

// iface returns the interface of the session with addr, or "".
func (ps *peers) iface(addr netip.Addr) string {
	ps.mu.Lock()
	defer ps.mu.Unlock()

	if p := ps.byAddr[addr]; p != nil {
		return p.iface
	}

	return ""
}

// setIface stores the interface of the session with addr.
func (ps *peers) setIface(addr netip.Addr, iface string) {
	ps.mu.Lock()
	defer ps.mu.Unlock()

	if p := ps.byAddr[addr]; p != nil {
		p.iface = iface
	}
}

// isEBGP reports whether a path learned from addr with peer AS peerAS is
// external: the peer's AS differs from the local AS of the session.
func (ps *peers) isEBGP(addr netip.Addr, peerAS uint32) bool {
	ps.mu.Lock()
	defer ps.mu.Unlock()

	local := ps.localAS
	if p := ps.byAddr[addr]; p != nil && p.localAS != 0 {
		local = p.localAS
	}

	return peerAS != local
}

// beginInit starts a new listing of the configured neighbors, after the
// watch started again.
func (ps *peers) beginInit(localAS uint32) {
	ps.mu.Lock()
	defer ps.mu.Unlock()

	ps.complete = false
	ps.localAS = localAS
	for _, p := range ps.byAddr {
		p.listed = false
	}
}

// endOfInit records that every configured neighbor has been listed. It
// removes the neighbors the listing did not contain and returns those
// whose sessions were established.
func (ps *peers) endOfInit() []netip.Addr {
	ps.mu.Lock()
	defer ps.mu.Unlock()

	ps.complete = true

	var gone []netip.Addr
	for addr, p := range ps.byAddr {
		if p.listed {
			continue
		}

		if p.state == api.PeerState_ESTABLISHED {
			gone = append(gone, addr)
		}

		delete(ps.byAddr, addr)
	}

	return gone
}

// endOfRIB records an End-of-RIB marker.
func (ps *peers) endOfRIB(e endOfRIB) {
	ps.mu.Lock()
	defer ps.mu.Unlock()

	p := ps.byAddr[e.peer]
	if p == nil {
		p = &peer{addr: e.peer, eor: make(map[family]bool)}
		ps.byAddr[e.peer] = p
	}

	p.eor[e.family] = true
}

// converged reports whether every configured neighbor is established and
// has sent End-of-RIB for each unicast family it negotiated.
func (ps *peers) converged() bool {
	ps.mu.Lock()
	defer ps.mu.Unlock()

	if !ps.complete {
		return false
	}

	for _, p := range ps.byAddr {
		if p.state != api.PeerState_ESTABLISHED || p.families == nil || !p.allEndOfRIB() {
			return false
		}
	}

	return true
}

// anyEstablished reports whether a configured neighbor, or none at all, is
// established: a speaker without neighbors has nothing to wait for.
func (ps *peers) anyEstablished() bool {
	ps.mu.Lock()
	defer ps.mu.Unlock()

	if len(ps.byAddr) == 0 {
		return true
	}

	for _, p := range ps.byAddr {
		if p.state == api.PeerState_ESTABLISHED {
			return true
		}
	}

	return false
}

// resynced reports whether every configured neighbor's routes are back in
// the speaker's table after a reconnection at connected. Each session must
// be established and have sent End-of-RIB for each family. A session
// established a second before the connection counts too, because its
// routes were in the first event. With quiet set, so does a session
// established for resyncSettle.
func (ps *peers) resynced(connected time.Time, quiet bool, now time.Time) bool {
	ps.mu.Lock()
	defer ps.mu.Unlock()

	if !ps.complete {
		return false
	}

	for _, p := range ps.byAddr {
		if p.state != api.PeerState_ESTABLISHED || p.families == nil {
			return false
		}

		switch {
		case p.allEndOfRIB():
		case p.establishedAt.Before(connected.Add(-time.Second)):
		case quiet && now.Sub(p.establishedAt) >= resyncSettle:
		default:
			return false
		}
	}

	return true
}

func (p *peer) allEndOfRIB() bool {
	for _, f := range p.families {
		if !p.eor[f] {
			return false
		}
	}

	return true
}

// snapshot returns a copy of every peer, sorted by address.
func (ps *peers) snapshot() []peer {
	ps.mu.Lock()
	defer ps.mu.Unlock()

	out := make([]peer, 0, len(ps.byAddr))
	for _, p := range ps.byAddr {
		c := *p
		c.eor = nil
		c.families = slices.Clone(p.families)
		out = append(out, c)
	}

	slices.SortFunc(out, func(a, b peer) int { return a.addr.Compare(b.addr) })

	return out
}

// negotiatedFamilies returns the unicast families enabled locally that the
// peer announced in its Multiprotocol capabilities. A peer that announced
// none negotiates IPv4 unicast only, as GoBGP v3.37.0 assumes (open2Cap in
// pkg/server/fsm.go). The result is never nil.
func negotiatedFamilies(d *api.Peer) []family {
	remote := make(map[family]bool)
	sawMP := false
	for _, c := range d.GetState().GetRemoteCap() {
		var mp api.MultiProtocolCapability
		if !c.MessageIs(&mp) || c.UnmarshalTo(&mp) != nil {
			continue
		}

		sawMP = true
		remote[familyOf(mp.GetFamily())] = true
	}

	if !sawMP {
		remote[familyIPv4] = true
	}

	families := []family{}
	for _, a := range d.GetAfiSafis() {
		f := familyOf(a.GetConfig().GetFamily())
		if f != 0 && a.GetConfig().GetEnabled() && remote[f] && !slices.Contains(families, f) {
			families = append(families, f)
		}
	}

	return families
}

func hasCapability(caps []*anypb.Any, m proto.Message) bool {
	for _, c := range caps {
		if c.MessageIs(m) {
			return true
		}
	}

	return false
}

// sessionInterface returns the interface a session runs over: the
// neighbor's configured interface, the zone of its configured address, or
// the local interface that holds the session's local address. It returns
// "" when none is found.
func sessionInterface(d *api.Peer) string {
	if name := d.GetConf().GetNeighborInterface(); name != "" {
		return name
	}

	if a, err := netip.ParseAddr(d.GetConf().GetNeighborAddress()); err == nil && a.Zone() != "" {
		return a.Zone()
	}

	local, err := netip.ParseAddr(d.GetTransport().GetLocalAddress())
	if err != nil {
		return ""
	}

	if local.Zone() != "" {
		return local.Zone()
	}

	return interfaceWithAddr(local.Unmap())
}

// interfaceWithAddr returns the name of the first interface, in the
// process's network namespace, that holds addr.
//
// NOTE: a link-local address may be configured on several interfaces; the
// first one in the kernel's order is returned.
func interfaceWithAddr(addr netip.Addr) string {
	ifaces, err := net.Interfaces()
	if err != nil {
		return ""
	}

	for _, ifc := range ifaces {
		addrs, err := ifc.Addrs()
		if err != nil {
			continue
		}

		for _, a := range addrs {
			ipnet, ok := a.(*net.IPNet)
			if !ok {
				continue
			}

			if ip, ok := netip.AddrFromSlice(ipnet.IP); ok && ip.Unmap() == addr {
				return ifc.Name
			}
		}
	}

	return ""
}
