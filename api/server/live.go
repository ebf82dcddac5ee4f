package server

import (
	"maps"
	"time"

	"github.com/fibd/fibd/fib"
)

// This file holds the settings that the daemon changes on a configuration
// reload while the server runs.

// SetSources replaces the administrative distances of sources. Routes
// offered from now on get the new distance; routes already offered keep
// theirs until their source offers them again. A defaultDistance of zero
// means fib.DistanceGRPC, as in Config.
func (s *Server) SetSources(sources map[string]fib.Distance, defaultDistance fib.Distance) {
	if defaultDistance == 0 {
		defaultDistance = fib.DistanceGRPC
	}

	s.distMu.Lock()
	defer s.distMu.Unlock()

	s.cfg.Sources = maps.Clone(sources)
	s.cfg.DefaultDistance = defaultDistance
}

// SetGracePeriod changes the grace period of sessions that end from now
// on. Sessions already in their grace period keep their deadline. Zero or
// less means DefaultGracePeriod.
func (s *Server) SetGracePeriod(d time.Duration) {
	if d <= 0 {
		d = DefaultGracePeriod
	}

	s.sessions.mu.Lock()
	defer s.sessions.mu.Unlock()

	s.sessions.grace = d
}
