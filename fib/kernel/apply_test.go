package kernel

import (
	"context"
	"errors"
	"io/fs"
	"net/netip"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/fibd/fibd/fib"
	"github.com/fibd/fibd/fib/kernel/nlmsg"
	"github.com/fibd/fibd/nexthop"
)

// allKinds returns one op of every kind.
func allKinds() []fib.Op {
	res := &nexthop.Resilient{Buckets: 64, IdleTimer: 3, UnbalancedTimer: 7}
	onlink := hop4("198.51.100.2")
	onlink.Onlink = true

	return []fib.Op{
		nexthopOp(fib.OpNexthopCreate, nexthop.Object{ID: idV4a, Hop: onlink}),
		nexthopOp(fib.OpNexthopReplace, nexthop.Object{ID: idGroupV4, Group: []nexthop.GroupMember{{ID: idV4a, Weight: 3}, {ID: idV4b, Weight: 1}}, Resilient: res}),
		nexthopOp(fib.OpNexthopDelete, nexthop.Object{ID: idV4b}),
		routeOp(fib.OpRouteCreate, prefix4, 1000, 20, idV4a),
		routeOp(fib.OpRouteReplace, prefix6, fib.TableMain, 1024, idGroupV4),
		routeOp(fib.OpRouteDelete, prefix4, fib.TableMain, 20, idV4a),
	}
}

func TestApplyRequests(t *testing.T) {
	k, f := newTestKernel(t, Config{}, nil)
	ops := allKinds()
	if err := k.Apply(background(t), ops); err != nil {
		t.Fatalf("apply: %v", err)
	}

	const newFlags = nlmsg.NLM_F_REQUEST | nlmsg.NLM_F_CREATE
	want := []struct {
		typ   uint16
		flags uint16
	}{
		{nlmsg.RTM_NEWNEXTHOP, newFlags | nlmsg.NLM_F_EXCL},
		{nlmsg.RTM_NEWNEXTHOP, newFlags | nlmsg.NLM_F_REPLACE},
		{nlmsg.RTM_DELNEXTHOP, nlmsg.NLM_F_REQUEST},
		{nlmsg.RTM_NEWROUTE, newFlags | nlmsg.NLM_F_EXCL},
		{nlmsg.RTM_NEWROUTE, newFlags | nlmsg.NLM_F_REPLACE},
		{nlmsg.RTM_DELROUTE, nlmsg.NLM_F_REQUEST},
		{nlmsg.NLMSG_NOOP, nlmsg.NLM_F_REQUEST | nlmsg.NLM_F_ACK},
	}
	if len(f.requests) != len(want) {
		t.Fatalf("sent %d messages, want %d", len(f.requests), len(want))
	}

	for i, w := range want {
		h := f.requests[i].header
		if h.Type != w.typ || h.Flags != w.flags {
			t.Errorf("message %d: type %d flags %#x, want type %d flags %#x", i, h.Type, h.Flags, w.typ, w.flags)
		}

		if i > 0 && h.Seq <= f.requests[i-1].header.Seq {
			t.Errorf("message %d: sequence number %d does not increase", i, h.Seq)
		}
	}

	for i, op := range ops {
		if op.Err != nil {
			t.Errorf("op %d (%s): %v", i, op.Kind, op.Err)
		}
	}

	if f.sends != 1 {
		t.Errorf("sends = %d, want 1", f.sends)
	}
}

func TestApplyNexthopPayload(t *testing.T) {
	k, f := newTestKernel(t, Config{}, nil)
	if err := k.Apply(background(t), allKinds()[:3]); err != nil {
		t.Fatalf("apply: %v", err)
	}

	var hop, group, del nlmsg.Nexthop
	for i, n := range []*nlmsg.Nexthop{&hop, &group, &del} {
		if err := n.UnmarshalBinary(f.requests[i].payload); err != nil {
			t.Fatalf("decode message %d: %v", i, err)
		}
	}

	if hop.ID != uint32(idV4a) || hop.Protocol != DefaultProtocol || hop.Family != nlmsg.AF_INET ||
		hop.OIF != 2 || hop.Gateway != netip.MustParseAddr("198.51.100.2") || hop.Flags != nlmsg.RTNH_F_ONLINK {
		t.Errorf("hop = %+v, want id %d protocol 201 AF_INET oif 2 via 198.51.100.2 onlink", hop, idV4a)
	}

	if group.Family != nlmsg.AF_UNSPEC || group.Protocol != DefaultProtocol || group.GroupType != nlmsg.NEXTHOP_GRP_TYPE_RES ||
		len(group.Group) != 2 || group.Group[0].Weight != 3 || group.Group[1].Weight != 1 {
		t.Errorf("group = %+v, want a resilient AF_UNSPEC group with weights 3 and 1", group)
	}

	if r := group.Resilient; r == nil || r.Buckets != 64 || r.IdleTimer != 300 || r.UnbalancedTimer != 700 {
		t.Errorf("resilient = %+v, want 64 buckets and timers of 300 and 700 clock ticks", r)
	}

	if del.ID != uint32(idV4b) || del.OIF != 0 || del.Gateway.IsValid() {
		t.Errorf("delete = %+v, want only id %d", del, idV4b)
	}
}

