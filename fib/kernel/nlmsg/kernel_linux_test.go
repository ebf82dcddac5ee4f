//go:build linux

package nlmsg

import (
	"encoding/hex"
	"fmt"
	"net/netip"
	"os"
	"syscall"
	"testing"
	"time"

	"github.com/fibd/fibd/internal/netnstest"
	"github.com/mdlayher/netlink"
)

// kernelConn is a NETLINK_ROUTE socket in a test namespace that exchanges
// raw bytes, so that tests see exactly what the kernel sends.
type kernelConn struct {
	t   *testing.T
	c   *netlink.Conn
	seq uint32
}

func dialKernel(t *testing.T, ns *netnstest.NS, capAck bool) *kernelConn {
	t.Helper()

	c, err := netlink.Dial(NETLINK_ROUTE, &netlink.Config{NetNS: ns.FD()})
	if err != nil {
		t.Fatalf("dial rtnetlink in %s: %v", ns.Name, err)
	}
	t.Cleanup(func() { c.Close() })

	for _, o := range []netlink.ConnOption{netlink.ExtendedAcknowledge, netlink.GetStrictCheck} {
		if err := c.SetOption(o, true); err != nil {
			t.Fatalf("set socket option %d: %v", o, err)
		}
	}

	if err := c.SetOption(netlink.CapAcknowledge, capAck); err != nil {
		t.Fatalf("set NETLINK_CAP_ACK: %v", err)
	}

	return &kernelConn{t: t, c: c, seq: 1000}
}

// header returns a request header with the next sequence number.
func (k *kernelConn) header(typ, flags uint16) Header {
	k.seq++

	return Header{Type: typ, Flags: flags, Seq: k.seq}
}

// exchange sends req and returns the raw reply messages up to NLMSG_DONE
// or NLMSG_ERROR, or the one reply of a request without NLM_F_DUMP.
func (k *kernelConn) exchange(req []byte) []rawMessage {
	k.t.Helper()

	rc, err := k.c.SyscallConn()
	if err != nil {
		k.t.Fatalf("syscall conn: %v", err)
	}

	var sendErr error
	err = rc.Write(func(fd uintptr) bool {
		sendErr = syscall.Sendto(int(fd), req, 0, &syscall.SockaddrNetlink{Family: syscall.AF_NETLINK})

		return sendErr != syscall.EAGAIN
	})
	if err != nil || sendErr != nil {
		k.t.Fatalf("send request: %v %v", err, sendErr)
	}

	if err := k.c.SetReadDeadline(time.Now().Add(5 * time.Second)); err != nil {
		k.t.Fatalf("set read deadline: %v", err)
	}

	var msgs []rawMessage
	buf := make([]byte, 1<<16)
	for {
		var n int
		var recvErr error
		err := rc.Read(func(fd uintptr) bool {
			n, _, recvErr = syscall.Recvfrom(int(fd), buf, 0)

			return recvErr != syscall.EAGAIN
		})
		if err != nil || recvErr != nil {
			k.t.Fatalf("receive reply: %v %v", err, recvErr)
		}

		done := false
		err = SplitMessages(buf[:n], func(h Header, payload []byte) error {
			msgs = append(msgs, rawMessage{h: h, payload: append([]byte(nil), payload...)})
			done = done || h.Type == NLMSG_DONE || h.Type == NLMSG_ERROR || h.Flags&NLM_F_MULTI == 0

			return nil
		})
		if err != nil {
			k.t.Fatalf("split reply: %v", err)
		}

		if done {
			return msgs
		}
	}
}

// do sends one request with NLM_F_ACK and fails the test unless the
// kernel acknowledges it.
func (k *kernelConn) do(req []byte) {
	k.t.Helper()

	e := k.ack(req)
	if e.Errno != 0 {
		k.t.Fatalf("request failed: errno %d: %s", e.Errno, e.Message)
	}
}

// ack sends one request and returns the decoded NLMSG_ERROR reply.
func (k *kernelConn) ack(req []byte) Error {
	k.t.Helper()

	msgs := k.exchange(req)
	last := msgs[len(msgs)-1]
	if last.h.Type != NLMSG_ERROR {
		k.t.Fatalf("reply type %d, want NLMSG_ERROR", last.h.Type)
	}

	e, err := ParseErrorMessage(last.h, last.payload)
	if err != nil {
		k.t.Fatalf("parse error message: %v", err)
	}

	return e
}

type rawMessage struct {
	h       Header
	payload []byte
}

// capture logs a message as hex when FIBD_NLMSG_CAPTURE=1, to refresh the
// golden bytes of the unit tests.
func capture(t *testing.T, name string, m rawMessage) {
	if os.Getenv("FIBD_NLMSG_CAPTURE") != "1" {
		return
	}

	t.Logf("%s: header %+v\n%s", name, m.h, hex.Dump(m.payload))
}

// dumpRoutes dumps the routes of table in the namespace.
func (k *kernelConn) dumpRoutes(table uint32) map[netip.Prefix]Route {
	k.t.Helper()

	routes := make(map[netip.Prefix]Route)
	for _, m := range k.exchange(AppendRouteDump(nil, k.header(0, 0), AF_UNSPEC, 0, table)) {
		if m.h.Type != RTM_NEWROUTE {
			continue
		}

		var r Route
		if err := r.UnmarshalBinary(m.payload); err != nil {
			k.t.Fatalf("decode route: %v\n%s", err, hex.Dump(m.payload))
		}

		if r.Table != table {
			k.t.Errorf("dump of table %d returned a route of table %d", table, r.Table)
		}

		capture(k.t, fmt.Sprintf("route %s table %d", r.Prefix(), r.Table), m)
		routes[r.Prefix()] = r
	}

	return routes
}

// dumpNexthops dumps all nexthop objects in the namespace.
func (k *kernelConn) dumpNexthops() map[uint32]Nexthop {
	k.t.Helper()

	nexthops := make(map[uint32]Nexthop)
	for _, m := range k.exchange(AppendNexthopDump(nil, k.header(0, 0), AF_UNSPEC)) {
		if m.h.Type != RTM_NEWNEXTHOP {
			continue
		}

		var n Nexthop
		if err := n.UnmarshalBinary(m.payload); err != nil {
			k.t.Fatalf("decode nexthop: %v\n%s", err, hex.Dump(m.payload))
		}

		capture(k.t, fmt.Sprintf("nexthop %d", n.ID), m)
		nexthops[n.ID] = n
	}

	return nexthops
}

// newTestNamespace returns a namespace with veth v0 (peer in a second
// namespace) addressed 198.51.100.1/24 and 2001:db8::1/64.
func newTestNamespace(t *testing.T) *netnstest.NS {
	ns := netnstest.New(t)
	peer := netnstest.New(t)
	ns.Veth("v0", peer, "v1")
	ns.IP("addr", "add", "198.51.100.1/24", "dev", "v0")
	ns.IP("-6", "addr", "add", "2001:db8::1/64", "dev", "v0", "nodad")

	return ns
}
