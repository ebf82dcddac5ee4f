package cli

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/fibd/fibd/api/fibdv1"
)

// DefaultSource is the source of routes that the CLI adds without a
// source word.
const DefaultSource = "cli"

// fileBatch is the number of routes per request with --file; it stays
// below the daemon's default api.max-batch of 10000.
const fileBatch = 1000

const routeUsage = `usage: fibd route add [TYPE] PREFIX [via ADDR] [dev NAME] [weight N] [onlink]
                      [nexthop via ADDR dev NAME [weight N] [onlink]]...
                      [table N] [metric N] [type unicast|blackhole|unreachable|prohibit]
                      [distance N] [resilient buckets N [idle_timer S] [unbalanced_timer S]]
                      [source NAME]
       fibd route add --file FILE|-     (one route per line, in the grammar above)
       fibd route del PREFIX [table N] [source NAME]
       fibd route del --file FILE|-     (lines as for add; prefix, table and source count)
       fibd route list [PREFIX] [table N] [source NAME] [family inet|inet6] [--candidates]

A next hop's weight is 1 to 65535 (default 1).

With source NAME, route list shows every route where NAME has a candidate.
Where another source's candidate is selected, an indented line
"candidate source NAME ..." shows NAME's candidate.

Flags (anywhere on the line): the connection flags below, --json,
--timeout DURATION (default 1m).
` + connectionUsage

// Route runs `fibd route add|del|list ARGS` and returns the exit code.
func Route(args []string, stdout, stderr io.Writer) int {
	c := &command{name: "route", usage: routeUsage, stdout: stdout, stderr: stderr}
	if len(args) == 0 {
		return c.usageError("missing subcommand add, del or list")
	}

	sub, rest := args[0], args[1:]
	switch sub {
	case "add", "a", "replace", "change":
		c.name = "route add"

		return c.routeAdd(rest)
	case "del", "delete", "d":
		c.name = "route del"

		return c.routeDel(rest)
	case "list", "show", "ls", "l":
		c.name = "route list"

		return c.routeList(rest)
	case "-h", "--help", "help":
		fmt.Fprint(stdout, routeUsage)

		return exitOK
	}

	return c.usageError("unknown subcommand %q; use add, del or list", sub)
}

func fileFlag(opts *options) func(fs *flag.FlagSet) {
	return func(fs *flag.FlagSet) {
		fs.StringVar(&opts.file, "file", "", "read routes from FILE, one per line (- is standard input)")
	}
}

func (c *command) routeAdd(args []string) int {
	words, ok := c.parse(args, fileFlag(&c.opts))
	if !ok {
		return exitUsage
	}

	var req *fibdv1.AddRoutesRequest
	switch {
	case c.opts.file != "" && len(words) > 0:
		return c.usageError("--file and a route on the command line exclude each other")
	case c.opts.file != "":
		return c.addFile()
	default:
		spec, err := parseAddSpec(words)
		if err != nil {
			return c.usageError("%v", err)
		}

		req = &fibdv1.AddRoutesRequest{Source: sourceOr(spec.source), Routes: []*fibdv1.Route{spec.route}}
	}

	return c.run(func(ctx context.Context, client fibdv1.FibClient) int {
		resp, err := client.AddRoutes(ctx, req)
		if err != nil {
			return c.rpcFailed("add routes", err)
		}

		if c.opts.json {
			c.printJSON(resp)
		}

		return c.results(req.GetSource(), resp.GetResults(), true)
	})
}

// results prints the routes that did not get OK (and, unless --json,
// a note for an added route that another source outranks) and returns 1
// when any failed.
func (c *command) results(source string, results []*fibdv1.RouteResult, add bool) int {
	code := exitOK
	for _, r := range results {
		key := fmt.Sprintf("%s table %d", r.GetPrefix(), r.GetTable())
		switch {
		case r.GetCode() != fibdv1.ResultCode_RESULT_CODE_OK:
			fmt.Fprintf(c.stderr, "fibd %s: route %s: %s: %s\n", c.name, key, resultName(r.GetCode()), r.GetMessage())
			code = exitError
		case add && !r.GetSelected() && !c.opts.json:
			fmt.Fprintf(c.stdout, "route %s accepted from source %s, but another source's route with a lower distance is installed\n", key, source)
		}
	}

	return code
}

func resultName(code fibdv1.ResultCode) string {
	return strings.ReplaceAll(strings.ToLower(strings.TrimPrefix(code.String(), "RESULT_CODE_")), "_", " ")
}

func (c *command) routeDel(args []string) int {
	words, ok := c.parse(args, fileFlag(&c.opts))
	if !ok {
		return exitUsage
	}

	switch {
	case c.opts.file != "" && len(words) > 0:
		return c.usageError("--file and a route on the command line exclude each other")
	case c.opts.file != "":
		return c.delFile()
	}

	key, source, err := parseKeySpec(words)
	if err != nil {
		return c.usageError("%v", err)
	}

	req := &fibdv1.DeleteRoutesRequest{Source: sourceOr(source), Keys: []*fibdv1.RouteKey{key}}

	return c.run(func(ctx context.Context, client fibdv1.FibClient) int {
		resp, err := client.DeleteRoutes(ctx, req)
		if err != nil {
			return c.rpcFailed("delete routes", err)
		}

		if c.opts.json {
			c.printJSON(resp)
		}

		return c.results(req.GetSource(), resp.GetResults(), false)
	})
}

