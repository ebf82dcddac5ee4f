package nexthop

import (
	"errors"
	"fmt"
	"net/netip"
	"strings"
	"syscall"
	"testing"
	"time"
)

var (
	hopA = Hop{Family: FamilyIPv4, Gateway: netip.MustParseAddr("198.51.100.1"), Device: "v0"}
	hopB = Hop{Family: FamilyIPv4, Gateway: netip.MustParseAddr("198.51.100.2"), Device: "v0"}
	hopC = Hop{Family: FamilyIPv4, Gateway: netip.MustParseAddr("203.0.113.3"), Device: "v1"}
)

func set(hops ...Hop) Set {
	var s Set
	for _, h := range hops {
		s.Members = append(s.Members, Member{Hop: h, Weight: 1})
	}

	return s.Canonical()
}

var testRange = Range{First: 100, Last: 199}

func newTable(t *testing.T) *Table {
	t.Helper()

	tbl, err := NewTable(testRange)
	if err != nil {
		t.Fatal(err)
	}

	return tbl
}

// apply reports success for every change and returns them as text, one
// per line.
func apply(tbl *Table, changes []Change) string {
	var b strings.Builder
	for _, c := range changes {
		tbl.Result(c, nil)
		fmt.Fprintf(&b, "%s %s\n", c.Kind, format(c.Object))
	}

	return b.String()
}

// sync applies Setup, then Teardown until it returns nothing.
func sync(tbl *Table) string {
	out := apply(tbl, tbl.Setup())
	for i := 0; i < 3; i++ {
		out += apply(tbl, tbl.Teardown())
	}

	return out
}

func format(o Object) string {
	if !o.IsGroup() {
		return fmt.Sprintf("%d %s", o.ID, o.Hop)
	}

	parts := make([]string, 0, len(o.Group))
	for _, m := range o.Group {
		parts = append(parts, fmt.Sprintf("%d*%d", m.ID, m.Weight))
	}

	return fmt.Sprintf("%d group %s", o.ID, strings.Join(parts, "/"))
}

func acquire(t *testing.T, tbl *Table, s Set, current Ref) Ref {
	t.Helper()

	r, err := tbl.Acquire(s, current)
	if err != nil {
		t.Fatalf("acquire %s: %v", s, err)
	}

	return r
}

func check(t *testing.T, got, want string) {
	t.Helper()

	if got != want {
		t.Errorf("changes:\n%s\nwant:\n%s", got, want)
	}
}

func TestAcquireSingleAndGroup(t *testing.T) {
	tbl := newTable(t)
	r1 := acquire(t, tbl, set(hopA), Ref{})
	r2 := acquire(t, tbl, set(hopA, hopB), Ref{})

	check(t, sync(tbl), ""+
		"create 100 via 198.51.100.1 dev v0\n"+
		"create 101 via 198.51.100.2 dev v0\n"+
		"create 102 group 100*1/101*1\n")

	if r1.ID() != 100 || r2.ID() != 102 {
		t.Errorf("ids = %d, %d, want 100, 102", r1.ID(), r2.ID())
	}

	ok, err := tbl.Installed(r2)
	if !ok || err != nil {
		t.Errorf("installed = %v, %v, want true, nil", ok, err)
	}
}

func TestAcquireIdempotent(t *testing.T) {
	tbl := newTable(t)
	r := acquire(t, tbl, set(hopA, hopB), Ref{})
	sync(tbl)

	again := acquire(t, tbl, set(hopB, hopA), r)
	tbl.Release(r)

	if !again.Same(r) {
		t.Errorf("acquire again = %d, want the same reference to %d", again.ID(), r.ID())
	}

	check(t, sync(tbl), "")
}

func TestAcquireSharedGroup(t *testing.T) {
	tbl := newTable(t)
	var refs []Ref
	for range 1000 {
		refs = append(refs, acquire(t, tbl, set(hopA, hopB), Ref{}))
	}

	check(t, sync(tbl), ""+
		"create 100 via 198.51.100.1 dev v0\n"+
		"create 101 via 198.51.100.2 dev v0\n"+
		"create 102 group 100*1/101*1\n")

	states := tbl.Objects()
	if got := states[2]; got.Refs != 1000 || got.Routes != 1000 {
		t.Errorf("group refs = %d, routes = %d, want 1000, 1000", got.Refs, got.Routes)
	}

	if got := states[0]; got.Refs != 1 || got.Routes != 0 {
		t.Errorf("hop refs = %d, routes = %d, want 1, 0", got.Refs, got.Routes)
	}
}

