package fib

import (
	"context"
	"fmt"
	"slices"
)

// watcher is one Watch call: its filter and the bounded buffer the loop
// fills without blocking.
type watcher struct {
	filter Filter
	events chan Event
	cut    chan struct{} // closed when the watcher fell behind
}

// Watch sends route changes to fn until ctx is cancelled, starting with
// the current state (one event per route, then an event with Synced set).
//
// Watch blocks and calls fn on the caller's goroutine, never on the loop's.
// Changes are buffered (Config.WatchBuffer events). A watcher that falls
// further behind is cut off, so Watch returns an error, and the caller may
// watch again to get a fresh snapshot. Cancellation returns nil. One
// event reports the state of a key after the loop processed it, so several
// changes to a key between two batches make one event.
func (f *FIB) Watch(ctx context.Context, filter Filter, fn func(Event)) error {
	w := &watcher{
		filter: filter,
		events: make(chan Event, f.cfg.WatchBuffer),
		cut:    make(chan struct{}),
	}

	f.mu.Lock()
	order := f.sortedLocked(filter)
	snapshot := make([]RouteState, 0, len(order))
	for _, i := range order {
		snapshot = append(snapshot, f.stateLocked(f.store.at(i)))
	}

	f.watchers = append(f.watchers, w)
	f.mu.Unlock()

	defer f.removeWatcher(w)

	for _, s := range snapshot {
		if ctx.Err() != nil {
			return nil
		}

		fn(Event{Kind: EventUpdate, Route: s})
	}

	fn(Event{Synced: true})

	for {
		select {
		case <-ctx.Done():
			return nil
		case <-w.cut:
			return fmt.Errorf("watch routes: the watcher fell behind by more than %d events and was cut off", f.cfg.WatchBuffer)
		case ev := <-w.events:
			fn(ev)
		}
	}
}

func (f *FIB) removeWatcher(w *watcher) {
	f.mu.Lock()
	defer f.mu.Unlock()

	f.watchers = slices.DeleteFunc(f.watchers, func(x *watcher) bool { return x == w })
}

// notifyLocked sends the state of e to the watchers whose filter matches,
// and cuts off those whose buffer is full.
func (f *FIB) notifyLocked(e *entry, kind EventKind) {
	if len(f.watchers) == 0 {
		return
	}

	var ev Event
	built := false
	f.watchers = slices.DeleteFunc(f.watchers, func(w *watcher) bool {
		// A deleted key has no candidates left to match a source filter.
		filter := w.filter
		if kind == EventDelete {
			filter.Source = ""
		}

		if !f.matchLocked(e, filter) {
			return false
		}

		if !built {
			ev = Event{Kind: kind, Route: f.stateLocked(e)}
			built = true
		}

		select {
		case w.events <- ev:
			return false
		default:
			close(w.cut)

			return true
		}
	})
}
