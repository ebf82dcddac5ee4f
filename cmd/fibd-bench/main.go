// Command fibd-bench measures how fast fibd and its alternatives program
// the Linux FIB: a minimal netlink writer, ip -batch, BIRD 2, and FRR's
// bgpd and zebra. All run on the same machine, in the same invocation,
// with the same routes, each inside its own network namespaces. It needs
// root.
//
//	go run ./cmd/fibd-bench --short
//	go run ./cmd/fibd-bench --out results.json --page docs/benchmarks.md
//	go run ./cmd/fibd-bench --page docs/benchmarks.md --from results.json
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/fibd/fibd/bench"
	// fibd registers itself as a contender.
	_ "github.com/fibd/fibd/bench/fibdcontender"
)

func main() {
	bench.ChildMain()
	os.Exit(run(os.Args[1:]))
}

type options struct {
	short      bool
	runs       int
	contenders string
	sizes      string
	paths      string
	groups     int
	compat     string
	out        string
	page       string
	from       string
	timeout    time.Duration
}

func parseFlags(args []string) (options, error) {
	var o options
	fs := flag.NewFlagSet("fibd-bench", flag.ContinueOnError)
	fs.BoolVar(&o.short, "short", false, "CI mode: 20k IPv4 and 10k IPv6 routes, 1 run, fast contenders only unless --contenders is given")
	fs.IntVar(&o.runs, "runs", 3, "runs per measurement; the page shows the median with min and max")
	fs.StringVar(&o.contenders, "contenders", "", "comma-separated contenders (default: all available); known: "+strings.Join(bench.ContenderNames(), ","))
	fs.StringVar(&o.sizes, "sizes", "v4:100k,v4:1M,v6:200k", "comma-separated FAMILY:COUNT route table sizes")
	fs.StringVar(&o.paths, "paths", "1,2", "next hops per route to measure: 1, 2 (ECMP) or both")
	fs.IntVar(&o.groups, "groups", 0, fmt.Sprintf("also measure every size with ECMP routes spread over this many nexthop groups that differ in weights (2 to %d; 0: none)", bench.MaxGroups))
	fs.StringVar(&o.compat, "compat-mode", "0,1", "net.ipv4.nexthop_compat_mode values: the first is set in the namespaces, failover is measured in each")
	fs.StringVar(&o.out, "out", "", "write the results as JSON to this file (with --from: the merged results)")
	fs.StringVar(&o.page, "page", "", "generate the results page (markdown, with SVG plots beside it) at this path")
	fs.StringVar(&o.from, "from", "", "with --page: generate the page from these comma-separated results JSON files instead of running the benchmark")
	fs.DurationVar(&o.timeout, "timeout", 10*time.Minute, "limit for each scenario")

	if err := fs.Parse(args); err != nil {
		return o, err
	}

	if fs.NArg() > 0 {
		return o, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}

	if o.short {
		o.runs = 1
		if !flagSet(fs, "sizes") {
			o.sizes = "v4:20k,v6:10k"
		}

		if o.contenders == "" {
			o.contenders = strings.Join(bench.FastContenders(), ",")
		}
	}

	return o, nil
}

func flagSet(fs *flag.FlagSet, name string) bool {
	set := false
	fs.Visit(func(f *flag.Flag) { set = set || f.Name == name })

	return set
}

func run(args []string) int {
	o, err := parseFlags(args)
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}

	if err != nil {
		fmt.Fprintf(os.Stderr, "fibd-bench: %v\n", err)
		return 2
	}

	if o.from != "" {
		return writePage(o)
	}

	res, err := runBenchmark(o, args)
	if res != nil && o.out != "" {
		if werr := res.WriteFile(o.out); werr != nil {
			fmt.Fprintf(os.Stderr, "fibd-bench: %v\n", werr)
			return 1
		}
	}

	if res != nil && o.page != "" && err == nil {
		if perr := bench.WritePage(res, o.page); perr != nil {
			fmt.Fprintf(os.Stderr, "fibd-bench: %v\n", perr)
			return 1
		}
	}

	if err != nil {
		fmt.Fprintf(os.Stderr, "fibd-bench: %v\n", err)
		return 1
	}

	return 0
}