func TestReleaseDeletesAfterRoutes(t *testing.T) {
	tbl := newTable(t)
	r1 := acquire(t, tbl, set(hopA, hopB), Ref{})
	r2 := acquire(t, tbl, set(hopA, hopB), Ref{})
	sync(tbl)

	tbl.Release(r1)
	check(t, sync(tbl), "")

	tbl.Release(r2)
	if got := tbl.Setup(); len(got) != 0 {
		t.Errorf("setup after release = %v, want nothing", got)
	}

	// Groups go first, and their hops only once the group is gone.
	check(t, apply(tbl, tbl.Teardown()), "delete 102 group 100*1/101*1\n")
	check(t, apply(tbl, tbl.Teardown()), ""+
		"delete 100 via 198.51.100.1 dev v0\n"+
		"delete 101 via 198.51.100.2 dev v0\n")

	if n := len(tbl.Objects()); n != 0 {
		t.Errorf("objects left = %d, want 0", n)
	}
}

func TestReleaseBeforeCreate(t *testing.T) {
	tbl := newTable(t)
	r := acquire(t, tbl, set(hopA, hopB), Ref{})
	tbl.Release(r)

	check(t, sync(tbl), "")

	if n := len(tbl.Objects()); n != 0 {
		t.Errorf("objects left = %d, want 0", n)
	}
}

func TestRangeExhausted(t *testing.T) {
	tbl, err := NewTable(Range{First: 10, Last: 12})
	if err != nil {
		t.Fatal(err)
	}

	tbl.Reserve(11)
	acquire(t, tbl, set(hopA), Ref{})
	acquire(t, tbl, set(hopB), Ref{})

	_, err = tbl.Acquire(set(hopC), Ref{})
	if err == nil || !strings.Contains(err.Error(), "range 10-12 exhausted") {
		t.Fatalf("acquire with full range: %v, want an error naming range 10-12", err)
	}

	if n := len(tbl.Objects()); n != 2 {
		t.Errorf("objects = %d, want 2", n)
	}
}

func TestReserveSkipped(t *testing.T) {
	tbl := newTable(t)
	tbl.Reserve(100)
	tbl.Reserve(101)

	r := acquire(t, tbl, set(hopA), Ref{})
	if r.ID() != 102 {
		t.Errorf("id = %d, want 102 after reserved 100 and 101", r.ID())
	}
}

func TestCreateExistRenumbers(t *testing.T) {
	tbl := newTable(t)
	r := acquire(t, tbl, set(hopA, hopB), Ref{})

	for _, c := range tbl.Setup() {
		var err error
		switch c.Object.ID {
		case 100:
			err = fmt.Errorf("create nexthop 100: %w", syscall.EEXIST)
		case 102:
			err = fmt.Errorf("create nexthop 102: %w", syscall.EINVAL)
		}

		tbl.Result(c, err)
	}

	if ok, err := tbl.Installed(r); ok || err == nil {
		t.Errorf("installed = %v, %v, want false with the member's error", ok, err)
	}

	check(t, sync(tbl), ""+
		"create 103 via 198.51.100.1 dev v0\n"+
		"create 102 group 103*1/101*1\n")

	if ok, _ := tbl.Installed(r); !ok {
		t.Error("group not installed after the retry")
	}

	if id := acquire(t, tbl, set(hopC), Ref{}).ID(); id != 104 {
		t.Errorf("next id = %d, want 104 (100 is reserved)", id)
	}
}

func TestCreateFailureKept(t *testing.T) {
	tbl := newTable(t)
	r := acquire(t, tbl, set(hopA), Ref{})
	for _, c := range tbl.Setup() {
		tbl.Result(c, fmt.Errorf("create nexthop: %w", syscall.ENETDOWN))
	}

	ok, err := tbl.Installed(r)
	if ok || !errors.Is(err, syscall.ENETDOWN) {
		t.Errorf("installed = %v, %v, want false, ENETDOWN", ok, err)
	}

	check(t, sync(tbl), "create 100 via 198.51.100.1 dev v0\n")
}

