package monitor

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/fibd/fibd/fib"
	"github.com/fibd/fibd/nexthop"
)

// Defaults of Config.
const (
	// DefaultProtocol is fibd's default route and nexthop protocol.
	DefaultProtocol uint8 = 201

	// DefaultReadBuffer is the default receive buffer, in bytes. The
	// kernel doubles it, and one IPv6 route notification takes 1,280 bytes
	// of it (measured on Linux 6.18), so it holds about 52,000 unread
	// notifications.
	DefaultReadBuffer = 32 << 20

	// DefaultResyncInterval is the default least time between resyncs.
	DefaultResyncInterval = time.Second

	// DefaultReresolveDelay is the default time that changes of other
	// owners' routes are gathered before a re-resolution.
	DefaultReresolveDelay = 100 * time.Millisecond

	// DefaultResyncDelay is the default wait between an address removal
	// and its resync.
	DefaultResyncDelay = 200 * time.Millisecond

	// DefaultMaxPending is the default bound of the queue of repairs.
	DefaultMaxPending = 1 << 20
)

// FIB is the part of *fib.FIB that the monitor drives: the drift hooks that
// tell it what the kernel did behind its back, and the read methods that
// Verify compares with the kernel.
type FIB interface {
	// Reconcile replaces what the FIB believes is installed with a dump.
	Reconcile(fib.Snapshot)
	// RouteGone reports that the kernel no longer holds one of fibd's
	// routes, so that it is programmed again if it is still wanted, or
	// that another owner's route that blocked one of fibd's left.
	RouteGone(fib.KernelRoute)
	// NexthopGone reports that the kernel deleted one of fibd's nexthop
	// objects and, silently, every route that used it.
	NexthopGone(nexthop.ID)
	// LinkChanged reports that a device went down (losing its nexthop
	// objects and their routes) or came up.
	LinkChanged(device string, up bool)
	// Reresolve requests that the FIB resolve gateways again because
	// routes of other owners changed.
	Reresolve()
	// Sync waits until the FIB has tried every change handed to it.
	Sync(ctx context.Context) error

	// Lookup returns the state of one key, to tell a foreign route that
	// displaced fibd's own from one that does not matter.
	Lookup(fib.Key) (fib.RouteState, bool)
	// Expected returns the state the FIB expects in the kernel, which
	// Verify compares with a dump.
	Expected() fib.ExpectedState
}

// Kernel is the part of *kernel.Kernel that the monitor uses.
type Kernel interface {
	// Dump returns fibd's routes and nexthop objects as the kernel holds
	// them, retrying dumps that a concurrent change interrupted.
	Dump(ctx context.Context) (fib.Snapshot, error)
}

// portIDs is implemented by a Kernel that can name the netlink port ids of
// its request sockets, whose notifications are echoes of fibd's own
// changes.
type portIDs interface {
	PortIDs() []uint32
}

// linkRefresher is implemented by a Kernel that caches interface indexes.
type linkRefresher interface {
	RefreshLinks()
}

// Config configures a Monitor. Zero values mean the defaults given per
// field.
type Config struct {
	// NetNS is a file descriptor of the network namespace to watch; zero
	// means the namespace of the calling thread.
	NetNS int

	// Protocol is fibd's route and nexthop protocol; zero means
	// DefaultProtocol.
	Protocol uint8

	// ReadBuffer is the size in bytes of the notification socket's receive
	// buffer, forced past net.core.rmem_max with SO_RCVBUFFORCE; zero means
	// DefaultReadBuffer (32 MiB).
	ReadBuffer int

	// Kernel dumps the kernel's state. Required.
	Kernel Kernel

	// FIB receives the repairs. Required.
	FIB FIB

	// Nexthops is fibd's range of nexthop ids; an object of another
	// protocol in it is a conflict. The zero Range means
	// nexthop.DefaultRange.
	Nexthops nexthop.Range

	// OwnPorts are netlink port ids whose notifications are fibd's own
	// changes and are dropped. When empty and Kernel has a PortIDs
	// method, its result is used.
	OwnPorts []uint32

	// TakeoverConflicts tells the monitor that the FIB replaces routes of
	// other owners (fib.Config.TakeoverConflicts). A route of another
	// owner that replaces one of fibd's is then counted in
	// Status.Takeovers instead of Status.Conflicts, because the FIB puts
	// its own route back.
	TakeoverConflicts bool

	// AuditInterval is the period of the audit that compares the kernel
	// with the FIB and resyncs on a difference; zero disables it.
	AuditInterval time.Duration

	// ResyncInterval is the least time between the end of one resync and
	// the start of the next; zero means DefaultResyncInterval (1 s).
	ResyncInterval time.Duration

	// ReresolveDelay is how long changes of other owners' routes are
	// gathered before the FIB resolves gateways again; zero means
	// DefaultReresolveDelay (100 ms).
	ReresolveDelay time.Duration

	// ResyncDelay is the wait between an address removal and the resync it
	// requests, so that one resync serves several removals. Zero means
	// DefaultResyncDelay (200 ms).
	ResyncDelay time.Duration

	// MaxPending bounds the queue of repairs waiting for the FIB; beyond
	// it the queue is dropped and replaced by a resync. Zero means
	// DefaultMaxPending.
	MaxPending int
}

