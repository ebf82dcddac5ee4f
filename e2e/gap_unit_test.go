package e2e

import (
	"net/netip"
	"testing"

	"github.com/fibd/fibd/fib/kernel/nlmsg"
)

func TestForwardingStateDeletes(t *testing.T) {
	p1 := netip.MustParsePrefix("198.18.0.1/32")
	p2 := netip.MustParsePrefix("198.18.0.2/32")
	p3 := netip.MustParsePrefix("198.18.0.3/32")

	tests := []struct {
		name   string
		events []notification
		gone   []netip.Prefix
	}{
		{"replace keeps route", []notification{{Type: nlmsg.RTM_NEWROUTE, Prefix: p1, Table: 254, NHID: 4}}, nil},
		{"route delete", []notification{{Type: nlmsg.RTM_DELROUTE, Prefix: p1, Table: 254, NHID: 3}}, []netip.Prefix{p1}},
		{"other table", []notification{{Type: nlmsg.RTM_DELROUTE, Prefix: p1, Table: 100}}, nil},
		{"group delete", []notification{{Type: nlmsg.RTM_DELNEXTHOP, ID: 3}}, []netip.Prefix{p1, p2}},
		{"one member delete", []notification{{Type: nlmsg.RTM_DELNEXTHOP, ID: 1}}, []netip.Prefix{p3}},
		{"last member delete", []notification{
			{Type: nlmsg.RTM_DELNEXTHOP, ID: 1},
			{Type: nlmsg.RTM_DELNEXTHOP, ID: 2},
		}, []netip.Prefix{p1, p2, p3}},
		{"moved before group delete", []notification{
			{Type: nlmsg.RTM_NEWROUTE, Prefix: p1, Table: 254, NHID: 2},
			{Type: nlmsg.RTM_NEWROUTE, Prefix: p2, Table: 254, NHID: 2},
			{Type: nlmsg.RTM_DELNEXTHOP, ID: 3},
		}, nil},
	}

	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// Routes p1 and p2 use group 3 of members 1 and 2; p3 uses 1.
			routes := map[netip.Prefix]kernelRoute{p1: {NHID: 3}, p2: {NHID: 3}, p3: {NHID: 1}}
			group := kernelNexthop{ID: 3, Group: []groupMember{{ID: 1}, {ID: 2}}}
			state := newForwardingState(routes, map[uint32]kernelNexthop{1: {ID: 1}, 2: {ID: 2}, 3: group})

			gone := make(map[netip.Prefix]bool)
			for _, n := range tt.events {
				for p := range state.apply(n) {
					gone[p] = true
				}
			}

			if len(gone) != len(tt.gone) {
				t.Errorf("gone = %v, want %v", gone, tt.gone)
			}

			for _, p := range tt.gone {
				if !gone[p] {
					t.Errorf("route %s not reported gone; gone = %v", p, gone)
				}
			}
		})
	}
}
