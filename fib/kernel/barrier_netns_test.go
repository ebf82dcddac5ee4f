package kernel

import (
	"syscall"
	"testing"

	"github.com/fibd/fibd/fib"
	"github.com/fibd/fibd/fib/kernel/nlmsg"
)

// TestNetnsBarrierOrder checks the kernel behaviour that Apply relies on.
// In one sendmsg, a message without NLM_F_ACK that succeeds gets no reply
// and each failure gets an error with its sequence number. An NLMSG_NOOP
// with NLM_F_ACK is acknowledged after all of them.
func TestNetnsBarrierOrder(t *testing.T) {
	l := newLab(t, Config{})
	mustApply(t, l.k, bulkNexthops())

	create := routeOp(fib.OpRouteCreate, prefix4, fib.TableMain, 20, idV4a)
	missing := routeOp(fib.OpRouteDelete, prefix6, fib.TableMain, 20, 0)
	h := nlmsg.Header{Flags: nlmsg.NLM_F_REQUEST}

	var b []byte
	for i, op := range []fib.Op{create, create, missing} {
		h.Seq = uint32(1001 + i)
		b = appendRouteOp(b, h, op.Kind, &op.Route, DefaultProtocol)
	}

	b = nlmsg.AppendNoop(b, nlmsg.Header{Flags: nlmsg.NLM_F_REQUEST | nlmsg.NLM_F_ACK, Seq: 1004})

	tr := l.k.apply
	if err := tr.send(b); err != nil {
		t.Fatalf("send: %v", err)
	}

	type reply struct {
		seq   uint32
		errno syscall.Errno
		typ   uint16
	}

	var got []reply
	buf := make([]byte, 1<<16)
	for len(got) == 0 || got[len(got)-1].seq != 1004 {
		n, err := tr.receive(buf)
		if err != nil {
			t.Fatalf("receive: %v", err)
		}

		err = nlmsg.SplitMessages(buf[:n], func(h nlmsg.Header, payload []byte) error {
			e, err := nlmsg.ParseErrorMessage(h, payload)
			got = append(got, reply{e.Request.Seq, syscall.Errno(e.Errno), e.Request.Type})

			return err
		})
		if err != nil {
			t.Fatalf("decode reply: %v", err)
		}
	}

	want := []reply{
		{1002, syscall.EEXIST, nlmsg.RTM_NEWROUTE},
		{1003, syscall.ESRCH, nlmsg.RTM_DELROUTE},
		{1004, 0, nlmsg.NLMSG_NOOP},
	}
	if len(got) != len(want) {
		t.Fatalf("replies = %+v, want %+v", got, want)
	}

	for i := range want {
		if got[i] != want[i] {
			t.Errorf("reply %d = %+v, want %+v", i, got[i], want[i])
		}
	}
}
