package server

import (
	"context"
	"sync"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/fibd/fibd/api/fibdv1"
	"github.com/fibd/fibd/fib"
	"github.com/fibd/fibd/nexthop"
)

// chunkSize is the number of routes or nexthops per listing message.
const chunkSize = 256

// ListRoutes streams the routes that match the request's filter.
func (s *Server) ListRoutes(req *fibdv1.ListRoutesRequest, stream fibdv1.Fib_ListRoutesServer) error {
	filter, err := parseFilter(req.GetFilter())
	if err != nil {
		return err
	}

	// Copy first: the FIB holds its lock while it calls back, and neither
	// the conversion nor a slow client may hold the FIB.
	var states []fib.RouteState
	s.fib.Routes(filter, func(rs fib.RouteState) bool {
		states = append(states, rs)

		return true
	})

	for len(states) > 0 {
		n := min(chunkSize, len(states))
		routes := make([]*fibdv1.RouteState, n)
		for i := range routes {
			routes[i] = routeState(states[i])
		}

		if err := stream.Send(&fibdv1.ListRoutesResponse{Routes: routes}); err != nil {
			return err
		}

		states = states[n:]
	}

	return nil
}

// WatchRoutes streams the matching routes, a synced marker, then changes.
func (s *Server) WatchRoutes(req *fibdv1.WatchRoutesRequest, stream fibdv1.Fib_WatchRoutesServer) error {
	filter, err := parseFilter(req.GetFilter())
	if err != nil {
		return err
	}

	ctx, cancel := context.WithCancel(stream.Context())
	defer cancel()

	var (
		mu      sync.Mutex
		sendErr error
	)
	send := func(resp *fibdv1.WatchRoutesResponse) {
		mu.Lock()
		defer mu.Unlock()

		if sendErr != nil {
			return
		}

		if err := stream.Send(resp); err != nil {
			sendErr = err
			cancel()
		}
	}

	watchErr := s.fib.Watch(ctx, filter, func(ev fib.Event) {
		for _, resp := range watchResponses(ev) {
			send(resp)
		}
	})

	mu.Lock()
	defer mu.Unlock()

	switch {
	case sendErr != nil:
		return sendErr
	case stream.Context().Err() != nil:
		return nil
	case watchErr != nil:
		return status.Errorf(codes.ResourceExhausted, "watch routes: %v; read faster or narrow the filter", watchErr)
	}

	return nil
}

// watchResponses translates one FIB event; a synced event without a kind
// becomes the synced marker alone.
func watchResponses(ev fib.Event) []*fibdv1.WatchRoutesResponse {
	var out []*fibdv1.WatchRoutesResponse
	switch ev.Kind {
	case fib.EventUpdate:
		out = append(out, &fibdv1.WatchRoutesResponse{Kind: fibdv1.WatchRoutesResponse_KIND_UPDATE, Route: routeState(ev.Route)})
	case fib.EventDelete:
		out = append(out, &fibdv1.WatchRoutesResponse{Kind: fibdv1.WatchRoutesResponse_KIND_DELETE, Route: routeState(ev.Route)})
	}

	if ev.Synced {
		out = append(out, &fibdv1.WatchRoutesResponse{Kind: fibdv1.WatchRoutesResponse_KIND_SYNCED})
	}

	return out
}

// ListNexthops streams the nexthop objects and groups.
func (s *Server) ListNexthops(_ *fibdv1.ListNexthopsRequest, stream fibdv1.Fib_ListNexthopsServer) error {
	states := s.fib.Nexthops()
	for len(states) > 0 {
		n := min(chunkSize, len(states))
		msg := &fibdv1.ListNexthopsResponse{Nexthops: make([]*fibdv1.NexthopObject, 0, n)}
		for _, st := range states[:n] {
			msg.Nexthops = append(msg.Nexthops, nexthopObject(st))
		}

		if err := stream.Send(msg); err != nil {
			return err
		}

		states = states[n:]
	}

	return nil
}

