// Package monitor keeps fibd's FIB in sync with what the kernel does behind
// its back.
//
// A Monitor listens to rtnetlink notifications of routes (IPv4 and IPv6),
// nexthop objects, links and addresses. A pure function translates each
// notification into a repair for the FIB: a route gone, a nexthop gone, a
// link down or up, or a request to resolve gateways again. When
// notifications were lost, the Monitor resyncs from a full dump. Notifications are hints; dumps are the
// truth.
//
// # What the kernel does silently
//
// Observed on Linux 6.18 in a network namespace with `ip monitor link
// address route nexthop`, with net.ipv4.nexthop_compat_mode 1 and 0 alike:
//
//   - A device that goes down, administratively or by losing its carrier,
//     loses every nexthop object on it and every route that uses one. The
//     kernel sends only the link notification: no RTM_DELNEXTHOP and no
//     RTM_DELROUTE. A group loses the member without a notification, and a
//     group that loses its last member is deleted with its routes, also
//     without one. The objects do not come back when the device comes up.
//   - Deleting a nexthop object (`ip nexthop del`) announces that object and
//     any group left empty with RTM_DELNEXTHOP, and a group that only lost
//     the member with RTM_NEWNEXTHOP; the routes that used them disappear
//     without RTM_DELROUTE.
//   - Removing an address drops the routes without nexthop objects whose
//     gateway it made reachable, and the connected routes, with
//     notifications for the connected routes only. Routes over nexthop
//     objects, which fibd programs, stay.
//   - A route of another protocol that replaces fibd's at the same (table,
//     prefix, metric) arrives as RTM_NEWROUTE with NLM_F_REPLACE; fibd's
//     route is gone without RTM_DELROUTE. Adding one without replace fails
//     with EEXIST.
//   - A device deleted and created again under the same name gets a new
//     index and starts without nexthop objects.
//   - Replacing one of fibd's nexthop objects with another protocol's
//     (`ip nexthop replace id N ... proto static`) keeps fibd's routes on
//     it and is announced as RTM_NEWNEXTHOP of the new protocol only.
//   - With net.ipv4.nexthop_compat_mode 0, replacing another owner's
//     nexthop object is announced with RTM_NEWNEXTHOP only, not for the
//     routes that use it, and a lookup with RTM_F_FIB_MATCH reports such a
//     route with the object's id and without its paths. Any change of
//     another owner's object therefore makes gateways resolve again.
//   - Every change fibd makes is notified to every listener too, with
//     nlmsg_pid set to the port id of the socket that requested it.
//   - A listener that does not keep up loses notifications: recv fails with
//     ENOBUFS once, and the socket keeps working afterwards.
//   - An IPv6 route dump that runs while routes are added and deleted can
//     return a route twice, without NLM_F_DUMP_INTR. A resync drops the
//     copies before it hands the dump to the FIB.
//
// # Echoes
//
// A socket filter in the kernel drops the notifications caused by fibd's
// own request sockets (Config.OwnPorts), and every RTM_NEWROUTE and
// RTM_NEWNEXTHOP of fibd's protocol. Installing or deleting a million
// routes therefore neither wakes the monitor nor fills its buffer.
//
// # Resyncs
//
// A resync dumps the kernel (Kernel.Dump, which retries dumps marked
// NLM_F_DUMP_INTR) and hands the snapshot to FIB.Reconcile. It runs after
// an overrun (together with a dump of the links, whose notifications may
// be lost too), after an address removal, after an object of another
// protocol appears in fibd's nexthop id range, after a notification that
// could not be decoded, and after an audit that found a difference. Requests are
// coalesced, at most one resync runs at a time, and consecutive ones are
// at least Config.ResyncInterval apart.
//
// # Debugging
//
// `ip -n NS monitor link address route nexthop` shows what the monitor
// receives, and `fibd verify` what it finds different after a dump.
package monitor