func TestGatewayDownReplacesOncePerGroup(t *testing.T) {
	tbl := newTable(t)
	for range 10000 {
		acquire(t, tbl, set(hopA, hopB), Ref{})
		acquire(t, tbl, set(hopA, hopB, hopC), Ref{})
	}

	sync(tbl)

	affected := tbl.SetGatewayDown(hopB.Gateway, ReasonPeer, true)
	if len(affected) != 0 {
		t.Errorf("affected = %v, want none: every group keeps a live hop", affected)
	}

	check(t, sync(tbl), ""+
		"replace 102 group 100*1\n"+
		"replace 104 group 100*1/103*1\n")

	// A second reason changes nothing; clearing one of two neither.
	tbl.SetGatewayDown(hopB.Gateway, "unresolved", true)
	tbl.SetGatewayDown(hopB.Gateway, "unresolved", false)
	check(t, sync(tbl), "")

	if got := tbl.DownReasons(hopB); len(got) != 1 || got[0] != ReasonPeer {
		t.Errorf("down reasons = %v, want [%s]", got, ReasonPeer)
	}
}

func TestGatewayDownKeepsShrunkGroup(t *testing.T) {
	tbl := newTable(t)
	r := acquire(t, tbl, set(hopA, hopB), Ref{})
	sync(tbl)

	tbl.SetGatewayDown(hopB.Gateway, ReasonPeer, true)
	sync(tbl)

	// The update that follows a peer down finds the group already shrunk.
	moved := acquire(t, tbl, set(hopA), r)
	tbl.Release(r)

	if moved.ID() != r.ID() {
		t.Errorf("route moved to %d, want it kept on group %d", moved.ID(), r.ID())
	}

	check(t, sync(tbl), "")
}

func TestGatewayUpRestoresInPlace(t *testing.T) {
	tbl := newTable(t)
	for range 100 {
		acquire(t, tbl, set(hopA, hopB), Ref{})
	}

	sync(tbl)
	tbl.SetGatewayDown(hopB.Gateway, ReasonPeer, true)
	sync(tbl)

	affected := tbl.SetGatewayDown(hopB.Gateway, ReasonPeer, false)
	if len(affected) != 0 {
		t.Errorf("affected = %v, want none", affected)
	}

	check(t, sync(tbl), "replace 102 group 100*1/101*1\n")
}

func TestGatewayUpMixedDesires(t *testing.T) {
	tbl := newTable(t)
	full := acquire(t, tbl, set(hopA, hopB), Ref{})
	shrunk := acquire(t, tbl, set(hopA, hopB), Ref{})
	sync(tbl)

	tbl.SetGatewayDown(hopB.Gateway, ReasonPeer, true)
	sync(tbl)

	// One route now requests only A and stays on the shrunk group.
	next := acquire(t, tbl, set(hopA), shrunk)
	tbl.Release(shrunk)
	shrunk = next

	affected := tbl.SetGatewayDown(hopB.Gateway, ReasonPeer, false)
	if len(affected) != 1 || affected[0] != 102 {
		t.Fatalf("affected = %v, want [102]", affected)
	}

	// B stays out of the group while a route on it requests only A.
	check(t, apply(tbl, tbl.Setup()), "")

	stay := acquire(t, tbl, set(hopA, hopB), full)
	tbl.Release(full)
	full = stay

	kept := acquire(t, tbl, set(hopA), shrunk)
	tbl.Release(shrunk)
	shrunk = kept

	if full.ID() != 102 || shrunk.ID() != 102 {
		t.Errorf("ids = %d, %d, want both kept on 102", full.ID(), shrunk.ID())
	}

	check(t, sync(tbl), "")

	// The other route requests A and B again: the group is restored in
	// place.
	restored := acquire(t, tbl, set(hopA, hopB), shrunk)
	tbl.Release(shrunk)

	if restored.ID() != 102 {
		t.Errorf("id = %d, want the route kept on 102", restored.ID())
	}

	check(t, sync(tbl), "replace 102 group 100*1/101*1\n")

	if _, ok := tbl.RestoreDeadline(); ok {
		t.Error("a restore deadline is left after the restore")
	}
}

