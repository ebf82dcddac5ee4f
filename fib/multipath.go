package fib

import (
	"context"
	"slices"

	"github.com/fibd/fibd/nexthop"
)

// PathResolver is implemented by a Dataplane that resolves a gateway that
// is not directly connected to every path of a multipath route to it.
// The FIB then spreads a recursive next hop over all the paths, with equal
// weights. A Dataplane without it resolves each hop to one path.
type PathResolver interface {
	// ResolvePaths completes hop like Dataplane.Resolve and returns at
	// least one hop when the error is nil.
	ResolvePaths(ctx context.Context, hop nexthop.Hop) ([]nexthop.Hop, error)
}

// resolveHop calls the dataplane's lookup for one hop.
func (f *FIB) resolveHop(ctx context.Context, h nexthop.Hop) resolution {
	resolver, ok := f.dp.(PathResolver)
	if !ok {
		got, err := f.dp.Resolve(ctx, h)

		return resolution{hop: got, paths: []nexthop.Hop{got}, err: err}
	}

	paths, err := resolver.ResolvePaths(ctx, h)
	if err == nil && len(paths) == 0 {
		got, rerr := f.dp.Resolve(ctx, h)
		paths, err = []nexthop.Hop{got}, rerr
	}

	r := resolution{paths: paths, err: err}
	if len(paths) > 0 {
		r.hop = paths[0]
	}

	return r
}

// sameResolution reports whether two resolutions program the same hops.
func sameResolution(a, b resolution) bool {
	return (a.err == nil) == (b.err == nil) && slices.Equal(a.paths, b.paths)
}

// expand returns the members that the requested members become once each
// recursive hop is replaced by its paths (resolved maps a requested hop
// to them). A member's weight is split evenly over its paths: all weights
// are scaled by the least common multiple of the path counts, unless that
// exceeds nexthop.MaxWeight, where each path keeps the member's weight.
// Members that resolve to the same hop are merged, adding their weights.
func expand(members []nexthop.Member, resolved func(nexthop.Hop) []nexthop.Hop) []nexthop.Member {
	scale := uint32(1)
	for _, m := range members {
		scale = lcm(scale, uint32(len(resolved(m.Hop))))
	}

	for _, m := range members {
		if uint64(max(m.Weight, 1))*uint64(scale) > nexthop.MaxWeight {
			scale = 0
		}
	}

	var out []nexthop.Member
	index := make(map[nexthop.Hop]int)
	for _, m := range members {
		paths := resolved(m.Hop)
		w := max(m.Weight, 1)
		if scale != 0 {
			w = w * scale / uint32(len(paths))
		}

		for _, h := range paths {
			if k, ok := index[h]; ok {
				out[k].Weight = min(out[k].Weight+w, nexthop.MaxWeight)

				continue
			}

			index[h] = len(out)
			out = append(out, nexthop.Member{Hop: h, Weight: w})
		}
	}

	return out
}

func lcm(a, b uint32) uint32 {
	if a == 0 || b == 0 {
		return max(a, b)
	}

	x, y := a, b
	for y != 0 {
		x, y = y, x%y
	}

	return uint32(min(uint64(a/x)*uint64(b), uint64(nexthop.MaxWeight)+1))
}
