package gobgp_test

// This file runs the embedded speaker as a separate "router" process
// inside a test namespace, because its BGP sockets must be created there.
// The test binary runs itself under `ip netns exec` with routerEnv set,
// and the router prints every sink call on standard output.

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/netip"
	"os"
	"os/exec"
	"os/signal"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/fibd/fibd/fib"
	"github.com/fibd/fibd/gobgp"
	"github.com/fibd/fibd/internal/netnstest"
)

// Environment of the router process.
const (
	routerEnv        = "FIBD_GOBGP_TEST_ROUTER"     // path of the GoBGP configuration
	routerAPIEnv     = "FIBD_GOBGP_TEST_ROUTER_API" // GoBGP API address
	routerTimeoutEnv = "FIBD_GOBGP_TEST_ROUTER_CONVERGENCE"
	routerRemoteEnv  = "FIBD_GOBGP_TEST_ROUTER_REMOTE" // remote gobgpd address
)

func TestMain(m *testing.M) {
	if os.Getenv(routerEnv) != "" || os.Getenv(routerRemoteEnv) != "" {
		os.Exit(runRouter())
	}

	os.Exit(m.Run())
}

// printSink writes each sink call as one tab-separated line.
type printSink struct {
	mu sync.Mutex
	w  *bufio.Writer
}

func (p *printSink) Update(routes []fib.Route) []error {
	p.mu.Lock()
	defer p.mu.Unlock()

	errs := make([]error, len(routes))
	for i, r := range routes {
		if errs[i] = r.Validate(); errs[i] != nil {
			fmt.Fprintf(p.w, "rejected\t%s\t%v\n", r.Prefix, errs[i])

			continue
		}

		fmt.Fprintf(p.w, "update\t%s\t%s\t%d\n", r.Prefix, r.NextHops, r.Distance)
	}

	p.w.Flush()

	return errs
}

func (p *printSink) Withdraw(source string, keys []fib.Key) {
	p.mu.Lock()
	defer p.mu.Unlock()

	for _, k := range keys {
		fmt.Fprintf(p.w, "withdraw\t%s\n", k.Prefix)
	}

	p.w.Flush()
}

func (p *printSink) SetGatewayDown(addr netip.Addr, reason string, down bool) {
	p.mu.Lock()
	defer p.mu.Unlock()

	state := "up"
	if down {
		state = "down"
	}

	fmt.Fprintf(p.w, "gateway\t%s\t%s\n", addr, state)
	p.w.Flush()
}

func (p *printSink) Converged(source string) {
	p.mu.Lock()
	defer p.mu.Unlock()

	fmt.Fprintf(p.w, "converged\n")
	p.w.Flush()
}

// runRouter runs a Source with a printSink until SIGTERM.
func runRouter() int {
	opts := gobgp.Options{
		Mode:               gobgp.ModeEmbedded,
		APIAddress:         os.Getenv(routerAPIEnv),
		ConvergenceTimeout: 3 * time.Second,
		Logger:             slog.New(slog.NewTextHandler(os.Stderr, nil)),
	}

	if d, err := time.ParseDuration(os.Getenv(routerTimeoutEnv)); err == nil {
		opts.ConvergenceTimeout = d
	}

	if addr := os.Getenv(routerRemoteEnv); addr != "" {
		opts.Mode = gobgp.ModeRemote
		opts.RemoteAddress = addr
	} else {
		data, err := os.ReadFile(os.Getenv(routerEnv))
		if err != nil {
			fmt.Fprintln(os.Stderr, err)

			return 1
		}

		var doc yaml.Node
		if err := yaml.Unmarshal(data, &doc); err != nil {
			fmt.Fprintln(os.Stderr, err)

			return 1
		}

		opts.Config = doc.Content[0]
	}

	src, err := gobgp.New(opts, &printSink{w: bufio.NewWriter(os.Stdout)})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)

		return 1
	}

	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()

	if err := src.Run(ctx); err != nil {
		fmt.Fprintln(os.Stderr, err)

		return 1
	}

	return 0
}

