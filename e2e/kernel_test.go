package e2e

import (
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mdlayher/netlink"
	"golang.org/x/sys/unix"

	"github.com/fibd/fibd/fib/kernel/nlmsg"
	"github.com/fibd/fibd/internal/netnstest"
)

// fibdProtocol is fibd's default route and nexthop protocol.
const fibdProtocol = 201

// kernelRoute is one of fibd's routes as `ip -j route show` prints it.
type kernelRoute struct {
	Dst      string `json:"dst"`
	NHID     uint32 `json:"nhid"`
	Metric   uint32 `json:"metric"`
	Gateway  string `json:"gateway"`
	Nexthops []struct {
		Gateway string `json:"gateway"`
		Dev     string `json:"dev"`
		Weight  int    `json:"weight"`
	} `json:"nexthops"`
}

// prefix returns the route's destination as a prefix; `ip` prints a host
// route without its length.
func (r kernelRoute) prefix() (netip.Prefix, error) {
	if strings.Contains(r.Dst, "/") {
		return netip.ParsePrefix(r.Dst)
	}

	a, err := netip.ParseAddr(r.Dst)
	if err != nil {
		return netip.Prefix{}, err
	}

	return netip.PrefixFrom(a, a.BitLen()), nil
}

// gateways returns the route's gateways in the form of formatGateways.
func (r kernelRoute) gateways() string {
	if len(r.Nexthops) == 0 {
		return formatGateways(map[string]int{r.Gateway: 1})
	}

	weights := make(map[string]int)
	for _, nh := range r.Nexthops {
		weights[nh.Gateway] = max(nh.Weight, 1)
	}

	return formatGateways(weights)
}

// formatGateways returns gateways with their weights, sorted, as
// "GATEWAY" or "GATEWAY*WEIGHT". Weights are divided by their greatest
// common divisor, because only their ratio decides forwarding: a group
// with one member of weight 3 forwards as that member alone does.
func formatGateways(weights map[string]int) string {
	divisor := 0
	for _, w := range weights {
		divisor = gcd(divisor, w)
	}

	var gws []string
	for gw, w := range weights {
		if w/divisor > 1 {
			gw += "*" + strconv.Itoa(w/divisor)
		}

		gws = append(gws, gw)
	}

	sort.Strings(gws)

	return strings.Join(gws, ",")
}

func gcd(a, b int) int {
	for b != 0 {
		a, b = b, a%b
	}

	return a
}

// kernelRoutes returns fibd's routes of both families in the main table,
// by prefix.
func kernelRoutes(t *testing.T, ns *netnstest.NS) map[netip.Prefix]kernelRoute {
	t.Helper()

	out := make(map[netip.Prefix]kernelRoute)
	for _, family := range []string{"-4", "-6"} {
		var routes []kernelRoute
		ns.JSON(&routes, family, "route", "show", "proto", strconv.Itoa(fibdProtocol))
		for _, r := range routes {
			p, err := r.prefix()
			if err != nil {
				t.Fatalf("parse destination of kernel route %+v: %v", r, err)
			}

			if _, dup := out[p]; dup {
				t.Errorf("kernel holds two routes of fibd for %s", p)
			}

			out[p] = r
		}
	}

	return out
}

// kernelNexthop is one of fibd's nexthop objects as `ip -j nexthop`
// prints it.
type kernelNexthop struct {
	ID      uint32        `json:"id"`
	Gateway string        `json:"gateway"`
	Dev     string        `json:"dev"`
	Group   []groupMember `json:"group"`
}

// groupMember is a member of a nexthop group as `ip -j nexthop` prints it.
type groupMember struct {
	ID     uint32 `json:"id"`
	Weight int    `json:"weight"`
}

