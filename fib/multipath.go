package fib

import (
	"context"
	"math"
	"slices"

	"github.com/fibd/fibd/nexthop"
)

// PathResolver is implemented by a Dataplane that resolves a gateway that
// is not directly connected to every path of a multipath route to it. The
// FIB then spreads a recursive next hop over all the paths, in proportion
// to their weights. A Dataplane without it resolves each hop to one path.
type PathResolver interface {
	// ResolvePaths completes hop like Dataplane.Resolve and returns at
	// least one path when the error is nil, each with its weight in the
	// route to the gateway, from 1 to nexthop.MaxWeight. A weight of 0
	// counts as 1.
	ResolvePaths(ctx context.Context, hop nexthop.Hop) ([]nexthop.Member, error)
}

// resolveHop calls the dataplane's lookup for one hop.
func (f *FIB) resolveHop(ctx context.Context, h nexthop.Hop) resolution {
	resolver, ok := f.dp.(PathResolver)
	if !ok {
		got, err := f.dp.Resolve(ctx, h)

		return resolution{hop: got, paths: []nexthop.Member{{Hop: got, Weight: 1}}, err: err}
	}

	paths, err := resolver.ResolvePaths(ctx, h)
	if err == nil && len(paths) == 0 {
		got, rerr := f.dp.Resolve(ctx, h)
		paths, err = []nexthop.Member{{Hop: got, Weight: 1}}, rerr
	}

	r := resolution{paths: paths, err: err}
	if len(paths) > 0 {
		r.hop = paths[0].Hop
	}

	return r
}

// sameResolution reports whether two resolutions program the same hops
// with the same weights.
func sameResolution(a, b resolution) bool {
	return (a.err == nil) == (b.err == nil) && slices.Equal(a.paths, b.paths)
}

// maxScale bounds the common multiple of the sums of the members' path
// weights that expand scales by. With member and path weights of at most
// nexthop.MaxWeight (16 bits), a path's scaled weight stays below 2^64.
const maxScale = 1 << 32

// expand returns the members that the requested members become once each
// recursive hop is replaced by its weighted paths (resolved returns them).
//
// A member keeps its share of the traffic, and its paths split that share
// in proportion to their weights. A member of weight W whose paths'
// weights sum to S gives its path of weight w the weight W × w / S. To
// keep this exact in whole numbers, every weight is scaled by the least
// common multiple of the members' sums S. Members that resolve to the same
// hop are merged, adding their weights, and all weights are then divided
// by their greatest common divisor, so that paths of equal share get
// weight 1 and equal shares always yield the same group.
//
// NOTE: when the common multiple exceeds maxScale, or a reduced weight
// exceeds nexthop.MaxWeight, the weights are rounded and only approximate
// the shares (each path keeps at least weight 1). Kernels before 6.12
// accept weights up to nexthop.MaxWeight8 only, so there a group whose
// scaled weights exceed it fails to install.
func expand(members []nexthop.Member, resolved func(nexthop.Hop) []nexthop.Member) []nexthop.Member {
	scale := uint64(1)
	for _, m := range members {
		scale = lcm(scale, pathTotal(resolved(m.Hop)))
	}

	var hops []nexthop.Hop
	var weights []uint64
	index := make(map[nexthop.Hop]int)
	for _, m := range members {
		paths := resolved(m.Hop)
		total := pathTotal(paths)
		for _, p := range paths {
			// The weight is exact when scale is a multiple of total.
			// Otherwise it is rounded down, but never to 0.
			w := max(weightOf(m.Weight)*weightOf(p.Weight)*scale/total, 1)
			if k, ok := index[p.Hop]; ok {
				weights[k] = addSaturating(weights[k], w)

				continue
			}

			index[p.Hop] = len(hops)
			hops = append(hops, p.Hop)
			weights = append(weights, w)
		}
	}

	return weighted(hops, fitWeights(weights))
}

// weightOf returns w limited to 1 to nexthop.MaxWeight, so that 0 counts
// as 1 and the products in expand fit in 64 bits.
func weightOf(w uint32) uint64 {
	return uint64(min(max(w, 1), nexthop.MaxWeight))
}

// pathTotal returns the sum of the weights of paths, at least 1.
func pathTotal(paths []nexthop.Member) uint64 {
	var total uint64
	for _, p := range paths {
		total += weightOf(p.Weight)
	}

	return max(total, 1)
}

// fitWeights divides weights by their greatest common divisor and, when
// the largest is still above nexthop.MaxWeight, scales them down to it,
// rounding to the nearest and keeping each at least 1. It reuses weights.
func fitWeights(weights []uint64) []uint32 {
	reduce(weights)

	top := uint64(0)
	for _, w := range weights {
		top = max(top, w)
	}

	if top > nexthop.MaxWeight {
		for i, w := range weights {
			weights[i] = max(uint64(math.Round(float64(w)/float64(top)*nexthop.MaxWeight)), 1)
		}

		// The rounded weights can have a common divisor again.
		reduce(weights)
	}

	out := make([]uint32, len(weights))
	for i, w := range weights {
		out[i] = uint32(w)
	}

	return out
}

// reduce divides weights by their greatest common divisor.
func reduce(weights []uint64) {
	divisor := uint64(0)
	for _, w := range weights {
		divisor = gcd(divisor, w)
	}

	if divisor <= 1 {
		return
	}

	for i := range weights {
		weights[i] /= divisor
	}
}

// weighted pairs hops with weights.
func weighted(hops []nexthop.Hop, weights []uint32) []nexthop.Member {
	out := make([]nexthop.Member, len(hops))
	for i, h := range hops {
		out[i] = nexthop.Member{Hop: h, Weight: weights[i]}
	}

	return out
}

func addSaturating(a, b uint64) uint64 {
	if a > math.MaxUint64-b {
		return math.MaxUint64
	}

	return a + b
}

func gcd(a, b uint64) uint64 {
	for b != 0 {
		a, b = b, a%b
	}

	return a
}

// lcm returns the least common multiple of a and b (both at least 1), or
// maxScale when it would exceed maxScale.
func lcm(a, b uint64) uint64 {
	q := a / gcd(a, b)
	if q > maxScale/b {
		return maxScale
	}

	return q * b
}
