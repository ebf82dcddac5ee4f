package gobgp

// This file hands the changes of the table to the sink, in order and in
// batches, and keeps the offered prefixes and their member sets.

import (
	"net/netip"
	"slices"
	"time"

	"github.com/fibd/fibd/fib"
	"github.com/fibd/fibd/nexthop"
)

// batch collects consecutive changes of one kind, so that a message
// becomes few sink calls while the order of changes to a prefix is kept.
type batch struct {
	t        *table
	routes   []fib.Route
	withdraw []fib.Key
}

// apply records the changes and offers them to the sink.
func (t *table) apply(changes []change) {
	b := batch{t: t}
	for _, c := range changes {
		if t.resync != nil {
			t.resync[c.prefix] = struct{}{}
		}

		old := t.offered[c.prefix]
		if old == c.set {
			// The same set with the same distance: the sink already has
			// this route.
			continue
		}

		if c.set == nil {
			b.addWithdraw(t.key(c.prefix))
			t.setOffered(c.prefix, nil)

			continue
		}

		b.addRoute(t.route(c.prefix, c.set))
		t.setOffered(c.prefix, c.set)
	}

	b.flush()
}

// sweep withdraws the offered prefixes that the resynchronisation has not
// seen, and ends it. After a restart of gobgpd, its first table is empty
// or partial, so the sweep waits for sweepReady: until then, a prefix
// announced again keeps its route and is never withdrawn in between.
func (t *table) sweep() {
	b := batch{t: t}
	for prefix := range t.offered {
		if _, ok := t.resync[prefix]; ok {
			continue
		}

		b.addWithdraw(t.key(prefix))
		t.setOffered(prefix, nil)
	}

	b.flush()
	t.resync = nil
}

// offerDeferred ends the deferral of Options.DeferUntilConverged: it
// offers every prefix of the table to the sink in one Update, in prefix
// order, which the kernel inserts fastest. It returns the number of
// routes, and false when the table did not defer.
func (t *table) offerDeferred() (int, bool) {
	t.mu.Lock()
	defer t.mu.Unlock()

	if !t.deferring {
		return 0, false
	}

	t.deferring = false
	prefixes := make([]netip.Prefix, 0, len(t.offered))
	for prefix := range t.offered {
		prefixes = append(prefixes, prefix)
	}

	slices.SortFunc(prefixes, comparePrefixes)

	b := batch{t: t}
	for _, prefix := range prefixes {
		b.addRoute(t.route(prefix, t.offered[prefix]))
	}

	b.flush()

	return len(prefixes), true
}

// isDeferring reports whether the table still keeps its changes from the
// sink.
func (t *table) isDeferring() bool {
	t.mu.Lock()
	defer t.mu.Unlock()

	return t.deferring
}

// comparePrefixes orders IPv4 before IPv6, then by address and length.
func comparePrefixes(a, b netip.Prefix) int {
	if c := a.Addr().Compare(b.Addr()); c != 0 {
		return c
	}

	return a.Bits() - b.Bits()
}

// setOffered changes the set offered for a prefix and keeps the sets'
// reference counts and the next-hop tracking up to date.
func (t *table) setOffered(prefix netip.Prefix, set *memberSet) {
	old := t.offered[prefix]
	if set != nil {
		set.refs++
		if set.refs == 1 {
			t.gateways.addSet(set.members, t.peers.established)
		}

		t.offered[prefix] = set
	} else {
		delete(t.offered, prefix)
	}

	if old != nil {
		old.refs--
		if old.refs == 0 {
			t.gateways.removeSet(old.members)
			delete(t.sets, old.key)
		}
	}

	t.stats.routes.Store(int64(len(t.offered)))
	t.countPeerRoutes(old, set)
}

// countPeerRoutes moves a prefix's count from the peers of its old set to
// those of its new set; a peer in both keeps its count.
func (t *table) countPeerRoutes(old, set *memberSet) {
	var now time.Time
	t.stats.mu.Lock()
	defer t.stats.mu.Unlock()

	move := func(from, to *memberSet, delta int) {
		if from == nil {
			return
		}

		for _, p := range from.peers {
			if to != nil && slices.Contains(to.peers, p) {
				continue
			}

			if now.IsZero() {
				now = time.Now()
			}

			c := t.stats.peerRoutes[p]
			if c == nil {
				c = &peerRoutes{}
				t.stats.peerRoutes[p] = c
			}

			c.routes += delta
			c.changed = now
		}
	}

	move(old, set, -1)
	move(set, old, +1)
}

func (t *table) key(prefix netip.Prefix) fib.Key {
	return fib.Key{Table: t.cfg.table, Prefix: prefix}
}

// route builds the candidate route of a prefix: one member of weight 1 per
// distinct hop.
func (t *table) route(prefix netip.Prefix, set *memberSet) fib.Route {
	members := make([]nexthop.Member, 0, len(set.members))
	for i, m := range set.members {
		// Members are sorted by hop, so equal hops from several peers
		// are adjacent.
		if i > 0 && set.members[i-1].hop == m.hop {
			continue
		}

		members = append(members, nexthop.Member{Hop: m.hop, Weight: 1})
	}

	return fib.Route{
		Prefix:   prefix,
		Table:    t.cfg.table,
		Metric:   t.cfg.metric,
		Type:     fib.TypeUnicast,
		NextHops: nexthop.Set{Members: members}.Canonical(),
		Source:   SourceName,
		Distance: set.distance,
	}
}

func (b *batch) addRoute(r fib.Route) {
	if len(b.withdraw) > 0 {
		b.flush()
	}

	b.routes = append(b.routes, r)
}

func (b *batch) addWithdraw(k fib.Key) {
	if len(b.routes) > 0 {
		b.flush()
	}

	b.withdraw = append(b.withdraw, k)
}

// flush hands the collected changes to the sink. A route the sink rejects
// is withdrawn, so that no earlier candidate of the prefix stays behind.
// While the table defers, the changes are dropped: offered already holds
// them.
func (b *batch) flush() {
	t := b.t
	if t.deferring {
		b.routes, b.withdraw = nil, nil

		return
	}

	if len(b.routes) > 0 {
		errs := t.sink.Update(b.routes)
		t.stats.updates.Add(uint64(len(b.routes)))

		var rejected []fib.Key
		for i, err := range errs {
			if err == nil || i >= len(b.routes) {
				continue
			}

			t.stats.rejected.Add(1)
			t.setLastError("route " + b.routes[i].Prefix.String() + " rejected: " + err.Error())
			rejected = append(rejected, b.routes[i].Key())
			t.setOffered(b.routes[i].Prefix, nil)
		}

		if len(rejected) > 0 {
			t.log.Warn("bgp routes rejected by the FIB, withdrawn", "routes", len(rejected), "first", rejected[0].Prefix, "error", t.lastErrorText())
			t.sink.Withdraw(SourceName, rejected)
		}

		b.routes = nil
		t.stats.lastChange.Store(time.Now().UnixNano())
	}

	if len(b.withdraw) > 0 {
		t.sink.Withdraw(SourceName, b.withdraw)
		t.stats.withdraws.Add(uint64(len(b.withdraw)))
		b.withdraw = nil
		t.stats.lastChange.Store(time.Now().UnixNano())
	}
}

func (t *table) lastErrorText() string {
	t.stats.mu.Lock()
	defer t.stats.mu.Unlock()

	return t.stats.lastError
}

func (t *table) setLastError(msg string) {
	t.stats.mu.Lock()
	defer t.stats.mu.Unlock()

	t.stats.lastError = msg
}
