package gobgp

import (
	"log/slog"
	"net/netip"
	"testing"

	gobgplog "github.com/osrg/gobgp/v3/pkg/log"
)

func TestLoggerPeerDown(t *testing.T) {
	var got []netip.Addr
	l := newGobgpLogger(slog.New(slog.DiscardHandler))
	l.onPeerDown = func(addr netip.Addr) { got = append(got, addr) }

	// The hook fires whatever level is forwarded to slog.
	l.SetLevel(gobgplog.WarnLevel)
	l.Info("Peer Up", gobgplog.Fields{"Key": "198.51.100.6"})
	l.Info("Peer Down", gobgplog.Fields{"Key": "198.51.100.6", "Reason": "read-failed"})
	l.Info("Peer Down", gobgplog.Fields{"Key": "fe80::2%v0"})
	l.Info("Peer Down", gobgplog.Fields{"Key": "not an address"})

	want := []netip.Addr{netip.MustParseAddr("198.51.100.6"), netip.MustParseAddr("fe80::2")}
	if len(got) != len(want) {
		t.Fatalf("peers down = %v, want %v", got, want)
	}

	for i := range want {
		if got[i] != want[i] {
			t.Errorf("peer down %d = %s, want %s", i, got[i], want[i])
		}
	}
}