// shrinkAll takes hop B down under n routes on group 102 that request A
// and B, then moves every route's request to A alone, as BGP does after a
// peer down.
func shrinkAll(t *testing.T, tbl *Table, n int) []Ref {
	t.Helper()

	refs := make([]Ref, n)
	for i := range refs {
		refs[i] = acquire(t, tbl, set(hopA, hopB), Ref{})
	}

	sync(tbl)
	tbl.SetGatewayDown(hopB.Gateway, ReasonPeer, true)
	sync(tbl)

	for i, r := range refs {
		refs[i] = acquire(t, tbl, set(hopA), r)
		tbl.Release(r)
	}

	check(t, sync(tbl), "")

	return refs
}

func TestGatewayUpRestoresAfterUpdates(t *testing.T) {
	tbl := newTable(t)
	refs := shrinkAll(t, tbl, 100)

	if affected := tbl.SetGatewayDown(hopB.Gateway, ReasonPeer, false); len(affected) != 1 || affected[0] != 102 {
		t.Fatalf("affected = %v, want [102]", affected)
	}

	check(t, sync(tbl), "")

	// The routes request A and B again one by one: each stays on the
	// group, which B joins only after the last one.
	for i, r := range refs {
		refs[i] = acquire(t, tbl, set(hopA, hopB), r)
		tbl.Release(r)

		if refs[i].ID() != 102 {
			t.Fatalf("route %d moved to %d, want it kept on 102", i, refs[i].ID())
		}

		if i < len(refs)-1 {
			check(t, apply(tbl, tbl.Setup()), "")
		}
	}

	check(t, sync(tbl), "replace 102 group 100*1/101*1\n")

	// A route new to the set shares the restored group.
	if r := acquire(t, tbl, set(hopA, hopB), Ref{}); r.ID() != 102 {
		t.Errorf("new route on %d, want 102", r.ID())
	}
}

func TestGatewayUpExpiredMovesStragglers(t *testing.T) {
	tbl := newTable(t)
	tbl.SetRestoreWait(time.Minute)
	refs := shrinkAll(t, tbl, 10)

	tbl.SetGatewayDown(hopB.Gateway, ReasonPeer, false)
	sync(tbl)

	deadline, ok := tbl.RestoreDeadline()
	if !ok || time.Until(deadline) < 50*time.Second {
		t.Fatalf("restore deadline = %v, %t, want about a minute from now", deadline, ok)
	}

	if n := tbl.Masked(); n != 10 {
		t.Errorf("masked = %d, want 10 routes", n)
	}

	if ids := tbl.ExpireRestores(time.Now()); len(ids) != 0 {
		t.Errorf("expired before the deadline: %v", ids)
	}

	// Eight routes request A and B again; two never do.
	for i := range 8 {
		r := acquire(t, tbl, set(hopA, hopB), refs[i])
		tbl.Release(refs[i])
		refs[i] = r
	}

	check(t, sync(tbl), "")

	ids := tbl.ExpireRestores(deadline)
	if len(ids) != 1 || ids[0] != 102 {
		t.Fatalf("expired = %v, want [102]", ids)
	}

	// The routes that request A and B stay; the two others move to A's
	// object, and only then does B join the group.
	for i, r := range refs {
		want := set(hopA, hopB)
		if i >= 8 {
			want = set(hopA)
		}

		next := acquire(t, tbl, want, r)
		if i < 8 && next.ID() != 102 {
			t.Errorf("route %d moved to %d, want it kept on 102", i, next.ID())
		}

		if i >= 8 && next.ID() != 100 {
			t.Errorf("route %d on %d, want it moved to 100", i, next.ID())
		}

		if i == 8 {
			check(t, apply(tbl, tbl.Setup()), "")
		}

		tbl.Release(r)
		refs[i] = next
	}

	check(t, sync(tbl), "replace 102 group 100*1/101*1\n")

	if n := tbl.Masked(); n != 0 {
		t.Errorf("masked after the restore = %d, want 0", n)
	}
}

