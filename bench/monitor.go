package bench

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"runtime"
	"sync"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// Monitor follows, through netlink notifications, the routes of one kernel
// protocol and family in the main table of a namespace, and every nexthop
// object there. Its methods are safe for concurrent use.
type Monitor struct {
	nsPath   string
	family   int
	protocol uint8
	gateways [2]netip.Addr // hop0's and hop1's gateways, bits 0 and 1 of a mask

	fd   int
	stop chan struct{}
	done chan struct{}

	mu       sync.Mutex
	routes   routeMap
	direct   [4]int         // routes without nexthop object, by gateway mask
	byNH     map[uint32]int // routes per nexthop id
	nexthops map[uint32]nexthopInfo
	writes   uint64
	overruns int
	lastEv   time.Time
	waiter   *waiter
	err      error
}

// routeRef is a route's forwarding reference: a nexthop object, or its
// own gateways as a mask of the two links' gateways.
type routeRef struct {
	nhid uint32
	mask uint8
}

type waiter struct {
	cond func() bool
	ch   chan time.Time
}

// Receive buffer of the monitor socket. A million notifications arrive in
// a burst, and an overrun costs a full dump.
const monitorBuffer = 1 << 30

// NewMonitor subscribes to route and nexthop notifications in the
// namespace at nsPath and starts following them. gateways are the two
// links' gateways that the routes forward through. Call Close to stop.
func NewMonitor(nsPath string, family int, protocol uint8, gateways [2]netip.Addr) (*Monitor, error) {
	fd, err := socketIn(nsPath)
	if err != nil {
		return nil, err
	}

	m := &Monitor{
		nsPath: nsPath, family: family, protocol: protocol, gateways: gateways, fd: fd,
		stop: make(chan struct{}), done: make(chan struct{}),
		routes: newRouteMap(family), byNH: make(map[uint32]int), nexthops: make(map[uint32]nexthopInfo),
	}

	if err := m.subscribe(); err != nil {
		unix.Close(fd)
		return nil, err
	}

	// Start from the truth, then follow notifications.
	if err := m.resync(); err != nil {
		unix.Close(fd)
		return nil, err
	}

	go m.run()

	return m, nil
}

func (m *Monitor) subscribe() error {
	group := uint32(unix.RTNLGRP_IPV4_ROUTE)
	if m.family == 6 {
		group = unix.RTNLGRP_IPV6_ROUTE
	}

	for _, g := range []uint32{group, unix.RTNLGRP_NEXTHOP} {
		if err := unix.SetsockoptInt(m.fd, unix.SOL_NETLINK, unix.NETLINK_ADD_MEMBERSHIP, int(g)); err != nil {
			return fmt.Errorf("join netlink group %d: %w", g, err)
		}
	}

	if err := unix.SetsockoptInt(m.fd, unix.SOL_SOCKET, unix.SO_RCVBUFFORCE, monitorBuffer); err != nil {
		return fmt.Errorf("set monitor receive buffer: %w", err)
	}

	tv := unix.NsecToTimeval((100 * time.Millisecond).Nanoseconds())
	if err := unix.SetsockoptTimeval(m.fd, unix.SOL_SOCKET, unix.SO_RCVTIMEO, &tv); err != nil {
		return fmt.Errorf("set monitor receive timeout: %w", err)
	}

	return nil
}

func (m *Monitor) run() {
	defer close(m.done)

	r := newBatchReader(m.fd)
	for {
		select {
		case <-m.stop:
			return
		default:
		}

		n, err := r.read()
		switch {
		case errors.Is(err, unix.EAGAIN) || errors.Is(err, unix.EINTR):
			continue
		case errors.Is(err, unix.ENOBUFS):
			m.overrun()
			continue
		case err != nil:
			m.fail(fmt.Errorf("receive notifications: %w", err))
			return
		}

		now := time.Now()
		m.mu.Lock()
		for i := range n {
			splitMessages(r.datagram(i), func(msg message) bool {
				m.applyLocked(msg, now)
				return true
			})
		}

		m.checkLocked(now)
		m.mu.Unlock()
	}
}

