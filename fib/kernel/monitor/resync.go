package monitor

import (
	"context"
	"fmt"
	"time"

	"github.com/mdlayher/netlink"
	"golang.org/x/sys/unix"

	"github.com/fibd/fibd/fib"
	"github.com/fibd/fibd/fib/kernel/nlmsg"
	"github.com/fibd/fibd/nexthop"
)

// syncTimeout bounds the wait for the FIB before a resync's dump.
const syncTimeout = 10 * time.Second

// resync dumps the kernel and hands the dump to the FIB, after bringing the
// devices up to date when notifications were lost. A failed dump is tried
// again after ResyncInterval.
func (m *Monitor) resync(ctx context.Context, s *schedule) {
	start := time.Now()
	reason := s.reason
	links, announce := s.links, s.announce
	*s = schedule{reresolve: s.reresolve}

	err := m.resyncOnce(ctx, s, links, announce)
	end := time.Now()

	m.mu.Lock()
	m.status.LastResyncEnd = end
	if err != nil {
		m.status.LastError = err.Error()
	} else {
		m.status.Resyncs++
		m.status.LastResync = end.Sub(start)
		m.status.LastResyncReason = reason
	}
	m.mu.Unlock()

	if err != nil && ctx.Err() == nil {
		m.requestResync(s, end, reason)
		s.links, s.announce = links, announce

		return
	}

	m.setState(StateInSync)
}

func (m *Monitor) resyncOnce(ctx context.Context, s *schedule, links, announce bool) error {
	if links {
		if err := m.resyncLinks(s, announce); err != nil {
			return err
		}
	}

	// Let the FIB finish the repairs already handed to it, so that the dump
	// is not older than what the FIB believes it installed. A route that
	// the FIB installs between the dump and the reconcile would be taken
	// as gone, created again, and fail with EEXIST. A FIB busy for longer
	// than syncTimeout gets the dump anyway.
	syncCtx, cancel := context.WithTimeout(ctx, syncTimeout)
	_ = m.cfg.FIB.Sync(syncCtx)
	cancel()
	if ctx.Err() != nil {
		return fmt.Errorf("resync: %w", ctx.Err())
	}

	snap, err := m.cfg.Kernel.Dump(ctx)
	if err != nil {
		return fmt.Errorf("resync: %w", err)
	}

	m.cfg.FIB.Reconcile(dedupe(snap))

	return nil
}

// resyncLinks dumps the devices and reports the changes that lost
// notifications hid. With announce, every device's state is reported,
// because the actions of notifications already translated were dropped.
func (m *Monitor) resyncLinks(s *schedule, announce bool) error {
	links, err := dumpLinks(m.cfg.NetNS)
	if err != nil {
		return err
	}

	m.trMu.Lock()
	acts := m.tr.setLinks(nil, links)
	m.trMu.Unlock()

	if announce {
		acts = acts[:0]
		for _, l := range links {
			acts = append(acts, action{kind: actLinkChanged, device: l.Name, up: l.Up})
		}
	}

	acts = append(acts, action{kind: actRefreshLinks}, action{kind: actReresolve})
	m.apply(acts, s)

	return nil
}

// dumpLinks returns the devices of the namespace netns, on a socket of its
// own so that the reply does not mix with notifications.
func dumpLinks(netns int) ([]link, error) {
	conn, err := netlink.Dial(unix.NETLINK_ROUTE, &netlink.Config{NetNS: netns})
	if err != nil {
		return nil, fmt.Errorf("dump links: open rtnetlink socket: %w", err)
	}
	defer conn.Close()

	msgs, err := conn.Execute(netlink.Message{
		Header: netlink.Header{
			Type:  nlmsg.RTM_GETLINK,
			Flags: netlink.Request | netlink.Dump,
		},
		Data: make([]byte, sizeofIfinfomsg),
	})
	if err != nil {
		return nil, fmt.Errorf("dump links: %w", err)
	}

	links := make([]link, 0, len(msgs))
	for _, msg := range msgs {
		if msg.Header.Type != nlmsg.RTM_NEWLINK {
			continue
		}

		l, err := decodeLink(msg.Data)
		if err != nil {
			return nil, fmt.Errorf("dump links: %w", err)
		}

		links = append(links, l)
	}

	return links, nil
}

// audit compares the kernel with the FIB and schedules a resync when they
// differ.
//
// It first has the FIB resolve its gateways again. A resolution that went
// stale without a notification (a rule change, a lost event) is part of
// the FIB's expected state, so Verify cannot see it, but the re-resolution
// programs the routes that use it again before the comparison.
func (m *Monitor) audit(ctx context.Context, s *schedule) {
	m.cfg.FIB.Reresolve()

	m.mu.Lock()
	m.status.Reresolves++
	m.mu.Unlock()

	// Changes in flight would show up as differences.
	syncCtx, cancel := context.WithTimeout(ctx, syncTimeout)
	_ = m.cfg.FIB.Sync(syncCtx)
	cancel()

	report, err := m.Verify(ctx)

	m.mu.Lock()
	m.status.Audits++
	if err != nil {
		m.status.LastError = err.Error()
	} else {
		m.status.AuditDifferences = len(report.Differences)
	}
	m.mu.Unlock()

	if err == nil && len(report.Differences) > 0 {
		m.requestResync(s, time.Now(), auditReason(report.Differences))
	}
}

// auditReason explains a resync after an audit that found diffs.
func auditReason(diffs []string) string {
	if len(diffs) == 1 {
		return "audit found 1 difference: " + diffs[0]
	}

	return fmt.Sprintf("audit found %d differences, the first: %s", len(diffs), diffs[0])
}

// dedupe drops repeated routes and nexthop objects from a dump, keeping
// the first. On Linux 6.18 an IPv6 route dump that runs while routes are
// added and deleted can return a route twice without NLM_F_DUMP_INTR, and
// the FIB would take the copy for a second route of its own and delete it.
func dedupe(snap fib.Snapshot) fib.Snapshot {
	seen := make(map[routeID]bool, len(snap.Routes))
	routes := snap.Routes[:0]
	for _, r := range snap.Routes {
		id := routeID{r.Table, r.Prefix, r.Metric}
		if !seen[id] {
			seen[id] = true
			routes = append(routes, r)
		}
	}

	snap.Routes = routes

	seenIDs := make(map[nexthop.ID]bool, len(snap.Nexthops))
	objects := snap.Nexthops[:0]
	for _, o := range snap.Nexthops {
		if !seenIDs[o.ID] {
			seenIDs[o.ID] = true
			objects = append(objects, o)
		}
	}

	snap.Nexthops = objects

	return snap
}
