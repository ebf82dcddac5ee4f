package fib

import (
	"net/netip"

	"github.com/fibd/fibd/nexthop"
)

// coverage is the set of prefixes that contain a gateway of the resolution
// cache, in every length from the default route to the host route. A
// route of fibd's own at one of these prefixes may change how that gateway
// resolves, and the kernel's notifications of fibd's own routes are not
// seen by the monitor, so the FIB requests the re-resolution itself.
type coverage struct {
	prefixes map[netip.Prefix]struct{}
	hops     int // size of the resolution cache when prefixes was built
}

// coversLocked reports whether a route for prefix may take part in the
// resolution of a cached gateway.
func (f *FIB) coversLocked(prefix netip.Prefix) bool {
	if len(f.hops) == 0 {
		return false
	}

	// A dropped resolution clears the coverage, so a cache of the same
	// size as when it was built contains the same gateways.
	if f.tracked.prefixes == nil || f.tracked.hops != len(f.hops) {
		f.tracked = buildCoverage(f.hops)
	}

	_, ok := f.tracked.prefixes[prefix.Masked()]

	return ok
}

func buildCoverage(hops map[nexthop.Hop]resolution) coverage {
	c := coverage{prefixes: make(map[netip.Prefix]struct{}), hops: len(hops)}
	for h := range hops {
		g := h.Gateway.WithZone("")
		for bits := 0; bits <= g.BitLen(); bits++ {
			p, err := g.Prefix(bits)
			if err == nil {
				c.prefixes[p] = struct{}{}
			}
		}
	}

	return c
}

// trackRouteOps requests a re-resolution when ops changed one of fibd's
// own routes that covers a cached gateway, such as a route to an iBGP next
// hop that another source of fibd's provides.
func (f *FIB) trackRouteOps(ops []Op) {
	f.mu.Lock()
	defer f.mu.Unlock()

	f.trackRouteOpsLocked(ops)
}

func (f *FIB) trackRouteOpsLocked(ops []Op) {
	if f.reresolve {
		return
	}

	for _, op := range ops {
		route := op.Kind == OpRouteCreate || op.Kind == OpRouteReplace || op.Kind == OpRouteDelete
		if route && f.coversLocked(op.Route.Prefix) {
			f.reresolve = true

			return
		}
	}
}