func TestGatewayDownWhileMasked(t *testing.T) {
	tbl := newTable(t)
	refs := shrinkAll(t, tbl, 3)

	tbl.SetGatewayDown(hopB.Gateway, ReasonPeer, false)
	check(t, sync(tbl), "")

	// B goes down again before the routes request it: nothing changes in
	// the kernel and nothing waits any more.
	tbl.SetGatewayDown(hopB.Gateway, ReasonPeer, true)
	check(t, sync(tbl), "")

	if _, ok := tbl.RestoreDeadline(); ok {
		t.Error("a restore deadline is left after B went down again")
	}

	// The group is interned again for A and B, and still forwards to A.
	for i, r := range refs {
		refs[i] = acquire(t, tbl, set(hopA, hopB), r)
		tbl.Release(r)

		if refs[i].ID() != 102 {
			t.Errorf("route %d on %d, want 102", i, refs[i].ID())
		}
	}

	check(t, sync(tbl), "")

	tbl.SetGatewayDown(hopB.Gateway, ReasonPeer, false)
	check(t, sync(tbl), "replace 102 group 100*1/101*1\n")
}

func TestMaskedGroupNotShared(t *testing.T) {
	tbl := newTable(t)
	shrinkAll(t, tbl, 2)

	tbl.SetGatewayDown(hopB.Gateway, ReasonPeer, false)
	sync(tbl)

	// A route new to A and B must forward to both at once: it gets a
	// group of its own rather than the masked one.
	r := acquire(t, tbl, set(hopA, hopB), Ref{})
	if r.ID() == 102 {
		t.Errorf("new route on masked group 102, want a fresh group")
	}

	check(t, sync(tbl), "create 103 group 100*1/101*1\n")
}

func TestAllHopsDown(t *testing.T) {
	tbl := newTable(t)
	r := acquire(t, tbl, set(hopA, hopB), Ref{})
	sync(tbl)

	tbl.SetGatewayDown(hopA.Gateway, ReasonPeer, true)
	affected := tbl.SetGatewayDown(hopB.Gateway, ReasonPeer, true)
	if len(affected) != 1 || affected[0] != 102 {
		t.Errorf("affected = %v, want [102]", affected)
	}

	// A group cannot be emptied: it keeps its members until the routes
	// leave.
	check(t, apply(tbl, tbl.Setup()), "")

	_, err := tbl.Acquire(set(hopA, hopB), r)
	if !errors.Is(err, ErrNoLiveHop) {
		t.Fatalf("acquire = %v, want ErrNoLiveHop", err)
	}

	tbl.Release(r)
	check(t, sync(tbl), ""+
		"delete 102 group 100*1/101*1\n"+
		"delete 100 via 198.51.100.1 dev v0\n"+
		"delete 101 via 198.51.100.2 dev v0\n")
}

func TestLinkDownFollowsKernel(t *testing.T) {
	tbl := newTable(t)
	single := acquire(t, tbl, set(hopA), Ref{})
	group := acquire(t, tbl, set(hopA, hopC), Ref{})
	sync(tbl)

	// The kernel dropped the hop on v0 and the routes on it, and removed
	// it from the group: nothing is written.
	affected := tbl.SetLinkDown("v0", true)
	if len(affected) != 1 || affected[0] != single.ID() {
		t.Errorf("affected = %v, want [%d]", affected, single.ID())
	}

	check(t, sync(tbl), "")

	if _, err := tbl.Acquire(set(hopA), single); !errors.Is(err, ErrNoLiveHop) {
		t.Errorf("acquire on a down link = %v, want ErrNoLiveHop", err)
	}

	tbl.SetLinkDown("v0", false)
	check(t, sync(tbl), ""+
		"create 100 via 198.51.100.1 dev v0\n"+
		"replace 102 group 100*1/101*1\n")

	if ok, _ := tbl.Installed(group); !ok {
		t.Error("group not installed after link up")
	}
}

func TestLostRecreated(t *testing.T) {
	tbl := newTable(t)
	acquire(t, tbl, set(hopA, hopB), Ref{})
	sync(tbl)

	affected := tbl.Lost(100)
	if len(affected) != 1 || affected[0] != 100 {
		t.Errorf("affected = %v, want [100]", affected)
	}

	check(t, sync(tbl), ""+
		"create 100 via 198.51.100.1 dev v0\n"+
		"replace 102 group 100*1/101*1\n")

	if got := tbl.Lost(999); got != nil {
		t.Errorf("lost unknown = %v, want nil", got)
	}
}

