package server

import (
	"testing"
	"time"

	"github.com/fibd/fibd/fib"
)

func TestSetSources(t *testing.T) {
	s, err := newServer(Config{Sources: map[string]fib.Distance{"ops": 5}, DefaultDistance: 12}, nil)
	if err != nil {
		t.Fatal(err)
	}

	sources := map[string]fib.Distance{"ops": 7}
	s.SetSources(sources, 0)
	sources["ops"] = 99 // the server keeps its own copy

	if d := s.distance("ops"); d != 7 {
		t.Errorf("distance of ops = %d, want 7", d)
	}

	if d := s.distance("lab"); d != fib.DistanceGRPC {
		t.Errorf("distance of an unlisted source = %d, want the default %d", d, fib.DistanceGRPC)
	}
}

func TestSetGracePeriod(t *testing.T) {
	s, err := newServer(Config{GracePeriod: time.Second}, nil)
	if err != nil {
		t.Fatal(err)
	}

	s.SetGracePeriod(time.Minute)
	if s.sessions.grace != time.Minute {
		t.Errorf("grace = %s, want 1m0s", s.sessions.grace)
	}

	s.SetGracePeriod(0)
	if s.sessions.grace != DefaultGracePeriod {
		t.Errorf("grace after SetGracePeriod(0) = %s, want %s", s.sessions.grace, DefaultGracePeriod)
	}
}