func writePage(o options) int {
	var all []*bench.Results
	for _, path := range strings.Split(o.from, ",") {
		res, err := bench.ReadResults(path)
		if err != nil {
			fmt.Fprintf(os.Stderr, "fibd-bench: %v\n", err)
			return 1
		}

		all = append(all, res)
	}

	merged := bench.Merge(all)
	if o.out != "" {
		if err := merged.WriteFile(o.out); err != nil {
			fmt.Fprintf(os.Stderr, "fibd-bench: %v\n", err)
			return 1
		}
	}

	if err := bench.WritePage(merged, o.page); err != nil {
		fmt.Fprintf(os.Stderr, "fibd-bench: %v\n", err)
		return 1
	}

	return 0
}

func runBenchmark(o options, args []string) (*bench.Results, error) {
	if os.Geteuid() != 0 {
		return nil, errors.New("must run as root: it creates network namespaces")
	}

	workloads, err := parseWorkloads(o.sizes, o.paths, o.groups)
	if err != nil {
		return nil, err
	}

	modes, err := parseModes(o.compat)
	if err != nil {
		return nil, err
	}

	contenders, err := bench.SelectContenders(o.contenders)
	if err != nil {
		return nil, err
	}

	// A closed output (fibd-bench | head) ends the run as SIGTERM does,
	// so that the namespaces are deleted, instead of killing the process.
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM, syscall.SIGPIPE)
	defer stop()
	defer bench.RemoveBuilds()

	res := bench.NewResults("go run ./cmd/fibd-bench "+strings.Join(args, " "), o.short, contenders)
	start := time.Now()
	err = bench.Run(ctx, bench.Options{
		Contenders: contenders, Workloads: workloads, Runs: o.runs,
		CompatModes: modes, Timeout: o.timeout, Log: os.Stderr,
	}, res)
	res.Seconds = time.Since(start).Seconds()

	if left := bench.OwnNamespaces(); len(left) > 0 {
		fmt.Fprintf(os.Stderr, "fibd-bench: namespaces left behind: %s\n", strings.Join(left, " "))
	}

	return res, err
}

func parseWorkloads(sizes, paths string, groups int) ([]bench.Workload, error) {
	if groups != 0 && (groups < 2 || groups > bench.MaxGroups) {
		return nil, fmt.Errorf("invalid --groups value %d: want 2 to %d, or 0 for none", groups, bench.MaxGroups)
	}

	var ecmp []bool
	for _, p := range strings.Split(paths, ",") {
		switch strings.TrimSpace(p) {
		case "1":
			ecmp = append(ecmp, false)
		case "2":
			ecmp = append(ecmp, true)
		default:
			return nil, fmt.Errorf("invalid --paths value %q: want 1 or 2", p)
		}
	}

	var ws []bench.Workload
	for _, s := range strings.Split(sizes, ",") {
		family, n, err := bench.ParseSize(strings.TrimSpace(s))
		if err != nil {
			return nil, err
		}

		for _, e := range ecmp {
			ws = append(ws, bench.Workload{Family: family, Routes: n, ECMP: e})
		}

		if groups > 0 {
			ws = append(ws, bench.Workload{Family: family, Routes: n, ECMP: true, Groups: groups})
		}
	}

	return ws, nil
}

func parseModes(s string) ([]int, error) {
	var modes []int
	for _, f := range strings.Split(s, ",") {
		m, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || (m != 0 && m != 1) {
			return nil, fmt.Errorf("invalid --compat-mode value %q: want 0, 1 or 0,1", f)
		}

		modes = append(modes, m)
	}

	return modes, nil
}
