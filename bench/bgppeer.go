package bench

import (
	"context"
	"encoding/json"
	"fmt"
	"net/netip"
	"path/filepath"
	"time"

	api "github.com/osrg/gobgp/v3/api"
	"github.com/osrg/gobgp/v3/pkg/server"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/protobuf/types/known/anypb"
)

// AS numbers of the BGP sessions between the peer and the router.
const (
	peerAS   = 64512
	routerAS = 64513
)

// peerSpec configures the BGP peer child: GoBGP in the peer namespace with
// one session per link, all starting administratively down, and every
// route of the workload already in its RIB.
type peerSpec struct {
	ChildSpec
	Dir      string        `json:"dir"`
	RouterID netip.Addr    `json:"router_id"` // IPv4, also for IPv6 sessions
	Sessions int           `json:"sessions"`
	Routers  [2]netip.Addr `json:"routers"` // the router's address on each link
	Locals   [2]netip.Addr `json:"locals"`  // the peer's own address on each link
}

// bgpPeer is the child that announces the routes.
type bgpPeer struct {
	spec peerSpec
	bgp  *server.BgpServer
	conn *grpc.ClientConn
	api  api.GobgpApiClient
}

func init() {
	RegisterChild("bgp-peer", newBGPPeer)
}

// bgpSupports returns why a contender fed by the BGP peer cannot run w,
// or "". BGP carries no weight for a next hop, so the peer cannot announce
// weighted groups.
func bgpSupports(w Workload) string {
	if w.Groups > 0 {
		return "BGP carries no next-hop weights, so weighted groups cannot be announced"
	}

	return ""
}

// startPeer starts the BGP peer child in env's peer namespace with one
// session per link the workload uses.
func startPeer(env *Env, w Workload) (*Child, error) {
	sessions := 1
	if w.ECMP {
		sessions = 2
	}

	var spec peerSpec
	spec.ChildSpec = ChildSpec{Kind: "bgp-peer", Workload: w}
	spec.Dir, spec.Sessions, spec.RouterID = env.Dir, sessions, env.Links[0].Gateway4
	for i, l := range env.Links {
		spec.Routers[i], spec.Locals[i] = l.Local(w.Family), l.Gateway(w.Family)
	}

	return StartChild(env.Peer, spec)
}

func newBGPPeer(raw json.RawMessage) (ChildHandler, error) {
	var spec peerSpec
	if err := json.Unmarshal(raw, &spec); err != nil {
		return nil, fmt.Errorf("decode peer spec: %w", err)
	}

	sock := "unix://" + filepath.Join(spec.Dir, "gobgp.sock")
	p := &bgpPeer{spec: spec, bgp: server.NewBgpServer(server.GrpcListenAddress(sock))}
	go p.bgp.Serve()

	conn, err := grpc.NewClient(sock, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		return nil, fmt.Errorf("connect to gobgp at %s: %w", sock, err)
	}

	p.conn, p.api = conn, api.NewGobgpApiClient(conn)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()

	if err := p.setUp(ctx); err != nil {
		return nil, err
	}

	return p, nil
}

func (p *bgpPeer) family() *api.Family {
	if p.spec.Workload.Family == 6 {
		return &api.Family{Afi: api.Family_AFI_IP6, Safi: api.Family_SAFI_UNICAST}
	}

	return &api.Family{Afi: api.Family_AFI_IP, Safi: api.Family_SAFI_UNICAST}
}

func (p *bgpPeer) setUp(ctx context.Context) error {
	err := p.bgp.StartBgp(ctx, &api.StartBgpRequest{Global: &api.Global{
		Asn: peerAS, RouterId: p.spec.RouterID.String(), ListenPort: -1,
	}})
	if err != nil {
		return fmt.Errorf("start gobgp: %w", err)
	}

	for i := range p.spec.Sessions {
		peer := &api.Peer{
			Conf:      &api.PeerConf{NeighborAddress: p.spec.Routers[i].String(), PeerAsn: routerAS, AdminDown: true},
			Transport: &api.Transport{LocalAddress: p.spec.Locals[i].String()},
			Timers:    &api.Timers{Config: &api.TimersConfig{ConnectRetry: 1, HoldTime: 90, KeepaliveInterval: 30}},
			AfiSafis:  []*api.AfiSafi{{Config: &api.AfiSafiConfig{Family: p.family(), Enabled: true}}},
		}
		if err := p.bgp.AddPeer(ctx, &api.AddPeerRequest{Peer: peer}); err != nil {
			return fmt.Errorf("add gobgp neighbor %s: %w", p.spec.Routers[i], err)
		}
	}

	return p.announce(ctx)
}