func TestApplyRoutePayload(t *testing.T) {
	k, f := newTestKernel(t, Config{}, nil)
	if err := k.Apply(background(t), allKinds()[3:]); err != nil {
		t.Fatalf("apply: %v", err)
	}

	var create, replace, del nlmsg.Route
	for i, r := range []*nlmsg.Route{&create, &replace, &del} {
		if err := r.UnmarshalBinary(f.requests[i].payload); err != nil {
			t.Fatalf("decode message %d: %v", i, err)
		}

		if r.Protocol != DefaultProtocol {
			t.Errorf("message %d: protocol %d, want 201", i, r.Protocol)
		}
	}

	// Table 1000 does not fit rtm_table, so it is RT_TABLE_UNSPEC there.
	if rtmTable := f.requests[0].payload[4]; rtmTable != nlmsg.RT_TABLE_UNSPEC || create.Table != 1000 {
		t.Errorf("create: rtm_table %d and table %d, want 0 and RTA_TABLE 1000", rtmTable, create.Table)
	}

	if create.Prefix() != prefix4 || create.Priority != 20 || create.NHID != uint32(idV4a) ||
		create.Type != nlmsg.RTN_UNICAST || create.Scope != nlmsg.RT_SCOPE_UNIVERSE {
		t.Errorf("create = %+v, want %s metric 20 nhid %d unicast scope universe", create, prefix4, idV4a)
	}

	if replace.Family != nlmsg.AF_INET6 || replace.Prefix() != prefix6 || replace.Table != fib.TableMain || replace.NHID != uint32(idGroupV4) {
		t.Errorf("replace = %+v, want %s table 254 nhid %d", replace, prefix6, idGroupV4)
	}

	if del.Prefix() != prefix4 || del.Priority != 20 || del.Table != fib.TableMain || del.Scope != nlmsg.RT_SCOPE_NOWHERE ||
		del.Type != nlmsg.RTN_UNSPEC || del.NHID != 0 {
		t.Errorf("delete = %+v, want %s table 254 metric 20 scope nowhere type unspec without nhid", del, prefix4)
	}
}

func TestApplyRejectRoute(t *testing.T) {
	k, f := newTestKernel(t, Config{}, nil)
	op := routeOp(fib.OpRouteCreate, prefix4, fib.TableMain, 20, 0)
	op.Route.Type = fib.TypeBlackhole
	if err := k.Apply(background(t), []fib.Op{op}); err != nil {
		t.Fatalf("apply: %v", err)
	}

	var r nlmsg.Route
	if err := r.UnmarshalBinary(f.requests[0].payload); err != nil {
		t.Fatalf("decode: %v", err)
	}

	if r.Type != nlmsg.RTN_BLACKHOLE || r.NHID != 0 {
		t.Errorf("blackhole route = %+v, want type blackhole without nexthop", r)
	}
}

// failSeqs returns a handler that fails the requests at the given offsets
// from the first sequence number with errno and text.
func failing(fails map[int]syscall.Errno, text string) func(nlmsg.Header, []byte) (syscall.Errno, string) {
	first := uint32(0)

	return func(h nlmsg.Header, _ []byte) (syscall.Errno, string) {
		if first == 0 {
			first = h.Seq
		}

		if errno, ok := fails[int(h.Seq-first)]; ok {
			return errno, text
		}

		return 0, ""
	}
}

