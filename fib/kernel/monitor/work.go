package monitor

import (
	"context"
	"time"

	"github.com/mdlayher/netlink"

	"github.com/fibd/fibd/fib/kernel/nlmsg"
)

// translate appends the actions for a datagram's messages. A message that
// cannot be decoded requests a resync, since its change is otherwise lost.
func (m *Monitor) translate(acts []action, msgs []netlink.Message) []action {
	m.trMu.Lock()
	defer m.trMu.Unlock()

	for _, msg := range msgs {
		h := nlmsg.Header{
			Length: msg.Header.Length,
			Type:   uint16(msg.Header.Type),
			Flags:  uint16(msg.Header.Flags),
			Seq:    msg.Header.Sequence,
			PID:    msg.Header.PID,
		}

		var err error
		acts, err = m.tr.translate(acts, h, msg.Data)
		if err != nil {
			acts = append(acts, action{kind: actResync, reason: err.Error()})
		}
	}

	return acts
}

// schedule holds the deadlines of the deferred work of the worker. A zero
// time means nothing is due.
type schedule struct {
	reresolve time.Time
	resync    time.Time
	links     bool // the next resync also dumps the links
	announce  bool // the next resync announces every device's state
	reason    string
}

// work applies the queued actions to the FIB and runs the deferred
// re-resolutions, resyncs and audits. It is the only goroutine that calls
// the FIB's hooks, so at most one resync runs at a time.
func (m *Monitor) work(ctx context.Context) error {
	var (
		s     schedule
		acts  []action
		audit <-chan time.Time
	)

	if m.cfg.AuditInterval > 0 {
		t := time.NewTicker(m.cfg.AuditInterval)
		defer t.Stop()
		audit = t.C
	}

	timer := time.NewTimer(time.Hour)
	defer timer.Stop()

	m.setState(StateInSync)
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-m.wake:
		case <-timer.C:
		case <-audit:
			m.audit(ctx, &s)
		}

		var overrun, dropped bool
		acts, overrun, dropped = m.take(acts)
		if overrun {
			m.requestResync(&s, time.Now(), "notification overrun")
			s.links = true
			s.announce = s.announce || dropped
		}

		m.apply(acts, &s)
		m.runDue(ctx, &s)
		resetTimer(timer, s.next())
	}
}

// apply hands the actions to the FIB in the order of the notifications.
func (m *Monitor) apply(acts []action, s *schedule) {
	var repairs, conflicts, takeovers uint64
	for _, a := range acts {
		switch a.kind {
		case actRouteGone:
			m.cfg.FIB.RouteGone(a.route)
			repairs++
			switch {
			case a.conflict && m.cfg.TakeoverConflicts:
				takeovers++
			case a.conflict:
				conflicts++
			}
		case actNexthopGone:
			m.cfg.FIB.NexthopGone(a.nexthop)
			repairs++
		case actLinkChanged:
			m.cfg.FIB.LinkChanged(a.device, a.up)
			repairs++
		case actRefreshLinks:
			if r, ok := m.cfg.Kernel.(linkRefresher); ok {
				r.RefreshLinks()
			}
		case actReresolve:
			if s.reresolve.IsZero() {
				s.reresolve = time.Now().Add(m.cfg.ReresolveDelay)
			}
		case actResync:
			m.requestResync(s, time.Now().Add(m.cfg.ResyncDelay), a.reason)
			if a.conflict {
				conflicts++
			}
		}
	}

	if repairs > 0 || conflicts > 0 {
		m.mu.Lock()
		m.status.Repairs += repairs
		m.status.Conflicts += conflicts
		m.status.Takeovers += takeovers
		m.mu.Unlock()
	}
}

// requestResync schedules a resync no earlier than at, nor earlier than
// ResyncInterval after the end of the previous one. Requests made before
// the resync starts are served by it.
func (m *Monitor) requestResync(s *schedule, at time.Time, reason string) {
	m.mu.Lock()
	earliest := m.status.LastResyncEnd.Add(m.cfg.ResyncInterval)
	m.mu.Unlock()

	if at.Before(earliest) {
		at = earliest
	}

	if s.resync.IsZero() || at.Before(s.resync) {
		s.resync = at
	}

	if s.reason == "" {
		s.reason = reason
	}

	m.setState(StateResyncing)
}

// runDue runs the deferred work whose time has come.
func (m *Monitor) runDue(ctx context.Context, s *schedule) {
	now := time.Now()
	if !s.resync.IsZero() && !now.Before(s.resync) {
		m.resync(ctx, s)
	}

	if !s.reresolve.IsZero() && !now.Before(s.reresolve) {
		s.reresolve = time.Time{}
		m.cfg.FIB.Reresolve()

		m.mu.Lock()
		m.status.Reresolves++
		m.mu.Unlock()
	}
}

// next returns the earliest deadline, or the zero time.
func (s *schedule) next() time.Time {
	switch {
	case s.resync.IsZero():
		return s.reresolve
	case s.reresolve.IsZero() || s.resync.Before(s.reresolve):
		return s.resync
	}

	return s.reresolve
}

func resetTimer(t *time.Timer, at time.Time) {
	d := time.Hour
	if !at.IsZero() {
		d = max(time.Until(at), 0)
	}

	t.Reset(d)
}
