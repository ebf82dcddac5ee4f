package e2e

import (
	"context"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/fibd/fibd/api/fibdv1"
)

// TestNexthopDeleteRepair deletes each of fibd's nexthop objects behind its
// back, one at a time, while IPv4 and IPv6 routes use them directly and
// through groups: fibd must put every object and route back.
func TestNexthopDeleteRepair(t *testing.T) {
	l := newLab(t, labConfig{hold: source, holdTimeout: "5m"})
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()

	desired := make(routeSet)
	sets := [][]*fibdv1.Nexthop{
		{{Gateway: gateway0, Device: "v0"}},
		ecmp4(),
		{{Gateway: gateway0v6, Device: "v0"}},
		ecmp6(),
	}
	for k, hops := range sets {
		prefixFn := prefix4
		if k >= 2 {
			prefixFn = prefix6
		}

		for p, r := range newRoutes(100*k, 100*k+100, prefixFn, hops) {
			desired[p] = r
		}
	}

	d := l.start()
	mustInject(ctx, t, d, source, desired.list())
	checkDesired(t, l.ns, desired)

	var ids []uint32
	for id := range kernelNexthops(t, l.ns) {
		ids = append(ids, id)
	}

	slices.Sort(ids)
	for _, id := range ids {
		t.Run(strconv.FormatUint(uint64(id), 10), func(t *testing.T) {
			l.ns.IP("nexthop", "del", "id", strconv.FormatUint(uint64(id), 10))

			if diffs := d.waitQuiet(ctx, 10*time.Second); diffs != nil {
				explain(ctx, t, l, d, diffs)
				t.Fatalf("fibd did not repair the deletion of nexthop %d within 10s: %v", id, head(diffs, 10))
			}

			checkDesired(t, l.ns, desired)
		})
	}
}
