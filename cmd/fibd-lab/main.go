// Command fibd-lab runs fibd's main job on real input: it builds a router
// namespace running fibd with its embedded BGP speaker and upstream
// namespaces whose gobgpd peers announce a real Internet table, converges
// it into the router's kernel, and demonstrates failover.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/fibd/fibd/lab"
)

func main() {
	os.Exit(run())
}

func run() int {
	var opts lab.Options
	var cleanup bool

	flags := flag.NewFlagSet("fibd-lab", flag.ContinueOnError)
	flags.Usage = func() {
		fmt.Fprintf(flags.Output(), "usage: fibd-lab [--routes N] [--ipv4-only] [--peers N] [--once] [--compat-mode 0|1] [--dump FILE] [--cleanup]\n\n")
		flags.PrintDefaults()
	}
	flags.IntVar(&opts.Routes, "routes", 0, "number of prefixes to announce, taken evenly across the real table; 0 means all of it")
	flags.BoolVar(&opts.IPv4Only, "ipv4-only", false, "announce the IPv4 table only")
	flags.IntVar(&opts.Peers, "peers", 2, "number of upstream BGP peers, 2 to 8")
	flags.BoolVar(&opts.Once, "once", false, "run convergence and failover once, print a summary and exit")
	flags.StringVar(&opts.CompatMode, "compat-mode", "", "set net.ipv4.nexthop_compat_mode in the router namespace (0 or 1); empty keeps the kernel default")
	flags.StringVar(&opts.Dump, "dump", "", "read the table from a saved `location dump` output instead of running location")
	flags.StringVar(&opts.Dir, "dir", "", "working directory for configs, sockets and logs; default a new temporary directory")
	flags.StringVar(&opts.Fibd, "fibd", "", "fibd binary; default build it from this module")
	flags.StringVar(&opts.Gobgpd, "gobgpd", "", "gobgpd binary; default build it from the module cache")
	flags.BoolVar(&cleanup, "cleanup", false, "remove the namespaces of a lab that was killed, then exit")

	if err := flags.Parse(os.Args[1:]); err != nil {
		return 2
	}

	if flags.NArg() > 0 {
		fmt.Fprintf(os.Stderr, "fibd-lab: unexpected argument %q\n", flags.Arg(0))
		flags.Usage()

		return 2
	}

	if cleanup {
		if err := lab.Cleanup(8); err != nil {
			fmt.Fprintf(os.Stderr, "fibd-lab: %v\n", err)
			return 1
		}

		return 0
	}

	// The first signal stops the lab and cleans up; a second one kills it.
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	l, err := lab.New(opts)
	if err != nil {
		fmt.Fprintf(os.Stderr, "fibd-lab: %v\n", err)
		return 1
	}

	go func() {
		<-ctx.Done()
		stop()
	}()

	sum, err := l.Run(ctx)
	if err != nil && !errors.Is(err, context.Canceled) {
		fmt.Fprintf(os.Stderr, "fibd-lab: %v\n", err)
		return 1
	}

	if opts.Once && sum.RoutesViaFailed > 0 {
		fmt.Fprintf(os.Stderr, "fibd-lab: %d routes still use the failed upstream\n", sum.RoutesViaFailed)
		return 1
	}

	return 0
}
