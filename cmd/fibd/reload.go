package main

import (
	"slices"
	"strings"
)

// Groups of keys that a reload can apply while the daemon runs. Every
// other key needs a restart.
const (
	liveLogLevel    = "log.level"
	liveDistances   = "api.sources"
	liveGracePeriod = "api.grace-period"
	liveHoldTimeout = "fib.hold-timeout"
)

// liveGroup returns the live group of a changed key path, or "" when the
// key needs a restart.
func liveGroup(key string) string {
	switch {
	case key == "log.level":
		return liveLogLevel
	case key == "api.default-distance", strings.HasPrefix(key, "api.sources."):
		return liveDistances
	case key == "api.grace-period":
		return liveGracePeriod
	case key == "fib.hold-timeout":
		return liveHoldTimeout
	}

	return ""
}

// groupChanges splits changed key paths into the live groups they touch
// and the keys that need a restart, both sorted.
func groupChanges(changes []string) (groups, restart []string) {
	for _, key := range changes {
		group := liveGroup(key)
		switch {
		case group == "":
			restart = append(restart, key)
		case !slices.Contains(groups, group):
			groups = append(groups, group)
		}
	}

	slices.Sort(groups)
	slices.Sort(restart)

	return groups, restart
}
