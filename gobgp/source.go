package gobgp

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/fibd/fibd/fib"
)

// SourceName is the source name of the routes this package offers.
const SourceName = "bgp"

// Modes of a Source.
const (
	ModeEmbedded = "embedded"
	ModeRemote   = "remote"
)

// Defaults of Options.
const (
	DefaultTable              = fib.TableMain
	DefaultMetric             = 20
	DefaultConvergenceTimeout = 2 * time.Minute
)

// watchBatchSize is the largest number of paths GoBGP puts in one watch
// message (it sends one more, see tableConfig.batchSize). With about 200
// bytes per path, a message stays far below gRPC's default limit of 4 MiB.
const watchBatchSize = 1000

// Sink receives the routes of the source. *fib.FIB satisfies it. Its
// methods must be safe for concurrent use and should return quickly (queue
// the work), because the source calls them while it reads GoBGP's watch
// stream.
type Sink interface {
	// Update offers candidate routes; the result has one entry per route,
	// nil for an accepted one.
	Update(routes []fib.Route) []error

	// Withdraw removes the source's candidates for keys.
	Withdraw(source string, keys []fib.Key)

	// SetGatewayDown marks every hop with gateway addr down (or up again).
	SetGatewayDown(addr netip.Addr, reason string, down bool)

	// Converged declares that the source has offered its whole table.
	Converged(source string)
}

var _ Sink = (*fib.FIB)(nil)

// Options configures a Source. The zero value of each field has the
// meaning its comment gives.
type Options struct {
	// Mode is ModeEmbedded or ModeRemote; "" means ModeEmbedded.
	Mode string

	// Config is GoBGP's own configuration (global, neighbors,
	// peer-groups, ...), as gobgpd's YAML configuration file holds it.
	// Required in embedded mode.
	Config *yaml.Node

	// RemoteAddress is the host:port of gobgpd's gRPC API. Required in
	// remote mode.
	RemoteAddress string

	// APIAddress exposes the embedded speaker's GoBGP gRPC API on this
	// host:port, for the gobgp command; "" does not expose it.
	APIAddress string

	// EBGPDistance and IBGPDistance are the administrative distances of
	// routes learned over external and internal sessions; zero means
	// fib.DistanceEBGP (20) and fib.DistanceIBGP (200).
	EBGPDistance, IBGPDistance fib.Distance

	// Table is the kernel table of the routes; zero means the main table.
	Table uint32

	// Metric is the metric (priority) of the routes; zero means 20.
	Metric uint32

	// ConvergenceTimeout bounds the wait for every neighbor's End-of-RIB
	// before the source declares convergence; zero means 2 minutes.
	ConvergenceTimeout time.Duration

	// DeferUntilConverged keeps every change from the sink until the
	// source has converged, then offers the whole table at once, as a
	// restarting BGP speaker defers route selection (RFC 4724). Set it
	// when the sink kept the routes of a previous run. Those routes then
	// keep forwarding as they are while the sessions come back one by
	// one. Without it they move to the first peer's paths, and back to
	// their multipath groups when the other peers return.
	DeferUntilConverged bool

	// DeferLimit ends the deferral of DeferUntilConverged after this long
	// even if the source has not converged, so that the routes reach the
	// sink before it gives up on them (fib.hold-timeout). Zero means no
	// limit other than convergence.
	DeferLimit time.Duration

	// Logger receives the source's and GoBGP's log; nil discards it.
	Logger *slog.Logger
}

// Source imports BGP routes into a Sink. Its methods are safe for
// concurrent use.
type Source struct {
	opts   Options
	sink   Sink
	config *bgpConfig // embedded mode only
	log    *slog.Logger

	gateways *gateways
	peers    *peers
	table    *table

	converged     atomic.Bool
	convergedOnce sync.Once
	synced        atomic.Bool
	peerQuery     atomic.Bool // a Status query of the neighbors runs

	mu        sync.Mutex
	backend   backend // the current connection; nil when there is none
	connected bool
	lastError string
	running   bool
}

// New validates opts and returns a Source. Nothing runs before Run.
func New(opts Options, sink Sink) (*Source, error) {
	if sink == nil {
		return nil, errors.New("create bgp source: missing sink")
	}

	opts, err := withDefaults(opts)
	if err != nil {
		return nil, err
	}

	s := &Source{opts: opts, sink: sink, log: opts.Logger}
	if opts.Mode == ModeEmbedded {
		cfg, err := parseConfig(opts.Config)
		if err != nil {
			return nil, err
		}

		s.config = cfg
	}

	s.gateways = newGateways(sink)
	s.peers = newPeers(0)
	s.table = newTable(tableConfig{
		table:        opts.Table,
		metric:       opts.Metric,
		ebgpDistance: opts.EBGPDistance,
		ibgpDistance: opts.IBGPDistance,
		batchSize:    watchBatchSize,
	}, sink, s.peers, s.gateways, nil)
	s.table.log = opts.Logger
	s.table.deferring = opts.DeferUntilConverged
	if opts.DeferUntilConverged {
		s.gateways.deferred = make(map[netip.Addr]bool)
	}

	return s, nil
}

