package gobgp

// This file turns the messages of GoBGP's best-path watch into candidate
// routes and withdrawals for the sink.

import (
	"log/slog"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	api "github.com/osrg/gobgp/v3/api"

	"github.com/fibd/fibd/fib"
	"github.com/fibd/fibd/nexthop"
)

// member is one usable path of a prefix's multipath set: the hop the
// kernel needs and the peer that announced it.
type member struct {
	hop  nexthop.Hop
	peer netip.Addr
}

// memberSet is an interned multipath set with the distance of its route,
// shared by every prefix that uses it.
type memberSet struct {
	key      string
	members  []member
	peers    []netip.Addr // the distinct peers of members
	distance fib.Distance
	refs     int
}

// change is the new state of one prefix: a member set, or nil for a
// withdrawal.
type change struct {
	prefix netip.Prefix
	set    *memberSet
}

// tableConfig holds what turns a multipath set into a route.
type tableConfig struct {
	table        uint32
	metric       uint32
	ebgpDistance fib.Distance
	ibgpDistance fib.Distance

	// batchSize is the BatchSize of the watch request. GoBGP splits one
	// event into messages of batchSize+1 paths and a last, shorter (maybe
	// empty) message, so a message of exactly batchSize+1 paths is
	// continued by the next one.
	batchSize int
}

// peerChecker reports whether the speaker still has the session with a
// peer established. It may block until the speaker has finished handling
// the session's state change.
type peerChecker func(peer netip.Addr) bool

// peerCheckInterval is the shortest time between two queries for the same
// established peer. GoBGP counts a neighbor's whole Adj-RIB-In to list it,
// so a query per message would slow both GoBGP and the watch consumer
// while a live peer withdraws many prefixes.
//
// NOTE: a peer that withdrew a prefix less than this interval before its
// session went down is found down only by its state event, after GoBGP
// has sent the withdrawals, so those prefixes fail over one by one.
const peerCheckInterval = 250 * time.Millisecond

// table is the state of the routes offered to the sink: one interned
// member set per prefix. Its handle method runs on one goroutine, and mu
// serialises it with the end of a resynchronisation, which the peer
// goroutine or a timer may trigger. Counters and Status may be read from
// any goroutine.
type table struct {
	mu sync.Mutex

	cfg      tableConfig
	sink     Sink
	peers    *peers
	gateways *gateways
	check    peerChecker

	// lookupIface reads the interface of a session from the speaker, for
	// a link-local next hop that arrives before the session's details.
	lookupIface func(peer netip.Addr) string

	offered map[netip.Prefix]*memberSet
	sets    map[string]*memberSet

	// checked is when each peer was last found established by check.
	checked map[netip.Addr]time.Time

	// resync collects the prefixes offered or withdrawn since the watch
	// started. When the resynchronisation ends, the offered prefixes it
	// does not contain are withdrawn. It is nil outside a
	// resynchronisation.
	resync map[netip.Prefix]struct{}

	// syncing is set from the start of the watch until its first event,
	// the speaker's whole current table, is complete.
	syncing bool

	// carry is the last prefix's paths of a message that the next message
	// continues.
	carry []path

	// onEndOfRIB is called for each End-of-RIB marker after the paths
	// before it were handed to the sink.
	onEndOfRIB func(endOfRIB)

	// onSynced is called when the first event after the watch started is
	// complete, with the table's lock released.
	onSynced func()

	// sweepReady reports whether the resynchronisation may end once the
	// first event is complete: whether the speaker's sessions have
	// converged, so that the prefixes still missing are gone for good.
	// nil means at once.
	sweepReady func() bool

	// deferring is set while the table keeps its changes from the sink
	// (Options.DeferUntilConverged); offered then holds what the sink
	// gets when offerDeferred ends it.
	deferring bool

	// log receives one line per message in which paths could not be
	// decoded or used, or routes were rejected.
	log *slog.Logger

	// noIface counts the paths of the current message skipped because no
	// interface is known for their link-local next hop.
	noIface int

	stats tableStats
}

// tableStats are counters of the translation; they are safe to read
// concurrently.
type tableStats struct {
	messages   atomic.Uint64
	paths      atomic.Uint64
	updates    atomic.Uint64
	withdraws  atomic.Uint64
	rejected   atomic.Uint64
	skipped    atomic.Uint64
	decodeErrs atomic.Uint64
	routes     atomic.Int64
	lastChange atomic.Int64 // Unix nanoseconds of the last sink call
	lastMsg    atomic.Int64 // Unix nanoseconds of the last watch message

	mu        sync.Mutex
	lastError string

	// peerRoutes counts, per peer, the offered prefixes with a member
	// from that peer.
	peerRoutes map[netip.Addr]*peerRoutes
}