func TestApplyErrors(t *testing.T) {
	k, f := newTestKernel(t, Config{}, nil)
	f.handle = failing(map[int]syscall.Errno{
		0: syscall.EEXIST, // nexthop create
		2: syscall.ENOENT, // nexthop delete of a missing id
		3: syscall.ENOENT, // route create
		5: syscall.ESRCH,  // route delete of a missing route
	}, "Nexthop id already in use")

	ops := allKinds()
	if err := k.Apply(background(t), ops); err != nil {
		t.Fatalf("apply: %v", err)
	}

	if !errors.Is(ops[0].Err, fs.ErrExist) {
		t.Errorf("op 0: err = %v, want EEXIST", ops[0].Err)
	}

	want := "create nexthop 3000000001: file exists: Nexthop id already in use"
	if ops[0].Err == nil || ops[0].Err.Error() != want {
		t.Errorf("op 0: err = %v, want %q", ops[0].Err, want)
	}

	var opErr *OpError
	if !errors.As(ops[3].Err, &opErr) || opErr.Errno != syscall.ENOENT || opErr.Op != "create" ||
		opErr.Object != "route 192.0.2.0/24 table 1000 metric 20" {
		t.Errorf("op 3: err = %#v, want ENOENT on create route 192.0.2.0/24 table 1000 metric 20", ops[3].Err)
	}

	for _, i := range []int{1, 2, 4, 5} {
		if ops[i].Err != nil {
			t.Errorf("op %d (%s): %v, want success", i, ops[i].Kind, ops[i].Err)
		}
	}

	stats := k.Stats()
	if stats.Errors[syscall.EEXIST] != 1 || stats.Errors[syscall.ENOENT] != 1 || len(stats.Errors) != 2 {
		t.Errorf("Stats().Errors = %v, want one EEXIST and one ENOENT", stats.Errors)
	}

	if stats.Ops["route-create"] != 1 || stats.Batches != 1 || stats.Applies != 1 || stats.ApplyTime <= 0 {
		t.Errorf("Stats() = %+v, want one route-create in one batch of one Apply", stats)
	}
}

// manyRoutes returns n route creates in 203.0.113.0/24 at increasing
// metrics.
func manyRoutes(n int) []fib.Op {
	ops := make([]fib.Op, n)
	for i := range ops {
		ops[i] = routeOp(fib.OpRouteCreate, netip.MustParsePrefix("203.0.113.0/24"), fib.TableMain, uint32(i), idV4a)
	}

	return ops
}

func TestApplyBatches(t *testing.T) {
	k, f := newTestKernel(t, Config{MaxBatchBytes: 1000}, nil)
	f.handle = failing(map[int]syscall.Errno{3: syscall.EEXIST, 57: syscall.EINVAL}, "")

	ops := manyRoutes(100)
	if err := k.Apply(background(t), ops); err != nil {
		t.Fatalf("apply: %v", err)
	}

	if f.sends < 5 {
		t.Errorf("sends = %d, want one per 1000 bytes of requests", f.sends)
	}

	noops := 0
	for _, r := range f.requests {
		if r.header.Type == nlmsg.NLMSG_NOOP {
			noops++
		}
	}

	if noops != f.sends {
		t.Errorf("barriers = %d, want one per send (%d)", noops, f.sends)
	}

	// Op 3 found the route present; it is retried as fibd's own and
	// succeeds, since the fake kernel fails it only once.
	if got := k.Stats().OwnRecreated; got != 1 {
		t.Errorf("OwnRecreated = %d, want 1 (op 3)", got)
	}

	for i, op := range ops {
		switch i {
		case 57:
			if !errors.Is(op.Err, syscall.EINVAL) {
				t.Errorf("op 57: err = %v, want EINVAL", op.Err)
			}
		default:
			if op.Err != nil {
				t.Errorf("op %d: %v", i, op.Err)
			}
		}
	}
}

func TestApplyAckEach(t *testing.T) {
	k, f := newTestKernel(t, Config{AckEach: true}, nil)
	ops := manyRoutes(10)
	if err := k.Apply(background(t), ops); err != nil {
		t.Fatalf("apply: %v", err)
	}

	for i, r := range f.requests {
		if r.header.Flags&nlmsg.NLM_F_ACK == 0 {
			t.Errorf("message %d: no NLM_F_ACK", i)
		}
	}

	for i, op := range ops {
		if op.Err != nil {
			t.Errorf("op %d: %v", i, op.Err)
		}
	}
}

