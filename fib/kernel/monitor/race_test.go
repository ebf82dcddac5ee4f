//go:build race

package monitor

// raceEnabled reports whether the race detector is on; it slows the FIB
// down about tenfold, so timing bounds are relaxed.
const raceEnabled = true