// peerRoutes is the number of offered prefixes that use a peer, and when
// it last changed.
type peerRoutes struct {
	routes  int
	changed time.Time
}

func newTable(cfg tableConfig, sink Sink, ps *peers, gws *gateways, check peerChecker) *table {
	return &table{
		cfg:      cfg,
		sink:     sink,
		peers:    ps,
		gateways: gws,
		check:    check,
		offered:  make(map[netip.Prefix]*memberSet),
		sets:     make(map[string]*memberSet),
		checked:  make(map[netip.Addr]time.Time),
		log:      slog.New(slog.DiscardHandler),
		stats:    tableStats{peerRoutes: make(map[netip.Addr]*peerRoutes)},
	}
}

// startResync begins a resynchronisation: the first complete event from
// now on is the whole table. With nothing offered yet, there is nothing
// to sweep, so the prefixes are not collected.
func (t *table) startResync() {
	t.mu.Lock()
	defer t.mu.Unlock()

	t.syncing = true
	t.carry = nil
	t.resync = nil
	if len(t.offered) > 0 {
		t.resync = make(map[netip.Prefix]struct{})
	}
}

// handle processes one message of the best-path watch.
func (t *table) handle(paths []*api.Path) {
	synced, eors := t.handleLocked(paths)

	// The callbacks run without the lock: they may end the
	// resynchronisation.
	if synced && t.onSynced != nil {
		t.onSynced()
	}

	for _, e := range eors {
		if t.onEndOfRIB != nil {
			t.onEndOfRIB(e)
		}
	}
}

// handleLocked hands the message's changes to the sink. It returns
// whether the message completed the first event of a resynchronisation,
// and the End-of-RIB markers it carried.
func (t *table) handleLocked(paths []*api.Path) (synced bool, eors []endOfRIB) {
	t.mu.Lock()
	defer t.mu.Unlock()

	t.stats.messages.Add(1)
	t.stats.paths.Add(uint64(len(paths)))
	t.stats.lastMsg.Store(time.Now().UnixNano())

	continued := t.cfg.batchSize > 0 && len(paths) == t.cfg.batchSize+1
	decoded, eors := t.decode(paths)

	groups := splitByPrefix(decoded)
	if continued && len(groups) > 0 {
		t.carry = groups[len(groups)-1]
		groups = groups[:len(groups)-1]
	}

	changes := make([]change, 0, len(groups))
	t.noIface = 0
	for _, g := range groups {
		changes = append(changes, t.translate(g))
	}

	if t.noIface > 0 {
		t.log.Warn("bgp paths skipped: no interface known for their link-local next hop", "paths", t.noIface, "error", t.lastErrorText())
	}

	t.checkLeavingPeers(changes)
	t.apply(changes)

	if !continued && t.syncing {
		t.syncing = false
		synced = true
		if t.resync != nil && (t.sweepReady == nil || t.sweepReady()) {
			t.sweep()
		}
	}

	return synced, eors
}

// resyncPending reports whether a resynchronisation has not ended yet.
func (t *table) resyncPending() bool {
	t.mu.Lock()
	defer t.mu.Unlock()

	return t.syncing || t.resync != nil
}

// lastMessage returns when the last watch message arrived.
func (t *table) lastMessage() time.Time {
	return time.Unix(0, t.stats.lastMsg.Load())
}

// finishResync ends a resynchronisation whose first event is complete:
// it withdraws the offered prefixes that were not offered again since the
// watch started. It does nothing outside a resynchronisation or before
// that event is complete.
func (t *table) finishResync() {
	t.mu.Lock()
	defer t.mu.Unlock()

	if t.resync != nil && !t.syncing {
		t.sweep()
	}
}

// decode decodes a message's paths after the carried paths of the
// previous message.
func (t *table) decode(paths []*api.Path) ([]path, []endOfRIB) {
	decoded := make([]path, 0, len(t.carry)+len(paths))
	decoded = append(decoded, t.carry...)
	t.carry = nil

	var eors []endOfRIB
	var failed int
	var first error
	for _, p := range paths {
		dp, eor, ok, err := decodePath(p)
		if err != nil {
			t.stats.decodeErrs.Add(1)
			t.setLastError(err.Error())
			failed++
			if first == nil {
				first = err
			}

			continue
		}

		if eor != nil {
			eors = append(eors, *eor)
		}

		if ok {
			decoded = append(decoded, dp)
		}
	}

	if failed > 0 {
		t.log.Warn("bgp paths skipped: decode failed", "paths", failed, "error", first)
	}

	return decoded, eors
}

