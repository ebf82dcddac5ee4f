package gobgp

import (
	"context"
	"errors"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	api "github.com/osrg/gobgp/v3/api"
	"google.golang.org/protobuf/types/known/anypb"

	"github.com/fibd/fibd/nexthop"
)

// fakeBackend is a speaker whose watch streams are fed by the test.
type fakeBackend struct {
	t     testing.TB
	table chan []*api.Path
	peerC chan *api.WatchEventResponse_PeerEvent

	mu      sync.Mutex
	details map[netip.Addr]*api.Peer

	// block, when set, makes peers wait until it is closed, ignoring the
	// context as GoBGP's embedded ListPeer does.
	block chan struct{}
}

func newFakeBackend(t testing.TB) *fakeBackend {
	return &fakeBackend{
		t:       t,
		table:   make(chan []*api.Path, 16),
		peerC:   make(chan *api.WatchEventResponse_PeerEvent, 16),
		details: make(map[netip.Addr]*api.Peer),
	}
}

func (b *fakeBackend) watch(ctx context.Context, req *api.WatchEventRequest, fn func(*api.WatchEventResponse)) error {
	if req.GetPeer() != nil {
		for {
			select {
			case <-ctx.Done():
				return nil
			case ev := <-b.peerC:
				fn(&api.WatchEventResponse{Event: &api.WatchEventResponse_Peer{Peer: ev}})
			}
		}
	}

	for {
		select {
		case <-ctx.Done():
			return nil
		case paths, ok := <-b.table:
			if !ok {
				return errors.New("table stream closed")
			}

			fn(&api.WatchEventResponse{Event: &api.WatchEventResponse_Table{Table: &api.WatchEventResponse_TableEvent{Paths: paths}}})
		}
	}
}

func (b *fakeBackend) setDetails(addr string, d *api.Peer) {
	b.mu.Lock()
	defer b.mu.Unlock()

	b.details[netip.MustParseAddr(addr)] = d
}

func (b *fakeBackend) peer(ctx context.Context, addr netip.Addr) (*api.Peer, error) {
	b.mu.Lock()
	defer b.mu.Unlock()

	return b.details[addr], nil
}

func (b *fakeBackend) peers(ctx context.Context) ([]*api.Peer, error) {
	b.mu.Lock()
	block := b.block
	b.mu.Unlock()

	if block != nil {
		<-block
	}

	b.mu.Lock()
	defer b.mu.Unlock()

	var out []*api.Peer
	for _, d := range b.details {
		out = append(out, d)
	}

	return out, nil
}

func (b *fakeBackend) localAS(ctx context.Context) (uint32, error) { return localAS, nil }

func (b *fakeBackend) sendPeer(typ api.WatchEventResponse_PeerEvent_Type, p *api.Peer) {
	b.peerC <- &api.WatchEventResponse_PeerEvent{Type: typ, Peer: p}
}

// established returns a peer's details after its session came up with
// IPv4 and IPv6 unicast negotiated.
func established(t testing.TB, addr string, as uint32) *api.Peer {
	p := peerEvent(addr, as, localAS, api.PeerState_ESTABLISHED)
	p.AfiSafis = []*api.AfiSafi{
		{Config: &api.AfiSafiConfig{Family: &api.Family{Afi: api.Family_AFI_IP, Safi: api.Family_SAFI_UNICAST}, Enabled: true}},
		{Config: &api.AfiSafiConfig{Family: &api.Family{Afi: api.Family_AFI_IP6, Safi: api.Family_SAFI_UNICAST}, Enabled: true}},
	}
	p.State.RemoteCap = []*anypb.Any{
		mustAny(t, &api.MultiProtocolCapability{Family: &api.Family{Afi: api.Family_AFI_IP, Safi: api.Family_SAFI_UNICAST}}),
	}

	return p
}

// startSource runs a remote-mode source on b until the test ends.
func startSource(t *testing.T, b *fakeBackend, timeout time.Duration) (*Source, *fakeSink) {
	t.Helper()

	return startSourceWith(t, b, Options{ConvergenceTimeout: timeout})
}

