// Command fibd programs the Linux kernel's forwarding table (routes and
// nexthop objects) from BGP and a gRPC API.
//
// `fibd run --config FILE` runs the daemon. The other commands are clients
// of a running daemon's API: route, nexthop, status and verify.
//
// This package is wiring only: it reads the configuration, builds the
// components, runs them under one errgroup and handles signals. The work
// is done by packages fib, fib/kernel, fib/kernel/monitor, gobgp and
// api/server.
//
// # Start and restart
//
// At start fibd dumps its own routes and nexthop objects (those with its
// protocol number) and adopts them. Routes that the sources offer again
// unchanged are not written at all. The others stay until the sources in
// fib.hold declare convergence or fib.hold-timeout ends. It reports
// READY=1 to systemd once the kernel is adopted and the API listens.
//
// # Signals
//
// The first SIGINT or SIGTERM stops the components and keeps fibd's routes
// in the kernel, so that a restart does not interrupt forwarding. With
// fib.flush-on-exit: true they are deleted. A second signal exits at once.
// SIGHUP reloads the configuration file: log.level, api.sources,
// api.default-distance, api.grace-period and fib.hold-timeout change live,
// every other changed key is logged as needing a restart, and a file that
// fails validation is logged and ignored.
package main

import (
	"fmt"
	"io"
	"os"
	"runtime/debug"
)

// version is set at build time with -ldflags "-X main.version=v1.2.3".
var version = ""

// Exit codes.
const (
	exitOK    = 0
	exitError = 1 // the command ran and failed
	exitUsage = 2 // the command line is wrong
)

const usageText = `usage: fibd COMMAND [ARGUMENTS]

Commands:
  run --config FILE         run the daemon
  route add|del|list ...    change or list routes through the API
  nexthop list              list nexthop objects and groups
  status                    show the daemon's status
  verify                    compare the kernel with the desired state
  version                   print the version

Run "fibd COMMAND -h" for the flags of a command.
`

// clientCommands are the commands that talk to a running daemon. Each
// returns its exit code.
var clientCommands = map[string]func(args []string, stdout, stderr io.Writer) int{}

func main() {
	os.Exit(dispatch(os.Args[1:], os.Stdout, os.Stderr))
}

// dispatch runs the command named by args[0] and returns the exit code.
func dispatch(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		return usageError(stderr, "missing command")
	}

	command, rest := args[0], args[1:]
	switch command {
	case "run":
		return runCommand(rest, stdout, stderr)
	case "version", "-version", "--version":
		if len(rest) > 0 {
			return usageError(stderr, fmt.Sprintf("version takes no arguments, got %q", rest[0]))
		}

		fmt.Fprintf(stdout, "fibd %s\n", buildVersion())

		return exitOK
	case "help", "-h", "-help", "--help":
		fmt.Fprint(stdout, usageText)

		return exitOK
	}

	if client, ok := clientCommands[command]; ok {
		return client(rest, stdout, stderr)
	}

	return usageError(stderr, fmt.Sprintf("unknown command %q", command))
}

func usageError(stderr io.Writer, problem string) int {
	fmt.Fprintf(stderr, "fibd: %s\n\n%s", problem, usageText)

	return exitUsage
}

// buildVersion returns the version set at link time, or the module
// version and VCS revision that the Go toolchain recorded.
func buildVersion() string {
	if version != "" {
		return version
	}

	info, ok := debug.ReadBuildInfo()
	if !ok {
		return "(unknown)"
	}

	v := info.Main.Version
	for _, s := range info.Settings {
		if s.Key == "vcs.revision" && len(s.Value) >= 12 {
			v += " " + s.Value[:12]
		}
	}

	return v
}
