package fib_test

import (
	"testing"
	"time"

	"github.com/fibd/fibd/fib"
)

func TestSetHoldTimeoutShortens(t *testing.T) {
	dp := firstRun(t)

	h := newHarness(t, dp, fib.Config{Hold: []string{"bgp"}, HoldTimeout: time.Hour})
	h.fib.Reconcile(dp.Snapshot())
	h.run()
	h.sync()

	if n := len(h.dp.Snapshot().Routes); n != 4 {
		t.Fatalf("routes during the hold = %d, want the 4 adopted routes kept", n)
	}

	h.fib.SetHoldTimeout(time.Millisecond)

	deadline := time.Now().Add(5 * time.Second)
	for len(h.dp.Snapshot().Routes) > 0 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}

	h.expect("")
}
