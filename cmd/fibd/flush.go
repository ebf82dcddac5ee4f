package main

import "github.com/fibd/fibd/fib"

// flushOps returns the operations that delete what a dump found: routes
// first, then groups, then the single nexthops that groups used, because
// the kernel rejects deleting a nexthop that a group still holds.
func flushOps(snap fib.Snapshot) []fib.Op {
	ops := make([]fib.Op, 0, len(snap.Routes)+len(snap.Nexthops))
	for _, r := range snap.Routes {
		ops = append(ops, fib.Op{Kind: fib.OpRouteDelete, Route: r})
	}

	for _, groups := range []bool{true, false} {
		for _, o := range snap.Nexthops {
			if o.IsGroup() == groups {
				ops = append(ops, fib.Op{Kind: fib.OpNexthopDelete, Nexthop: o})
			}
		}
	}

	return ops
}
