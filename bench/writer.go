package bench

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"

	"golang.org/x/sys/unix"
)

// Writer is the minimal batched netlink writer: routes pre-encoded as
// RTM_NEWROUTE messages and sent in large sendmsg batches, optionally with
// an acknowledgement per message, optionally over nexthop objects. It is
// the kernel's own limit for the contenders that use the same kind of
// request.
type Writer struct {
	name   string
	ack    bool
	groups bool

	env   *Env
	w     Workload
	child *Child
}

// Kernel protocol numbers of the benchmark's own writers.
const (
	ProtoWriter  = 250
	ProtoIPBatch = 251
)

// NewWriter returns the minimal writer. With ack every message requests an
// acknowledgement. With groups, routes point to nexthop objects (a group
// for ECMP), so that failover is one group replace.
func NewWriter(ack, groups bool) *Writer {
	name := "writer"
	if groups {
		name += "-nhg"
	}

	if ack {
		name += "-ack"
	}

	return &Writer{name: name, ack: ack, groups: groups}
}

// Name implements Contender.
func (c *Writer) Name() string { return c.name }

// Protocol implements Contender.
func (c *Writer) Protocol() uint8 { return ProtoWriter }

// Describe implements Describer.
func (c *Writer) Describe() string {
	d := "this benchmark's own Go writer: pre-encoded requests in 256 KiB sendmsg batches"
	if c.ack {
		d += ", an acknowledgement per message"
	} else {
		d += ", no acknowledgements (the kernel still reports errors)"
	}

	if c.groups {
		d += "; routes point to nexthop objects (RTA_NH_ID), failover replaces the group"
	} else {
		d += "; routes carry their gateways (RTA_GATEWAY, RTA_MULTIPATH), failover rewrites every route"
	}

	return d
}

// Version implements Describer.
func (c *Writer) Version() string { return "fibd-bench" }

// Supports implements Contender.
func (c *Writer) Supports(w Workload, s Scenario) string { return "" }

// Start implements Contender.
func (c *Writer) Start(ctx context.Context, env *Env, w Workload) error {
	c.env, c.w = env, w

	ch, err := StartChild(env.Router, ChildSpec{
		NSPath: env.Path(),
		Kind:   "writer", Workload: w, Protocol: ProtoWriter, Hops: env.Links,
		Ack: c.ack, Groups: c.groups, Batch: 256 << 10,
	})
	if err != nil {
		return err
	}

	c.child = ch

	return nil
}

// Run implements Contender.
func (c *Writer) Run(ctx context.Context, s Scenario, mark func()) error {
	return c.child.Run(ctx, s, mark)
}

// Usage implements Contender.
func (c *Writer) Usage() Usage {
	if c.child == nil {
		return Usage{}
	}

	return c.child.Usage()
}

// Stop implements Contender.
func (c *Writer) Stop() error {
	if c.child == nil {
		return nil
	}

	return c.child.Close()
}

// writerChild runs inside the router namespace.
type writerChild struct {
	spec    ChildSpec
	hops    [2]hopAttrs
	fd      int
	pending []byte // the prepared requests
	count   int    // messages in pending
}

// Nexthop ids of the writer's objects: one per link, and the ECMP groups
// from writerGroup on, one per group of the workload.
const (
	writerNH0, writerNH1, writerGroup = 1, 2, 3
)

func newWriterChild(raw json.RawMessage) (ChildHandler, error) {
	var spec ChildSpec
	if err := json.Unmarshal(raw, &spec); err != nil {
		return nil, fmt.Errorf("decode writer spec: %w", err)
	}

	h := &writerChild{spec: spec}
	for i, l := range spec.Hops {
		ifi, err := net.InterfaceByName(l.Device)
		if err != nil {
			return nil, fmt.Errorf("find link %s: %w", l.Device, err)
		}

		h.hops[i] = hopAttrs{Gateway: l.Gateway(spec.Workload.Family), Ifindex: ifi.Index}
	}

	fd, err := unix.Socket(unix.AF_NETLINK, unix.SOCK_RAW|unix.SOCK_CLOEXEC, unix.NETLINK_ROUTE)
	if err != nil {
		return nil, fmt.Errorf("open netlink socket: %w", err)
	}

	_ = unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_SNDBUFFORCE, 64<<20)
	_ = unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_RCVBUFFORCE, 1<<30)
	_ = unix.SetsockoptInt(fd, unix.SOL_NETLINK, unix.NETLINK_EXT_ACK, 1)
	if err := unix.Bind(fd, &unix.SockaddrNetlink{Family: unix.AF_NETLINK}); err != nil {
		return nil, fmt.Errorf("bind netlink socket: %w", err)
	}

	h.fd = fd

	return h, nil
}