func TestReconcileAdoptsWithoutWrites(t *testing.T) {
	kernel := []Object{
		{ID: 150, Hop: hopA},
		{ID: 151, Hop: hopB},
		{ID: 152, Group: []GroupMember{{ID: 151, Weight: 1}, {ID: 150, Weight: 1}}},
		{ID: 153, Hop: hopC},
	}

	tbl := newTable(t)
	tbl.Reconcile(kernel)

	r := acquire(t, tbl, set(hopA, hopB), Ref{})
	if r.ID() != 152 {
		t.Errorf("acquire = %d, want adopted group 152", r.ID())
	}

	check(t, sync(tbl), "")

	// Once the hold ends, what no route uses goes.
	tbl.ReleaseHeld()
	check(t, sync(tbl), "delete 153 via 203.0.113.3 dev v1\n")
}

func TestReconcileRepairsDrift(t *testing.T) {
	tbl := newTable(t)
	acquire(t, tbl, set(hopA, hopB), Ref{})
	sync(tbl)

	// Someone deleted hop 101 and, with it, its membership.
	lost := tbl.Reconcile([]Object{
		{ID: 100, Hop: hopA},
		{ID: 102, Group: []GroupMember{{ID: 100, Weight: 1}}},
	})
	if len(lost) != 1 || lost[0] != 101 {
		t.Errorf("lost = %v, want [101]", lost)
	}

	check(t, sync(tbl), ""+
		"create 101 via 198.51.100.2 dev v0\n"+
		"replace 102 group 100*1/101*1\n")
}

func TestSetKeyDistinguishes(t *testing.T) {
	weighted := set(hopA, hopB)
	weighted.Members[0].Weight = 2

	onlink := hopA
	onlink.Onlink = true

	sets := []Set{set(hopA), set(hopB), set(hopA, hopB), weighted, set(onlink), {Members: set(hopA).Members, Resilient: &Resilient{Buckets: 8}}}
	seen := make(map[string]int)
	for i, s := range sets {
		k := string(AppendSetKey(nil, s))
		if j, ok := seen[k]; ok {
			t.Errorf("sets %d and %d have the same key", j, i)
		}

		seen[k] = i
	}
}

func TestResilientAndWeights(t *testing.T) {
	tbl := newTable(t)
	res := set(hopA)
	res.Resilient = &Resilient{Buckets: 64, IdleTimer: 10}

	weighted := set(hopA, hopB)
	weighted.Members[1].Weight = 3

	r1 := acquire(t, tbl, res, Ref{})
	r2 := acquire(t, tbl, weighted, Ref{})
	check(t, sync(tbl), ""+
		"create 100 via 198.51.100.1 dev v0\n"+
		"create 102 via 198.51.100.2 dev v0\n"+
		"create 101 group 100*1\n"+
		"create 103 group 100*1/102*3\n")

	states := tbl.Objects()
	if got := states[1].Object.Resilient; got == nil || got.Buckets != 64 {
		t.Errorf("group 101 resilient = %+v, want 64 buckets", got)
	}

	// A one-hop resilient group is not the plain hop, and other weights
	// are another group.
	if r1.ID() == 100 {
		t.Error("a resilient set was interned as a plain hop")
	}

	plain := set(hopA, hopB)
	if r := acquire(t, tbl, plain, r2); r.ID() == r2.ID() {
		t.Errorf("weights 1/1 kept group %d with weights 1/3", r2.ID())
	}
}

func TestReconcileReplacesChangedHop(t *testing.T) {
	tbl := newTable(t)
	acquire(t, tbl, set(hopA), Ref{})
	sync(tbl)

	tbl.Reconcile([]Object{{ID: 100, Hop: hopC}})
	check(t, sync(tbl), "replace 100 via 198.51.100.1 dev v0\n")
}