// kernelNexthops returns fibd's nexthop objects by id.
func kernelNexthops(t *testing.T, ns *netnstest.NS) map[uint32]kernelNexthop {
	t.Helper()

	var list []kernelNexthop
	ns.JSON(&list, "nexthop", "show", "protocol", strconv.Itoa(fibdProtocol))

	out := make(map[uint32]kernelNexthop, len(list))
	for _, nh := range list {
		out[nh.ID] = nh
	}

	return out
}

// usedNexthops returns the ids of the nexthop objects that routes use,
// directly or as members of a group.
func usedNexthops(routes map[netip.Prefix]kernelRoute, nexthops map[uint32]kernelNexthop) map[uint32]bool {
	used := make(map[uint32]bool)
	for _, r := range routes {
		used[r.NHID] = true
		for _, m := range nexthops[r.NHID].Group {
			used[m.ID] = true
		}
	}

	return used
}

// Marker routes let the recorder tell when it has received every
// notification sent before a point in time: the test adds one and waits
// for its notification. They live in their own table with their own
// protocol, so fibd ignores them.
const (
	markerProtocol = 99
	markerTable    = "100"
	markerPrefix   = "192.0.2.255/32"
)

// notification is one route or nexthop notification of fibd's protocol,
// or of a marker.
type notification struct {
	Type     uint16 // nlmsg.RTM_NEWROUTE, RTM_DELROUTE, RTM_NEWNEXTHOP or RTM_DELNEXTHOP
	Protocol uint8

	// Route notifications.
	Prefix netip.Prefix
	Table  uint32
	Metric uint32
	NHID   uint32

	// Nexthop notifications.
	ID    uint32
	Group []uint32
}

func (n notification) String() string {
	switch n.Type {
	case nlmsg.RTM_NEWROUTE:
		return fmt.Sprintf("new route %s table %d metric %d nhid %d", n.Prefix, n.Table, n.Metric, n.NHID)
	case nlmsg.RTM_DELROUTE:
		return fmt.Sprintf("delete route %s table %d metric %d nhid %d", n.Prefix, n.Table, n.Metric, n.NHID)
	case nlmsg.RTM_NEWNEXTHOP:
		return fmt.Sprintf("new nexthop %d group %v", n.ID, n.Group)
	case nlmsg.RTM_DELNEXTHOP:
		return fmt.Sprintf("delete nexthop %d group %v", n.ID, n.Group)
	}

	return fmt.Sprintf("message type %d", n.Type)
}

// recorder records the route and nexthop notifications of fibd's
// protocol in a namespace. Its methods are safe for concurrent use.
type recorder struct {
	t    *testing.T
	ns   *netnstest.NS
	conn *netlink.Conn
	done chan struct{}

	mu     sync.Mutex
	events []notification
	err    error // overrun or decode failure; the record is incomplete
}

// markers numbers the marker routes of all recorders, so that two
// recorders in one namespace never add the same route.
var markers atomic.Uint32

// recorderBuffer is the receive buffer of the recorder's socket, large
// enough for the notifications of 100,000 routes while the reader is
// descheduled.
const recorderBuffer = 512 << 20

// record starts recording notifications in ns until the test ends.
func record(t *testing.T, ns *netnstest.NS) *recorder {
	t.Helper()

	conn, err := netlink.Dial(unix.NETLINK_ROUTE, &netlink.Config{NetNS: ns.FD()})
	if err != nil {
		t.Fatalf("open notification socket in %s: %v", ns.Name, err)
	}

	if err := conn.SetReadBuffer(recorderBuffer); err != nil {
		conn.Close()
		t.Fatalf("set read buffer of notification socket: %v", err)
	}

	for _, g := range []uint32{nlmsg.RTNLGRP_IPV4_ROUTE, nlmsg.RTNLGRP_IPV6_ROUTE, nlmsg.RTNLGRP_NEXTHOP} {
		if err := conn.JoinGroup(g); err != nil {
			conn.Close()
			t.Fatalf("join rtnetlink group %d: %v", g, err)
		}
	}

	r := &recorder{t: t, ns: ns, conn: conn, done: make(chan struct{})}
	go r.receive()
	t.Cleanup(func() {
		conn.Close()
		<-r.done
	})

	return r
}

