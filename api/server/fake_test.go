package server

import (
	"context"
	"errors"
	"net/netip"
	"slices"
	"sync"

	"github.com/fibd/fibd/fib"
	"github.com/fibd/fibd/nexthop"
)

// fakeFIB is a small in-memory FIB for the service tests. It keeps one
// candidate per source and key and selects the lowest distance. It installs
// the selected route at once (nexthop id 1 for every unicast route), except
// for the prefixes in reject, which fail with the given kernel message.
type fakeFIB struct {
	mu       sync.Mutex
	cands    map[fib.Key][]fib.Route
	reject   map[netip.Prefix]string
	watchers map[*fakeWatcher]bool
}

type fakeWatcher struct {
	filter fib.Filter
	events chan fib.Event
}

var _ backend = (*fakeFIB)(nil)

func newFakeFIB() *fakeFIB {
	return &fakeFIB{
		cands:    make(map[fib.Key][]fib.Route),
		reject:   make(map[netip.Prefix]string),
		watchers: make(map[*fakeWatcher]bool),
	}
}

func (f *fakeFIB) Update(routes []fib.Route) []error {
	f.mu.Lock()
	defer f.mu.Unlock()

	errs := make([]error, len(routes))
	for i, r := range routes {
		if err := r.Validate(); err != nil {
			errs[i] = err

			continue
		}

		k := r.Key()
		list := slices.DeleteFunc(f.cands[k], func(c fib.Route) bool { return c.Source == r.Source })
		list = append(list, r)
		slices.SortStableFunc(list, func(a, b fib.Route) int { return int(a.Distance) - int(b.Distance) })
		f.cands[k] = list
		f.notifyLocked(k)
	}

	return errs
}

func (f *fakeFIB) Withdraw(source string, keys []fib.Key) {
	f.mu.Lock()
	defer f.mu.Unlock()

	for _, k := range keys {
		f.withdrawLocked(source, k)
	}
}

func (f *fakeFIB) withdrawLocked(source string, k fib.Key) bool {
	list, ok := f.cands[k]
	if !ok {
		return false
	}

	n := len(list)
	list = slices.DeleteFunc(list, func(c fib.Route) bool { return c.Source == source })
	if len(list) == n {
		return false
	}

	if len(list) == 0 {
		delete(f.cands, k)
	} else {
		f.cands[k] = list
	}

	f.notifyLocked(k)

	return true
}

func (f *fakeFIB) WithdrawSource(source string) int {
	f.mu.Lock()
	defer f.mu.Unlock()

	n := 0
	for k := range f.cands {
		if f.withdrawLocked(source, k) {
			n++
		}
	}

	return n
}

func (f *fakeFIB) Converged(string) {}

func (f *fakeFIB) Sync(ctx context.Context) error { return ctx.Err() }

func (f *fakeFIB) Lookup(k fib.Key) (fib.RouteState, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()

	if _, ok := f.cands[k]; !ok {
		return fib.RouteState{Key: k}, false
	}

	return f.stateLocked(k), true
}

func (f *fakeFIB) stateLocked(k fib.Key) fib.RouteState {
	rs := fib.RouteState{Key: k, Candidates: slices.Clone(f.cands[k])}
	if len(rs.Candidates) == 0 {
		return rs
	}

	if msg, ok := f.reject[k.Prefix]; ok {
		rs.Err = errors.New(msg)

		return rs
	}

	sel := rs.Candidates[0]
	rs.Installed = &fib.KernelRoute{Table: k.Table, Prefix: k.Prefix, Metric: sel.Metric, Type: sel.Type}
	if sel.Type == fib.TypeUnicast {
		rs.Installed.Nexthop = 1
	}

	return rs
}

func (f *fakeFIB) Routes(filter fib.Filter, fn func(fib.RouteState) bool) {
	f.mu.Lock()
	defer f.mu.Unlock()

	keys := make([]fib.Key, 0, len(f.cands))
	for k := range f.cands {
		keys = append(keys, k)
	}

	slices.SortFunc(keys, func(a, b fib.Key) int {
		if a.Table != b.Table {
			return int(a.Table) - int(b.Table)
		}

		return a.Prefix.Addr().Compare(b.Prefix.Addr())*256 + a.Prefix.Bits() - b.Prefix.Bits()
	})

	for _, k := range keys {
		rs := f.stateLocked(k)
		if matches(filter, rs) && !fn(rs) {
			return
		}
	}
}

func matches(filter fib.Filter, rs fib.RouteState) bool {
	switch {
	case filter.Table != 0 && filter.Table != rs.Key.Table:
		return false
	case filter.Prefix.IsValid() && filter.Prefix != rs.Key.Prefix:
		return false
	case filter.Family != 0 && filter.Family != nexthop.FamilyOf(rs.Key.Prefix.Addr()):
		return false
	case filter.Source != "":
		return slices.ContainsFunc(rs.Candidates, func(c fib.Route) bool { return c.Source == filter.Source })
	}

	return true
}

func (f *fakeFIB) Nexthops() []fib.NexthopState {
	return []fib.NexthopState{{Object: nexthop.Object{ID: 1, Hop: nexthop.Hop{Family: nexthop.FamilyIPv4, Gateway: netip.MustParseAddr("198.51.100.2"), Device: "v0"}}, Refs: 1, Installed: true}}
}

func (f *fakeFIB) Watch(ctx context.Context, filter fib.Filter, fn func(fib.Event)) error {
	w := &fakeWatcher{filter: filter, events: make(chan fib.Event, 1024)}

	f.mu.Lock()
	for k := range f.cands {
		if rs := f.stateLocked(k); matches(filter, rs) {
			w.events <- fib.Event{Kind: fib.EventUpdate, Route: rs}
		}
	}

	w.events <- fib.Event{Synced: true}
	f.watchers[w] = true
	f.mu.Unlock()

	defer func() {
		f.mu.Lock()
		delete(f.watchers, w)
		f.mu.Unlock()
	}()

	for {
		select {
		case <-ctx.Done():
			return nil
		case ev := <-w.events:
			fn(ev)
		}
	}
}

func (f *fakeFIB) notifyLocked(k fib.Key) {
	rs := f.stateLocked(k)
	ev := fib.Event{Kind: fib.EventUpdate, Route: rs}
	if len(rs.Candidates) == 0 {
		ev.Kind = fib.EventDelete
	}

	for w := range f.watchers {
		if matches(w.filter, rs) || (ev.Kind == fib.EventDelete && matches(fib.Filter{Table: w.filter.Table, Prefix: w.filter.Prefix, Family: w.filter.Family}, rs)) {
			w.events <- ev
		}
	}
}

func (f *fakeFIB) Stats() fib.Stats {
	f.mu.Lock()
	defer f.mu.Unlock()

	st := fib.Stats{SourcesRoutes: make(map[string]int), TablesRoutes: make(map[uint32]int), FamiliesRoutes: make(map[nexthop.Family]int)}
	for k, list := range f.cands {
		st.Routes++
		st.TablesRoutes[k.Table]++
		st.FamiliesRoutes[nexthop.FamilyOf(k.Prefix.Addr())]++
		if _, failed := f.reject[k.Prefix]; failed {
			st.Failed++
		} else {
			st.Installed++
		}

		for _, c := range list {
			st.SourcesRoutes[c.Source]++
		}
	}

	return st
}