func (c Config) withDefaults() Config {
	if c.Protocol == 0 {
		c.Protocol = DefaultProtocol
	}

	if c.ReadBuffer == 0 {
		c.ReadBuffer = DefaultReadBuffer
	}

	if c.ResyncInterval == 0 {
		c.ResyncInterval = DefaultResyncInterval
	}

	if c.ReresolveDelay == 0 {
		c.ReresolveDelay = DefaultReresolveDelay
	}

	if c.ResyncDelay == 0 {
		c.ResyncDelay = DefaultResyncDelay
	}

	if c.MaxPending == 0 {
		c.MaxPending = DefaultMaxPending
	}

	if c.Nexthops == (nexthop.Range{}) {
		c.Nexthops = nexthop.DefaultRange
	}

	if len(c.OwnPorts) == 0 {
		if p, ok := c.Kernel.(portIDs); ok {
			c.OwnPorts = p.PortIDs()
		}
	}

	return c
}

// Monitor keeps the FIB in sync with changes made to the kernel behind
// fibd's back. Its methods are safe for concurrent use.
type Monitor struct {
	cfg Config
	ln  *listener

	// trMu guards tr, which the reader and the resync both use.
	trMu sync.Mutex
	tr   *translator

	// mu guards pending, overrun, dropped and status. overrun requests a
	// full resync. dropped marks lost actions, so the resync must announce
	// every device's state again.
	mu      sync.Mutex
	pending []action
	overrun bool
	dropped bool
	status  Status

	wake chan struct{}
}

// New opens the notification socket and subscribes to route, nexthop, link
// and address changes, so that nothing that happens after New returns is
// missed: create the Monitor before the first dump that adopts the
// kernel's state. Run processes the notifications.
func New(cfg Config) (*Monitor, error) {
	if cfg.Kernel == nil || cfg.FIB == nil {
		return nil, errors.New("create monitor: missing Kernel or FIB in config")
	}

	cfg = cfg.withDefaults()
	ln, err := listen(cfg.NetNS, cfg.ReadBuffer, cfg.Protocol, cfg.OwnPorts)
	if err != nil {
		return nil, err
	}

	links, err := dumpLinks(cfg.NetNS)
	if err != nil {
		ln.close()

		return nil, err
	}

	m := &Monitor{
		cfg:    cfg,
		ln:     ln,
		tr:     newTranslator(cfg.Protocol, cfg.Nexthops, cfg.OwnPorts, cfg.FIB.Lookup),
		status: Status{State: StateStarting},
		wake:   make(chan struct{}, 1),
	}
	m.tr.setLinks(nil, links)

	return m, nil
}

// Run processes notifications and repairs drift until ctx is cancelled,
// then closes the socket. Cancellation is not an error. Run must be called
// once.
func (m *Monitor) Run(ctx context.Context) error {
	defer m.ln.close()

	g, ctx := errgroup.WithContext(ctx)
	stop := context.AfterFunc(ctx, m.ln.interrupt)
	defer stop()

	g.Go(func() error { return m.read(ctx) })
	g.Go(func() error { return m.work(ctx) })

	return g.Wait()
}

// read receives notifications, translates them and queues the actions for
// work. It calls no FIB hook (only FIB.Lookup, for a foreign route), so
// that the socket is drained as fast as the kernel fills it.
func (m *Monitor) read(ctx context.Context) error {
	var acts []action
	for {
		msgs, err := m.ln.receive()
		if ctx.Err() != nil {
			return nil
		}

		if isOverrun(err) {
			m.markOverrun()

			continue
		}

		if err != nil {
			return fmt.Errorf("receive notifications: %w", err)
		}

		acts = m.translate(acts[:0], msgs)
		m.enqueue(acts, len(msgs))
	}
}

func (m *Monitor) markOverrun() {
	m.mu.Lock()
	m.overrun = true
	m.status.Overruns++
	m.mu.Unlock()

	m.signal()
}

func (m *Monitor) enqueue(acts []action, events int) {
	m.mu.Lock()
	m.status.Events += uint64(events)
	if len(m.pending)+len(acts) > m.cfg.MaxPending {
		m.pending = nil
		m.overrun = true
		m.dropped = true
		m.status.Overruns++
	} else {
		m.pending = append(m.pending, acts...)
	}
	m.mu.Unlock()

	if len(acts) > 0 {
		m.signal()
	}
}

func (m *Monitor) signal() {
	select {
	case m.wake <- struct{}{}:
	default:
	}
}

// take returns the queued actions, whether an overrun requests a full
// resync, and whether actions were dropped.
func (m *Monitor) take(buf []action) (acts []action, overrun, dropped bool) {
	m.mu.Lock()
	defer m.mu.Unlock()

	acts = append(buf[:0], m.pending...)
	m.pending = m.pending[:0]
	overrun, dropped = m.overrun, m.dropped
	m.overrun, m.dropped = false, false

	return acts, overrun, dropped
}