// batchReader receives up to batchDatagrams notifications per system call
// with recvmmsg(2): each notification is a datagram of its own, and one
// read per datagram would make the monitor lag behind the fastest writers.
type batchReader struct {
	fd   int
	bufs [][]byte
	iovs []unix.Iovec
	hdrs []unix.Mmsghdr
}

const (
	batchDatagrams = 256
	datagramBytes  = 16 << 10
)

func newBatchReader(fd int) *batchReader {
	r := &batchReader{fd: fd, bufs: make([][]byte, batchDatagrams), iovs: make([]unix.Iovec, batchDatagrams), hdrs: make([]unix.Mmsghdr, batchDatagrams)}
	for i := range r.bufs {
		r.bufs[i] = make([]byte, datagramBytes)
		r.iovs[i].Base = &r.bufs[i][0]
		r.iovs[i].SetLen(datagramBytes)
		r.hdrs[i].Hdr.Iov = &r.iovs[i]
		r.hdrs[i].Hdr.SetIovlen(1)
	}

	return r
}

// read blocks for the first datagram (up to the socket's receive timeout)
// and returns how many it received.
func (r *batchReader) read() (int, error) {
	n, _, errno := unix.Syscall6(unix.SYS_RECVMMSG, uintptr(r.fd), uintptr(unsafe.Pointer(&r.hdrs[0])), uintptr(len(r.hdrs)), unix.MSG_WAITFORONE, 0, 0)
	if errno != 0 {
		return 0, errno
	}

	return int(n), nil
}

func (r *batchReader) datagram(i int) []byte {
	return r.bufs[i][:r.hdrs[i].Len]
}

// overrun rebuilds the state after the socket dropped notifications:
// drain what is queued (it is older than the dump), then dump.
func (m *Monitor) overrun() {
	m.mu.Lock()
	m.overruns++
	m.mu.Unlock()

	buf := make([]byte, 1<<20)
	for {
		_, _, err := unix.Recvfrom(m.fd, buf, unix.MSG_DONTWAIT)
		if err != nil && !errors.Is(err, unix.ENOBUFS) {
			break
		}
	}

	if err := m.resync(); err != nil {
		m.fail(err)
	}
}

func (m *Monitor) fail(err error) {
	m.mu.Lock()
	defer m.mu.Unlock()

	m.err = err
	if m.waiter != nil {
		close(m.waiter.ch)
		m.waiter = nil
	}
}

// resync replaces the state with a dump of routes and nexthops.
func (m *Monitor) resync() error {
	var msgs []message
	collect := func(msg message) { msgs = append(msgs, msg) }

	if err := dumpIn(m.nsPath, unix.RTM_GETNEXTHOP, unix.AF_UNSPEC, collect); err != nil {
		return err
	}

	if err := dumpIn(m.nsPath, unix.RTM_GETROUTE, familyAF(m.family), collect); err != nil {
		return err
	}

	now := time.Now()
	m.mu.Lock()
	defer m.mu.Unlock()

	writes := m.writes
	m.routes, m.byNH, m.nexthops, m.direct = newRouteMap(m.family), make(map[uint32]int), make(map[uint32]nexthopInfo), [4]int{}
	for _, msg := range msgs {
		m.applyLocked(msg, now)
	}

	// A dump is not a write.
	m.writes = writes
	m.checkLocked(now)

	return nil
}

func (m *Monitor) applyLocked(msg message, now time.Time) {
	switch msg.Type {
	case unix.RTM_NEWROUTE, unix.RTM_DELROUTE:
		r, ok := parseRoute(msg.Data)
		if !ok || r.Protocol != m.protocol || r.Table != unix.RT_TABLE_MAIN {
			return
		}

		m.writes++
		m.lastEv = now
		if msg.Type == unix.RTM_NEWROUTE {
			m.putLocked(r)
		} else {
			m.removeLocked(r.Prefix)
		}
	case unix.RTM_NEWNEXTHOP:
		if nh, ok := parseNexthop(msg.Data); ok {
			m.writes++
			m.lastEv = now
			m.nexthops[nh.ID] = nh
		}
	case unix.RTM_DELNEXTHOP:
		if nh, ok := parseNexthop(msg.Data); ok {
			m.writes++
			m.lastEv = now
			delete(m.nexthops, nh.ID)
		}
	}
}