// startSourceWith runs a remote-mode source with opts on b.
func startSourceWith(t *testing.T, b *fakeBackend, opts Options) (*Source, *fakeSink) {
	t.Helper()

	opts.Mode, opts.RemoteAddress = ModeRemote, "127.0.0.1:1"
	sink := newFakeSink()
	s, err := New(opts, sink)
	if err != nil {
		t.Fatalf("New: %v", err)
	}

	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.runSession(ctx, b) }()
	t.Cleanup(func() {
		cancel()
		<-done
	})

	return s, sink
}

// waitFor polls cond for up to 5 seconds.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()

	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}

		time.Sleep(5 * time.Millisecond)
	}
}

func TestSessionConverged(t *testing.T) {
	b := newFakeBackend(t)
	s, sink := startSource(t, b, time.Hour)

	b.sendPeer(api.WatchEventResponse_PeerEvent_INIT, peerEvent(peerA, 65001, localAS, api.PeerState_ACTIVE))
	b.sendPeer(api.WatchEventResponse_PeerEvent_END_OF_INIT, nil)
	b.table <- nil // the empty initial table

	b.setDetails(peerA, established(t, peerA, 65001))
	b.sendPeer(api.WatchEventResponse_PeerEvent_STATE, peerEvent(peerA, 65001, localAS, api.PeerState_ESTABLISHED))
	b.table <- []*api.Path{apiPath(t, "192.0.2.0/24", peerA, 65001, false, "198.51.100.1")}
	waitFor(t, "the route", func() bool { return sink.len() == 1 })

	if s.converged.Load() {
		t.Fatalf("converged before End-of-RIB")
	}

	b.table <- []*api.Path{eorPath(peerA, api.Family_AFI_IP)}
	waitFor(t, "convergence", s.converged.Load)

	if got := sink.take(); !strings.HasSuffix(got, "converged bgp") {
		t.Errorf("calls:\n%s\nwant the last to be: converged bgp", got)
	}
}

// TestSessionDeferUntilConverged checks that a source started over the
// routes of a previous run offers nothing while the peers come back one by
// one, then the whole multipath table at once, before its convergence.
func TestSessionDeferUntilConverged(t *testing.T) {
	b := newFakeBackend(t)
	s, sink := startSourceWith(t, b, Options{ConvergenceTimeout: time.Hour, DeferUntilConverged: true})

	b.sendPeer(api.WatchEventResponse_PeerEvent_INIT, peerEvent(peerA, 65001, localAS, api.PeerState_ACTIVE))
	b.sendPeer(api.WatchEventResponse_PeerEvent_INIT, peerEvent(peerB, 65002, localAS, api.PeerState_ACTIVE))
	b.sendPeer(api.WatchEventResponse_PeerEvent_END_OF_INIT, nil)
	b.table <- nil // the empty initial table

	b.setDetails(peerA, established(t, peerA, 65001))
	b.sendPeer(api.WatchEventResponse_PeerEvent_STATE, peerEvent(peerA, 65001, localAS, api.PeerState_ESTABLISHED))
	b.table <- []*api.Path{
		apiPath(t, "192.0.2.0/24", peerA, 65001, false, "198.51.100.1"),
		eorPath(peerA, api.Family_AFI_IP),
	}
	waitFor(t, "the first peer's table", func() bool { return s.table.stats.messages.Load() == 2 })

	if got := sink.take(); got != "" {
		t.Errorf("calls before convergence:\n%s\nwant none", got)
	}

	b.setDetails(peerB, established(t, peerB, 65002))
	b.sendPeer(api.WatchEventResponse_PeerEvent_STATE, peerEvent(peerB, 65002, localAS, api.PeerState_ESTABLISHED))
	b.table <- []*api.Path{
		apiPath(t, "192.0.2.0/24", peerA, 65001, false, "198.51.100.1"),
		apiPath(t, "192.0.2.0/24", peerB, 65002, false, "198.51.100.2"),
		eorPath(peerB, api.Family_AFI_IP),
	}
	waitFor(t, "convergence", s.converged.Load)

	want := "update 192.0.2.0/24 nexthop via 198.51.100.1 weight 1 nexthop via 198.51.100.2 weight 1 distance 20\nconverged bgp"
	if got := sink.take(); got != want {
		t.Errorf("calls:\n%s\nwant:\n%s", got, want)
	}
}