// announce loads every route into the RIB with an unspecified next hop,
// which GoBGP replaces by its own address on each session.
func (p *bgpPeer) announce(ctx context.Context) error {
	// The gRPC server starts in the background; wait for it.
	stream, err := p.api.AddPathStream(ctx, grpc.WaitForReady(true))
	if err != nil {
		return fmt.Errorf("open gobgp path stream: %w", err)
	}

	origin, _ := anypb.New(&api.OriginAttribute{Origin: 0})
	hop, _ := anypb.New(&api.NextHopAttribute{NextHop: "0.0.0.0"})

	w := p.spec.Workload
	paths := make([]*api.Path, 0, 2000)
	for i := range w.Routes {
		prefix := Prefix(w.Family, i)
		nlri, _ := anypb.New(&api.IPAddressPrefix{PrefixLen: uint32(prefix.Bits()), Prefix: prefix.Addr().String()})
		attrs := []*anypb.Any{origin, hop}
		if w.Family == 6 {
			reach, _ := anypb.New(&api.MpReachNLRIAttribute{Family: p.family(), NextHops: []string{"::"}, Nlris: []*anypb.Any{nlri}})
			attrs = []*anypb.Any{origin, reach}
		}

		paths = append(paths, &api.Path{Nlri: nlri, Pattrs: attrs, Family: p.family()})
		if len(paths) == cap(paths) || i == w.Routes-1 {
			if err := stream.Send(&api.AddPathStreamRequest{TableType: api.TableType_GLOBAL, Paths: paths}); err != nil {
				return fmt.Errorf("send paths to gobgp: %w", err)
			}

			paths = make([]*api.Path, 0, 2000)
		}
	}

	if _, err := stream.CloseAndRecv(); err != nil {
		return fmt.Errorf("close gobgp path stream: %w", err)
	}

	return nil
}

// Prepare implements ChildHandler. Before install it brings every session
// up and returns as soon as one is established, so that the clock starts
// when the router begins to receive the table, not during the BGP
// connection's retry timers.
func (p *bgpPeer) Prepare(s Scenario) error {
	if s != Install {
		return nil
	}

	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()

	for i := range p.spec.Sessions {
		if err := p.bgp.EnablePeer(ctx, &api.EnablePeerRequest{Address: p.spec.Routers[i].String()}); err != nil {
			return fmt.Errorf("enable gobgp neighbor %s: %w", p.spec.Routers[i], err)
		}
	}

	for p.established(ctx) == 0 {
		select {
		case <-ctx.Done():
			return fmt.Errorf("wait for a BGP session: %w", ctx.Err())
		case <-time.After(time.Millisecond):
		}
	}

	return nil
}

// established returns how many sessions are established.
func (p *bgpPeer) established(ctx context.Context) int {
	n := 0
	_ = p.bgp.ListPeer(ctx, &api.ListPeerRequest{}, func(peer *api.Peer) {
		if peer.GetState().GetSessionState() == api.PeerState_ESTABLISHED {
			n++
		}
	})

	return n
}

// Do implements ChildHandler: failover shuts the hop0 session down (a BGP
// NOTIFICATION, so the router drops its paths at once), recover brings it
// up again, withdraw withdraws every route. Install has happened in
// Prepare.
func (p *bgpPeer) Do(s Scenario) error {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()

	switch s {
	case Install, Restart:
		return nil
	case Failover:
		return p.bgp.DisablePeer(ctx, &api.DisablePeerRequest{Address: p.spec.Routers[0].String(), Communication: "benchmark failover"})
	case Recover:
		return p.bgp.EnablePeer(ctx, &api.EnablePeerRequest{Address: p.spec.Routers[0].String()})
	case Withdraw:
		return p.bgp.DeletePath(ctx, &api.DeletePathRequest{TableType: api.TableType_GLOBAL, Family: p.family()})
	}

	return fmt.Errorf("unknown scenario %q", s)
}