func (r *recorder) receive() {
	defer close(r.done)

	for {
		msgs, err := r.conn.Receive()
		if err != nil {
			if !errors.Is(err, unix.EBADF) && !strings.Contains(err.Error(), "closed") {
				r.fail(fmt.Errorf("receive notifications: %w", err))
			}

			return
		}

		for _, m := range msgs {
			n, ok, err := decodeNotification(m)
			if err != nil {
				r.fail(err)

				return
			}

			if ok {
				r.mu.Lock()
				r.events = append(r.events, n)
				r.mu.Unlock()
			}
		}
	}
}

func (r *recorder) fail(err error) {
	r.mu.Lock()
	defer r.mu.Unlock()

	if r.err == nil {
		r.err = err
	}
}

// decodeNotification decodes a route or nexthop notification. It reports
// false for messages of other kinds or protocols.
func decodeNotification(m netlink.Message) (notification, bool, error) {
	n := notification{Type: uint16(m.Header.Type)}
	switch n.Type {
	case nlmsg.RTM_NEWROUTE, nlmsg.RTM_DELROUTE:
		var rt nlmsg.Route
		if err := rt.UnmarshalBinary(m.Data); err != nil {
			return n, false, fmt.Errorf("decode route notification: %w", err)
		}

		n.Protocol, n.Prefix, n.Table, n.Metric, n.NHID = rt.Protocol, rt.Prefix(), rt.Table, rt.Priority, rt.NHID
	case nlmsg.RTM_NEWNEXTHOP, nlmsg.RTM_DELNEXTHOP:
		var nh nlmsg.Nexthop
		if err := nh.UnmarshalBinary(m.Data); err != nil {
			return n, false, fmt.Errorf("decode nexthop notification: %w", err)
		}

		n.Protocol, n.ID = nh.Protocol, nh.ID
		for _, g := range nh.Group {
			n.Group = append(n.Group, g.ID)
		}
	default:
		return n, false, nil
	}

	return n, n.Protocol == fibdProtocol || n.Protocol == markerProtocol, nil
}

// mark returns the number of notifications recorded so far, after making
// sure that every notification the kernel sent before the call has been
// received: it adds a marker route and waits for its notification.
func (r *recorder) mark() int {
	r.t.Helper()

	metric := markers.Add(1)

	r.ns.IP("route", "add", "blackhole", markerPrefix, "table", markerTable,
		"proto", strconv.Itoa(markerProtocol), "metric", strconv.Itoa(int(metric)))

	deadline := time.Now().Add(30 * time.Second)
	for {
		r.mu.Lock()
		err := r.err
		index := slices.IndexFunc(r.events, func(n notification) bool {
			return n.Protocol == markerProtocol && n.Type == nlmsg.RTM_NEWROUTE && n.Metric == metric
		})
		r.mu.Unlock()

		if err != nil {
			r.t.Fatalf("notification record is incomplete: %v", err)
		}

		if index >= 0 {
			return index
		}

		if time.Now().After(deadline) {
			r.t.Fatalf("marker route with metric %d not seen within 30s", metric)
		}

		time.Sleep(10 * time.Millisecond)
	}
}

// between returns the notifications of fibd's protocol recorded between
// two marks.
func (r *recorder) between(from, to int) []notification {
	r.mu.Lock()
	defer r.mu.Unlock()

	var out []notification
	for _, n := range r.events[from:to] {
		if n.Protocol == fibdProtocol {
			out = append(out, n)
		}
	}

	return out
}

// countTypes counts notifications by message type.
func countTypes(events []notification) map[uint16]int {
	counts := make(map[uint16]int)
	for _, n := range events {
		counts[n.Type]++
	}

	return counts
}
