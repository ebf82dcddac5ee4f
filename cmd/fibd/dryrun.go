package main

import (
	"context"

	"github.com/fibd/fibd/fib"
	"github.com/fibd/fibd/fib/kernel"
	"github.com/fibd/fibd/nexthop"
)

// stateDryRun is the sync state that status reports with kernel.dry-run.
const stateDryRun = "dry-run"

// dryRun is the dataplane of kernel.dry-run: it takes every operation as
// applied without writing it, and resolves next hops with the kernel's
// route lookup, which only reads.
type dryRun struct {
	kernel *kernel.Kernel
}

func (dryRun) Apply(_ context.Context, ops []fib.Op) error {
	for k := range ops {
		ops[k].Err = nil
	}

	return nil
}

func (d dryRun) Resolve(ctx context.Context, h nexthop.Hop) (nexthop.Hop, error) {
	return d.kernel.Resolve(ctx, h)
}

func (d dryRun) ResolvePaths(ctx context.Context, h nexthop.Hop) ([]nexthop.Member, error) {
	return d.kernel.ResolvePaths(ctx, h)
}

var _ fib.PathResolver = dryRun{}
