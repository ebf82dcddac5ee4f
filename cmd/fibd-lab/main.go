// Command fibd-lab runs fibd's main job on real input: it builds a router
// namespace running fibd with its embedded BGP speaker and upstream
// namespaces whose gobgpd peers announce a real Internet table, converges
// it into the router's kernel, and demonstrates failover.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/fibd/fibd/lab"
)

func main() {
	os.Exit(run())
}

func run() int {
	var opts lab.Options
	var cleanup bool
	var bench lab.BenchOptions
	var benchMode bool
	var results, page, fromResults, configs string

	flags := flag.NewFlagSet("fibd-lab", flag.ContinueOnError)
	flags.Usage = func() {
		fmt.Fprintf(flags.Output(), "usage: fibd-lab [--name NAME] [--routes N] [--ipv4-only] [--peers N] [--once] [--router fibd|fibd-dry|gobgpd] [--compat-mode 0|1] [--dump FILE] [--cleanup]\n")
		fmt.Fprintf(flags.Output(), "       fibd-lab --bench [--runs N] [--results FILE] [--page FILE] --fibd FILE --gobgpd FILE [--routes N] ...\n\n")
		flags.PrintDefaults()
	}
	flags.IntVar(&opts.Routes, "routes", 0, "number of prefixes to announce, taken evenly across the real table; 0 means all of it")
	flags.BoolVar(&opts.IPv4Only, "ipv4-only", false, "announce the IPv4 table only")
	flags.IntVar(&opts.Peers, "peers", 2, "number of upstream BGP peers, 2 to 8")
	flags.BoolVar(&opts.Once, "once", false, "run convergence and failover once, print a summary and exit")
	flags.StringVar(&opts.CompatMode, "compat-mode", "", "set net.ipv4.nexthop_compat_mode in the router namespace (0 or 1); empty keeps the kernel default")
	flags.StringVar(&opts.Dump, "dump", "", "read the table from a saved `location dump` output instead of running location")
	flags.StringVar(&opts.Name, "name", lab.DefaultName, "prefix of the lab's namespace names (NAME-router, NAME-up1, ...), so that two labs can run at once")
	flags.StringVar(&opts.Dir, "dir", "", "working directory for configs, sockets and logs; default a new temporary directory")
	flags.StringVar(&opts.Fibd, "fibd", "", "fibd binary; default build it from this module")
	flags.StringVar(&opts.Gobgpd, "gobgpd", "", "gobgpd binary; default build it from the module cache")
	flags.BoolVar(&cleanup, "cleanup", false, "remove the namespaces of a lab that was killed, then exit")
	flags.StringVar(&opts.Router, "router", lab.RouterFibd, "router under test: fibd, fibd-dry (fibd with kernel.dry-run: no kernel routes), or gobgpd (GoBGP alone with the same BGP configuration, no kernel routes)")
	flags.BoolVar(&benchMode, "bench", false, "run the BGP benchmark: fibd with nexthop_compat_mode 1 and 0, fibd with kernel.dry-run, and gobgpd alone, --runs times each")
	flags.IntVar(&bench.Runs, "runs", 1, "with --bench: runs of each router configuration")
	flags.StringVar(&results, "results", "", "with --bench: write the results as JSON to this file")
	flags.StringVar(&page, "page", "", "with --bench: write the Markdown benchmark page to this file")
	flags.StringVar(&bench.FibdCommit, "fibd-commit", "", "with --bench: the git commit fibd was built from, recorded in the results")
	flags.StringVar(&configs, "configs", "", "with --bench: comma-separated router configurations to run, of fibd:1, fibd:0, fibd-dry and gobgpd; default all")
	flags.StringVar(&bench.Command, "command", "", "with --bench: the command line to record in the results; default this one")
	flags.StringVar(&fromResults, "from-results", "", "write the --page from JSON results files of earlier --bench runs (comma-separated, one section each), without running the lab")

	if err := flags.Parse(os.Args[1:]); err != nil {
		return 2
	}

	if flags.NArg() > 0 {
		fmt.Fprintf(os.Stderr, "fibd-lab: unexpected argument %q\n", flags.Arg(0))
		flags.Usage()

		return 2
	}

	if cleanup {
		if err := lab.Cleanup(opts.Name, 8); err != nil {
			fmt.Fprintf(os.Stderr, "fibd-lab: %v\n", err)
			return 1
		}

		return 0
	}

	// The first signal stops the lab and cleans up; a second one kills it.
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	if fromResults != "" {
		return rewritePage(fromResults, page)
	}

	if benchMode {
		bench.Lab = opts
		if configs != "" {
			bench.Configs = strings.Split(configs, ",")
		}

		if bench.Command == "" {
			bench.Command = strings.Join(os.Args, " ")
		}

		return runBench(ctx, bench, results, page)
	}

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

// runBench runs the benchmark and writes its results and page after each
// run, so that the runs done are kept when a later one fails.
func runBench(ctx context.Context, opts lab.BenchOptions, results, page string) int {
	code := 0
	save := func(rep lab.BenchReport) {
		if results != "" {
			if err := rep.WriteJSON(results); err != nil {
				fmt.Fprintf(os.Stderr, "fibd-lab: %v\n", err)
				code = 1
			}
		}

		if page != "" {
			if err := writePage(page, rep); err != nil {
				fmt.Fprintf(os.Stderr, "fibd-lab: %v\n", err)
				code = 1
			}
		}
	}

	opts.AfterRun = save
	rep, err := lab.Bench(ctx, opts)
	if err != nil {
		fmt.Fprintf(os.Stderr, "fibd-lab: %v\n", err)
		return 1
	}

	save(rep)

	return code
}

// rewritePage writes the benchmark page from saved results, one section
// per file of the comma-separated list.
func rewritePage(results, page string) int {
	if page == "" {
		fmt.Fprintf(os.Stderr, "fibd-lab: --from-results needs --page FILE\n")
		return 2
	}

	var reports []lab.BenchReport
	for _, file := range strings.Split(results, ",") {
		data, err := os.ReadFile(file)
		if err != nil {
			fmt.Fprintf(os.Stderr, "fibd-lab: read benchmark results: %v\n", err)
			return 1
		}

		var rep lab.BenchReport
		if err := json.Unmarshal(data, &rep); err != nil {
			fmt.Fprintf(os.Stderr, "fibd-lab: decode benchmark results %s: %v\n", file, err)
			return 1
		}

		reports = append(reports, rep)
	}

	if err := writePage(page, reports...); err != nil {
		fmt.Fprintf(os.Stderr, "fibd-lab: %v\n", err)
		return 1
	}

	return 0
}

func writePage(path string, reports ...lab.BenchReport) error {
	f, err := os.Create(path)
	if err != nil {
		return fmt.Errorf("write benchmark page: %w", err)
	}

	if err := lab.WritePage(f, reports...); err != nil {
		f.Close()

		return fmt.Errorf("write benchmark page %s: %w", path, err)
	}

	return f.Close()
}
