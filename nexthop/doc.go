// Package nexthop interns next-hop sets into kernel nexthop objects and
// groups.
//
// One next hop (gateway, device, onlink flag, family) becomes one nexthop
// object; a set of next hops with weights becomes a group whose members are
// those objects. Objects are shared by every route that uses the same set and
// are reference counted, so that one group replacement moves every route
// using it at once.
//
// The package is pure: it decides which objects must exist, with which ids
// and members, and in which order they are created, replaced and deleted.
// It never talks to the kernel. Callers apply the changes it returns and
// report the outcome back.
//
// # Order
//
// Objects are created before the routes that use them (hops, then groups)
// and deleted only after the last route has left (groups, then hops), so that
// no route ever points at a missing object.
//
// # Liveness
//
// A hop is down while at least one reason holds: its link is down (the
// kernel then deletes its object by itself), or a gateway is marked down
// for a reason such as "bgp-peer". A group holds the live members of its
// set, so a hop going down replaces each group that contains it once,
// whatever the number of routes. A group whose hops are all down keeps its
// members until its routes leave, because the kernel has no empty group. A route whose request shrank to what its
// group already holds stays on it with no kernel write. A hop coming back
// rejoins a group in place, with one replace, once every route on the
// group requests the group's whole set again. Until then the hop is
// masked: the group keeps forwarding without it, and routes that request
// the whole set again stay on it. After a short wait (SetRestoreWait) the
// routes that still request less move to other objects one by one, and
// the hop rejoins once they have left. A route never forwards to a hop
// that it does not request; adopted routes, which request nothing yet,
// count as requesting the whole set.
package nexthop