// router is a router process and the routes it offered, rebuilt from its
// output.
type router struct {
	t      *testing.T
	stderr *bytes.Buffer
	cmd    *exec.Cmd
	done   chan struct{} // closed when the output has been read

	mu     sync.Mutex
	routes map[string]string // prefix to next hops
	lines  []string
}

// startRouter runs the embedded speaker with a GoBGP configuration inside
// ns. The process is killed when the test ends.
func startRouter(t *testing.T, ns *netnstest.NS, config string, env ...string) *router {
	t.Helper()

	file := writeTemp(t, "router.yaml", config)
	cmd := ns.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(append(os.Environ(), routerEnv+"="+file), env...)

	return runRouterCommand(t, cmd)
}

func runRouterCommand(t *testing.T, cmd *exec.Cmd) *router {
	t.Helper()

	r := &router{t: t, stderr: &bytes.Buffer{}, cmd: cmd, routes: make(map[string]string)}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatalf("router output: %v", err)
	}

	cmd.Stderr = &lockedWriter{w: r.stderr}
	if err := cmd.Start(); err != nil {
		t.Fatalf("start router: %v", err)
	}

	done := make(chan struct{})
	r.done = done
	go func() {
		defer close(done)
		r.read(stdout)
	}()

	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		<-done
		_ = cmd.Wait()
		if t.Failed() {
			t.Logf("router log:\n%s", r.stderr.String())
		}
	})

	return r
}

// stop stops the router with SIGTERM and waits until its output is read.
func (r *router) stop() {
	r.t.Helper()

	if err := r.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		r.t.Fatalf("stop router: %v", err)
	}

	select {
	case <-r.done:
	case <-time.After(30 * time.Second):
		r.t.Fatal("router still running 30 seconds after SIGTERM")
	}
}

func (r *router) read(out io.Reader) {
	sc := bufio.NewScanner(out)
	for sc.Scan() {
		line := sc.Text()
		f := strings.Split(line, "\t")

		r.mu.Lock()
		r.lines = append(r.lines, line)
		switch f[0] {
		case "update":
			r.routes[f[1]] = f[2]
		case "withdraw":
			delete(r.routes, f[1])
		}
		r.mu.Unlock()
	}
}

// wait polls cond, called with the router's state locked, until it holds.
func (r *router) wait(what string, timeout time.Duration, cond func() bool) {
	r.t.Helper()

	deadline := time.Now().Add(timeout)
	for {
		r.mu.Lock()
		ok := cond()
		r.mu.Unlock()
		if ok {
			return
		}

		if time.Now().After(deadline) {
			r.mu.Lock()
			n := len(r.routes)
			r.mu.Unlock()
			r.t.Fatalf("timed out after %s waiting for %s (%d routes)", timeout, what, n)
		}

		time.Sleep(20 * time.Millisecond)
	}
}

// countVia returns the number of routes whose next hops are exactly hops.
func (r *router) countVia(hops string) int {
	n := 0
	for _, h := range r.routes {
		if h == hops {
			n++
		}
	}

	return n
}

// mark returns the number of output lines so far.
func (r *router) mark() int {
	r.mu.Lock()
	defer r.mu.Unlock()

	return len(r.lines)
}

// linesSince returns the output lines after mark.
func (r *router) linesSince(mark int) []string {
	r.mu.Lock()
	defer r.mu.Unlock()

	return append([]string(nil), r.lines[mark:]...)
}

type lockedWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()

	return l.w.Write(p)
}

func writeTemp(t *testing.T, name, content string) string {
	t.Helper()

	file := t.TempDir() + "/" + name
	if err := os.WriteFile(file, []byte(content), 0o600); err != nil {
		t.Fatalf("write %s: %v", name, err)
	}

	return file
}
