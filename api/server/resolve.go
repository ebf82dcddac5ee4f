package server

import (
	"context"
	"fmt"

	"github.com/fibd/fibd/fib"
	"github.com/fibd/fibd/nexthop"
)

// resolver checks the next hops of a request with Config.Resolve before
// the request touches the FIB, so that a route whose gateway cannot be
// reached is rejected and the route it would replace stays installed. It
// keeps the result of each distinct hop, so a stream of many routes over
// a few next hops costs a few kernel lookups. A resolver serves one
// request (one call, one stream or one session) and is not safe for
// concurrent use.
type resolver struct {
	resolve func(ctx context.Context, hop nexthop.Hop) (nexthop.Hop, error)
	results map[nexthop.Hop]error
}

func (s *Server) newResolver() *resolver {
	return &resolver{resolve: s.cfg.Resolve, results: make(map[nexthop.Hop]error)}
}

// check resolves every next hop of routes, which parseRoutes returned
// from the request field for a request without violations, so routes[i]
// is field[i]. A hop that fails adds a violation naming the route, and
// the resolver's error names the next hop. Set.Canonical reorders the
// members, so the violation names the route's nexthops field, not one
// index in it. A cancelled ctx stops the check, and the caller tests ctx.
//
// NOTE: the check is as strong as Config.Resolve. A failure that only the
// kernel finds when it creates the nexthop object still reaches the FIB.
func (r *resolver) check(ctx context.Context, v *violations, field string, routes []fib.Route) {
	if r == nil || r.resolve == nil {
		return
	}

	for i, route := range routes {
		for _, m := range route.NextHops.Members {
			err := r.hop(ctx, m.Hop)
			if ctx.Err() != nil {
				return
			}

			if err != nil {
				v.add(fmt.Sprintf("%s[%d].nexthops", field, i), "route %s: %v; the request changed nothing", route.Key(), err)
			}
		}
	}
}

// hop returns the resolution error of one hop, calling Config.Resolve once
// per distinct hop. The result of a cancelled call is not kept, so a later
// message of the stream calls Resolve again.
func (r *resolver) hop(ctx context.Context, h nexthop.Hop) error {
	if err, ok := r.results[h]; ok {
		return err
	}

	_, err := r.resolve(ctx, h)
	if ctx.Err() != nil {
		return err
	}

	r.results[h] = err

	return err
}