func withDefaults(opts Options) (Options, error) {
	switch opts.Mode {
	case "":
		opts.Mode = ModeEmbedded
	case ModeEmbedded, ModeRemote:
	default:
		return opts, fmt.Errorf("invalid gobgp mode %q: use %q or %q", opts.Mode, ModeEmbedded, ModeRemote)
	}

	if opts.Mode == ModeEmbedded && opts.Config == nil {
		return opts, errors.New("invalid gobgp mode \"embedded\": missing bgp configuration")
	}

	if opts.Mode == ModeRemote && opts.RemoteAddress == "" {
		return opts, errors.New("invalid gobgp mode \"remote\": missing remote-address")
	}

	switch opts.Table {
	case 0:
		opts.Table = DefaultTable
	case fib.TableCompat, fib.TableDefault, fib.TableLocal:
		return opts, fmt.Errorf("invalid gobgp table %d: the kernel reserves it", opts.Table)
	}

	if opts.Metric == 0 {
		opts.Metric = DefaultMetric
	}

	if opts.EBGPDistance == 0 {
		opts.EBGPDistance = fib.DistanceEBGP
	}

	if opts.IBGPDistance == 0 {
		opts.IBGPDistance = fib.DistanceIBGP
	}

	if opts.ConvergenceTimeout < 0 {
		return opts, fmt.Errorf("invalid gobgp convergence-timeout %s: must not be negative", opts.ConvergenceTimeout)
	}

	if opts.ConvergenceTimeout == 0 {
		opts.ConvergenceTimeout = DefaultConvergenceTimeout
	}

	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}

	return opts, nil
}

// Run runs the source until ctx is cancelled: the embedded speaker, or the
// connection to the remote gobgpd with its reconnections. Cancellation is
// not an error. The routes offered stay in the sink when Run returns. Run
// may be called once.
func (s *Source) Run(ctx context.Context) error {
	s.mu.Lock()
	if s.running {
		s.mu.Unlock()

		return errors.New("run bgp source: already running")
	}

	s.running = true
	s.mu.Unlock()

	var timer *time.Timer
	timer = time.AfterFunc(s.opts.ConvergenceTimeout, func() {
		if s.converged.Load() {
			return
		}

		// With no session up, nothing has been offered yet: declaring
		// convergence now would let the FIB sweep every route adopted from
		// the previous run. Wait for a session; fib.hold-timeout still
		// bounds the wait.
		if !s.peers.anyEstablished() {
			s.log.Warn("bgp convergence timed out with no session established, waiting for one", "timeout", s.opts.ConvergenceTimeout)
			timer.Reset(s.opts.ConvergenceTimeout)

			return
		}

		s.log.Warn("bgp convergence timed out, declaring it", "timeout", s.opts.ConvergenceTimeout)
		s.declareConverged()
	})
	defer timer.Stop()

	stopLimit := s.startDeferLimit()
	defer stopLimit()

	var err error
	if s.opts.Mode == ModeEmbedded {
		err = s.runEmbedded(ctx)
	} else {
		err = s.runRemote(ctx)
	}

	if ctx.Err() != nil {
		return nil
	}

	return err
}

// declareConverged declares to the sink, once, that the source has
// offered its whole table.
func (s *Source) declareConverged() {
	s.convergedOnce.Do(func() {
		s.endDeferral("bgp offered the table deferred until convergence")
		s.converged.Store(true)
		s.sink.Converged(SourceName)
		s.log.Info("bgp converged", "routes", s.table.stats.routes.Load())
	})
}

// endDeferral offers the routes deferred by Options.DeferUntilConverged,
// then marks up the next hops that came back meanwhile. It does nothing
// when the source does not defer (any more).
func (s *Source) endDeferral(msg string) {
	if n, ok := s.table.offerDeferred(); ok {
		s.log.Info(msg, "routes", n)
	}

	s.gateways.releaseUps()
}

// startDeferLimit starts the timer of Options.DeferLimit and returns the
// function that stops it.
func (s *Source) startDeferLimit() (stop func()) {
	if !s.opts.DeferUntilConverged || s.opts.DeferLimit <= 0 {
		return func() {}
	}

	limit := time.AfterFunc(s.opts.DeferLimit, func() {
		s.endDeferral("bgp offered the deferred table before convergence, at the deferral limit")
	})

	return func() { limit.Stop() }
}

// checkConverged declares convergence when the table is synchronised and
// every neighbor has sent its End-of-RIB markers, ending a pending
// resynchronisation first.
func (s *Source) checkConverged() {
	if s.synced.Load() && s.peers.converged() {
		s.table.finishResync()
		s.declareConverged()
	}
}

func (s *Source) setBackend(b backend, connected bool, err error) {
	s.mu.Lock()
	defer s.mu.Unlock()

	s.backend = b
	s.connected = connected
	if err != nil {
		s.lastError = err.Error()
	}
}