func sourceOr(source string) string {
	if source == "" {
		return DefaultSource
	}

	return source
}

// readLines returns the non-empty lines of --file split into words,
// without comments (from #).
func (c *command) readLines() ([][]string, error) {
	var r io.Reader = os.Stdin
	if c.opts.file != "-" {
		f, err := os.Open(c.opts.file)
		if err != nil {
			return nil, err
		}
		defer f.Close()

		r = f
	}

	var lines [][]string
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		line, _, _ := strings.Cut(sc.Text(), "#")
		if words := strings.Fields(line); len(words) > 0 {
			lines = append(lines, words)
		}
	}

	return lines, sc.Err()
}

// addFile adds the routes of --file in batches. All routes of a batch
// share one source, so a line's source word must match the first one's.
func (c *command) addFile() int {
	lines, err := c.readLines()
	if err != nil {
		return c.fail("read %s: %v", c.opts.file, err)
	}

	var (
		routes []*fibdv1.Route
		source string
	)
	for i, words := range lines {
		spec, err := parseAddSpec(words)
		if err != nil {
			return c.fail("%s line %d: %v", c.opts.file, i+1, err)
		}

		if i > 0 && sourceOr(spec.source) != source {
			return c.fail("%s line %d: source %s differs from the first line's %s; use one source per file", c.opts.file, i+1, sourceOr(spec.source), source)
		}

		source = sourceOr(spec.source)
		routes = append(routes, spec.route)
	}

	return c.run(func(ctx context.Context, client fibdv1.FibClient) int {
		all := &fibdv1.AddRoutesResponse{}
		for start := 0; start < len(routes); start += fileBatch {
			req := &fibdv1.AddRoutesRequest{Source: source, Routes: routes[start:min(start+fileBatch, len(routes))]}

			resp, err := client.AddRoutes(ctx, req)
			if err != nil {
				fmt.Fprintf(c.stderr, "fibd %s: routes %d to %d of %s not added\n", c.name, start+1, len(routes), c.opts.file)

				return c.rpcFailed("add routes", err)
			}

			all.Results = append(all.Results, resp.GetResults()...)
		}

		if c.opts.json {
			c.printJSON(all)
		}

		return c.results(source, all.GetResults(), false)
	})
}

// delFile deletes the keys of --file in batches.
func (c *command) delFile() int {
	lines, err := c.readLines()
	if err != nil {
		return c.fail("read %s: %v", c.opts.file, err)
	}

	var (
		keys   []*fibdv1.RouteKey
		source string
	)
	for i, words := range lines {
		// The lines may be those of an add file: the next hops and the
		// metric do not matter, because a source has one route per key.
		spec, err := parseAddSpec(words)
		if err != nil {
			return c.fail("%s line %d: %v", c.opts.file, i+1, err)
		}

		key := &fibdv1.RouteKey{Prefix: spec.route.GetPrefix(), Table: spec.route.Table}
		src := spec.source

		if i > 0 && sourceOr(src) != source {
			return c.fail("%s line %d: source %s differs from the first line's %s; use one source per file", c.opts.file, i+1, sourceOr(src), source)
		}

		source = sourceOr(src)
		keys = append(keys, key)
	}

	return c.run(func(ctx context.Context, client fibdv1.FibClient) int {
		all := &fibdv1.DeleteRoutesResponse{}
		for start := 0; start < len(keys); start += fileBatch {
			req := &fibdv1.DeleteRoutesRequest{Source: source, Keys: keys[start:min(start+fileBatch, len(keys))]}

			resp, err := client.DeleteRoutes(ctx, req)
			if err != nil {
				return c.rpcFailed("delete routes", err)
			}

			all.Results = append(all.Results, resp.GetResults()...)
		}

		if c.opts.json {
			c.printJSON(all)
		}

		return c.results(source, all.GetResults(), false)
	})
}

func (c *command) routeList(args []string) int {
	words, ok := c.parse(args, func(fs *flag.FlagSet) {
		fs.BoolVar(&c.opts.candidates, "candidates", false, "show every source's candidate as a table")
	})
	if !ok {
		return exitUsage
	}

	filter, err := parseFilter(words)
	if err != nil {
		return c.usageError("%v", err)
	}

	return c.run(func(ctx context.Context, client fibdv1.FibClient) int {
		stream, err := client.ListRoutes(ctx, &fibdv1.ListRoutesRequest{Filter: filter})
		if err != nil {
			return c.rpcFailed("list routes", err)
		}

		all := &fibdv1.ListRoutesResponse{}
		for {
			msg, err := stream.Recv()
			if errors.Is(err, io.EOF) {
				break
			}

			if err != nil {
				return c.rpcFailed("list routes", err)
			}

			all.Routes = append(all.Routes, msg.GetRoutes()...)
		}

		switch {
		case c.opts.json:
			return c.printJSON(all)
		case c.opts.candidates:
			writeCandidates(c.stdout, all.GetRoutes())
		default:
			writeRoutes(c.stdout, all.GetRoutes(), filter.GetSource())
		}

		return exitOK
	})
}
