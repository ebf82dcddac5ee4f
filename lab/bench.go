package lab

// This file runs the BGP benchmark: the lab several times with fibd as the
// router (nexthop_compat_mode 1 and 0) and with a plain gobgpd, on the
// same table.

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"slices"
	"strings"
	"time"
)

// BenchOptions configures Bench.
type BenchOptions struct {
	// Lab is the configuration of each run; Bench sets Once, Router and
	// CompatMode.
	Lab Options

	// Runs is the number of runs of each configuration; zero means 1.
	Runs int

	// Command is the command line to record in the report.
	Command string

	// FibdCommit is the git commit fibd was built from, recorded in the
	// report; "" records "unknown".
	FibdCommit string

	// Configs are the router configurations to run, each "fibd:0",
	// "fibd:1" (fibd with that nexthop_compat_mode) or "gobgpd"; nil
	// means all three.
	Configs []string

	// AfterRun, when set, is called with the report so far after each
	// run, so that the runs done are kept if a later one fails or the
	// benchmark is stopped.
	AfterRun func(BenchReport)
}

// benchConfig is one router configuration of the benchmark.
type benchConfig struct {
	router, compat string
}

// benchConfigs are run in this order in each round, so that a change of
// the machine's load hits every configuration alike.
var benchConfigs = []benchConfig{
	{RouterFibd, "1"},
	{RouterFibd, "0"},
	{RouterFibdDry, ""},
	{RouterGobgpd, ""},
}

// parseConfigs returns the configurations named, in the order of
// benchConfigs; no names means all of them.
func parseConfigs(names []string) ([]benchConfig, error) {
	if len(names) == 0 {
		return benchConfigs, nil
	}

	var out []benchConfig
	for _, c := range benchConfigs {
		if slices.Contains(names, c.String()) {
			out = append(out, c)
		}
	}

	for _, name := range names {
		if !slices.ContainsFunc(benchConfigs, func(c benchConfig) bool { return c.String() == name }) {
			return nil, fmt.Errorf("invalid benchmark configuration %q: use fibd:1, fibd:0 or gobgpd", name)
		}
	}

	return out, nil
}

// String returns the name of the configuration in BenchOptions.Configs.
func (c benchConfig) String() string {
	if c.compat == "" {
		return c.router
	}

	return c.router + ":" + c.compat
}

// BenchReport is the result of Bench: every run's summary and the
// machine it ran on.
type BenchReport struct {
	Command    string
	Started    time.Time
	Ended      time.Time
	Kernel     string // uname -r
	GoBGP      string
	FibdCommit string
	CPUs       int
	CPUModel   string
	MemoryMiB  int64
	LoadBefore float64 // 1-minute load average before the first run
	Runs       []Summary
}

// Bench runs every configuration opts.Runs times, in rounds, and returns
// the report. It stops at the first failed run and returns the runs done
// so far with the error.
func Bench(ctx context.Context, opts BenchOptions) (BenchReport, error) {
	if opts.Runs <= 0 {
		opts.Runs = 1
	}

	// Each run removes its own directory, so binaries it built would not
	// outlive it.
	if opts.Lab.Fibd == "" || opts.Lab.Gobgpd == "" {
		return BenchReport{}, errors.New("run the benchmark with built fibd and gobgpd binaries (--fibd, --gobgpd): scripts/bench-bgp builds them")
	}

	rep := BenchReport{
		Command:    opts.Command,
		Started:    time.Now().UTC(),
		Kernel:     kernelRelease(),
		GoBGP:      gobgpVersion,
		FibdCommit: opts.FibdCommit,
		CPUs:       runtime.NumCPU(),
		CPUModel:   cpuModel(),
		MemoryMiB:  memTotalKiB() / 1024,
		LoadBefore: loadAverage(),
	}
	if rep.FibdCommit == "" {
		rep.FibdCommit = "unknown"
	}

	configs, err := parseConfigs(opts.Configs)
	if err != nil {
		return BenchReport{}, err
	}

	for round := 1; round <= opts.Runs; round++ {
		for _, c := range configs {
			lo := opts.Lab
			lo.Once, lo.Router, lo.CompatMode = true, c.router, c.compat
			l, err := New(lo)
			if err != nil {
				return rep, err
			}

			l.printf("\n=== round %d of %d: router %s, nexthop_compat_mode %q\n", round, opts.Runs, c.router, c.compat)
			sum, err := l.Run(ctx)
			if err != nil {
				return rep, fmt.Errorf("round %d, router %s, compat mode %q: %w", round, c.router, c.compat, err)
			}

			rep.Runs = append(rep.Runs, sum)
			rep.Ended = time.Now().UTC()
			if opts.AfterRun != nil {
				opts.AfterRun(rep)
			}
		}
	}

	rep.Ended = time.Now().UTC()

	return rep, nil
}

// WriteJSON writes the report as indented JSON to path.
func (r BenchReport) WriteJSON(path string) error {
	data, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return fmt.Errorf("encode benchmark report: %w", err)
	}

	if err := os.WriteFile(path, append(data, '\n'), 0o644); err != nil {
		return fmt.Errorf("write benchmark report: %w", err)
	}

	return nil
}

func kernelRelease() string {
	out, err := exec.Command("uname", "-r").Output()
	if err != nil {
		return "unknown"
	}

	return strings.TrimSpace(string(out))
}

// procField returns the value of the first line of a /proc file that
// starts with key, or "".
func procField(file, key string) string {
	data, err := os.ReadFile(file)
	if err != nil {
		return ""
	}

	for _, line := range strings.Split(string(data), "\n") {
		if rest, ok := strings.CutPrefix(line, key); ok {
			return strings.TrimSpace(strings.TrimLeft(strings.TrimSpace(rest), ":"))
		}
	}

	return ""
}

func cpuModel() string {
	if m := procField("/proc/cpuinfo", "model name"); m != "" {
		return m
	}

	return "unknown"
}

func memTotalKiB() int64 {
	var kib int64
	fmt.Sscanf(procField("/proc/meminfo", "MemTotal"), "%d", &kib)

	return kib
}
