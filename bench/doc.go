// Package bench measures how fast fibd and its real alternatives program
// the Linux FIB: the same routes, on the same machine, in the same run.
//
// Each contender (a minimal batched netlink writer, iproute2's ip -batch,
// BIRD 2, FRR's bgpd and zebra, and fibd) runs against a fresh pair of
// network namespaces named fibdb-<random>, joined by two veth pairs that
// carry the two next hops. The harness never changes the host namespace.
//
// # What is measured
//
// A netlink monitor subscribed to route and nexthop notifications inside
// the router namespace follows every route of the contender's kernel
// protocol and the nexthop objects it points to. A scenario ends when the
// monitor has seen the expected state: every route present (install), no
// route using the lost next hop (failover), no route left (withdraw). When
// the monitor's socket overruns (ENOBUFS) it rebuilds its state from a full
// dump, so the figure stays honest at the cost of the dump's time. After
// each scenario a dump checks the final route count.
//
// # Child processes
//
// The minimal writer and fibd's in-process contender run in child
// processes of the benchmark binary itself (see ChildMain), so that their
// CPU time and peak memory are measured on their own and not mixed with
// the monitor's.
package bench
