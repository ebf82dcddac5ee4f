// Package gobgptest runs real GoBGP speakers for tests: it builds the
// gobgpd and gobgp commands of the GoBGP module version fibd depends on,
// starts gobgpd inside test network namespaces, and injects paths through
// gobgpd's gRPC API.
//
// gobgpd's API listens on a Unix socket, which a test process reaches from
// the host's network namespace, while the BGP sessions run inside the
// namespace.
package gobgptest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"runtime/debug"
	"strings"
	"sync"
	"testing"
	"time"

	api "github.com/osrg/gobgp/v3/api"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/protobuf/types/known/anypb"

	"github.com/fibd/fibd/internal/netnstest"
)

// Module is the GoBGP module whose commands are built.
const Module = "github.com/osrg/gobgp/v3"

var (
	buildOnce sync.Once
	buildDir  string
	buildErr  error
)

// Binaries returns the paths of gobgpd and gobgp, built once per process
// from the GoBGP version in the test binary's build information and kept
// under os.TempDir() for later runs.
func Binaries(t testing.TB) (gobgpd, gobgp string) {
	t.Helper()

	buildOnce.Do(func() { buildDir, buildErr = build() })
	if buildErr != nil {
		t.Fatalf("build GoBGP commands: %v", buildErr)
	}

	return filepath.Join(buildDir, "gobgpd"), filepath.Join(buildDir, "gobgp")
}

func build() (string, error) {
	version, err := moduleVersion()
	if err != nil {
		return "", err
	}

	dir := filepath.Join(os.TempDir(), "fibd-gobgp-"+version)
	if ready(dir) {
		return dir, nil
	}

	// Build into a fresh directory and rename it into place, so that a
	// concurrent test binary never runs half-written commands.
	tmp, err := os.MkdirTemp(os.TempDir(), "fibd-gobgp-build-")
	if err != nil {
		return "", err
	}

	defer os.RemoveAll(tmp)

	cmd := exec.Command("go", "install", Module+"/cmd/gobgpd@"+version, Module+"/cmd/gobgp@"+version)
	cmd.Env = append(os.Environ(), "GOBIN="+tmp, "GOFLAGS=")
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("go install gobgpd and gobgp %s: %w: %s", version, err, out)
	}

	if err := os.Rename(tmp, dir); err != nil && !ready(dir) {
		return "", fmt.Errorf("move GoBGP commands to %s: %w", dir, err)
	}

	return dir, nil
}

func ready(dir string) bool {
	for _, name := range []string{"gobgpd", "gobgp"} {
		if _, err := os.Stat(filepath.Join(dir, name)); err != nil {
			return false
		}
	}

	return true
}

func moduleVersion() (string, error) {
	if info, ok := debug.ReadBuildInfo(); ok {
		for _, dep := range info.Deps {
			if dep.Path != Module {
				continue
			}

			if dep.Replace != nil {
				return "", fmt.Errorf("module %s is replaced by %s", Module, dep.Replace.Path)
			}

			return dep.Version, nil
		}
	}

	// Test binaries carry no dependency list: ask the go command about
	// the module of the working directory, which go test sets to the
	// package's directory.
	out, err := exec.Command("go", "list", "-m", "-f", "{{.Version}}", Module).Output()
	if err != nil {
		return "", fmt.Errorf("find the version of %s: go list -m: %w", Module, err)
	}

	return strings.TrimSpace(string(out)), nil
}

// Gobgpd is a gobgpd process in a test namespace.
type Gobgpd struct {
	// Socket is the path of the Unix socket of its gRPC API.
	Socket string

	// Client is a client of its gRPC API.
	Client api.GobgpApiClient

	cmd *exec.Cmd
	out *bytes.Buffer
	t   testing.TB
}

// StartGobgpd starts gobgpd inside ns with a YAML configuration and waits
// until its API responds. The process is killed when the test ends. A nil
// ns runs gobgpd in the test's own network namespace, which suits
// sessions over loopback addresses only.
func StartGobgpd(t testing.TB, ns *netnstest.NS, config string) *Gobgpd {
	t.Helper()

	gobgpd, _ := Binaries(t)
	dir, err := os.MkdirTemp("", "gobgpd-")
	if err != nil {
		t.Fatalf("create directory for gobgpd: %v", err)
	}

	t.Cleanup(func() { os.RemoveAll(dir) })

	file := filepath.Join(dir, "gobgpd.yaml")
	if err := os.WriteFile(file, []byte(config), 0o600); err != nil {
		t.Fatalf("write gobgpd configuration: %v", err)
	}

	g := &Gobgpd{Socket: filepath.Join(dir, "api.sock"), t: t, out: &bytes.Buffer{}}
	args := []string{"-f", file, "-t", "yaml", "--api-hosts", "unix://" + g.Socket, "--pprof-disable", "--log-plain", "-l", "info"}
	where := "the test's namespace"
	if ns != nil {
		g.cmd = ns.Command(gobgpd, args...)
		where = ns.Name
	} else {
		g.cmd = exec.Command(gobgpd, args...)
	}

	g.cmd.Stdout = g.out
	g.cmd.Stderr = g.out
	if err := g.cmd.Start(); err != nil {
		t.Fatalf("start gobgpd in %s: %v", where, err)
	}

	t.Cleanup(func() {
		g.Kill()
		if t.Failed() {
			t.Logf("output of gobgpd in %s:\n%s", where, g.out.String())
		}
	})

	conn, err := grpc.NewClient("unix://"+g.Socket, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatalf("connect to gobgpd: %v", err)
	}

	t.Cleanup(func() { conn.Close() })
	g.Client = api.NewGobgpApiClient(conn)
	g.waitReady()

	return g
}

