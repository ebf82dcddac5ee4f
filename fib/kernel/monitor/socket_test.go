package monitor

import (
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/mdlayher/netlink"
	"golang.org/x/sys/unix"

	"github.com/fibd/fibd/fib/kernel/nlmsg"
	"github.com/fibd/fibd/internal/netnstest"
)

// notification is a received message, for assertions.
type notification struct {
	typ      uint16
	flags    uint16
	pid      uint32
	protocol uint8
}

// collect reads notifications until none arrives for quiet.
func collect(t *testing.T, ln *listener, quiet time.Duration) []notification {
	t.Helper()

	var got []notification
	for {
		if err := ln.conn.SetReadDeadline(time.Now().Add(quiet)); err != nil {
			t.Fatalf("set read deadline: %v", err)
		}

		msgs, err := ln.receive()
		if err != nil {
			if os.IsTimeout(err) {
				return got
			}

			t.Fatalf("receive: %v", err)
		}

		for _, m := range msgs {
			n := notification{typ: uint16(m.Header.Type), flags: uint16(m.Header.Flags), pid: m.Header.PID}
			switch n.typ {
			case nlmsg.RTM_NEWROUTE, nlmsg.RTM_DELROUTE:
				n.protocol = m.Data[5]
			case nlmsg.RTM_NEWNEXTHOP, nlmsg.RTM_DELNEXTHOP:
				n.protocol = m.Data[2]
			}

			got = append(got, n)
		}
	}
}

func count(ns []notification, typ uint16, protocol uint8) int {
	n := 0
	for _, x := range ns {
		if x.typ == typ && x.protocol == protocol {
			n++
		}
	}

	return n
}

// requestRoute adds or deletes a blackhole route with fibd's protocol over
// conn and waits for the acknowledgement.
func requestRoute(t *testing.T, conn *netlink.Conn, typ uint16, p netip.Prefix) {
	t.Helper()

	r := nlmsg.Route{
		Family: nlmsg.AF_INET, DstLen: uint8(p.Bits()), Table: 254,
		Protocol: testProtocol, Scope: nlmsg.RT_SCOPE_UNIVERSE, Type: nlmsg.RTN_BLACKHOLE,
		Dst: p.Addr(), Priority: 20,
	}
	b, _ := r.MarshalBinary()

	flags := netlink.Request | netlink.Acknowledge
	if typ == nlmsg.RTM_NEWROUTE {
		flags |= netlink.Create | netlink.Excl
	}

	if _, err := conn.Execute(netlink.Message{Header: netlink.Header{Type: netlink.HeaderType(typ), Flags: flags}, Data: b}); err != nil {
		t.Fatalf("request route %s: %v", p, err)
	}
}

func TestListenEchoPort(t *testing.T) {
	ns := netnstest.New(t)

	req, err := netlink.Dial(unix.NETLINK_ROUTE, &netlink.Config{NetNS: ns.FD()})
	if err != nil {
		t.Fatalf("dial request socket: %v", err)
	}
	defer req.Close()

	// Without the request socket's port: its changes arrive carrying its
	// port id, except RTM_NEWROUTE of fibd's protocol, which the filter
	// drops for everyone.
	ln, err := listen(ns.FD(), 1<<20, testProtocol, nil)
	if err != nil {
		t.Fatalf("listen: %v", err)
	}
	defer ln.close()

	p := netip.MustParsePrefix("203.0.113.0/24")
	requestRoute(t, req, nlmsg.RTM_NEWROUTE, p)
	requestRoute(t, req, nlmsg.RTM_DELROUTE, p)

	got := collect(t, ln, 200*time.Millisecond)
	if len(got) != 1 || got[0].typ != nlmsg.RTM_DELROUTE || got[0].pid != req.PID() {
		t.Fatalf("notifications = %+v, want one RTM_DELROUTE from port %d", got, req.PID())
	}

	// With the port: nothing arrives.
	own, err := listen(ns.FD(), 1<<20, testProtocol, []uint32{req.PID()})
	if err != nil {
		t.Fatalf("listen: %v", err)
	}
	defer own.close()

	requestRoute(t, req, nlmsg.RTM_NEWROUTE, p)
	requestRoute(t, req, nlmsg.RTM_DELROUTE, p)
	if got := collect(t, own, 200*time.Millisecond); len(got) != 0 {
		t.Fatalf("notifications with own port filtered = %+v, want none", got)
	}
}

