package gobgp_test

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"os"
	"strconv"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/fibd/fibd/fib"
	"github.com/fibd/fibd/gobgp"
	"github.com/fibd/fibd/gobgp/gobgptest"
)

// noopSink accepts every call and does nothing.
type noopSink struct{}

func (noopSink) Update(routes []fib.Route) []error       { return nil }
func (noopSink) Withdraw(source string, keys []fib.Key)  {}
func (noopSink) SetGatewayDown(netip.Addr, string, bool) {}
func (noopSink) Converged(source string)                 {}

// benchPrefixes returns the number of prefixes of BenchmarkEmbeddedReceive:
// $FIBD_GOBGP_BENCH_PREFIXES, or 100,000.
func benchPrefixes(b *testing.B) int {
	s := os.Getenv("FIBD_GOBGP_BENCH_PREFIXES")
	if s == "" {
		return 100000
	}

	n, err := strconv.Atoi(s)
	if err != nil || n < 1 || n > 1<<24 {
		b.Fatalf("invalid FIBD_GOBGP_BENCH_PREFIXES %q: want 1 to %d", s, 1<<24)
	}

	return n
}

// benchPrefixList returns n IPv6 /64 prefixes under 2001:db8::/32.
func benchPrefixList(n int) []netip.Prefix {
	out := make([]netip.Prefix, n)
	for i := range out {
		out[i] = netip.MustParsePrefix(fmt.Sprintf("2001:db8:%x:%x::/64", i>>16, i&0xffff))
	}

	return out
}

// freePort returns a TCP port that is free on 127.0.0.1 and 127.0.0.2.
func freePort(b *testing.B) int {
	for {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			b.Fatalf("find a free port: %v", err)
		}

		port := ln.Addr().(*net.TCPAddr).Port
		ln.Close()

		ln2, err := net.Listen("tcp", fmt.Sprintf("127.0.0.2:%d", port))
		if err == nil {
			ln2.Close()

			return port
		}
	}
}

// loopbackYAML is a speaker on local, peering with remote over loopback
// for IPv6 unicast.
func loopbackYAML(as, peerAS int, local, remote string, port, remotePort int, passive bool) string {
	return fmt.Sprintf(`global:
  config:
    as: %d
    router-id: %s
    port: %d
    local-address-list: ["%s"]
neighbors:
  - config:
      neighbor-address: "%s"
      peer-as: %d
    transport:
      config:
        local-address: "%s"
        remote-port: %d
        passive-mode: %t
    afi-safis:
      - config:
          afi-safi-name: ipv6-unicast
`, as, local, port, local, remote, peerAS, local, remotePort, passive)
}

// progressSink counts the routes offered to the sink it wraps, so that
// the benchmark can poll without asking GoBGP, whose neighbor listing
// walks the whole Adj-RIB-In.
type progressSink struct {
	gobgp.Sink
	offered atomic.Int64
	first   atomic.Int64 // UnixNano of the first offer
}

func (p *progressSink) Update(routes []fib.Route) []error {
	p.first.CompareAndSwap(0, time.Now().UnixNano())
	p.offered.Add(int64(len(routes)))

	return p.Sink.Update(routes)
}

// BenchmarkEmbeddedReceive measures how fast the embedded speaker turns a
// full table from a gobgpd peer into routes, with a sink that does
// nothing and with one that keeps the routes in a map. Both speakers run
// in the test's network namespace and peer over 127.0.0.1 and 127.0.0.2;
// each iteration starts a fresh gobgpd with the table loaded and times
// from the first route offered to the last, leaving out the session setup.
func BenchmarkEmbeddedReceive(b *testing.B) {
	gobgptest.Binaries(b)
	n := benchPrefixes(b)
	ps := benchPrefixList(n)

	for _, tc := range []struct {
		name string
		sink func() gobgp.Sink
	}{
		{"noop", func() gobgp.Sink { return noopSink{} }},
		{"count", func() gobgp.Sink { return newCountSink() }},
	} {
		b.Run(fmt.Sprintf("%s/%d", tc.name, n), func(b *testing.B) {
			var total, cpu time.Duration
			for range b.N {
				wall, used := receiveOnce(b, ps, tc.sink())
				total += wall
				cpu += used
			}

			b.ReportMetric(float64(n)*float64(b.N)/total.Seconds(), "prefixes/s")
			b.ReportMetric(float64(cpu.Nanoseconds())/float64(n*b.N), "cpu-ns/prefix")
			b.ReportMetric(0, "ns/op")
		})
	}
}

// receiveOnce returns the wall time from the first route to the last and
// the CPU time the process (GoBGP and the source) used in that time.
func receiveOnce(b *testing.B, ps []netip.Prefix, sink gobgp.Sink) (wall, cpu time.Duration) {
	b.StopTimer()
	defer b.StartTimer()

	peerPort, routerPort := freePort(b), freePort(b)
	peer := gobgptest.StartGobgpd(b, nil, loopbackYAML(65001, 65000, "127.0.0.2", "127.0.0.1", peerPort, routerPort, true))
	defer peer.Kill()

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()

	if err := peer.Announce(ctx, netip.MustParseAddr("2001:db8::1"), ps); err != nil {
		b.Fatalf("announce: %v", err)
	}

	var doc yaml.Node
	if err := yaml.Unmarshal([]byte(loopbackYAML(65000, 65001, "127.0.0.1", "127.0.0.2", routerPort, peerPort, false)), &doc); err != nil {
		b.Fatalf("parse configuration: %v", err)
	}

	progress := &progressSink{Sink: sink}
	src, err := gobgp.New(gobgp.Options{Config: doc.Content[0], ConvergenceTimeout: time.Hour}, progress)
	if err != nil {
		b.Fatalf("New: %v", err)
	}

	runCtx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)

	b.StartTimer()
	before := processCPU(b)
	go func() { done <- src.Run(runCtx) }()

	for progress.offered.Load() < int64(len(ps)) {
		if ctx.Err() != nil {
			b.Fatalf("timed out: %d of %d routes", progress.offered.Load(), len(ps))
		}

		time.Sleep(time.Millisecond)
	}

	wall = time.Since(time.Unix(0, progress.first.Load()))
	cpu = processCPU(b) - before
	b.StopTimer()

	stop()
	if err := <-done; err != nil {
		b.Fatalf("Run: %v", err)
	}

	return wall, cpu
}

// processCPU returns the user and system CPU time of the process so far.
// Unlike wall time it does not grow when other processes load the
// machine.
func processCPU(b *testing.B) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatalf("getrusage: %v", err)
	}

	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