func TestApplyAckEachLost(t *testing.T) {
	k, f := newTestKernel(t, Config{AckEach: true}, nil)
	f.dropAck = k.seq + 3

	ops := manyRoutes(5)
	if err := k.Apply(background(t), ops); err != nil {
		t.Fatalf("apply: %v", err)
	}

	for i, op := range ops {
		if got := op.Err != nil; got != (i == 2) {
			t.Errorf("op %d: err = %v, want an error only for op 2", i, op.Err)
		}
	}
}

func TestApplySendFailure(t *testing.T) {
	k, f := newTestKernel(t, Config{MaxBatchBytes: 1000}, nil)
	f.failSend = 2
	f.failSendErr = syscall.ENOBUFS

	ops := manyRoutes(100)
	err := k.Apply(background(t), ops)
	if !errors.Is(err, syscall.ENOBUFS) {
		t.Fatalf("apply: err = %v, want ENOBUFS", err)
	}

	checkUnconfirmed(t, ops, syscall.ENOBUFS, true)
	if k.Stats().SocketErrors != 1 {
		t.Errorf("Stats().SocketErrors = %d, want 1", k.Stats().SocketErrors)
	}
}

// checkUnconfirmed checks that every op after the first failed one failed
// with want, and with firstBatch that the ops of the first batch succeeded.
func checkUnconfirmed(t *testing.T, ops []fib.Op, want error, firstBatch bool) {
	t.Helper()

	firstFailed := -1
	for i, op := range ops {
		if op.Err != nil && firstFailed < 0 {
			firstFailed = i
		}

		if firstFailed >= 0 && !errors.Is(op.Err, want) {
			t.Fatalf("op %d after a failure: err = %v, want %v", i, op.Err, want)
		}
	}

	if firstFailed < 0 || firstBatch && firstFailed == 0 {
		t.Errorf("first failed op = %d, want the first batch to succeed and later ones to fail", firstFailed)
	}
}

func TestApplyReceiveFailure(t *testing.T) {
	k, f := newTestKernel(t, Config{MaxBatchBytes: 1000}, nil)
	sent := 0
	f.handle = func(h nlmsg.Header, _ []byte) (syscall.Errno, string) {
		sent++
		if sent == 30 {
			// The replies of the second batch overrun the receive buffer.
			f.recvErr = syscall.ENOBUFS
		}

		return 0, ""
	}

	ops := manyRoutes(100)
	err := k.Apply(background(t), ops)
	if !errors.Is(err, syscall.ENOBUFS) {
		t.Fatalf("apply: err = %v, want ENOBUFS", err)
	}

	checkUnconfirmed(t, ops, syscall.ENOBUFS, false)
}

func TestApplyCanceled(t *testing.T) {
	k, _ := newTestKernel(t, Config{}, nil)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()

	ops := manyRoutes(3)
	if err := k.Apply(ctx, ops); !errors.Is(err, context.Canceled) {
		t.Fatalf("apply: err = %v, want context.Canceled", err)
	}

	for i, op := range ops {
		if !errors.Is(op.Err, context.Canceled) {
			t.Errorf("op %d: err = %v, want context.Canceled", i, op.Err)
		}
	}
}

func TestApplyStaleReplies(t *testing.T) {
	k, f := newTestKernel(t, Config{}, nil)

	// A reply left over from an earlier Apply whose reader failed.
	f.queue = append(f.queue, errorMessage(nlmsg.Header{Type: nlmsg.RTM_NEWROUTE, Seq: k.seq - 5}, syscall.EEXIST, ""))
	ops := manyRoutes(3)
	if err := k.Apply(background(t), ops); err != nil {
		t.Fatalf("apply: %v", err)
	}

	for i, op := range ops {
		if op.Err != nil {
			t.Errorf("op %d: %v", i, op.Err)
		}
	}
}