func TestDisownRenumbers(t *testing.T) {
	tbl := newTable(t)
	r := acquire(t, tbl, set(hopA, hopB), Ref{})
	check(t, sync(tbl), ""+
		"create 100 via 198.51.100.1 dev v0\n"+
		"create 101 via 198.51.100.2 dev v0\n"+
		"create 102 group 100*1/101*1\n")

	if !tbl.Disown(100) {
		t.Fatal("disown 100 = false, want true")
	}

	// The hop gets a new id and the group the new member; nothing touches
	// id 100 again.
	check(t, sync(tbl), ""+
		"create 103 via 198.51.100.1 dev v0\n"+
		"replace 102 group 103*1/101*1\n")

	if r.ID() != 102 {
		t.Errorf("group id = %d, want 102", r.ID())
	}

	if tbl.Disown(100) {
		t.Error("disown 100 again = true, want false")
	}

	if id := acquire(t, tbl, set(hopC), Ref{}).ID(); id != 104 {
		t.Errorf("next id = %d, want 104 (100 is reserved)", id)
	}
}

func TestRetireDirectHop(t *testing.T) {
	tbl := newTable(t)
	direct := acquire(t, tbl, set(hopA), Ref{})
	acquire(t, tbl, set(hopA, hopB), Ref{})
	acquire(t, tbl, set(hopC), Ref{})
	sync(tbl)

	// Only the hop that routes use directly and that went down is retired.
	tbl.SetGatewayDown(hopA.Gateway, ReasonPeer, true)
	retire := tbl.Retire()
	if len(retire) != 1 || retire[0].Kind != Delete || retire[0].Object.ID != direct.ID() {
		t.Fatalf("retire = %+v, want one delete of %d", retire, direct.ID())
	}

	gone := tbl.Retired(retire[0], nil)
	if len(gone) != 1 || gone[0] != direct.ID() {
		t.Errorf("retired = %v, want [%d]", gone, direct.ID())
	}

	// The kernel removed the member: the group needs no replace, and the
	// hop is not created while it is down.
	check(t, sync(tbl), "")

	tbl.SetGatewayDown(hopA.Gateway, ReasonPeer, false)
	check(t, sync(tbl), ""+
		"create 100 via 198.51.100.1 dev v0\n"+
		"replace 102 group 100*1/101*1\n")

	if len(tbl.Retire()) != 0 {
		t.Error("retire after the hop came back is not empty")
	}
}

// TestAcquireAlternatingSets acquires routes that take turns between
// three sets, passing the same members arrays each time, and a set whose
// members array the caller changes between two calls.
func TestAcquireAlternatingSets(t *testing.T) {
	tbl := newTable(t)
	sets := []Set{set(hopA, hopB), set(hopA, hopC), set(hopB, hopC)}
	refs := make([][]Ref, len(sets))
	for range 30 {
		for i, s := range sets {
			refs[i] = append(refs[i], acquire(t, tbl, s, Ref{}))
		}
	}

	for i := range sets {
		for _, r := range refs[i] {
			if !r.Same(refs[i][0]) {
				t.Errorf("set %d: reference to %d, want %d as the first route of the set", i, r.ID(), refs[i][0].ID())
			}
		}
	}

	if refs[0][0].Same(refs[1][0]) || refs[1][0].Same(refs[2][0]) || refs[0][0].Same(refs[2][0]) {
		t.Errorf("sets share an object: ids %d, %d, %d", refs[0][0].ID(), refs[1][0].ID(), refs[2][0].ID())
	}

	// The same array with other members is another set.
	changed := set(hopA, hopB)
	before := acquire(t, tbl, changed, Ref{})
	changed.Members[1].Hop = hopC
	after := acquire(t, tbl, changed, Ref{})
	if !before.Same(refs[0][0]) || !after.Same(refs[1][0]) {
		t.Errorf("changed array: references to %d then %d, want %d then %d", before.ID(), after.ID(), refs[0][0].ID(), refs[1][0].ID())
	}

	// A set whose every route left is interned anew.
	for _, r := range refs[2] {
		tbl.Release(r)
	}

	sync(tbl)
	again := acquire(t, tbl, sets[2], Ref{})
	if again.Same(refs[2][0]) || again.ID() == 0 {
		t.Errorf("set 2 after its routes left: reference to %d, want a new object", again.ID())
	}
}
