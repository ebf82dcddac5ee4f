package gobgp

import (
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"testing"

	api "github.com/osrg/gobgp/v3/api"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/anypb"

	"github.com/fibd/fibd/fib"
)

// fakeSink records the calls of the source as lines and keeps the
// resulting candidate routes.
type fakeSink struct {
	mu        sync.Mutex
	calls     []string
	routes    map[fib.Key]fib.Route
	down      map[netip.Addr]bool
	converged int
	reject    func(fib.Route) error
}

func newFakeSink() *fakeSink {
	return &fakeSink{routes: make(map[fib.Key]fib.Route), down: make(map[netip.Addr]bool)}
}

func (f *fakeSink) Update(routes []fib.Route) []error {
	f.mu.Lock()
	defer f.mu.Unlock()

	errs := make([]error, len(routes))
	for i, r := range routes {
		if err := r.Validate(); err != nil {
			errs[i] = err

			continue
		}

		if f.reject != nil {
			if errs[i] = f.reject(r); errs[i] != nil {
				continue
			}
		}

		f.routes[r.Key()] = r
		f.calls = append(f.calls, fmt.Sprintf("update %s %s distance %d", r.Prefix, r.NextHops, r.Distance))
	}

	return errs
}

func (f *fakeSink) Withdraw(source string, keys []fib.Key) {
	f.mu.Lock()
	defer f.mu.Unlock()

	for _, k := range keys {
		delete(f.routes, k)
		f.calls = append(f.calls, fmt.Sprintf("withdraw %s %s", source, k.Prefix))
	}
}

func (f *fakeSink) SetGatewayDown(addr netip.Addr, reason string, down bool) {
	f.mu.Lock()
	defer f.mu.Unlock()

	f.down[addr] = down
	state := "up"
	if down {
		state = "down"
	}

	f.calls = append(f.calls, fmt.Sprintf("gateway %s %s %s", addr, state, reason))
}

func (f *fakeSink) Converged(source string) {
	f.mu.Lock()
	defer f.mu.Unlock()

	f.converged++
	f.calls = append(f.calls, "converged "+source)
}

// take returns the calls recorded since the last take.
func (f *fakeSink) take() string {
	f.mu.Lock()
	defer f.mu.Unlock()

	out := strings.Join(f.calls, "\n")
	f.calls = nil

	return out
}

// table returns the candidate routes as sorted lines.
func (f *fakeSink) table() string {
	f.mu.Lock()
	defer f.mu.Unlock()

	lines := make([]string, 0, len(f.routes))
	for _, r := range f.routes {
		lines = append(lines, fmt.Sprintf("%s %s", r.Prefix, r.NextHops))
	}

	slices.Sort(lines)

	return strings.Join(lines, "\n")
}

func (f *fakeSink) convergedCount() int {
	f.mu.Lock()
	defer f.mu.Unlock()

	return f.converged
}

func (f *fakeSink) len() int {
	f.mu.Lock()
	defer f.mu.Unlock()

	return len(f.routes)
}

func mustAny(t testing.TB, m proto.Message) *anypb.Any {
	t.Helper()

	a, err := anypb.New(m)
	if err != nil {
		t.Fatalf("marshal %T: %v", m, err)
	}

	return a
}

// apiPath builds a best path as GoBGP's watch sends it. nexthops with one
// IPv4 address for an IPv4 prefix use NEXT_HOP, anything else
// MP_REACH_NLRI.
func apiPath(t testing.TB, prefix, peer string, peerAS uint32, withdraw bool, nexthops ...string) *api.Path {
	t.Helper()

	p := netip.MustParsePrefix(prefix)
	fam := &api.Family{Afi: api.Family_AFI_IP, Safi: api.Family_SAFI_UNICAST}
	if p.Addr().Is6() {
		fam.Afi = api.Family_AFI_IP6
	}

	var nh *anypb.Any
	if p.Addr().Is4() && len(nexthops) == 1 && netip.MustParseAddr(nexthops[0]).Is4() {
		nh = mustAny(t, &api.NextHopAttribute{NextHop: nexthops[0]})
	} else {
		nh = mustAny(t, &api.MpReachNLRIAttribute{Family: fam, NextHops: nexthops})
	}

	return &api.Path{
		Nlri: mustAny(t, &api.IPAddressPrefix{PrefixLen: uint32(p.Bits()), Prefix: p.Addr().String()}),
		Pattrs: []*anypb.Any{
			mustAny(t, &api.OriginAttribute{Origin: 0}),
			nh,
		},
		Family:     fam,
		IsWithdraw: withdraw,
		NeighborIp: peer,
		SourceAsn:  peerAS,
	}
}

// eorPath builds an End-of-RIB marker as GoBGP's watch sends it.
func eorPath(peer string, afi api.Family_Afi) *api.Path {
	return &api.Path{
		Family:     &api.Family{Afi: afi, Safi: api.Family_SAFI_UNICAST},
		NeighborIp: peer,
	}
}

// peerEvent builds a peer state as GoBGP's watch sends it.
func peerEvent(addr string, as, localAS uint32, state api.PeerState_SessionState) *api.Peer {
	return &api.Peer{
		Conf:  &api.PeerConf{NeighborAddress: addr, PeerAsn: as, LocalAsn: localAS},
		State: &api.PeerState{NeighborAddress: addr, PeerAsn: as, LocalAsn: localAS, SessionState: state},
	}
}
