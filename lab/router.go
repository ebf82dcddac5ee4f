package lab

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	fibdv1 "github.com/fibd/fibd/api/fibdv1"
)

// Addresses inside the router's namespace, reachable with
// `ip netns exec fibdlab-router ...`.
const (
	metricsAddress = "127.0.0.1:9342"
	gobgpAPI       = "127.0.0.1:50051"
)

// router is fibd running with its embedded BGP speaker in the router's
// namespace.
type router struct {
	config string
	socket string
	cmd    *exec.Cmd
	conn   *grpc.ClientConn
	client fibdv1.FibClient
}

// routerConfig returns fibd's configuration: an embedded GoBGP speaker with
// the router's BGP configuration, and the API on a unix socket in the lab
// directory.
func (l *Lab) routerConfig(socket string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "log:\n  level: info\n")

	var kernelKeys []string
	if l.opts.Router == RouterFibdDry {
		kernelKeys = append(kernelKeys, "dry-run: true")
	}

	if dir := l.opts.ProtocolNamesDir; dir != "" {
		kernelKeys = append(kernelKeys, fmt.Sprintf("protocol-names-dir: %q", dir))
	}

	if len(kernelKeys) > 0 {
		fmt.Fprintf(&b, "kernel:\n  %s\n", strings.Join(kernelKeys, "\n  "))
	}

	fmt.Fprintf(&b, "api:\n  socket: %s\n", socket)
	fmt.Fprintf(&b, "metrics:\n  address: %s\n  pprof: true\n", metricsAddress)
	fmt.Fprintf(&b, "gobgp:\n  mode: embedded\n  api-address: %s\n", gobgpAPI)
	b.WriteString("bgp:\n")
	b.WriteString(indent(l.bgpConfig(), "  "))

	return b.String()
}

// bgpConfig returns the router's GoBGP configuration, the same for fibd's
// embedded speaker and the gobgpd baseline: multipath, and a session per
// upstream and family.
func (l *Lab) bgpConfig() string {
	var b strings.Builder
	fmt.Fprintf(&b, "global:\n  config:\n    as: %d\n    router-id: 198.51.100.1\n    port: 179\n", routerAS)
	fmt.Fprintf(&b, "  use-multiple-paths:\n    config:\n      enabled: true\n")
	b.WriteString("neighbors:\n")
	for _, p := range l.peers {
		for _, n := range []struct {
			neighbor, local, family string
		}{{p.v4.String(), p.routerV4.String(), "ipv4-unicast"}, {p.v6.String(), p.routerV6.String(), "ipv6-unicast"}} {
			fmt.Fprintf(&b, "  - config:\n      neighbor-address: %s\n      peer-as: %d\n", n.neighbor, p.as)
			fmt.Fprintf(&b, "    transport:\n      config:\n        local-address: %s\n", n.local)
			fmt.Fprintf(&b, "    timers:\n      config:\n        connect-retry: 1\n")
			fmt.Fprintf(&b, "    afi-safis:\n      - config:\n          afi-safi-name: %s\n", n.family)
		}
	}

	return b.String()
}

// indent prefixes every line of s with prefix.
func indent(s, prefix string) string {
	lines := strings.SplitAfter(s, "\n")
	var b strings.Builder
	for _, line := range lines {
		if line != "" {
			b.WriteString(prefix + line)
		}
	}

	return b.String()
}

func (l *Lab) startRouter(ctx context.Context, _ *Summary) error {
	r := &router{
		config: filepath.Join(l.dir, "fibd.yaml"),
		socket: filepath.Join(l.dir, "fibd.sock"),
	}

	if err := os.WriteFile(r.config, []byte(l.routerConfig(r.socket)), 0o644); err != nil {
		return fmt.Errorf("write fibd config: %w", err)
	}

	cmd, err := l.start(l.routerNS(), "fibd.log", l.opts.Fibd, "run", "--config", r.config)
	if err != nil {
		return err
	}

	r.cmd = cmd
	l.router = r
	conn, err := l.dialSocket(ctx, r.socket, "fibd", "fibd.log")
	if err != nil {
		return err
	}

	r.conn = conn
	r.client = fibdv1.NewFibClient(conn)
	l.printf("router: fibd with its embedded BGP speaker, AS %d, API at %s\n", routerAS, r.socket)

	return nil
}

// status returns fibd's status.
func (r *router) status(ctx context.Context) (*fibdv1.StatusResponse, error) {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()

	return r.client.Status(ctx, &fibdv1.StatusRequest{})
}

// multipathRoutes returns the number of routes whose group has one member
// per upstream, from fibd's nexthop listing (a few objects, cheap to read
// every second even with a full table).
func (r *router) multipathRoutes(ctx context.Context, peers int) (uint64, error) {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()

	stream, err := r.client.ListNexthops(ctx, &fibdv1.ListNexthopsRequest{})
	if err != nil {
		return 0, fmt.Errorf("list fibd nexthops: %w", err)
	}

	var routes uint64
	for {
		resp, err := stream.Recv()
		if errors.Is(err, io.EOF) {
			return routes, nil
		}

		if err != nil {
			return 0, fmt.Errorf("list fibd nexthops: %w", err)
		}

		for _, nh := range resp.Nexthops {
			if len(nh.Group) == peers {
				routes += uint64(nh.RouteRefs)
			}
		}
	}
}

// peakRSS returns the peak resident set size of a process the lab
// started, in KiB, read from /proc. The command is `ip netns exec ... X`:
// ip execs X in place, so the pid is X's.
func peakRSS(cmd *exec.Cmd) int64 {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", cmd.Process.Pid))
	if err != nil {
		return 0
	}

	for _, line := range strings.Split(string(data), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			var kib int64
			fmt.Sscanf(strings.TrimSpace(rest), "%d", &kib)

			return kib
		}
	}

	return 0
}

// loadAverage returns the machine's 1-minute load average, or 0 when
// /proc/loadavg cannot be read.
func loadAverage() float64 {
	data, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return 0
	}

	var load float64
	fmt.Sscanf(string(data), "%f", &load)

	return load
}

// dialSocket waits for the API socket of the router process name, whose
// log is the lab file logFile, and connects to it.
func (l *Lab) dialSocket(ctx context.Context, socket, name, logFile string) (*grpc.ClientConn, error) {
	if err := waitForFile(ctx, socket, 30*time.Second); err != nil {
		return nil, fmt.Errorf("%s did not open its API (see %s): %w", name, filepath.Join(l.dir, logFile), err)
	}

	conn, err := grpc.NewClient("unix://"+socket, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		return nil, fmt.Errorf("connect to %s at %s: %w", name, socket, err)
	}

	return conn, nil
}
