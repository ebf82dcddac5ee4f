package fib

// This file declares the public surface of FIB that producers (gRPC API,
// GoBGP) and the daemon program against.

import (
	"context"
	"errors"
	"log/slog"
	"net/netip"
	"time"

	"github.com/fibd/fibd/nexthop"
)

var errNotImplemented = errors.New("not implemented")

// Config configures a FIB. The zero value of each field has the meaning its
// comment gives.
type Config struct {
	// Dataplane receives the operations. Required.
	Dataplane Dataplane

	// Nexthops is the range of nexthop ids to allocate from; the zero value
	// means nexthop.DefaultRange.
	Nexthops nexthop.Range

	// BatchSize is the largest number of operations handed to the
	// dataplane in one Apply call; zero means 65536.
	BatchSize int

	// Hold lists the sources that must declare convergence (Converged)
	// before routes adopted from a previous run and not wanted any more are
	// deleted. HoldTimeout bounds the wait; zero means 5 minutes.
	Hold        []string
	HoldTimeout time.Duration
}

// FIB is the desired forwarding state and its programmer. Its methods are
// safe for concurrent use.
type FIB struct{}

// New returns a FIB. Nothing is programmed before Run.
func New(cfg Config) (*FIB, error) { return nil, errNotImplemented }

// Run programs the dataplane until ctx is cancelled. Cancellation is not an
// error.
func (f *FIB) Run(ctx context.Context) error { return errNotImplemented }

// Update offers candidate routes. Each route is validated on its own; the
// returned slice has one entry per route, nil for an accepted route. A
// rejected route changes nothing. Accepted routes replace the same
// source's earlier candidate for their key.
func (f *FIB) Update(routes []Route) []error { return nil }

// Withdraw removes a source's candidates for keys. Withdrawing a candidate
// that does not exist succeeds.
func (f *FIB) Withdraw(source string, keys []Key) {}

// WithdrawSource removes every candidate of a source and returns how many
// there were.
func (f *FIB) WithdrawSource(source string) int { return 0 }

// Converged declares that a source has offered its whole table, so that
// routes adopted from a previous run that no source wants are deleted once
// every source in Config.Hold has converged.
func (f *FIB) Converged(source string) {}

// Sync waits until every change offered before the call has been tried on
// the dataplane once.
func (f *FIB) Sync(ctx context.Context) error { return errNotImplemented }

// Lookup returns the state of one key.
func (f *FIB) Lookup(key Key) (RouteState, bool) { return RouteState{}, false }

// Routes calls fn for each key that has candidates or an installed route,
// in (table, prefix) order, until fn returns false. fn must not call back
// into the FIB.
func (f *FIB) Routes(filter Filter, fn func(RouteState) bool) {}

// Nexthops returns the nexthop objects and groups with their reference
// counts.
func (f *FIB) Nexthops() []NexthopState { return nil }

// Watch sends route changes to fn until ctx is cancelled, starting with
// the current state (one event per route, then an event with Synced set).
// fn runs on its own goroutine; slow watchers are dropped with an error.
func (f *FIB) Watch(ctx context.Context, filter Filter, fn func(Event)) error {
	return errNotImplemented
}

// SetGatewayDown marks every hop with gateway addr as down (or up again) for
// a reason such as "bgp-peer". A group that contains the hop is replaced in
// place without it, one operation per group, whatever the number of routes
// that use the group.
func (f *FIB) SetGatewayDown(addr netip.Addr, reason string, down bool) {}

// Stats returns counters for status and metrics.
func (f *FIB) Stats() Stats { return Stats{} }

// Filter selects routes for Routes and Watch. Zero fields match all.
type Filter struct {
	Table  uint32
	Prefix netip.Prefix // exact match
	Family nexthop.Family
	Source string
}

// RouteState is the state of one key: its candidates, the selected one, and
// what is installed.
type RouteState struct {
	Key        Key
	Candidates []Route // sorted by distance; Candidates[0] is selected
	Installed  *KernelRoute
	Err        error // the last programming error, nil when in sync
	Unresolved bool  // selected but not installable (no live next hop)
}

// NexthopState describes one nexthop object for listing.
type NexthopState struct {
	Object    nexthop.Object
	Refs      int
	Installed bool
}

// EventKind is the kind of a route change.
type EventKind uint8

// Kinds of route changes.
const (
	EventUpdate EventKind = iota + 1
	EventDelete
)

// Event is a route change sent to watchers.
type Event struct {
	Kind   EventKind
	Route  RouteState
	Synced bool // the initial snapshot is complete
}

// Stats are counters of the FIB.
type Stats struct {
	Routes        int // keys with a selected candidate
	Installed     int
	Failed        int
	Unresolved    int
	Nexthops      int
	Groups        int
	Ops           uint64
	OpErrors      uint64
	Pending       int
	LastErrors    []string
	SourcesRoutes map[string]int
}

var _ = slog.Default
