// Package fib keeps the desired forwarding state of fibd and brings the
// kernel to it.
//
// Sources (BGP, gRPC clients, static configuration) offer candidate routes
// per (table, prefix). The candidate with the lowest administrative distance
// is selected; the others are kept, so that when the winner withdraws the next
// one takes its place without a gap. The selected routes are diffed against
// what is installed and turned into ordered operations on a Dataplane, which
// this package declares and the kernel package implements.
//
// The package is pure: it holds no socket and imports no netlink code. Next
// hops are interned into shared nexthop objects by package nexthop.
//
// # Order of operations
//
// Within one pass, operations are applied make-before-break: nexthop objects,
// then groups, then route additions and replacements, then route deletions,
// then unused groups and nexthop objects. Programming the same desired state
// twice produces no operations the second time.
package fib
