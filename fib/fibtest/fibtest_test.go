package fibtest

import (
	"context"
	"errors"
	"net/netip"
	"syscall"
	"testing"

	"github.com/fibd/fibd/fib"
	"github.com/fibd/fibd/nexthop"
)

var (
	hopA = nexthop.Hop{Family: nexthop.FamilyIPv4, Gateway: netip.MustParseAddr("198.51.100.1"), Device: "v0"}
	hopB = nexthop.Hop{Family: nexthop.FamilyIPv4, Gateway: netip.MustParseAddr("198.51.100.2"), Device: "v1"}
)

func kernelRoute(prefix string, id nexthop.ID) fib.KernelRoute {
	return fib.KernelRoute{Table: fib.TableMain, Prefix: netip.MustParsePrefix(prefix), Metric: 20, Type: fib.TypeUnicast, Nexthop: id}
}

func group(id nexthop.ID, members ...nexthop.ID) nexthop.Object {
	o := nexthop.Object{ID: id}
	for _, m := range members {
		o.Group = append(o.Group, nexthop.GroupMember{ID: m, Weight: 1})
	}

	return o
}

func apply(t *testing.T, d *Dataplane, ops ...fib.Op) []error {
	t.Helper()

	if err := d.Apply(context.Background(), ops); err != nil {
		t.Fatal(err)
	}

	errs := make([]error, len(ops))
	for i, op := range ops {
		errs[i] = op.Err
	}

	return errs
}

func setup(t *testing.T) *Dataplane {
	t.Helper()

	d := &Dataplane{}
	errs := apply(t, d,
		fib.Op{Kind: fib.OpNexthopCreate, Nexthop: nexthop.Object{ID: 1, Hop: hopA}},
		fib.Op{Kind: fib.OpNexthopCreate, Nexthop: nexthop.Object{ID: 2, Hop: hopB}},
		fib.Op{Kind: fib.OpNexthopCreate, Nexthop: group(3, 1, 2)},
		fib.Op{Kind: fib.OpRouteCreate, Route: kernelRoute("192.0.2.0/25", 3)},
		fib.Op{Kind: fib.OpRouteCreate, Route: kernelRoute("192.0.2.128/25", 1)},
	)

	for i, err := range errs {
		if err != nil {
			t.Fatalf("setup op %d: %v", i, err)
		}
	}

	return d
}

func TestRender(t *testing.T) {
	d := setup(t)
	want := `id 1 via 198.51.100.1 dev v0 proto fibd
id 2 via 198.51.100.2 dev v1 proto fibd
id 3 group 1/2 proto fibd
192.0.2.0/25 nhid 3 proto fibd metric 20
192.0.2.128/25 nhid 1 proto fibd metric 20
`
	if got := d.Render(); got != want {
		t.Errorf("render:\n%s\nwant:\n%s", got, want)
	}
}

func TestKernelRules(t *testing.T) {
	tests := []struct {
		name string
		op   fib.Op
		want error
	}{
		{"route exists", fib.Op{Kind: fib.OpRouteCreate, Route: kernelRoute("192.0.2.0/25", 1)}, syscall.EEXIST},
		{"route replace", fib.Op{Kind: fib.OpRouteReplace, Route: kernelRoute("192.0.2.0/25", 1)}, nil},
		{"missing nexthop", fib.Op{Kind: fib.OpRouteCreate, Route: kernelRoute("203.0.113.0/24", 9)}, syscall.EINVAL},
		{"nexthop exists", fib.Op{Kind: fib.OpNexthopCreate, Nexthop: nexthop.Object{ID: 1, Hop: hopB}}, syscall.EEXIST},
		{"missing member", fib.Op{Kind: fib.OpNexthopCreate, Nexthop: group(4, 1, 9)}, syscall.EINVAL},
		{"group member", fib.Op{Kind: fib.OpNexthopCreate, Nexthop: group(4, 3)}, syscall.EINVAL},
		{"replace missing", fib.Op{Kind: fib.OpNexthopReplace, Nexthop: group(9, 1)}, syscall.ENOENT},
		{"delete missing route", fib.Op{Kind: fib.OpRouteDelete, Route: kernelRoute("203.0.113.0/24", 1)}, nil},
		{"delete missing nexthop", fib.Op{Kind: fib.OpNexthopDelete, Nexthop: nexthop.Object{ID: 9}}, nil},
	}

	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := apply(t, setup(t), tt.op)[0]
			if tt.want == nil && err != nil || tt.want != nil && !errors.Is(err, tt.want) {
				t.Errorf("%s = %v, want %v", tt.op.Kind, err, tt.want)
			}
		})
	}
}

func TestDeleteCascades(t *testing.T) {
	d := setup(t)
	if err := d.DeleteNexthop(1); err != nil {
		t.Fatal(err)
	}

	want := `id 2 via 198.51.100.2 dev v1 proto fibd
id 3 group 2 proto fibd
192.0.2.0/25 nhid 3 proto fibd metric 20
`
	if got := d.Render(); got != want {
		t.Errorf("after deleting hop 1:\n%s\nwant:\n%s", got, want)
	}

	if err := d.DeleteNexthop(2); err != nil {
		t.Fatal(err)
	}

	if got := d.Render(); got != "" {
		t.Errorf("after deleting the last member:\n%s\nwant nothing", got)
	}
}

func TestLinkDown(t *testing.T) {
	d := setup(t)
	d.SetLinkDown("v0", true)

	want := `id 2 via 198.51.100.2 dev v1 proto fibd
id 3 group 2 proto fibd
192.0.2.0/25 nhid 3 proto fibd metric 20
`
	if got := d.Render(); got != want {
		t.Errorf("after link down:\n%s\nwant:\n%s", got, want)
	}

	err := apply(t, d, fib.Op{Kind: fib.OpNexthopCreate, Nexthop: nexthop.Object{ID: 1, Hop: hopA}})[0]
	if !errors.Is(err, syscall.ENETDOWN) {
		t.Errorf("create on a down link = %v, want ENETDOWN", err)
	}
}

func TestFailNext(t *testing.T) {
	d := setup(t)
	d.FailNext(fib.OpRouteReplace, syscall.ENOMEM)

	op := fib.Op{Kind: fib.OpRouteReplace, Route: kernelRoute("192.0.2.0/25", 1)}
	if err := apply(t, d, op)[0]; !errors.Is(err, syscall.ENOMEM) {
		t.Errorf("first replace = %v, want ENOMEM", err)
	}

	if err := apply(t, d, op)[0]; err != nil {
		t.Errorf("second replace = %v, want success", err)
	}
}

func TestSnapshot(t *testing.T) {
	d := setup(t)
	if err := d.AddNexthop(nexthop.Object{ID: 7, Hop: hopB}, "zebra"); err != nil {
		t.Fatal(err)
	}

	if err := d.AddRoute(fib.KernelRoute{Table: fib.TableMain, Prefix: netip.MustParsePrefix("203.0.113.0/24"), Type: fib.TypeBlackhole}, "zebra"); err != nil {
		t.Fatal(err)
	}

	s := d.Snapshot()
	if len(s.Nexthops) != 3 || len(s.Routes) != 2 || len(s.ForeignNexthops) != 1 || s.ForeignNexthops[0] != 7 {
		t.Errorf("snapshot = %+v, want 3 objects, 2 routes and foreign id 7", s)
	}
}
