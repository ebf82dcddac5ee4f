package monitor

import "time"

// States of a Monitor, as Status reports them.
const (
	// StateStarting: Run has not started to process notifications yet.
	StateStarting = "starting"
	// StateInSync: no resync is due; repairs are applied as notifications
	// arrive.
	StateInSync = "in-sync"
	// StateResyncing: a resync is due or running, after an overrun, an
	// address removal, an undecodable notification or an audit difference.
	StateResyncing = "resyncing"
)

// Status is a snapshot of a Monitor's state and counters.
type Status struct {
	// State is StateStarting, StateInSync or StateResyncing.
	State string

	// Events counts the notifications received; the socket filter drops
	// echoes of fibd's own changes before they count.
	Events uint64

	// Overruns counts the times notifications were lost: the kernel
	// reported ENOBUFS, or the queue of repairs overflowed.
	Overruns uint64

	// Resyncs counts the completed dumps handed to the FIB.
	Resyncs uint64

	// Repairs counts the drift reports handed to the FIB (route gone,
	// nexthop gone, link changed).
	Repairs uint64

	// Conflicts counts fibd routes that another owner's route replaced,
	// and objects of other owners created in fibd's nexthop id range.
	// With Config.TakeoverConflicts, replaced routes count in Takeovers
	// instead.
	Conflicts uint64

	// Takeovers counts fibd routes that another owner's route replaced
	// while the FIB takes over conflicts, so that it puts its own back.
	Takeovers uint64

	// Reresolves counts the requests to resolve gateways again.
	Reresolves uint64

	// Audits counts the periodic audits, and AuditDifferences is the
	// number of differences the last one found.
	Audits           uint64
	AuditDifferences int

	// LastResync is the duration of the last resync, LastResyncEnd the time
	// it ended and LastResyncReason why it ran.
	LastResync       time.Duration
	LastResyncEnd    time.Time
	LastResyncReason string

	// LastError is the last error of a resync or audit, empty if none.
	LastError string
}

// Status returns the current state and counters.
func (m *Monitor) Status() Status {
	m.mu.Lock()
	defer m.mu.Unlock()

	return m.status
}

func (m *Monitor) setState(state string) {
	m.mu.Lock()
	m.status.State = state
	m.mu.Unlock()
}
