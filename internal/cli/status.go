package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"sort"
	"text/tabwriter"
	"time"

	"github.com/fibd/fibd/api/fibdv1"
)

const nexthopUsage = `usage: fibd nexthop list [--socket PATH | --address HOST:PORT] [--json] [--timeout DURATION]
` + connectionUsage

const statusUsage = `usage: fibd status [--socket PATH | --address HOST:PORT] [--json] [--timeout DURATION]
` + connectionUsage

const verifyUsage = `usage: fibd verify [--socket PATH | --address HOST:PORT] [--json] [--timeout DURATION] [--all]

Exits with 1 and lists the differences when the kernel is not in sync
with fibd's desired state. Without --all or --json it prints the first
100 differences and the count of the others.
` + connectionUsage

// verifyLines is the number of differences that fibd verify prints
// without --all.
const verifyLines = 100

// Nexthop runs `fibd nexthop list` and returns the exit code.
func Nexthop(args []string, stdout, stderr io.Writer) int {
	c := &command{name: "nexthop", usage: nexthopUsage, stdout: stdout, stderr: stderr}
	words, ok := c.parse(args, nil)
	if !ok {
		return exitUsage
	}

	if len(words) == 0 || (words[0] != "list" && words[0] != "show" && words[0] != "ls") {
		return c.usageError("missing subcommand list")
	}

	if len(words) > 1 {
		return c.usageError("unexpected argument %q", words[1])
	}

	c.name = "nexthop list"

	return c.run(func(ctx context.Context, client fibdv1.FibClient) int {
		stream, err := client.ListNexthops(ctx, &fibdv1.ListNexthopsRequest{})
		if err != nil {
			return c.rpcFailed("list nexthops", err)
		}

		all := &fibdv1.ListNexthopsResponse{}
		for {
			msg, err := stream.Recv()
			if errors.Is(err, io.EOF) {
				break
			}

			if err != nil {
				return c.rpcFailed("list nexthops", err)
			}

			all.Nexthops = append(all.Nexthops, msg.GetNexthops()...)
		}

		if c.opts.json {
			return c.printJSON(all)
		}

		writeNexthops(stdout, all.GetNexthops())

		return exitOK
	})
}

// Status runs `fibd status` and returns the exit code.
func Status(args []string, stdout, stderr io.Writer) int {
	c := &command{name: "status", usage: statusUsage, stdout: stdout, stderr: stderr}
	words, ok := c.parse(args, nil)
	if !ok {
		return exitUsage
	}

	if len(words) > 0 {
		return c.usageError("unexpected argument %q", words[0])
	}

	return c.run(func(ctx context.Context, client fibdv1.FibClient) int {
		st, err := client.Status(ctx, &fibdv1.StatusRequest{})
		if err != nil {
			return c.rpcFailed("status", err)
		}

		if c.opts.json {
			return c.printJSON(st)
		}

		writeStatus(stdout, st)

		return exitOK
	})
}

// writeStatus prints the status as aligned "name value" lines.
func writeStatus(w io.Writer, st *fibdv1.StatusResponse) {
	tw := tabwriter.NewWriter(w, 0, 8, 2, ' ', 0)
	line := func(name, format string, args ...any) {
		fmt.Fprintf(tw, "%s\t%s\n", name, fmt.Sprintf(format, args...))
	}

	line("version", "%s", st.GetVersion())
	line("uptime", "%s", st.GetUptime().AsDuration().Truncate(time.Second))
	if st.GetKernelSync() != "" {
		line("kernel", "%s", st.GetKernelSync())
	}

	line("routes", "%s", routesText(st))
	if n := st.GetAdopted(); n > 0 {
		line("adopted", "%d routes from the previous run, held until the sources converge", n)
	}

	// The status counts single objects and groups apart. The kernel lists
	// both as nexthop objects.
	line("nexthops", "%d objects (%d single, %d groups)", st.GetNexthops()+st.GetGroups(), st.GetNexthops(), st.GetGroups())
	line("operations", "%d (errors %d)", st.GetOps(), st.GetOpErrors())

	for _, c := range st.GetBySource() {
		line("source "+c.GetName(), "%d routes", c.GetRoutes())
	}

	for _, c := range st.GetByTable() {
		line("table "+c.GetName(), "%d routes", c.GetRoutes())
	}

	for _, c := range st.GetByFamily() {
		line("family "+c.GetName(), "%d routes", c.GetRoutes())
	}

	for _, s := range st.GetSessions() {
		line("session "+s.GetSource(), "%s", sessionText(s))
	}

	names := make([]string, 0, len(st.GetExtra()))
	for name := range st.GetExtra() {
		names = append(names, name)
	}

	sort.Strings(names)
	for _, name := range names {
		line(name, "%s", st.GetExtra()[name])
	}

	for _, e := range st.GetRecentErrors() {
		line("error", "%s", e)
	}

	tw.Flush()
}

// routesText describes the selected routes by state. Installed counts
// the adopted routes too, which the adopted line shows apart.
func routesText(st *fibdv1.StatusResponse) string {
	installed := st.GetInstalled() - min(st.GetAdopted(), st.GetInstalled())

	return fmt.Sprintf("%d selected (installed %d, failed %d, unresolved %d, conflicts %d, pending %d)",
		st.GetRoutes(), installed, st.GetFailed(), st.GetUnresolved(), st.GetConflicts(), st.GetPending())
}

func sessionText(s *fibdv1.SessionInfo) string {
	text := "open"
	if !s.GetOpen() {
		text = "ended, routes withdrawn at " + s.GetExpires().AsTime().UTC().Format(time.RFC3339)
	}

	if s.GetBound() {
		text += ", bound"
	}

	return text
}

// Verify runs `fibd verify` and returns 0 when the kernel is in sync, 1
// with the differences listed otherwise.
func Verify(args []string, stdout, stderr io.Writer) int {
	c := &command{name: "verify", usage: verifyUsage, stdout: stdout, stderr: stderr}
	all := false
	words, ok := c.parse(args, func(fs *flag.FlagSet) {
		fs.BoolVar(&all, "all", false, "print every difference")
	})
	if !ok {
		return exitUsage
	}

	if len(words) > 0 {
		return c.usageError("unexpected argument %q", words[0])
	}

	return c.run(func(ctx context.Context, client fibdv1.FibClient) int {
		resp, err := client.Verify(ctx, &fibdv1.VerifyRequest{})
		if err != nil {
			return c.rpcFailed("verify", err)
		}

		if c.opts.json {
			c.printJSON(resp)
		} else {
			limit := verifyLines
			if all {
				limit = len(resp.GetDifferences())
			}

			writeVerify(stdout, resp, limit)
		}

		if !resp.GetInSync() {
			return exitError
		}

		return exitOK
	})
}

// writeVerify prints the outcome of a verify with at most limit
// differences, and the count of the others.
func writeVerify(w io.Writer, resp *fibdv1.VerifyResponse, limit int) {
	if resp.GetInSync() {
		fmt.Fprintln(w, "in sync: the kernel holds fibd's desired state")

		return
	}

	diffs := resp.GetDifferences()
	fmt.Fprintf(w, "not in sync: %d differences\n", len(diffs))
	for _, d := range diffs[:min(limit, len(diffs))] {
		fmt.Fprintln(w, "  "+d)
	}

	if more := len(diffs) - limit; more > 0 {
		fmt.Fprintf(w, "  ... and %d more differences (fibd verify --all lists every one)\n", more)
	}
}