func (m *Monitor) removeLocked(p netip.Prefix) {
	old, ok := m.routes.get(p)
	if !ok {
		return
	}

	m.routes.delete(p)
	m.countLocked(old, -1)
}

// putLocked records a new or replaced route.
func (m *Monitor) putLocked(r routeInfo) {
	ref := routeRef{nhid: r.NHID}
	for _, gw := range r.Gateways {
		ref.mask |= m.maskOf(gw)
	}

	old, had := m.routes.put(r.Prefix, ref)
	if had && old == ref {
		return
	}

	if had {
		m.countLocked(old, -1)
	}

	m.countLocked(ref, 1)
}

func (m *Monitor) countLocked(ref routeRef, d int) {
	if ref.nhid != 0 {
		m.byNH[ref.nhid] += d
	} else {
		m.direct[ref.mask] += d
	}
}

func (m *Monitor) maskOf(gw netip.Addr) uint8 {
	switch gw {
	case m.gateways[0]:
		return 1
	case m.gateways[1]:
		return 2
	}

	return 0
}

// withMaskLocked counts the routes that forward through exactly the
// gateways in mask, directly or through a nexthop object or group. In
// nexthop_compat_mode=1 a route carries both its nexthop id and the
// expanded gateways; the nexthop object is the truth then.
func (m *Monitor) withMaskLocked(mask uint8) int {
	n := m.direct[mask]
	for id, count := range m.byNH {
		if count > 0 && m.nexthopMaskLocked(id, 0) == mask {
			n += count
		}
	}

	return n
}

// usingLocked counts the routes whose gateways include those in mask.
func (m *Monitor) usingLocked(mask uint8) int {
	n := 0
	for mk := range uint8(4) {
		if mk&mask == mask {
			n += m.withMaskLocked(mk)
		}
	}

	return n
}

func (m *Monitor) nexthopMaskLocked(id uint32, depth int) uint8 {
	nh, ok := m.nexthops[id]
	if !ok || depth > 2 {
		return 0
	}

	mask := m.maskOf(nh.Gateway)
	for _, member := range nh.Group {
		mask |= m.nexthopMaskLocked(member, depth+1)
	}

	return mask
}

func (m *Monitor) checkLocked(now time.Time) {
	if m.waiter != nil && m.waiter.cond() {
		m.waiter.ch <- now
		m.waiter = nil
	}
}

// State is a snapshot of what the monitor follows.
type State struct {
	Routes    int    // routes of the protocol in the main table
	UsingHop0 int    // of which forward through hop0's gateway
	Writes    uint64 // route and nexthop notifications seen so far
	Overruns  int    // socket overruns, each repaired by a dump
	LastWrite time.Time
}

// State returns the current counts.
func (m *Monitor) State() State {
	m.mu.Lock()
	defer m.mu.Unlock()

	return State{Routes: m.routes.len(), UsingHop0: m.usingLocked(1), Writes: m.writes, Overruns: m.overruns, LastWrite: m.lastEv}
}

// WaitRoutes waits until exactly n routes are present and all of them
// forward through exactly the gateways in mask (bit 0 for hop0, bit 1 for
// hop1; ignored when n is 0). It returns the time the monitor saw it.
func (m *Monitor) WaitRoutes(ctx context.Context, n int, mask uint8) (time.Time, error) {
	return m.wait(ctx, func() bool {
		return m.routes.len() == n && (n == 0 || m.withMaskLocked(mask) == n)
	})
}

func (m *Monitor) wait(ctx context.Context, cond func() bool) (time.Time, error) {
	ch := make(chan time.Time, 1)

	m.mu.Lock()
	if m.err != nil {
		m.mu.Unlock()
		return time.Time{}, m.err
	}

	if cond() {
		m.mu.Unlock()
		return time.Now(), nil
	}

	m.waiter = &waiter{cond: cond, ch: ch}
	m.mu.Unlock()

	select {
	case t, ok := <-ch:
		if !ok {
			return time.Time{}, m.Err()
		}

		return t, nil
	case <-ctx.Done():
		m.mu.Lock()
		m.waiter = nil
		m.mu.Unlock()

		st := m.State()
		return time.Time{}, fmt.Errorf("wait for kernel state: %w (routes %d, of which using hop0 %d)", ctx.Err(), st.Routes, st.UsingHop0)
	}
}

