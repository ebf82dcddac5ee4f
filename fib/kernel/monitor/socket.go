package monitor

import (
	"encoding/binary"
	"errors"
	"fmt"
	"time"

	"github.com/mdlayher/netlink"
	"golang.org/x/net/bpf"
	"golang.org/x/sys/unix"

	"github.com/fibd/fibd/fib/kernel/nlmsg"
)

// groups are the rtnetlink multicast groups the monitor joins. They are
// joined one by one with NETLINK_ADD_MEMBERSHIP, because RTNLGRP_NEXTHOP
// (32) has no bit in the legacy bind mask.
var groups = []uint32{
	nlmsg.RTNLGRP_IPV4_ROUTE,
	nlmsg.RTNLGRP_IPV6_ROUTE,
	nlmsg.RTNLGRP_NEXTHOP,
	nlmsg.RTNLGRP_LINK,
	nlmsg.RTNLGRP_IPV4_IFADDR,
	nlmsg.RTNLGRP_IPV6_IFADDR,
}

// maxNotificationBytes bounds one received datagram. The kernel sends one
// notification per datagram; a route with 256 next hops takes about 8 KiB.
const maxNotificationBytes = 64 << 10

// listener is the notification socket.
type listener struct {
	conn *netlink.Conn
}

// listen opens a notification socket in the namespace netns, joins the
// groups and installs a filter that drops echoes of fibd's own changes in
// the kernel, before they take room in the receive buffer.
func listen(netns int, readBuffer int, protocol uint8, ownPorts []uint32) (*listener, error) {
	conn, err := netlink.Dial(unix.NETLINK_ROUTE, &netlink.Config{
		NetNS:             netns,
		MessageBufferSize: maxNotificationBytes,
	})
	if err != nil {
		return nil, fmt.Errorf("open rtnetlink notification socket: %w", err)
	}

	l := &listener{conn: conn}
	if err := l.setup(readBuffer, protocol, ownPorts); err != nil {
		conn.Close()

		return nil, err
	}

	return l, nil
}

func (l *listener) setup(readBuffer int, protocol uint8, ownPorts []uint32) error {
	// SetReadBuffer uses SO_RCVBUFFORCE when the process has CAP_NET_ADMIN,
	// so the size is not capped by net.core.rmem_max.
	if err := l.conn.SetReadBuffer(readBuffer); err != nil {
		return fmt.Errorf("set read buffer of notification socket to %d bytes: %w", readBuffer, err)
	}

	filter, err := echoFilter(protocol, ownPorts)
	if err != nil {
		return err
	}

	if err := l.conn.SetBPF(filter); err != nil {
		return fmt.Errorf("attach echo filter to notification socket: %w", err)
	}

	for _, g := range groups {
		if err := l.conn.JoinGroup(g); err != nil {
			return fmt.Errorf("join rtnetlink group %d: %w", g, err)
		}
	}

	return nil
}

// receive returns the next datagram's messages. It returns an error for
// which isOverrun holds when the kernel dropped notifications.
func (l *listener) receive() ([]netlink.Message, error) {
	return l.conn.Receive()
}

// interrupt makes a blocked receive return.
func (l *listener) interrupt() {
	_ = l.conn.SetReadDeadline(time.Unix(1, 0))
}

func (l *listener) close() error {
	return l.conn.Close()
}

// isOverrun reports whether err is the kernel's report (ENOBUFS) that the
// receive buffer overflowed and notifications were lost.
func isOverrun(err error) bool {
	return errors.Is(err, unix.ENOBUFS)
}

// echoFilter returns a socket filter that drops the notifications that
// call for no repair, so that programming a million routes does not wake the
// monitor a million times:
//
//   - every notification caused by a request from one of ownPorts (the
//     kernel puts the requester's port id in nlmsg_pid), and
//   - RTM_NEWROUTE and RTM_NEWNEXTHOP of fibd's protocol, which are echoes
//     of fibd's own changes or, for a group, the kernel removing a member
//     whose own deletion is announced separately.
//
// Classic BPF loads are big-endian, while netlink headers are in host
// order, so the constants are converted to what a load returns.
func echoFilter(protocol uint8, ownPorts []uint32) ([]bpf.RawInstruction, error) {
	const (
		offType            = 4
		offPID             = 12
		offRouteProtocol   = nlmsg.SizeofNlmsghdr + 5 // rtmsg.rtm_protocol
		offNexthopProtocol = nlmsg.SizeofNlmsghdr + 2 // nhmsg.nh_protocol
		keep               = 0xffffffff
	)

	var prog []bpf.Instruction
	prog = append(prog, bpf.LoadAbsolute{Off: offPID, Size: 4})
	for _, p := range ownPorts {
		// Jump to the "drop" return at the end when the port matches.
		prog = append(prog, bpf.JumpIf{Cond: bpf.JumpEqual, Val: loaded32(p), SkipTrue: 0xff})
	}

	prog = append(prog,
		bpf.LoadAbsolute{Off: offType, Size: 2},
		bpf.JumpIf{Cond: bpf.JumpEqual, Val: loaded16(nlmsg.RTM_NEWROUTE), SkipTrue: 2},
		bpf.JumpIf{Cond: bpf.JumpEqual, Val: loaded16(nlmsg.RTM_NEWNEXTHOP), SkipTrue: 4},
		bpf.RetConstant{Val: keep},
		// RTM_NEWROUTE
		bpf.LoadAbsolute{Off: offRouteProtocol, Size: 1},
		bpf.JumpIf{Cond: bpf.JumpEqual, Val: uint32(protocol), SkipTrue: 4},
		bpf.RetConstant{Val: keep},
		// RTM_NEWNEXTHOP
		bpf.LoadAbsolute{Off: offNexthopProtocol, Size: 1},
		bpf.JumpIf{Cond: bpf.JumpEqual, Val: uint32(protocol), SkipTrue: 1},
		bpf.RetConstant{Val: keep},
		// drop
		bpf.RetConstant{Val: 0},
	)

	fixDropJumps(prog)

	raw, err := bpf.Assemble(prog)
	if err != nil {
		return nil, fmt.Errorf("assemble echo filter: %w", err)
	}

	return raw, nil
}

// fixDropJumps points the port id jumps, marked with SkipTrue 0xff, at the
// last instruction.
func fixDropJumps(prog []bpf.Instruction) {
	last := len(prog) - 1
	for i, ins := range prog {
		if j, ok := ins.(bpf.JumpIf); ok && j.SkipTrue == 0xff {
			j.SkipTrue = uint8(last - i - 1)
			prog[i] = j
		}
	}
}

func loaded16(v uint16) uint32 {
	b := binary.NativeEndian.AppendUint16(nil, v)

	return uint32(binary.BigEndian.Uint16(b))
}

func loaded32(v uint32) uint32 {
	b := binary.NativeEndian.AppendUint32(nil, v)

	return binary.BigEndian.Uint32(b)
}
