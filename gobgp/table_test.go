package gobgp

import (
	"errors"
	"net/netip"
	"testing"
	"time"

	api "github.com/osrg/gobgp/v3/api"

	"github.com/fibd/fibd/fib"
)

const (
	localAS = 65000
	peerA   = "198.51.100.1"
	peerB   = "198.51.100.2"
	peerI   = "198.51.100.3" // an iBGP peer
	peerV6  = "fe80::2"
)

// newTestTable returns a table with established eBGP peers A and B, the
// iBGP peer I and the link-local peer V6 on interface v0.
func newTestTable(t *testing.T, batchSize int) (*table, *fakeSink) {
	t.Helper()

	sink := newFakeSink()
	ps := newPeers(localAS)
	now := time.Now()
	ps.update(peerEvent(peerA, 65001, localAS, api.PeerState_ESTABLISHED), now)
	ps.update(peerEvent(peerB, 65002, localAS, api.PeerState_ESTABLISHED), now)
	ps.update(peerEvent(peerI, localAS, localAS, api.PeerState_ESTABLISHED), now)
	ps.update(peerEvent(peerV6, 65003, localAS, api.PeerState_ESTABLISHED), now)
	ps.setIface(netip.MustParseAddr(peerV6), "v0")

	cfg := tableConfig{table: 254, metric: 20, ebgpDistance: 20, ibgpDistance: 200, batchSize: batchSize}
	tb := newTable(cfg, sink, ps, newGateways(sink), nil)

	return tb, sink
}

func TestTranslate(t *testing.T) {
	tests := []struct {
		name string
		msgs [][]*api.Path
		want string // the calls of the last message
	}{
		{
			name: "multipath set",
			msgs: [][]*api.Path{{
				apiPath(t, "192.0.2.0/24", peerA, 65001, false, "198.51.100.1"),
				apiPath(t, "192.0.2.0/24", peerB, 65002, false, "198.51.100.2"),
			}},
			want: "update 192.0.2.0/24 nexthop via 198.51.100.1 weight 1 nexthop via 198.51.100.2 weight 1 distance 20",
		},
		{
			name: "member leaves by absence",
			msgs: [][]*api.Path{
				{
					apiPath(t, "192.0.2.0/24", peerA, 65001, false, "198.51.100.1"),
					apiPath(t, "192.0.2.0/24", peerB, 65002, false, "198.51.100.2"),
				},
				{apiPath(t, "192.0.2.0/24", peerB, 65002, false, "198.51.100.2")},
			},
			want: "update 192.0.2.0/24 via 198.51.100.2 distance 20",
		},
		{
			name: "no path is unchanged",
			msgs: [][]*api.Path{
				{apiPath(t, "192.0.2.0/24", peerA, 65001, false, "198.51.100.1")},
				{},
			},
			want: "",
		},
		{
			name: "same set again is unchanged",
			msgs: [][]*api.Path{
				{apiPath(t, "192.0.2.0/24", peerA, 65001, false, "198.51.100.1")},
				{apiPath(t, "192.0.2.0/24", peerA, 65001, false, "198.51.100.1")},
			},
			want: "",
		},
		{
			name: "withdraw with old next hop",
			msgs: [][]*api.Path{
				{apiPath(t, "192.0.2.0/24", peerA, 65001, false, "198.51.100.1")},
				{apiPath(t, "192.0.2.0/24", peerA, 65001, true, "198.51.100.1")},
			},
			want: "withdraw bgp 192.0.2.0/24",
		},
		{
			name: "withdraw of unknown prefix",
			msgs: [][]*api.Path{
				{apiPath(t, "192.0.2.0/24", peerA, 65001, true, "198.51.100.1")},
			},
			want: "",
		},
		{
			name: "ibgp distance",
			msgs: [][]*api.Path{
				{apiPath(t, "203.0.113.0/24", peerI, localAS, false, "192.0.2.77")},
			},
			want: "update 203.0.113.0/24 via 192.0.2.77 distance 200",
		},
		{
			name: "rfc 5549",
			msgs: [][]*api.Path{
				{apiPath(t, "203.0.113.0/24", peerA, 65001, false, "2001:db8::1")},
			},
			want: "update 203.0.113.0/24 via 2001:db8::1 distance 20",
		},
		{
			name: "link-local next hop",
			msgs: [][]*api.Path{
				{apiPath(t, "2001:db8:1::/48", peerV6, 65003, false, "fe80::2")},
			},
			want: "update 2001:db8:1::/48 via fe80::2 dev v0 distance 20",
		},
		{
			name: "global and link-local",
			msgs: [][]*api.Path{
				{apiPath(t, "2001:db8:1::/48", peerV6, 65003, false, "2001:db8::2", "fe80::2")},
			},
			want: "update 2001:db8:1::/48 via 2001:db8::2 distance 20",
		},
		{
			name: "same next hop from two peers",
			msgs: [][]*api.Path{{
				apiPath(t, "192.0.2.0/24", peerA, 65001, false, "192.0.2.254"),
				apiPath(t, "192.0.2.0/24", peerB, 65002, false, "192.0.2.254"),
			}},
			want: "update 192.0.2.0/24 via 192.0.2.254 distance 20",
		},
		{
			name: "local path",
			msgs: [][]*api.Path{
				{apiPath(t, "192.0.2.0/24", peerA, 65001, false, "198.51.100.1")},
				{apiPath(t, "192.0.2.0/24", "<nil>", 0, false, "0.0.0.0")},
			},
			want: "withdraw bgp 192.0.2.0/24",
		},
		{
			name: "other family",
			msgs: [][]*api.Path{{{
				Family:     &api.Family{Afi: api.Family_AFI_IP, Safi: api.Family_SAFI_MPLS_VPN},
				NeighborIp: peerA,
			}}},
			want: "",
		},
	}

	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tb, sink := newTestTable(t, 0)
			for _, m := range tt.msgs {
				sink.take()
				tb.handle(m)
			}

			if got := sink.take(); got != tt.want {
				t.Errorf("calls:\n%s\nwant:\n%s", got, tt.want)
			}
		})
	}
}