// parseFilter converts a route filter; the zero filter matches all.
func parseFilter(f *fibdv1.RouteFilter) (fib.Filter, error) {
	var v violations
	filter := fib.Filter{Table: f.GetTable(), Source: f.GetSource()}

	if f.GetPrefix() != "" {
		filter.Prefix, _ = parsePrefix(&v, "filter.prefix", f.GetPrefix())
	}

	switch f.GetFamily() {
	case fibdv1.Family_FAMILY_UNSPECIFIED:
	case fibdv1.Family_FAMILY_INET:
		filter.Family = nexthop.FamilyIPv4
	case fibdv1.Family_FAMILY_INET6:
		filter.Family = nexthop.FamilyIPv6
	default:
		v.add("filter.family", "family %d is unknown; use inet or inet6, or leave it unset for both", int32(f.GetFamily()))
	}

	return filter, v.err()
}

// routeState converts a FIB route state.
func routeState(rs fib.RouteState) *fibdv1.RouteState {
	out := &fibdv1.RouteState{
		Prefix:     rs.Key.Prefix.String(),
		Table:      rs.Key.Table,
		Candidates: make([]*fibdv1.Route, 0, len(rs.Candidates)),
		Unresolved: rs.Unresolved,
		Conflict:   rs.Conflict,
		Adopted:    rs.Adopted,
	}

	for _, c := range rs.Candidates {
		out.Candidates = append(out.Candidates, route(c))
	}

	if in := rs.Installed; in != nil {
		out.Installed = &fibdv1.InstalledRoute{Metric: in.Metric, Type: routeType(in.Type), NexthopId: uint32(in.Nexthop)}
	}

	if rs.Err != nil {
		out.Error = rs.Err.Error()
	}

	return out
}

// route converts a FIB candidate route.
func route(r fib.Route) *fibdv1.Route {
	table := r.Table
	distance := uint32(r.Distance)
	out := &fibdv1.Route{
		Prefix:   r.Prefix.String(),
		Table:    &table,
		Metric:   r.Metric,
		Type:     routeType(r.Type),
		Source:   r.Source,
		Distance: &distance,
	}

	for _, m := range r.NextHops.Members {
		out.Nexthops = append(out.Nexthops, hop(m.Hop, m.Weight))
	}

	out.Resilient = resilient(r.NextHops.Resilient)

	return out
}

func hop(h nexthop.Hop, weight uint32) *fibdv1.Nexthop {
	out := &fibdv1.Nexthop{Device: h.Device, Onlink: h.Onlink}
	if h.Gateway.IsValid() {
		out.Gateway = h.Gateway.String()
	}

	if weight != 0 {
		out.Weight = &weight
	}

	return out
}

func resilient(r *nexthop.Resilient) *fibdv1.ResilientGroup {
	if r == nil {
		return nil
	}

	return &fibdv1.ResilientGroup{Buckets: uint32(r.Buckets), IdleTimer: r.IdleTimer, UnbalancedTimer: r.UnbalancedTimer}
}

func routeType(t fib.Type) fibdv1.RouteType {
	return fibdv1.RouteType(t)
}

func family(f nexthop.Family) fibdv1.Family {
	return fibdv1.Family(f)
}

// nexthopObject converts a FIB nexthop state.
func nexthopObject(st fib.NexthopState) *fibdv1.NexthopObject {
	o := st.Object
	out := &fibdv1.NexthopObject{
		Id:        uint32(o.ID),
		Resilient: resilient(o.Resilient),
		Refs:      uint32(st.Refs),
		Installed: st.Installed,
		RouteRefs: uint32(st.Routes),
		Down:      st.Down,
		Held:      st.Held,
		Orphan:    st.Orphan,
	}

	if st.Err != nil {
		out.Error = st.Err.Error()
	}

	if !o.IsGroup() {
		out.Hop = hop(o.Hop, 0)
		out.Family = family(o.Hop.Family)

		return out
	}

	for _, m := range o.Group {
		out.Group = append(out.Group, &fibdv1.GroupMember{Id: uint32(m.ID), Weight: m.Weight})
	}

	return out
}
