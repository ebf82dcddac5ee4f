package kernel

import (
	"context"
	"net/netip"
	"testing"
	"time"

	"github.com/fibd/fibd/fib"
	"github.com/fibd/fibd/internal/netnstest"
	"github.com/fibd/fibd/nexthop"
)

// lab is a namespace with a veth pair v0 (198.51.100.1/24,
// 2001:db8:1::1/64) to a peer namespace (198.51.100.2, 2001:db8:1::2), and
// a Kernel opened in the first namespace.
type lab struct {
	ns   *netnstest.NS
	peer *netnstest.NS
	k    *Kernel
}

func newLab(t testing.TB, cfg Config) *lab {
	t.Helper()

	ns := netnstest.New(t)
	peer := netnstest.New(t)
	ns.Veth("v0", peer, "v1")
	ns.IP("addr", "add", "198.51.100.1/24", "dev", "v0")
	ns.IP("addr", "add", "2001:db8:1::1/64", "dev", "v0", "nodad")
	peer.IP("addr", "add", "198.51.100.2/24", "dev", "v1")
	peer.IP("addr", "add", "2001:db8:1::2/64", "dev", "v1", "nodad")

	cfg.NetNS = ns.FD()
	k, err := Open(cfg)
	if err != nil {
		t.Fatalf("open kernel: %v", err)
	}

	t.Cleanup(func() { k.Close() })

	return &lab{ns: ns, peer: peer, k: k}
}

// foreign opens a second Kernel on the lab's namespace with another
// protocol, to install routes that fibd does not own.
func (l *lab) foreign(t testing.TB, cfg Config) *Kernel {
	t.Helper()

	cfg.NetNS = l.ns.FD()
	cfg.Protocol = 199
	k, err := Open(cfg)
	if err != nil {
		t.Fatalf("open kernel of another protocol: %v", err)
	}

	t.Cleanup(func() { k.Close() })

	return k
}

// ipRoute is a route as `ip -j route` prints it.
type ipRoute struct {
	Type    string `json:"type"`
	Dst     string `json:"dst"`
	NHID    uint32 `json:"nhid"`
	Table   string `json:"table"`
	Metric  uint32 `json:"metric"`
	Gateway string `json:"gateway"`
	Dev     string `json:"dev"`
	Via     *struct {
		Family string `json:"family"`
		Host   string `json:"host"`
	} `json:"via"`
}

// ipNexthop is a nexthop object as `ip -j nexthop` prints it.
type ipNexthop struct {
	ID       uint32 `json:"id"`
	Gateway  string `json:"gateway"`
	Dev      string `json:"dev"`
	Protocol string `json:"protocol"`
	Group    []struct {
		ID     uint32 `json:"id"`
		Weight uint32 `json:"weight"`
	} `json:"group"`
}

// ipRoutes returns fibd's routes of both families in all tables, as
// `ip -j route` prints them.
func (l *lab) ipRoutes(t testing.TB) []ipRoute {
	t.Helper()

	var routes []ipRoute
	l.ns.JSON(&routes, "route", "show", "proto", "201", "table", "all")

	return routes
}

func (l *lab) ipNexthops(t testing.TB) map[uint32]ipNexthop {
	t.Helper()

	var list []ipNexthop
	l.ns.JSON(&list, "nexthop", "show")
	byID := make(map[uint32]ipNexthop, len(list))
	for _, n := range list {
		byID[n.ID] = n
	}

	return byID
}

func hop4(gw string) nexthop.Hop {
	return nexthop.Hop{Family: nexthop.FamilyIPv4, Gateway: netip.MustParseAddr(gw), Device: "v0"}
}

func hop6(gw string) nexthop.Hop {
	return nexthop.Hop{Family: nexthop.FamilyIPv6, Gateway: netip.MustParseAddr(gw), Device: "v0"}
}

func nexthopOp(kind fib.OpKind, o nexthop.Object) fib.Op {
	return fib.Op{Kind: kind, Nexthop: o}
}

func routeOp(kind fib.OpKind, prefix netip.Prefix, table, metric uint32, id nexthop.ID) fib.Op {
	return fib.Op{Kind: kind, Route: fib.KernelRoute{
		Table:   table,
		Prefix:  prefix,
		Metric:  metric,
		Type:    fib.TypeUnicast,
		Nexthop: id,
	}}
}

func testContext(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	t.Cleanup(cancel)

	return ctx
}

// mustApply applies ops and fails the test if Apply or any op fails.
func mustApply(t testing.TB, k *Kernel, ops []fib.Op) {
	t.Helper()

	if err := k.Apply(testContext(t), ops); err != nil {
		t.Fatalf("apply: %v", err)
	}

	for i, op := range ops {
		if op.Err != nil {
			t.Fatalf("op %d (%s): %v", i, op.Kind, op.Err)
		}
	}
}

func mustDump(t testing.TB, k *Kernel) fib.Snapshot {
	t.Helper()

	s, err := k.Dump(testContext(t))
	if err != nil {
		t.Fatalf("dump: %v", err)
	}

	return s
}