func TestTranslateSplitMessage(t *testing.T) {
	tb, sink := newTestTable(t, 2)

	// GoBGP sends batchSize+1 paths and continues the event in the next
	// message: the set of 192.0.2.0/24 spans both.
	tb.handle([]*api.Path{
		apiPath(t, "198.51.100.0/24", peerA, 65001, false, "198.51.100.1"),
		apiPath(t, "192.0.2.0/24", peerA, 65001, false, "198.51.100.1"),
		apiPath(t, "192.0.2.0/24", peerB, 65002, false, "198.51.100.2"),
	})
	if got, want := sink.take(), "update 198.51.100.0/24 via 198.51.100.1 distance 20"; got != want {
		t.Errorf("first message calls:\n%s\nwant:\n%s", got, want)
	}

	tb.handle([]*api.Path{
		apiPath(t, "192.0.2.0/24", peerI, localAS, false, "198.51.100.3"),
	})
	want := "update 192.0.2.0/24 nexthop via 198.51.100.1 weight 1 nexthop via 198.51.100.2 weight 1 nexthop via 198.51.100.3 weight 1 distance 20"
	if got := sink.take(); got != want {
		t.Errorf("second message calls:\n%s\nwant:\n%s", got, want)
	}
}

func TestTranslateSplitEmptyTail(t *testing.T) {
	tb, sink := newTestTable(t, 1)

	tb.handle([]*api.Path{
		apiPath(t, "192.0.2.0/24", peerA, 65001, false, "198.51.100.1"),
		apiPath(t, "192.0.2.0/24", peerB, 65002, false, "198.51.100.2"),
	})
	if got := sink.take(); got != "" {
		t.Errorf("calls before the event ends: %s", got)
	}

	// An event of exactly batchSize+1 paths ends with an empty message.
	tb.handle(nil)
	want := "update 192.0.2.0/24 nexthop via 198.51.100.1 weight 1 nexthop via 198.51.100.2 weight 1 distance 20"
	if got := sink.take(); got != want {
		t.Errorf("calls:\n%s\nwant:\n%s", got, want)
	}
}

