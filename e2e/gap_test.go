package e2e

import (
	"fmt"
	"net/netip"

	"github.com/fibd/fibd/fib/kernel/nlmsg"
)

// forwardingState models fibd's routes and nexthop objects in the kernel
// from a starting dump and the notifications that follow, to find every
// moment a route disappeared.
//
// Notifications alone are not enough: when a nexthop object is deleted,
// the kernel flushes the IPv4 routes that use it without an RTM_DELROUTE
// for each, and it removes a group whose last member is deleted. The
// model applies both deletions itself, whether or not a notification
// announced them.
type forwardingState struct {
	routes map[netip.Prefix]uint32    // prefix to nexthop id
	groups map[uint32]map[uint32]bool // group id to member ids
}

// newForwardingState starts the model from a dump of the kernel.
func newForwardingState(routes map[netip.Prefix]kernelRoute, nexthops map[uint32]kernelNexthop) *forwardingState {
	s := &forwardingState{routes: make(map[netip.Prefix]uint32), groups: make(map[uint32]map[uint32]bool)}
	for p, r := range routes {
		s.routes[p] = r.NHID
	}

	for id, nh := range nexthops {
		if len(nh.Group) > 0 {
			s.setGroup(id, nil)
			for _, m := range nh.Group {
				s.groups[id][m.ID] = true
			}
		}
	}

	return s
}

func (s *forwardingState) setGroup(id uint32, members []uint32) {
	s.groups[id] = make(map[uint32]bool)
	for _, m := range members {
		s.groups[id][m] = true
	}
}

// apply applies one notification and returns the prefixes whose route it
// removed, with the reason.
func (s *forwardingState) apply(n notification) map[netip.Prefix]string {
	switch n.Type {
	case nlmsg.RTM_NEWROUTE:
		if n.Table == 254 {
			s.routes[n.Prefix] = n.NHID
		}
	case nlmsg.RTM_DELROUTE:
		if _, ok := s.routes[n.Prefix]; ok && n.Table == 254 {
			delete(s.routes, n.Prefix)

			return map[netip.Prefix]string{n.Prefix: n.String()}
		}
	case nlmsg.RTM_NEWNEXTHOP:
		if len(n.Group) > 0 {
			s.setGroup(n.ID, n.Group)
		}
	case nlmsg.RTM_DELNEXTHOP:
		return s.deleteNexthop(n)
	}

	return nil
}

// deleteNexthop removes a nexthop object, the groups left empty without
// it, and the routes on either.
func (s *forwardingState) deleteNexthop(n notification) map[netip.Prefix]string {
	dead := map[uint32]bool{n.ID: true}
	delete(s.groups, n.ID)

	for id, members := range s.groups {
		if members[n.ID] {
			delete(members, n.ID)
			if len(members) == 0 {
				dead[id] = true
				delete(s.groups, id)
			}
		}
	}

	gone := make(map[netip.Prefix]string)
	for p, id := range s.routes {
		if dead[id] {
			delete(s.routes, p)
			gone[p] = fmt.Sprintf("%s (route on nexthop %d)", n, id)
		}
	}

	return gone
}