func TestSessionConvergedTimeout(t *testing.T) {
	sink := newFakeSink()
	s, err := New(Options{Mode: ModeRemote, RemoteAddress: "127.0.0.1:1", ConvergenceTimeout: 50 * time.Millisecond}, sink)
	if err != nil {
		t.Fatalf("New: %v", err)
	}

	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()

	// Nothing listens on port 1: the source keeps reconnecting, and the
	// timeout declares convergence anyway.
	if err := s.Run(ctx); err != nil {
		t.Fatalf("Run: %v", err)
	}

	if got := sink.convergedCount(); got != 1 {
		t.Errorf("Converged called %d times, want 1", got)
	}

	st := s.Status()
	if st.Connected || st.LastError == "" {
		t.Errorf("status = connected %v, last error %q; want disconnected with an error", st.Connected, st.LastError)
	}
}

func TestSessionPeerDown(t *testing.T) {
	b := newFakeBackend(t)
	s, sink := startSource(t, b, time.Hour)

	for _, p := range []struct {
		addr string
		as   uint32
	}{{peerA, 65001}, {peerB, 65002}} {
		b.setDetails(p.addr, established(t, p.addr, p.as))
		b.sendPeer(api.WatchEventResponse_PeerEvent_INIT, peerEvent(p.addr, p.as, localAS, api.PeerState_ESTABLISHED))
	}

	b.sendPeer(api.WatchEventResponse_PeerEvent_END_OF_INIT, nil)
	b.table <- []*api.Path{
		apiPath(t, "192.0.2.0/24", peerA, 65001, false, "198.51.100.1"),
		apiPath(t, "192.0.2.0/24", peerB, 65002, false, "198.51.100.2"),
	}
	waitFor(t, "the route", func() bool { return sink.len() == 1 })
	sink.take()

	b.sendPeer(api.WatchEventResponse_PeerEvent_STATE, peerEvent(peerA, 65001, localAS, api.PeerState_IDLE))
	waitFor(t, "gateway down", func() bool { return s.gateways.downCount() == 1 })

	if got, want := sink.take(), "gateway 198.51.100.1 down bgp-peer"; got != want {
		t.Errorf("calls:\n%s\nwant:\n%s", got, want)
	}

	b.table <- []*api.Path{apiPath(t, "192.0.2.0/24", peerB, 65002, false, "198.51.100.2")}
	waitFor(t, "the survivor", func() bool { return sink.table() == "192.0.2.0/24 via 198.51.100.2" })

	b.sendPeer(api.WatchEventResponse_PeerEvent_STATE, peerEvent(peerA, 65001, localAS, api.PeerState_ESTABLISHED))
	waitFor(t, "gateway up", func() bool { return s.gateways.downCount() == 0 })

	if got, want := sink.take(), "update 192.0.2.0/24 via 198.51.100.2 distance 20\ngateway 198.51.100.1 up bgp-peer"; got != want {
		t.Errorf("calls:\n%s\nwant:\n%s", got, want)
	}
}

// TestSessionPeerDownEarly checks that a lost session found while its
// member leaves the multipath sets takes its next hop down before the
// first set without it is offered, although the state event comes later.
func TestSessionPeerDownEarly(t *testing.T) {
	tb, sink := newTestTable(t, 0)
	tb.handle([]*api.Path{
		apiPath(t, "192.0.2.0/24", peerA, 65001, false, "198.51.100.1"),
		apiPath(t, "192.0.2.0/24", peerB, 65002, false, "198.51.100.2"),
		apiPath(t, "203.0.113.0/24", peerA, 65001, false, "198.51.100.1"),
		apiPath(t, "203.0.113.0/24", peerB, 65002, false, "198.51.100.2"),
	})
	sink.take()

	checked := 0
	tb.check = func(p netip.Addr) bool {
		checked++

		return p != netip.MustParseAddr(peerA)
	}

	tb.handle([]*api.Path{
		apiPath(t, "192.0.2.0/24", peerB, 65002, false, "198.51.100.2"),
		apiPath(t, "203.0.113.0/24", peerB, 65002, false, "198.51.100.2"),
	})
	want := "gateway 198.51.100.1 down bgp-peer\n" +
		"update 192.0.2.0/24 via 198.51.100.2 distance 20\n" +
		"update 203.0.113.0/24 via 198.51.100.2 distance 20"
	if got := sink.take(); got != want {
		t.Errorf("calls:\n%s\nwant:\n%s", got, want)
	}

	if checked != 1 {
		t.Errorf("speaker asked %d times, want once per leaving peer and message", checked)
	}

	if tb.peers.established(netip.MustParseAddr(peerA)) {
		t.Errorf("peer A still established after the check")
	}
}