func TestListenFilter(t *testing.T) {
	ns := netnstest.New(t)
	ln, err := listen(ns.FD(), 1<<20, testProtocol, nil)
	if err != nil {
		t.Fatalf("listen: %v", err)
	}
	defer ln.close()

	ns.IP("route", "add", "blackhole", "203.0.113.0/24", "proto", "201", "metric", "20")
	ns.IP("route", "add", "blackhole", "198.51.100.0/24", "proto", "static")
	ns.IP("route", "del", "203.0.113.0/24", "proto", "201", "metric", "20")
	ns.IP("nexthop", "add", "id", "3000000001", "blackhole", "proto", "201")
	ns.IP("nexthop", "add", "id", "77", "blackhole", "proto", "static")
	ns.IP("nexthop", "del", "id", "3000000001")

	got := collect(t, ln, 200*time.Millisecond)
	checks := []struct {
		typ      uint16
		protocol uint8
		want     int
	}{
		{nlmsg.RTM_NEWROUTE, testProtocol, 0},
		{nlmsg.RTM_NEWROUTE, nlmsg.RTPROT_STATIC, 1},
		{nlmsg.RTM_DELROUTE, testProtocol, 1},
		{nlmsg.RTM_NEWNEXTHOP, testProtocol, 0},
		{nlmsg.RTM_NEWNEXTHOP, nlmsg.RTPROT_STATIC, 1},
		{nlmsg.RTM_DELNEXTHOP, testProtocol, 1},
	}
	for _, c := range checks {
		if n := count(got, c.typ, c.protocol); n != c.want {
			t.Errorf("%d notifications of type %d protocol %d, want %d", n, c.typ, c.protocol, c.want)
		}
	}
}

// TestListenReplace checks what the translation of a foreign replace
// relies on: the kernel announces it as RTM_NEWROUTE with NLM_F_REPLACE
// and sends no RTM_DELROUTE for fibd's route, for IPv4 and IPv6.
func TestListenReplace(t *testing.T) {
	for _, p := range []string{"203.0.113.0/24", "2001:db8:1::/48"} {
		t.Run(p, func(t *testing.T) {
			ns := netnstest.New(t)
			ln, err := listen(ns.FD(), 1<<20, testProtocol, nil)
			if err != nil {
				t.Fatalf("listen: %v", err)
			}
			defer ln.close()

			ns.IP("route", "add", "blackhole", p, "proto", "201", "metric", "20")
			ns.IP("route", "replace", "unreachable", p, "proto", "static", "metric", "20")

			got := collect(t, ln, 200*time.Millisecond)
			if len(got) != 1 {
				t.Fatalf("notifications = %+v, want one", got)
			}

			if n := got[0]; n.typ != nlmsg.RTM_NEWROUTE || n.protocol != nlmsg.RTPROT_STATIC || n.flags&nlmsg.NLM_F_REPLACE == 0 {
				t.Errorf("notification = %+v, want RTM_NEWROUTE of protocol static with NLM_F_REPLACE", n)
			}

			if out := ns.IP("route", "show", p, "proto", "201"); out != "" {
				t.Errorf("routes of protocol 201 after the replace: %q, want none", out)
			}
		})
	}
}

func TestListenOverrun(t *testing.T) {
	ns := netnstest.New(t)
	ln, err := listen(ns.FD(), 4<<10, testProtocol, nil)
	if err != nil {
		t.Fatalf("listen: %v", err)
	}
	defer ln.close()

	batch := filepath.Join(t.TempDir(), "routes")
	var b strings.Builder
	for i := range 1000 {
		fmt.Fprintf(&b, "route add blackhole 2001:db8:%x::/48 proto static\n", i)
	}

	if err := os.WriteFile(batch, []byte(b.String()), 0o600); err != nil {
		t.Fatal(err)
	}

	ns.IP("-batch", batch)

	_, err = ln.receive()
	if !isOverrun(err) {
		t.Fatalf("receive after 1000 routes into a 4 KiB buffer: err = %v, want ENOBUFS", err)
	}

	// The socket keeps working after the overrun.
	ns.IP("route", "add", "blackhole", "198.51.100.0/24", "proto", "static")
	if got := collect(t, ln, 200*time.Millisecond); count(got, nlmsg.RTM_NEWROUTE, nlmsg.RTPROT_STATIC) == 0 {
		t.Fatalf("no notification after the overrun, got %d messages", len(got))
	}
}

func writeFile(t *testing.T, path string, b []byte) {
	t.Helper()

	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
}