// WaitQuiet waits until no write has been seen for d, and returns the time
// of the last write.
func (m *Monitor) WaitQuiet(ctx context.Context, d time.Duration) (time.Time, error) {
	for {
		st := m.State()
		idle := time.Since(st.LastWrite)
		if idle >= d {
			return st.LastWrite, nil
		}

		select {
		case <-ctx.Done():
			return time.Time{}, fmt.Errorf("wait for quiet kernel: %w", ctx.Err())
		case <-time.After(d - idle):
		}
	}
}

// Err returns the error that stopped the monitor, if any.
func (m *Monitor) Err() error {
	m.mu.Lock()
	defer m.mu.Unlock()

	return m.err
}

// Close stops the monitor and closes its socket.
func (m *Monitor) Close() error {
	close(m.stop)
	<-m.done

	return unix.Close(m.fd)
}

// CountRoutes dumps the main table of the namespace and counts the routes
// of a protocol and family. It is the check that follows each scenario.
func CountRoutes(nsPath string, family int, protocol uint8) (int, error) {
	n := 0
	err := dumpIn(nsPath, unix.RTM_GETROUTE, familyAF(family), func(msg message) {
		if msg.Type != unix.RTM_NEWROUTE {
			return
		}

		if r, ok := parseRoute(msg.Data); ok && r.Protocol == protocol && r.Table == unix.RT_TABLE_MAIN {
			n++
		}
	})

	return n, err
}

func familyAF(family int) uint8 {
	if family == 6 {
		return unix.AF_INET6
	}

	return unix.AF_INET
}

// dumpIn runs one dump request in the namespace and calls fn for each
// message of the reply.
func dumpIn(nsPath string, typ uint16, family uint8, fn func(message)) error {
	fd, err := socketIn(nsPath)
	if err != nil {
		return err
	}
	defer unix.Close(fd)

	_ = unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_RCVBUFFORCE, 32<<20)
	_ = unix.SetsockoptInt(fd, unix.SOL_NETLINK, unix.NETLINK_GET_STRICT_CHK, 1)

	req := appendHeader(nil, typ, unix.NLM_F_REQUEST|unix.NLM_F_DUMP, 1)
	if typ == unix.RTM_GETNEXTHOP {
		req = append(req, family, 0, 0, 0, 0, 0, 0, 0)
	} else {
		req = append(req, family, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0)
	}

	native.PutUint32(req, uint32(len(req)))
	if err := unix.Sendto(fd, req, 0, &unix.SockaddrNetlink{Family: unix.AF_NETLINK}); err != nil {
		return fmt.Errorf("send dump request %d: %w", typ, err)
	}

	return readDump(fd, typ, fn)
}

func readDump(fd int, typ uint16, fn func(message)) error {
	buf := make([]byte, 1<<20)
	for {
		n, _, err := unix.Recvfrom(fd, buf, 0)
		if err != nil {
			return fmt.Errorf("receive dump %d: %w", typ, err)
		}

		done := false
		var dumpErr error
		splitMessages(buf[:n], func(msg message) bool {
			switch msg.Type {
			case unix.NLMSG_DONE:
				done = true
				return false
			case unix.NLMSG_ERROR:
				if len(msg.Data) >= 4 {
					if e := int32(native.Uint32(msg.Data)); e != 0 {
						dumpErr = fmt.Errorf("dump %d: %w", typ, unix.Errno(-e))
					}
				}

				done = true
				return false
			}

			fn(msg)
			return true
		})

		if dumpErr != nil {
			// A kernel without nexthop objects rejects their dump: no
			// nexthops then.
			if typ == unix.RTM_GETNEXTHOP {
				return nil
			}

			return dumpErr
		}

		if done {
			return nil
		}
	}
}

// socketIn opens a NETLINK_ROUTE socket inside the namespace at nsPath. It
// enters the namespace on a locked thread that is thrown away if it cannot
// return to its own namespace.
func socketIn(nsPath string) (int, error) {
	type result struct {
		fd  int
		err error
	}

	ch := make(chan result, 1)
	go func() {
		runtime.LockOSThread()

		fd, restored, err := socketOnThread(nsPath)
		if restored {
			runtime.UnlockOSThread()
		}

		ch <- result{fd, err}
	}()

	r := <-ch

	return r.fd, r.err
}

