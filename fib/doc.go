// Package fib keeps the desired forwarding state of fibd and brings the
// kernel to it.
//
// Sources (BGP, gRPC clients, static configuration) offer candidate routes
// per (table, prefix). The candidate with the lowest administrative distance
// is selected, and ties go to the lowest metric, then the lowest source
// name. The others are kept, so that when the winner withdraws the next one
// takes its place with a replace, without a gap. The selected routes are diffed
// against what is installed and turned into ordered operations on a
// Dataplane, which this package declares and the kernel package implements.
//
// The package is pure: it holds no socket and imports no netlink code. Next
// hops are interned into shared nexthop objects by package nexthop.
//
// # The loop
//
// Update, Withdraw and WithdrawSource only validate, store and mark keys
// dirty; many updates of one key before the loop reaches it make one
// operation. Run is the only goroutine that talks to the dataplane, with a
// second one that applies the route creates and replaces of a batch while
// the loop plans the next slice of it. Each batch takes up to
// Config.BatchSize dirty keys, resolves hops that have a gateway but no
// device (Dataplane.Resolve, cached per hop), interns the next hops,
// applies the operations and records each outcome. While producers keep
// offering and the batch has no delete, it takes BatchSize more keys
// whenever it has planned those it has, for up to a second. A full table
// then streams to the dataplane without a pause between batches, and drift
// events end the batch at once. A failed key
// keeps its error (RouteState.Err) and is tried again after 1 second,
// doubling up to 1 minute by default. A route create that fails because
// the route exists marks a conflict: another owner holds that table,
// prefix and metric, and fibd does not overwrite it. With
// Config.TakeoverConflicts, the FIB replaces that route in the same batch
// instead.
//
// # Order of operations
//
// Within one batch, operations are applied make-before-break, in separate
// Apply calls. Nexthop objects come first, then groups, then route creates
// and replaces. Route deletes follow, including the old route of a metric
// change once the new one exists. Unused groups and nexthop objects go
// last.
// Programming the same desired state twice produces no operations the
// second time.
//
// # Failover
//
// SetGatewayDown and LinkChanged mark hops down. Each group that contains a
// down hop is replaced in place without it, one operation per group
// whatever the number of routes that use it, and the per-prefix updates
// that follow (a set shrinking to what the group already holds) write
// nothing. Keys whose next hops are all down are unresolved: their routes
// are deleted (on link down the kernel has deleted them already) and come
// back when a hop does. A hop object that routes use directly is deleted
// in one operation, and the kernel deletes those routes with it.
//
// # Restarts and drift
//
// Reconcile adopts what a previous run left in the kernel, so that objects
// and routes that match the desired state keep their ids and are not
// rewritten. Adopted routes that no source wants are kept until every
// source in Config.Hold has called Converged (with an empty Hold, until any
// source has), or Config.HoldTimeout after the first Reconcile, and then
// deleted. RouteGone, NexthopGone, LinkChanged and later calls of Reconcile
// report what changed behind fibd's back; the FIB repairs it.
package fib
