package kernel

import (
	"context"
	"encoding/binary"
	"errors"
	"os"
	"sync"
	"syscall"
	"testing"

	"github.com/jsimonetti/rtnetlink/v2"
	"github.com/mdlayher/netlink"
	"github.com/mdlayher/netlink/nltest"
	"golang.org/x/sys/unix"

	"github.com/fibd/fibd/fib/kernel/nlmsg"
)

// request is one message that the fake kernel received.
type request struct {
	header  nlmsg.Header
	payload []byte
}

// fakeKernel is a transport that replies like the kernel: it calls handle
// for each message of a send, in order, and queues one NLMSG_ERROR for
// every failure and every message with NLM_F_ACK. Errors echo only the
// request header, as with NETLINK_CAP_ACK.
type fakeKernel struct {
	// handle returns the errno and extended acknowledgement text for a
	// request; nil accepts everything.
	handle func(h nlmsg.Header, payload []byte) (syscall.Errno, string)

	// failSend makes the send of that batch (counted from 1) fail.
	failSend    int
	failSendErr error

	// dropAck drops the reply to the request with this sequence number.
	dropAck uint32

	mu          sync.Mutex
	cond        *sync.Cond
	requests    []request
	sends       int
	queue       [][]byte
	recvErr     error
	interrupted bool
}

func newFakeKernel() *fakeKernel {
	f := &fakeKernel{}
	f.cond = sync.NewCond(&f.mu)

	return f
}

func (f *fakeKernel) send(b []byte) error {
	f.mu.Lock()
	defer f.mu.Unlock()

	f.sends++
	if f.sends == f.failSend {
		return f.failSendErr
	}

	err := nlmsg.SplitMessages(b, func(h nlmsg.Header, payload []byte) error {
		f.requests = append(f.requests, request{h, append([]byte(nil), payload...)})

		var errno syscall.Errno
		var text string
		if h.Type != nlmsg.NLMSG_NOOP && f.handle != nil {
			errno, text = f.handle(h, payload)
		}

		if (errno != 0 || h.Flags&nlmsg.NLM_F_ACK != 0) && h.Seq != f.dropAck {
			f.queue = append(f.queue, errorMessage(h, errno, text))
		}

		return nil
	})
	f.cond.Broadcast()

	return err
}

func (f *fakeKernel) receive(b []byte) (int, error) {
	f.mu.Lock()
	defer f.mu.Unlock()

	for len(f.queue) == 0 && f.recvErr == nil && !f.interrupted {
		f.cond.Wait()
	}

	switch {
	case f.recvErr != nil:
		err := f.recvErr
		f.recvErr = nil

		return 0, err
	}

	if len(f.queue) == 0 {
		return 0, os.ErrDeadlineExceeded
	}

	n := copy(b, f.queue[0])
	f.queue = f.queue[1:]

	return n, nil
}

// fail makes the next receive fail with err.
func (f *fakeKernel) fail(err error) {
	f.mu.Lock()
	defer f.mu.Unlock()

	f.recvErr = err
	f.cond.Broadcast()
}

func (f *fakeKernel) interrupt() {
	f.mu.Lock()
	defer f.mu.Unlock()

	f.interrupted = true
	f.cond.Broadcast()
}

func (f *fakeKernel) resume() {
	f.mu.Lock()
	defer f.mu.Unlock()

	f.interrupted = false
}

func (f *fakeKernel) buffers() (read, write int) { return 0, 0 }
func (f *fakeKernel) close() error               { return nil }

// errorMessage encodes an NLMSG_ERROR reply to the request with header h,
// with the extended acknowledgement text when it is not empty.
func errorMessage(h nlmsg.Header, errno syscall.Errno, text string) []byte {
	flags := uint16(nlmsg.NLM_F_CAPPED)
	if text != "" {
		flags |= nlmsg.NLM_F_ACK_TLVS
	}

	b := appendHeader(nil, nlmsg.Header{Type: nlmsg.NLMSG_ERROR, Flags: flags, Seq: h.Seq, PID: h.PID})
	b = binary.NativeEndian.AppendUint32(b, uint32(-int32(errno)))
	b = appendHeader(b, h)
	if text != "" {
		attr := append([]byte(text), 0)
		b = binary.NativeEndian.AppendUint16(b, uint16(4+len(attr)))
		b = binary.NativeEndian.AppendUint16(b, nlmsg.NLMSGERR_ATTR_MSG)
		b = append(b, attr...)
		for len(b)%4 != 0 {
			b = append(b, 0)
		}
	}

	binary.NativeEndian.PutUint32(b, uint32(len(b)))

	return b
}

func appendHeader(b []byte, h nlmsg.Header) []byte {
	b = binary.NativeEndian.AppendUint32(b, h.Length)
	b = binary.NativeEndian.AppendUint16(b, h.Type)
	b = binary.NativeEndian.AppendUint16(b, h.Flags)
	b = binary.NativeEndian.AppendUint32(b, h.Seq)

	return binary.NativeEndian.AppendUint32(b, h.PID)
}

// fakeLinks is the link table that the fake query socket dumps.
var fakeLinks = map[uint32]string{1: "lo", 2: "v0", 3: "v1"}

// newTestKernel returns a Kernel over a fake kernel for requests and an
// nltest socket for queries. The socket replies to link dumps with
// fakeLinks and passes other requests to query; a nil query sends no
// reply.
func newTestKernel(t *testing.T, cfg Config, query nltest.Func) (*Kernel, *fakeKernel) {
	t.Helper()

	f := newFakeKernel()
	conn := nltest.Dial(func(req []netlink.Message) ([]netlink.Message, error) {
		if len(req) > 0 && req[0].Header.Type == unix.RTM_GETLINK {
			return linkDump(t, req[0])
		}

		if query == nil {
			return nil, nil
		}

		return query(req)
	})

	k := newKernel(cfg, f, conn)
	t.Cleanup(func() { k.Close() })

	return k, f
}

func linkDump(t *testing.T, req netlink.Message) ([]netlink.Message, error) {
	var msgs []netlink.Message
	for index, name := range fakeLinks {
		link := rtnetlink.LinkMessage{Index: index, Attributes: &rtnetlink.LinkAttributes{Name: name}}
		data, err := link.MarshalBinary()
		if err != nil {
			t.Fatalf("encode link %s: %v", name, err)
		}

		msgs = append(msgs, netlink.Message{Header: netlink.Header{Type: unix.RTM_NEWLINK, Sequence: req.Header.Sequence}, Data: data})
	}

	return multipart(req, msgs)
}

// multipart returns msgs as a multi-part reply to req, ended by NLMSG_DONE.
func multipart(req netlink.Message, msgs []netlink.Message) ([]netlink.Message, error) {
	msgs = append(msgs, netlink.Message{Header: netlink.Header{Type: netlink.Done}})
	for i := range msgs {
		msgs[i].Header.Sequence = req.Header.Sequence
		msgs[i].Header.PID = nltest.PID
	}

	return nltest.Multipart(msgs)
}

func background(t *testing.T) context.Context {
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)

	return ctx
}

var errTest = errors.New("test failure")