// Prepare encodes every request of the scenario.
func (h *writerChild) Prepare(s Scenario) error {
	w := h.spec.Workload
	flags := uint16(unix.NLM_F_REQUEST)
	if h.spec.Ack {
		flags |= unix.NLM_F_ACK
	}

	create := flags | unix.NLM_F_CREATE | unix.NLM_F_EXCL
	replace := flags | unix.NLM_F_CREATE | unix.NLM_F_REPLACE

	b := h.pending[:0]
	h.count = 0
	add := func(m []byte) []byte { h.count++; return m }

	allHops := h.hops[:1]
	if w.ECMP {
		allHops = h.hops[:]
	}

	switch s {
	case Install, Restart:
		fl := create
		if s == Restart {
			fl = replace
		}

		if h.spec.Groups {
			b = h.appendNexthops(b, fl, allHops, add)
		}

		for i := range w.Routes {
			b = add(appendRoute(b, h.route(i, allHops, fl), uint32(h.count+1)))
		}
	case Failover, Recover:
		keep := h.hops[1:]
		if s == Recover {
			keep = allHops
		}

		if h.spec.Groups {
			for g := range w.GroupCount() {
				b = add(appendNexthop(b, h.group(replace, g, keep), uint32(h.count+1)))
			}

			break
		}

		for i := range w.Routes {
			b = add(appendRoute(b, h.route(i, keep, replace), uint32(h.count+1)))
		}
	case Withdraw:
		for i := range w.Routes {
			m := routeMsg{Type: unix.RTM_DELROUTE, Flags: flags, Prefix: Prefix(w.Family, i), Protocol: h.spec.Protocol}
			b = add(appendRoute(b, m, uint32(h.count+1)))
		}
	default:
		return fmt.Errorf("unknown scenario %q", s)
	}

	h.pending = b

	return nil
}

func (h *writerChild) appendNexthops(b []byte, flags uint16, hops []hopAttrs, add func([]byte) []byte) []byte {
	for i, hop := range hops {
		b = add(appendNexthop(b, nexthopMsg{Flags: flags, ID: uint32(writerNH0 + i), Protocol: h.spec.Protocol, Hop: hop}, uint32(h.count+1)))
	}

	if len(hops) > 1 {
		for g := range h.spec.Workload.GroupCount() {
			b = add(appendNexthop(b, h.group(flags, g, hops), uint32(h.count+1)))
		}
	}

	return b
}

// group returns the request for group g with the members hops, weighted
// as the workload's group g weighs them.
func (h *writerChild) group(flags uint16, g int, hops []hopAttrs) nexthopMsg {
	m := nexthopMsg{Flags: flags, ID: uint32(writerGroup + g), Protocol: h.spec.Protocol}
	w0, w1 := h.spec.Workload.Weights(g)
	for _, hop := range hops {
		id, weight := uint32(writerNH0), w0
		if hop == h.hops[1] {
			id, weight = writerNH1, w1
		}

		m.Group = append(m.Group, id)
		m.Weights = append(m.Weights, weight)
	}

	return m
}

func (h *writerChild) route(i int, hops []hopAttrs, flags uint16) routeMsg {
	w := h.spec.Workload
	m := routeMsg{Type: unix.RTM_NEWROUTE, Flags: flags, Prefix: Prefix(w.Family, i), Protocol: h.spec.Protocol}
	switch {
	case !h.spec.Groups:
		m.Hops = hops
		if len(hops) > 1 {
			w0, w1 := w.Weights(w.Group(i))
			m.Weights = []uint32{w0, w1}
		}
	case len(hops) > 1:
		m.NHID = uint32(writerGroup + w.Group(i))
	case hops[0] == h.hops[1]:
		m.NHID = writerNH1
	default:
		m.NHID = writerNH0
	}

	return m
}

// Do sends the prepared requests in batches of whole messages and, with
// acknowledgements, waits for every one. The kernel handles a netlink
// request synchronously inside sendmsg, so without acknowledgements the
// work is done when the last send returns. Errors are then read from the
// socket without blocking.
func (h *writerChild) Do(s Scenario) error {
	if !h.spec.Ack {
		if err := h.send(); err != nil {
			return err
		}

		return h.result(h.readAcks(0))
	}

	type outcome struct {
		errs  int
		first error
	}

	done := make(chan outcome, 1)
	go func() {
		errs, first := h.readAcks(h.count)
		done <- outcome{errs, first}
	}()

	if err := h.send(); err != nil {
		return err
	}

	o := <-done

	return h.result(o.errs, o.first)
}

func (h *writerChild) result(errs int, first error) error {
	if errs > 0 {
		return fmt.Errorf("%d of %d requests failed, first: %w", errs, h.count, first)
	}

	return nil
}

func (h *writerChild) send() error {
	b := h.pending
	for len(b) > 0 {
		end := 0
		for end < len(b) && end < h.spec.Batch {
			n := int(native.Uint32(b[end:]))
			if end > 0 && end+n > h.spec.Batch {
				break
			}

			end += n
		}

		if err := unix.Sendto(h.fd, b[:end], 0, &unix.SockaddrNetlink{Family: unix.AF_NETLINK}); err != nil {
			return fmt.Errorf("send %d bytes of requests: %w", end, err)
		}

		b = b[end:]
	}

	return nil
}

// readAcks reads acknowledgements and errors until want of them arrived,
// or, with want 0, until nothing is queued.
func (h *writerChild) readAcks(want int) (errs int, first error) {
	buf := make([]byte, 1<<20)
	flags := 0
	if want == 0 {
		flags = unix.MSG_DONTWAIT
	}

	for got := 0; want == 0 || got < want; {
		n, _, err := unix.Recvfrom(h.fd, buf, flags)
		if want == 0 && errors.Is(err, unix.EAGAIN) {
			return errs, first
		}

		if err != nil {
			return errs + 1, fmt.Errorf("receive acknowledgements: %w", err)
		}

		splitMessages(buf[:n], func(m message) bool {
			if m.Type != unix.NLMSG_ERROR || len(m.Data) < 4 {
				return true
			}

			got++
			if e := int32(native.Uint32(m.Data)); e != 0 {
				errs++
				if first == nil {
					first = fmt.Errorf("request %d: %w", m.Seq, unix.Errno(-e))
				}
			}

			return true
		})
	}

	return errs, first
}

// Synchronous implements Synchronous.
func (c *Writer) Synchronous() bool { return true }