// splitByPrefix splits paths into runs of the same prefix, in order.
func splitByPrefix(paths []path) [][]path {
	var groups [][]path
	for start := 0; start < len(paths); {
		end := start + 1
		for end < len(paths) && paths[end].prefix == paths[start].prefix {
			end++
		}

		groups = append(groups, paths[start:end:end])
		start = end
	}

	return groups
}

// translate turns the multipath set of one prefix into its new state. A
// set without a usable path is a withdrawal.
func (t *table) translate(paths []path) change {
	var members []member
	distance := t.cfg.ibgpDistance
	for _, p := range paths {
		m, ok := t.member(p)
		if !ok {
			continue
		}

		if len(members) == 0 && t.peers.isEBGP(p.peer, p.peerAS) {
			distance = t.cfg.ebgpDistance
		}

		members = append(members, m)
	}

	if len(members) == 0 {
		return change{prefix: paths[0].prefix}
	}

	return change{prefix: paths[0].prefix, set: t.intern(members, distance)}
}

// member returns the member of a usable path: not withdrawn, learned from
// a peer, with a next hop, and for a link-local next hop with the session's
// interface known.
func (t *table) member(p path) (member, bool) {
	if p.withdraw {
		return member{}, false
	}

	if !p.peer.IsValid() || !p.nexthop.IsValid() {
		t.stats.skipped.Add(1)

		return member{}, false
	}

	hop := nexthop.Hop{Family: nexthop.FamilyOf(p.nexthop), Gateway: p.nexthop}
	if p.nexthop.Is6() && p.nexthop.IsLinkLocalUnicast() {
		hop.Device = t.peers.iface(p.peer)
		if hop.Device == "" && t.lookupIface != nil {
			hop.Device = t.lookupIface(p.peer)
		}

		if hop.Device == "" {
			t.stats.skipped.Add(1)
			t.setLastError("no interface known for link-local next hop " + p.nexthop.String() + " from peer " + p.peer.String())
			t.noIface++

			return member{}, false
		}
	}

	return member{hop: hop, peer: p.peer}, true
}

// intern returns the shared set of members, creating it with no
// references when it is new.
func (t *table) intern(members []member, distance fib.Distance) *memberSet {
	slices.SortFunc(members, compareMembers)
	members = slices.CompactFunc(members, func(a, b member) bool { return a == b })

	var b strings.Builder
	b.WriteByte(byte(distance))
	for _, m := range members {
		b.WriteString(m.hop.Key())
		b.WriteByte('@')
		b.WriteString(m.peer.String())
		b.WriteByte(';')
	}

	key := b.String()
	if s, ok := t.sets[key]; ok {
		return s
	}

	s := &memberSet{key: key, members: members, peers: distinctPeers(members), distance: distance}
	t.sets[key] = s

	return s
}

func distinctPeers(members []member) []netip.Addr {
	var peers []netip.Addr
	for _, m := range members {
		if !slices.Contains(peers, m.peer) {
			peers = append(peers, m.peer)
		}
	}

	return peers
}

func compareMembers(a, b member) int {
	if c := a.hop.Gateway.Compare(b.hop.Gateway); c != 0 {
		return c
	}

	if c := strings.Compare(a.hop.Device, b.hop.Device); c != 0 {
		return c
	}

	return a.peer.Compare(b.peer)
}

// checkLeavingPeers finds the peers whose members leave a prefix's set in
// this message and queries the speaker whether their sessions are still
// established. A session that is not is handled as down now, before the
// changes are applied, so that its next hops leave the FIB's groups in
// place rather than prefix by prefix.
func (t *table) checkLeavingPeers(changes []change) {
	var leaving []netip.Addr
	for _, c := range changes {
		old := t.offered[c.prefix]
		if old == nil || old == c.set {
			continue
		}

		for _, m := range old.members {
			if !slices.Contains(leaving, m.peer) && !c.set.hasPeer(m.peer) {
				leaving = append(leaving, m.peer)
			}
		}
	}

	now := time.Now()
	for _, p := range leaving {
		if t.check == nil || !t.peers.established(p) || now.Sub(t.checked[p]) < peerCheckInterval {
			continue
		}

		if t.check(p) {
			t.checked[p] = now

			continue
		}

		if t.peers.markDown(p) && !t.peers.gracefulRestart(p) {
			t.gateways.peerDown(p)
		}
	}
}

func (s *memberSet) hasPeer(peer netip.Addr) bool {
	if s == nil {
		return false
	}

	for _, m := range s.members {
		if m.peer == peer {
			return true
		}
	}

	return false
}