func TestTranslateOrder(t *testing.T) {
	tb, sink := newTestTable(t, 0)
	tb.handle([]*api.Path{
		apiPath(t, "192.0.2.0/24", peerA, 65001, false, "198.51.100.1"),
		apiPath(t, "198.51.100.0/24", peerA, 65001, false, "198.51.100.1"),
	})
	sink.take()

	tb.handle([]*api.Path{
		apiPath(t, "192.0.2.0/24", peerA, 65001, true, "198.51.100.1"),
		apiPath(t, "203.0.113.0/24", peerA, 65001, false, "198.51.100.1"),
		apiPath(t, "198.51.100.0/24", peerA, 65001, true, "198.51.100.1"),
	})
	want := "withdraw bgp 192.0.2.0/24\n" +
		"update 203.0.113.0/24 via 198.51.100.1 distance 20\n" +
		"withdraw bgp 198.51.100.0/24"
	if got := sink.take(); got != want {
		t.Errorf("calls:\n%s\nwant:\n%s", got, want)
	}
}

func TestTranslateRejected(t *testing.T) {
	tb, sink := newTestTable(t, 0)
	tb.handle([]*api.Path{apiPath(t, "192.0.2.0/24", peerA, 65001, false, "198.51.100.1")})
	sink.take()

	sink.reject = func(r fib.Route) error { return errors.New("no room") }
	tb.handle([]*api.Path{apiPath(t, "192.0.2.0/24", peerB, 65002, false, "198.51.100.2")})

	if got, want := sink.take(), "withdraw bgp 192.0.2.0/24"; got != want {
		t.Errorf("calls:\n%s\nwant:\n%s", got, want)
	}

	if got := tb.stats.rejected.Load(); got != 1 {
		t.Errorf("rejected = %d, want 1", got)
	}

	if got := tb.stats.routes.Load(); got != 0 {
		t.Errorf("routes = %d, want 0", got)
	}
}

func TestTranslateLinkLocalLookup(t *testing.T) {
	tb, sink := newTestTable(t, 0)
	tb.lookupIface = func(p netip.Addr) string {
		if p == netip.MustParseAddr(peerA) {
			return "v1"
		}

		return ""
	}

	tb.handle([]*api.Path{
		apiPath(t, "2001:db8:1::/48", peerA, 65001, false, "fe80::1"),
		apiPath(t, "2001:db8:2::/48", peerB, 65002, false, "fe80::9"),
	})

	if got, want := sink.take(), "update 2001:db8:1::/48 via fe80::1 dev v1 distance 20"; got != want {
		t.Errorf("calls:\n%s\nwant:\n%s", got, want)
	}

	if got := tb.stats.skipped.Load(); got != 1 {
		t.Errorf("skipped = %d, want 1 (link-local next hop without interface)", got)
	}
}

func TestResync(t *testing.T) {
	tb, sink := newTestTable(t, 0)
	tb.handle([]*api.Path{
		apiPath(t, "192.0.2.0/24", peerA, 65001, false, "198.51.100.1"),
		apiPath(t, "198.51.100.0/24", peerA, 65001, false, "198.51.100.1"),
		apiPath(t, "203.0.113.0/24", peerA, 65001, false, "198.51.100.1"),
	})
	sink.take()

	// After a reconnection the first event is the whole table: one route
	// is unchanged, one changed, one is gone.
	synced := 0
	tb.onSynced = func() { synced++ }
	tb.startResync()
	tb.handle([]*api.Path{
		apiPath(t, "192.0.2.0/24", peerA, 65001, false, "198.51.100.1"),
		apiPath(t, "198.51.100.0/24", peerB, 65002, false, "198.51.100.2"),
	})

	want := "update 198.51.100.0/24 via 198.51.100.2 distance 20\n" +
		"withdraw bgp 203.0.113.0/24"
	if got := sink.take(); got != want {
		t.Errorf("calls:\n%s\nwant:\n%s", got, want)
	}

	if synced != 1 {
		t.Errorf("onSynced called %d times, want 1", synced)
	}

	// Later events do not sweep.
	tb.handle([]*api.Path{apiPath(t, "203.0.113.0/24", peerA, 65001, false, "198.51.100.1")})
	if got, want := sink.take(), "update 203.0.113.0/24 via 198.51.100.1 distance 20"; got != want {
		t.Errorf("calls after resync:\n%s\nwant:\n%s", got, want)
	}

	if synced != 1 {
		t.Errorf("onSynced called %d times after resync, want 1", synced)
	}
}