func socketOnThread(nsPath string) (fd int, restored bool, err error) {
	own, err := os.Open("/proc/thread-self/ns/net")
	if err != nil {
		return -1, true, fmt.Errorf("open own namespace: %w", err)
	}
	defer own.Close()

	target, err := os.Open(nsPath)
	if err != nil {
		return -1, true, fmt.Errorf("open namespace %s: %w", nsPath, err)
	}
	defer target.Close()

	if err := unix.Setns(int(target.Fd()), unix.CLONE_NEWNET); err != nil {
		return -1, true, fmt.Errorf("enter namespace %s: %w", nsPath, err)
	}

	fd, sockErr := unix.Socket(unix.AF_NETLINK, unix.SOCK_RAW|unix.SOCK_CLOEXEC, unix.NETLINK_ROUTE)
	if err := unix.Setns(int(own.Fd()), unix.CLONE_NEWNET); err != nil {
		if sockErr == nil {
			unix.Close(fd)
		}

		return -1, false, fmt.Errorf("return from namespace %s: %w", nsPath, err)
	}

	if sockErr != nil {
		return -1, true, fmt.Errorf("open netlink socket in %s: %w", nsPath, sockErr)
	}

	if err := unix.Bind(fd, &unix.SockaddrNetlink{Family: unix.AF_NETLINK}); err != nil {
		unix.Close(fd)
		return -1, true, fmt.Errorf("bind netlink socket in %s: %w", nsPath, err)
	}

	return fd, true, nil
}

// routeMap contains the routes the monitor follows. The workload's own
// prefixes are in an array at their index in the workload, so a million
// notifications in address order touch memory in order. With a map of a
// million keys, the benchmark process took about 15% more CPU time during
// a 1M install, time that the contender's kernel work shares. Other
// prefixes, which only a faulty contender would add, go in a map.
type routeMap struct {
	family int
	slots  []routeSlot
	used   int
	other  map[netip.Prefix]routeRef
}

type routeSlot struct {
	ref     routeRef
	present bool
}

func newRouteMap(family int) routeMap {
	return routeMap{family: family, other: make(map[netip.Prefix]routeRef)}
}

func (rm *routeMap) len() int {
	return rm.used + len(rm.other)
}

// slot returns the slot of p and whether p is one of the workload's
// prefixes. With grow set, the array grows to contain the slot. Without it,
// the slot is nil when p lies beyond the array.
func (rm *routeMap) slot(p netip.Prefix, grow bool) (*routeSlot, bool) {
	i, ok := PrefixIndex(rm.family, p)
	if !ok {
		return nil, false
	}

	if i >= len(rm.slots) {
		if !grow {
			return nil, true
		}

		n := max(i+1, 2*len(rm.slots))
		rm.slots = append(rm.slots, make([]routeSlot, n-len(rm.slots))...)
	}

	return &rm.slots[i], true
}

func (rm *routeMap) get(p netip.Prefix) (routeRef, bool) {
	sl, workload := rm.slot(p, false)
	if !workload {
		ref, ok := rm.other[p]

		return ref, ok
	}

	if sl == nil || !sl.present {
		return routeRef{}, false
	}

	return sl.ref, true
}

// put stores ref and returns the reference it replaced, if any.
func (rm *routeMap) put(p netip.Prefix, ref routeRef) (routeRef, bool) {
	sl, workload := rm.slot(p, true)
	if !workload {
		old, ok := rm.other[p]
		rm.other[p] = ref

		return old, ok
	}

	old, had := sl.ref, sl.present
	if !had {
		rm.used++
	}

	*sl = routeSlot{ref: ref, present: true}

	return old, had
}

func (rm *routeMap) delete(p netip.Prefix) {
	sl, workload := rm.slot(p, false)
	if !workload {
		delete(rm.other, p)

		return
	}

	if sl != nil && sl.present {
		*sl = routeSlot{}
		rm.used--
	}
}