func TestSessionSharedNexthop(t *testing.T) {
	tb, sink := newTestTable(t, 0)
	tb.handle([]*api.Path{
		apiPath(t, "192.0.2.0/24", peerA, 65001, false, "192.0.2.254"),
		apiPath(t, "192.0.2.0/24", peerB, 65002, false, "192.0.2.254"),
	})
	sink.take()

	// Peer B still announces the next hop, so it stays up.
	if got := tb.gateways.peerDown(netip.MustParseAddr(peerA)); len(got) != 0 {
		t.Errorf("peerDown(A) marked %v down, want nothing", got)
	}

	if got := sink.take(); got != "" {
		t.Errorf("calls:\n%s\nwant none", got)
	}
}

func TestSessionEndOfInitForgets(t *testing.T) {
	b := newFakeBackend(t)
	s, sink := startSource(t, b, time.Hour)

	b.setDetails(peerA, established(t, peerA, 65001))
	b.sendPeer(api.WatchEventResponse_PeerEvent_INIT, peerEvent(peerA, 65001, localAS, api.PeerState_ESTABLISHED))
	b.sendPeer(api.WatchEventResponse_PeerEvent_END_OF_INIT, nil)
	b.table <- []*api.Path{apiPath(t, "192.0.2.0/24", peerA, 65001, false, "198.51.100.1")}
	waitFor(t, "the route", func() bool { return sink.len() == 1 })

	// A new listing without peer A, as after gobgpd restarted with
	// another configuration.
	s.peers.beginInit(localAS)
	b.sendPeer(api.WatchEventResponse_PeerEvent_END_OF_INIT, nil)
	waitFor(t, "gateway down", func() bool { return s.gateways.downCount() == 1 })

	if got := s.Status().Peers; len(got) != 0 {
		t.Errorf("peers = %v, want none", got)
	}
}

func TestSessionPeerCheckInterval(t *testing.T) {
	tb, sink := newTestTable(t, 0)
	tb.handle([]*api.Path{
		apiPath(t, "192.0.2.0/24", peerA, 65001, false, "198.51.100.1"),
		apiPath(t, "192.0.2.0/24", peerB, 65002, false, "198.51.100.2"),
		apiPath(t, "203.0.113.0/24", peerA, 65001, false, "198.51.100.1"),
		apiPath(t, "203.0.113.0/24", peerB, 65002, false, "198.51.100.2"),
	})
	sink.take()

	checked := 0
	tb.check = func(netip.Addr) bool {
		checked++

		return true
	}

	// Peer A withdraws two prefixes in two messages while its session
	// stays up: the speaker is queried once.
	tb.handle([]*api.Path{apiPath(t, "192.0.2.0/24", peerB, 65002, false, "198.51.100.2")})
	tb.handle([]*api.Path{apiPath(t, "203.0.113.0/24", peerB, 65002, false, "198.51.100.2")})

	if checked != 1 {
		t.Errorf("speaker queried %d times, want 1 within %s", checked, peerCheckInterval)
	}

	if got := sink.take(); strings.Contains(got, "gateway") {
		t.Errorf("calls:\n%s\nwant no gateway change for a live peer", got)
	}
}