func (g *Gobgpd) waitReady() {
	g.t.Helper()

	deadline := time.Now().Add(10 * time.Second)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		_, err := g.Client.GetBgp(ctx, &api.GetBgpRequest{})
		cancel()
		if err == nil {
			return
		}

		if time.Now().After(deadline) {
			g.t.Fatalf("gobgpd API %s not ready: %v\n%s", g.Socket, err, g.out.String())
		}

		time.Sleep(50 * time.Millisecond)
	}
}

// Kill kills the gobgpd process, by its pid, and waits for it.
func (g *Gobgpd) Kill() {
	if g.cmd.ProcessState != nil {
		return
	}

	_ = g.cmd.Process.Kill()
	_ = g.cmd.Wait()
}

// Announce adds one path per prefix with the given next hop to gobgpd's
// global RIB, which gobgpd advertises to its neighbors.
func (g *Gobgpd) Announce(ctx context.Context, nexthop netip.Addr, prefixes []netip.Prefix) error {
	stream, err := g.Client.AddPathStream(ctx)
	if err != nil {
		return fmt.Errorf("add paths: %w", err)
	}

	const chunk = 1000
	for start := 0; start < len(prefixes); start += chunk {
		paths := make([]*api.Path, 0, chunk)
		for _, p := range prefixes[start:min(start+chunk, len(prefixes))] {
			path, err := NewPath(p, nexthop)
			if err != nil {
				return err
			}

			paths = append(paths, path)
		}

		if err := stream.Send(&api.AddPathStreamRequest{TableType: api.TableType_GLOBAL, Paths: paths}); err != nil {
			return fmt.Errorf("add paths: %w", err)
		}
	}

	if _, err := stream.CloseAndRecv(); err != nil {
		return fmt.Errorf("add paths: %w", err)
	}

	return nil
}

// Withdraw removes the paths of prefixes from gobgpd's global RIB.
func (g *Gobgpd) Withdraw(ctx context.Context, nexthop netip.Addr, prefixes []netip.Prefix) error {
	for _, p := range prefixes {
		path, err := NewPath(p, nexthop)
		if err != nil {
			return err
		}

		if _, err := g.Client.DeletePath(ctx, &api.DeletePathRequest{TableType: api.TableType_GLOBAL, Family: path.Family, Path: path}); err != nil {
			return fmt.Errorf("withdraw %s: %w", p, err)
		}
	}

	return nil
}

// NewPath returns an IPv4 or IPv6 unicast path of origin IGP.
func NewPath(prefix netip.Prefix, nexthop netip.Addr) (*api.Path, error) {
	fam := &api.Family{Afi: api.Family_AFI_IP, Safi: api.Family_SAFI_UNICAST}
	if prefix.Addr().Is6() {
		fam.Afi = api.Family_AFI_IP6
	}

	nlri, err := anypb.New(&api.IPAddressPrefix{PrefixLen: uint32(prefix.Bits()), Prefix: prefix.Addr().String()})
	if err != nil {
		return nil, err
	}

	origin, err := anypb.New(&api.OriginAttribute{Origin: 0})
	if err != nil {
		return nil, err
	}

	var nh *anypb.Any
	if prefix.Addr().Is4() && nexthop.Is4() {
		nh, err = anypb.New(&api.NextHopAttribute{NextHop: nexthop.String()})
	} else {
		nh, err = anypb.New(&api.MpReachNLRIAttribute{Family: fam, NextHops: []string{nexthop.String()}, Nlris: []*anypb.Any{nlri}})
	}

	if err != nil {
		return nil, err
	}

	return &api.Path{Nlri: nlri, Pattrs: []*anypb.Any{origin, nh}, Family: fam}, nil
}

// Accepted returns the number of paths gobgpd accepted from all its
// neighbors.
func (g *Gobgpd) Accepted(ctx context.Context) (int, error) {
	stream, err := g.Client.ListPeer(ctx, &api.ListPeerRequest{})
	if err != nil {
		return 0, err
	}

	total := 0
	for {
		r, err := stream.Recv()
		if errors.Is(err, io.EOF) {
			return total, nil
		}

		if err != nil {
			return 0, err
		}

		for _, a := range r.GetPeer().GetAfiSafis() {
			total += int(a.GetState().GetAccepted())
		}
	}
}