func TestResyncSplitDump(t *testing.T) {
	tb, sink := newTestTable(t, 1)
	tb.handle([]*api.Path{apiPath(t, "192.0.2.0/24", peerA, 65001, false, "198.51.100.1")})
	tb.handle([]*api.Path{apiPath(t, "203.0.113.0/24", peerA, 65001, false, "198.51.100.1")})
	sink.take()

	tb.startResync()
	tb.handle([]*api.Path{
		apiPath(t, "192.0.2.0/24", peerA, 65001, false, "198.51.100.1"),
		apiPath(t, "198.51.100.0/24", peerA, 65001, false, "198.51.100.1"),
	})
	if got, want := sink.take(), ""; got != want {
		t.Errorf("calls while the dump continues:\n%s\nwant nothing", got)
	}

	tb.handle([]*api.Path{apiPath(t, "198.51.100.0/24", peerB, 65002, false, "198.51.100.2")})
	want := "update 198.51.100.0/24 nexthop via 198.51.100.1 weight 1 nexthop via 198.51.100.2 weight 1 distance 20\n" +
		"withdraw bgp 203.0.113.0/24"
	if got := sink.take(); got != want {
		t.Errorf("calls:\n%s\nwant:\n%s", got, want)
	}
}

func TestEndOfRIB(t *testing.T) {
	tb, sink := newTestTable(t, 0)
	var got []endOfRIB
	tb.onEndOfRIB = func(e endOfRIB) {
		got = append(got, e)
		if sink.len() != 1 {
			t.Errorf("End-of-RIB handled before the paths before it")
		}
	}

	tb.handle([]*api.Path{apiPath(t, "192.0.2.0/24", peerA, 65001, false, "198.51.100.1")})
	tb.handle([]*api.Path{eorPath(peerA, api.Family_AFI_IP)})

	want := endOfRIB{peer: netip.MustParseAddr(peerA), family: familyIPv4}
	if len(got) != 1 || got[0] != want {
		t.Errorf("End-of-RIB markers = %v, want [%v]", got, want)
	}
}

func TestPeerRoutes(t *testing.T) {
	tb, _ := newTestTable(t, 0)
	a, b := netip.MustParseAddr(peerA), netip.MustParseAddr(peerB)

	tb.handle([]*api.Path{
		apiPath(t, "192.0.2.0/25", peerA, 65001, false, "198.51.100.1"),
		apiPath(t, "192.0.2.0/25", peerB, 65002, false, "198.51.100.2"),
		apiPath(t, "192.0.2.128/25", peerA, 65001, false, "198.51.100.1"),
		apiPath(t, "192.0.2.128/25", peerB, 65002, false, "198.51.100.2"),
	})

	if got, _ := tb.peerRoutes(b); got != 2 {
		t.Errorf("routes via B = %d, want 2", got)
	}

	_, aChanged := tb.peerRoutes(a)
	tb.handle([]*api.Path{
		apiPath(t, "192.0.2.0/25", peerA, 65001, false, "198.51.100.1"),
		apiPath(t, "192.0.2.128/25", peerA, 65001, false, "198.51.100.1"),
	})

	got, bChanged := tb.peerRoutes(b)
	if got != 0 {
		t.Errorf("routes via B after it left = %d, want 0", got)
	}

	if bChanged.IsZero() {
		t.Error("routes via B changed at the zero time")
	}

	if got, changed := tb.peerRoutes(a); got != 2 || !changed.Equal(aChanged) {
		t.Errorf("routes via A = %d changed %v, want 2 unchanged since %v", got, changed, aChanged)
	}
}