func TestSessionGracefulRestart(t *testing.T) {
	b := newFakeBackend(t)
	s, sink := startSource(t, b, time.Hour)

	d := established(t, peerA, 65001)
	d.GracefulRestart = &api.GracefulRestart{Enabled: true}
	d.State.RemoteCap = append(d.State.RemoteCap, mustAny(t, &api.GracefulRestartCapability{}))
	b.setDetails(peerA, d)
	b.sendPeer(api.WatchEventResponse_PeerEvent_INIT, peerEvent(peerA, 65001, localAS, api.PeerState_ESTABLISHED))
	b.sendPeer(api.WatchEventResponse_PeerEvent_END_OF_INIT, nil)
	b.table <- []*api.Path{apiPath(t, "192.0.2.0/24", peerA, 65001, false, "198.51.100.1")}
	waitFor(t, "the route", func() bool { return sink.len() == 1 })
	waitFor(t, "the session details", func() bool { return s.peers.gracefulRestart(netip.MustParseAddr(peerA)) })

	// GoBGP keeps a restarting peer's paths as stale, so its next hop
	// stays up.
	b.sendPeer(api.WatchEventResponse_PeerEvent_STATE, peerEvent(peerA, 65001, localAS, api.PeerState_ACTIVE))
	waitFor(t, "the session loss", func() bool { return !s.peers.established(netip.MustParseAddr(peerA)) })

	if got := s.gateways.downCount(); got != 0 {
		t.Errorf("%d next hops down, want none while the peer restarts", got)
	}
}

func TestStatusBusySpeaker(t *testing.T) {
	b := newFakeBackend(t)
	s, _ := startSource(t, b, time.Hour)
	s.setBackend(b, true, nil)

	b.mu.Lock()
	b.block = make(chan struct{})
	b.mu.Unlock()
	defer close(b.block)

	start := time.Now()
	s.Status()
	if d := time.Since(start); d > statusQueryTimeout+time.Second {
		t.Errorf("Status took %s with a busy speaker, want at most %s", d, statusQueryTimeout)
	}

	// The first query still waits: the next Status does not start
	// another one.
	start = time.Now()
	s.Status()
	if d := time.Since(start); d > 500*time.Millisecond {
		t.Errorf("second Status took %s, want no wait", d)
	}

	start = time.Now()
	s.Snapshot()
	if d := time.Since(start); d > 500*time.Millisecond {
		t.Errorf("Snapshot took %s, want no query", d)
	}
}

// TestGatewayUpDeferred checks that a next hop whose session returns
// during the deferral is marked up only once the table is offered, so that
// the routes of the previous run do not take it back meanwhile.
func TestGatewayUpDeferred(t *testing.T) {
	sink := newFakeSink()
	g := newGateways(sink)
	g.deferred = make(map[netip.Addr]bool)

	gw, peer := netip.MustParseAddr("198.51.100.1"), netip.MustParseAddr(peerA)
	g.addSet([]member{{hop: nexthop.Hop{Family: nexthop.FamilyIPv4, Gateway: gw}, peer: peer}}, func(netip.Addr) bool { return true })
	g.peerDown(peer)
	g.peerUp(peer)

	if got, want := sink.take(), "gateway 198.51.100.1 down bgp-peer"; got != want {
		t.Errorf("calls during the deferral:\n%s\nwant:\n%s", got, want)
	}

	g.releaseUps()
	if got, want := sink.take(), "gateway 198.51.100.1 up bgp-peer"; got != want {
		t.Errorf("calls after the deferral:\n%s\nwant:\n%s", got, want)
	}
}

// TestSessionDeferLimit checks that the deferral ends at its limit when
// the source has not converged, without declaring convergence.
func TestSessionDeferLimit(t *testing.T) {
	b := newFakeBackend(t)
	s, sink := startSourceWith(t, b, Options{ConvergenceTimeout: time.Hour, DeferUntilConverged: true, DeferLimit: 200 * time.Millisecond})
	t.Cleanup(s.startDeferLimit())

	b.setDetails(peerA, established(t, peerA, 65001))
	b.sendPeer(api.WatchEventResponse_PeerEvent_INIT, peerEvent(peerA, 65001, localAS, api.PeerState_ESTABLISHED))
	b.sendPeer(api.WatchEventResponse_PeerEvent_END_OF_INIT, nil)
	b.table <- []*api.Path{apiPath(t, "192.0.2.0/24", peerA, 65001, false, "198.51.100.1")}
	waitFor(t, "the route at the deferral limit", func() bool { return sink.len() == 1 })

	if s.converged.Load() || s.Snapshot().Deferring {
		t.Errorf("converged %v, deferring %v; want neither after the limit", s.converged.Load(), s.Snapshot().Deferring)
	}
}
