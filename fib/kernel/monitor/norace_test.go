//go:build !race

package monitor

// raceEnabled reports whether the race detector is on.
const raceEnabled = false
