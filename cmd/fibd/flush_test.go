package main

import (
	"fmt"
	"net/netip"
	"strings"
	"testing"

	"github.com/fibd/fibd/fib"
	"github.com/fibd/fibd/nexthop"
)

func TestFlushOpsOrder(t *testing.T) {
	snap := fib.Snapshot{
		Routes: []fib.KernelRoute{
			{Table: 254, Prefix: netip.MustParsePrefix("198.51.100.0/24"), Type: fib.TypeUnicast, Nexthop: 12},
			{Table: 254, Prefix: netip.MustParsePrefix("203.0.113.0/24"), Type: fib.TypeBlackhole},
		},
		Nexthops: []nexthop.Object{
			{ID: 10, Hop: nexthop.Hop{Family: nexthop.FamilyIPv4, Gateway: netip.MustParseAddr("192.0.2.2"), Device: "up0"}},
			{ID: 12, Group: []nexthop.GroupMember{{ID: 10, Weight: 1}, {ID: 11, Weight: 1}}},
			{ID: 11, Hop: nexthop.Hop{Family: nexthop.FamilyIPv4, Gateway: netip.MustParseAddr("192.0.2.3"), Device: "up0"}},
		},
	}

	var got []string
	for _, op := range flushOps(snap) {
		switch op.Kind {
		case fib.OpRouteDelete:
			got = append(got, "route-delete "+op.Route.Prefix.String())
		default:
			got = append(got, fmt.Sprintf("%s %d", op.Kind, op.Nexthop.ID))
		}
	}

	want := strings.Join([]string{
		"route-delete 198.51.100.0/24",
		"route-delete 203.0.113.0/24",
		"nexthop-delete 12",
		"nexthop-delete 10",
		"nexthop-delete 11",
	}, "\n")
	if strings.Join(got, "\n") != want {
		t.Errorf("flush ops:\n%s\nwant:\n%s", strings.Join(got, "\n"), want)
	}
}
