package fib_test

import (
	"context"
	"net/netip"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/fibd/fibd/fib"
	"github.com/fibd/fibd/fib/fibtest"
	"github.com/fibd/fibd/nexthop"
)

// TestScripts runs the txtar scenarios in testdata/scripts. Each archive
// has a file "steps" with one command per line and golden files that the
// expect command compares with the fake kernel's state:
//
//	update SOURCE DISTANCE PREFIX METRIC (GATEWAY@DEVICE... | blackhole)
//	withdraw SOURCE PREFIX
//	gateway-down|gateway-up GATEWAY REASON
//	link-down|link-up DEVICE       (in the fake kernel, then in the FIB)
//	restart [HOLD-SOURCE...]       (a new FIB adopts the fake kernel)
//	converged SOURCE
//	reset-counts
//	writes N                       (operations since reset-counts)
//	expect FILE
func TestScripts(t *testing.T) {
	paths, err := filepath.Glob("testdata/scripts/*.txtar")
	if err != nil {
		t.Fatal(err)
	}

	if len(paths) == 0 {
		t.Fatal("no scripts in testdata/scripts")
	}

	for _, path := range paths {
		t.Run(strings.TrimSuffix(filepath.Base(path), ".txtar"), func(t *testing.T) {
			files := readTxtar(t, path)
			runScript(t, files)
		})
	}
}

// readTxtar splits an archive into its files: "-- NAME --" lines start a
// file, and the text before the first one is a comment.
func readTxtar(t *testing.T, path string) map[string]string {
	t.Helper()

	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}

	files := make(map[string]string)
	name := ""
	for _, line := range strings.SplitAfter(string(data), "\n") {
		trimmed := strings.TrimSpace(line)
		if strings.HasPrefix(trimmed, "-- ") && strings.HasSuffix(trimmed, " --") && len(trimmed) > 6 {
			name = strings.TrimSpace(trimmed[3 : len(trimmed)-3])
			files[name] = ""

			continue
		}

		if name != "" {
			files[name] += line
		}
	}

	return files
}

// script is the state of one running scenario.
type script struct {
	t      *testing.T
	files  map[string]string
	dp     *fibtest.Dataplane
	h      *harness
	cancel context.CancelFunc
	done   chan error
}

func runScript(t *testing.T, files map[string]string) {
	s := &script{t: t, files: files, dp: &fibtest.Dataplane{}}
	s.start(nil)
	t.Cleanup(s.stop)

	for n, line := range strings.Split(files["steps"], "\n") {
		fields := strings.Fields(line)
		if len(fields) == 0 || strings.HasPrefix(fields[0], "#") {
			continue
		}

		t.Logf("line %d: %s", n+1, line)
		s.step(fields)
	}
}

// start runs a FIB over the fake kernel, adopting what it holds.
func (s *script) start(hold []string) {
	s.h = newHarness(s.t, s.dp, fib.Config{Hold: hold})
	s.h.fib.Reconcile(s.dp.Snapshot())

	ctx, cancel := context.WithCancel(context.Background())
	s.cancel, s.done = cancel, make(chan error, 1)
	go func() { s.done <- s.h.fib.Run(ctx) }()
}

func (s *script) stop() {
	s.cancel()
	if err := <-s.done; err != nil {
		s.t.Errorf("run: %v", err)
	}
}

func (s *script) step(f []string) {
	t := s.t
	switch f[0] {
	case "update":
		s.h.update(scriptRoute(t, f[1:]))
	case "withdraw":
		s.h.fib.Withdraw(f[1], []fib.Key{key(f[2])})
	case "gateway-down", "gateway-up":
		s.h.fib.SetGatewayDown(netip.MustParseAddr(f[1]), f[2], f[0] == "gateway-down")
	case "link-down", "link-up":
		s.dp.SetLinkDown(f[1], f[0] == "link-down")
		s.h.fib.LinkChanged(f[1], f[0] == "link-up")
	case "restart":
		s.h.sync()
		s.stop()
		s.start(f[1:])
	case "converged":
		s.h.fib.Converged(f[1])
	case "reset-counts":
		s.h.sync()
		s.dp.ResetCounts()
	case "writes":
		s.h.sync()
		if want, _ := strconv.Atoi(f[1]); s.dp.Writes() != want {
			t.Errorf("writes = %d, want %d", s.dp.Writes(), want)
		}
	case "expect":
		want, ok := s.files[f[1]]
		if !ok {
			t.Fatalf("no file %q in the archive", f[1])
		}

		s.h.expect(want)
	default:
		t.Fatalf("unknown command %q", f[0])
	}
}

// scriptRoute parses "SOURCE DISTANCE PREFIX METRIC HOPS...".
func scriptRoute(t *testing.T, f []string) fib.Route {
	t.Helper()

	if len(f) < 5 {
		t.Fatalf("update needs a source, distance, prefix, metric and next hops: %q", f)
	}

	distance, err := strconv.Atoi(f[1])
	if err != nil {
		t.Fatal(err)
	}

	metric, err := strconv.Atoi(f[3])
	if err != nil {
		t.Fatal(err)
	}

	r := fib.Route{Prefix: netip.MustParsePrefix(f[2]), Table: fib.TableMain, Metric: uint32(metric), Type: fib.TypeUnicast, Source: f[0], Distance: fib.Distance(distance)}
	if f[4] == "blackhole" {
		r.Type = fib.TypeBlackhole

		return r
	}

	for _, h := range f[4:] {
		gw, dev, _ := strings.Cut(h, "@")
		addr := netip.MustParseAddr(gw)
		r.NextHops.Members = append(r.NextHops.Members, nexthop.Member{
			Hop:    nexthop.Hop{Family: nexthop.FamilyOf(addr), Gateway: addr, Device: dev},
			Weight: 1,
		})
	}

	return r
}
