package fib

import "time"

// SetHoldTimeout changes Config.HoldTimeout while the FIB runs, for a
// configuration reload. The wait is still counted from the first
// Reconcile, so a shorter timeout can end it at once. Zero or less means
// DefaultHoldTimeout. Run applies the change in order with offered
// changes.
func (f *FIB) SetHoldTimeout(d time.Duration) {
	if d <= 0 {
		d = DefaultHoldTimeout
	}

	f.enqueue(func() { f.cfg.HoldTimeout = d })
}