func TestApplyUnknownDevice(t *testing.T) {
	dumps := 0
	k, f := newTestKernel(t, Config{}, nil)
	list := k.links.list
	k.links.list = func(ctx context.Context) (map[string]uint32, error) {
		dumps++

		return list(ctx)
	}

	bad := hop4("198.51.100.2")
	bad.Device = "v9"
	ops := []fib.Op{
		nexthopOp(fib.OpNexthopCreate, nexthop.Object{ID: idV4a, Hop: bad}),
		nexthopOp(fib.OpNexthopCreate, nexthop.Object{ID: idV4b, Hop: hop4("198.51.100.3")}),
		nexthopOp(fib.OpNexthopCreate, nexthop.Object{ID: idV6a, Hop: bad}),
	}
	if err := k.Apply(background(t), ops); err != nil {
		t.Fatalf("apply: %v", err)
	}

	for _, i := range []int{0, 2} {
		if err := ops[i].Err; !errors.Is(err, syscall.ENODEV) || !strings.Contains(err.Error(), "device v9 not found") {
			t.Errorf("op %d: err = %v, want ENODEV naming device v9", i, err)
		}
	}

	if ops[1].Err != nil {
		t.Errorf("op 1: %v", ops[1].Err)
	}

	if dumps != 1 {
		t.Errorf("link dumps = %d, want 1", dumps)
	}

	if len(f.requests) != 2 {
		t.Errorf("sent %d messages, want the valid nexthop and the barrier", len(f.requests))
	}
}

func TestApplyHopWithoutDevice(t *testing.T) {
	k, _ := newTestKernel(t, Config{}, nil)
	hop := hop4("198.51.100.2")
	hop.Device = ""
	ops := []fib.Op{nexthopOp(fib.OpNexthopCreate, nexthop.Object{ID: idV4a, Hop: hop})}
	if err := k.Apply(background(t), ops); err != nil {
		t.Fatalf("apply: %v", err)
	}

	if err := ops[0].Err; err == nil || !strings.Contains(err.Error(), "resolve") {
		t.Errorf("err = %v, want an error asking to resolve the hop", err)
	}
}

func TestApplyLostBarrier(t *testing.T) {
	k, f := newTestKernel(t, Config{}, nil)
	ops := manyRoutes(3)
	f.dropAck = k.seq + uint32(len(ops)) + 1

	ctx, cancel := context.WithTimeout(background(t), 50*time.Millisecond)
	defer cancel()

	if err := k.Apply(ctx, ops); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("apply: err = %v, want context.DeadlineExceeded", err)
	}

	for i, op := range ops {
		if op.Err == nil {
			t.Errorf("op %d succeeded without its barrier", i)
		}
	}

	// The next Apply is not affected.
	f.dropAck = 0
	if err := k.Apply(background(t), manyRoutes(3)); err != nil {
		t.Errorf("apply after a lost barrier: %v", err)
	}
}

func TestApplyBarrierTimeout(t *testing.T) {
	k, f := newTestKernel(t, Config{}, nil)
	k.replyTimeout = 50 * time.Millisecond
	ops := manyRoutes(3)
	f.dropAck = k.seq + uint32(len(ops)) + 1

	err := k.Apply(background(t), ops)
	if err == nil || !strings.Contains(err.Error(), "barrier") {
		t.Fatalf("apply: err = %v, want a barrier timeout", err)
	}

	for i, op := range ops {
		if op.Err == nil {
			t.Errorf("op %d succeeded without its barrier", i)
		}
	}
}

func TestApplyInvalidPrefix(t *testing.T) {
	k, f := newTestKernel(t, Config{}, nil)
	ops := []fib.Op{routeOp(fib.OpRouteCreate, netip.Prefix{}, fib.TableMain, 20, idV4a)}
	if err := k.Apply(background(t), ops); err != nil {
		t.Fatalf("apply: %v", err)
	}

	if !errors.Is(ops[0].Err, syscall.EINVAL) {
		t.Errorf("err = %v, want EINVAL", ops[0].Err)
	}

	if len(f.requests) != 1 {
		t.Errorf("sent %d messages, want only the barrier", len(f.requests))
	}
}

// TestReplyGuardLateCall checks that the guard's interrupt either comes
// before disarm, which then reports it, or not at all: a timer function
// that starts as disarm runs must not interrupt the next wait.
func TestReplyGuardLateCall(t *testing.T) {
	for round := range 2000 {
		var g replyGuard
		var calls atomic.Int32
		g.arm(time.Duration(round%50)*time.Microsecond, func() { calls.Add(1) })
		time.Sleep(time.Duration(round%40) * time.Microsecond)
		fired := g.disarm()

		// A late call would land now.
		time.Sleep(100 * time.Microsecond)
		if n := calls.Load(); n > 1 || fired != (n == 1) {
			t.Fatalf("round %d: disarm reported %t, interrupt called %d times", round, fired, n)
		}
	}
}
