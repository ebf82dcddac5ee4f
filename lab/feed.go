package lab

import (
	"context"
	"fmt"
	"net/netip"

	api "github.com/osrg/gobgp/v3/api"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/protobuf/types/known/anypb"
)

// feedBatch is the number of paths per AddPathStream message: large enough
// to amortise the stream's overhead, small enough to stay far below gRPC's
// 4 MiB default message limit (a path is about 150 bytes).
const feedBatch = 2000

// Feed announces networks from a gobgpd through its gRPC API at address
// (for example "unix:///tmp/up1.sock"), each with AS_PATH [origin] and the
// given next hop; gobgpd prepends its own AS when it exports them over
// eBGP. It returns once gobgpd has taken every path.
func Feed(ctx context.Context, address string, networks []Network, nextHop netip.Addr) error {
	conn, err := grpc.NewClient(address, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		return fmt.Errorf("connect to gobgpd at %s: %w", address, err)
	}
	defer conn.Close()

	stream, err := api.NewGobgpApiClient(conn).AddPathStream(ctx)
	if err != nil {
		return fmt.Errorf("open path stream to gobgpd at %s: %w", address, err)
	}

	origin, err := anypb.New(&api.OriginAttribute{Origin: 0}) // IGP
	if err != nil {
		return fmt.Errorf("encode origin attribute: %w", err)
	}

	hop, err := nextHopAttribute(nextHop)
	if err != nil {
		return err
	}

	paths := make([]*api.Path, 0, feedBatch)
	for i, n := range networks {
		path, err := newPath(n, origin, hop, nextHop)
		if err != nil {
			return err
		}

		paths = append(paths, path)
		if len(paths) < feedBatch && i < len(networks)-1 {
			continue
		}

		req := &api.AddPathStreamRequest{TableType: api.TableType_GLOBAL, Paths: paths}
		if err := stream.Send(req); err != nil {
			return fmt.Errorf("send paths to gobgpd at %s: %w", address, err)
		}

		paths = make([]*api.Path, 0, feedBatch)
	}

	if _, err := stream.CloseAndRecv(); err != nil {
		return fmt.Errorf("close path stream to gobgpd at %s: %w", address, err)
	}

	return nil
}

// nextHopAttribute returns the NEXT_HOP attribute of IPv4 paths; IPv6
// paths carry their next hop in MP_REACH_NLRI instead, built per path.
func nextHopAttribute(nextHop netip.Addr) (*anypb.Any, error) {
	if !nextHop.Is4() {
		return nil, nil
	}

	hop, err := anypb.New(&api.NextHopAttribute{NextHop: nextHop.String()})
	if err != nil {
		return nil, fmt.Errorf("encode next hop %s: %w", nextHop, err)
	}

	return hop, nil
}

func newPath(n Network, origin, hop *anypb.Any, nextHop netip.Addr) (*api.Path, error) {
	prefix := &api.IPAddressPrefix{PrefixLen: uint32(n.Prefix.Bits()), Prefix: n.Prefix.Addr().String()}
	nlri, err := anypb.New(prefix)
	if err != nil {
		return nil, fmt.Errorf("encode prefix %s: %w", n.Prefix, err)
	}

	asPath, err := anypb.New(&api.AsPathAttribute{Segments: []*api.AsSegment{{
		Type:    api.AsSegment_AS_SEQUENCE,
		Numbers: []uint32{n.OriginAS},
	}}})
	if err != nil {
		return nil, fmt.Errorf("encode AS path of %s: %w", n.Prefix, err)
	}

	family := &api.Family{Afi: api.Family_AFI_IP, Safi: api.Family_SAFI_UNICAST}
	attrs := []*anypb.Any{origin, asPath}
	if n.Prefix.Addr().Is4() {
		attrs = append(attrs, hop)
	} else {
		family = &api.Family{Afi: api.Family_AFI_IP6, Safi: api.Family_SAFI_UNICAST}
		reach, err := anypb.New(&api.MpReachNLRIAttribute{
			Family:   family,
			NextHops: []string{nextHop.String()},
			Nlris:    []*anypb.Any{nlri},
		})
		if err != nil {
			return nil, fmt.Errorf("encode next hop of %s: %w", n.Prefix, err)
		}

		attrs = append(attrs, reach)
	}

	return &api.Path{Nlri: nlri, Pattrs: attrs, Family: family}, nil
}
