package kernel

import (
	"errors"
	"fmt"
	"os"
	"syscall"
	"time"
	"unsafe"

	"github.com/mdlayher/netlink"
	"golang.org/x/sys/unix"
)

// transport carries batches of encoded requests to the kernel and their
// replies back. The real one writes on the socket's file descriptor; tests
// use a fake kernel.
type transport interface {
	// send sends b, one or more complete messages, in one datagram.
	send(b []byte) error

	// receive reads one datagram into b and returns its length.
	receive(b []byte) (int, error)

	// interrupt makes a blocked or later receive fail until resume.
	interrupt()
	resume()

	// writeBuffer returns the socket's send buffer size, or zero.
	writeBuffer() int

	close() error
}

// rawTransport writes pre-encoded batches straight on a netlink socket's
// file descriptor: one sendmsg per batch and no copy into netlink.Message
// values.
type rawTransport struct {
	conn *netlink.Conn
	rc   syscall.RawConn
}

func dialRaw(cfg Config) (*rawTransport, error) {
	c, err := netlink.Dial(unix.NETLINK_ROUTE, &netlink.Config{NetNS: cfg.NetNS, Strict: true})
	if err != nil {
		return nil, fmt.Errorf("open rtnetlink request socket: %w", err)
	}

	t := &rawTransport{conn: c}
	if err := t.setup(cfg); err != nil {
		c.Close()

		return nil, err
	}

	return t, nil
}

func (t *rawTransport) setup(cfg Config) error {
	if err := t.conn.SetReadBuffer(cfg.ReadBuffer); err != nil {
		return fmt.Errorf("set read buffer of rtnetlink request socket: %w", err)
	}

	if err := t.conn.SetWriteBuffer(cfg.WriteBuffer); err != nil {
		return fmt.Errorf("set write buffer of rtnetlink request socket: %w", err)
	}

	rc, err := t.conn.SyscallConn()
	if err != nil {
		return fmt.Errorf("access rtnetlink request socket: %w", err)
	}

	t.rc = rc

	return nil
}

func (t *rawTransport) send(b []byte) error {
	var n int
	var werr error
	err := t.rc.Write(func(fd uintptr) bool {
		for {
			n, werr = unix.Write(int(fd), b)
			if werr != unix.EINTR {
				return werr != unix.EAGAIN
			}
		}
	})
	if err != nil {
		return fmt.Errorf("send requests: %w", err)
	}

	if werr != nil {
		return fmt.Errorf("send requests: %w", os.NewSyscallError("sendmsg", werr))
	}

	if n != len(b) {
		return fmt.Errorf("send requests: sent %d of %d bytes", n, len(b))
	}

	return nil
}

func (t *rawTransport) receive(b []byte) (int, error) {
	var n int
	var rerr error
	err := t.rc.Read(func(fd uintptr) bool {
		for {
			n, rerr = recvTrunc(int(fd), b)
			if rerr != unix.EINTR {
				return rerr != unix.EAGAIN
			}
		}
	})
	if err != nil {
		return 0, fmt.Errorf("receive replies: %w", err)
	}

	if rerr != nil {
		return 0, fmt.Errorf("receive replies: %w", os.NewSyscallError("recvmsg", rerr))
	}

	if n > len(b) {
		return 0, fmt.Errorf("receive replies: datagram of %d bytes exceeds the %d-byte buffer", n, len(b))
	}

	return n, nil
}

// recvTrunc receives one datagram with MSG_TRUNC, so that the returned
// length is the datagram's full length even when b is too small. It does
// not allocate, unlike unix.Recvmsg.
func recvTrunc(fd int, b []byte) (int, error) {
	r, _, errno := unix.Syscall6(unix.SYS_RECVFROM, uintptr(fd), uintptr(unsafe.Pointer(&b[0])), uintptr(len(b)), unix.MSG_TRUNC, 0, 0)
	if errno != 0 {
		return 0, errno
	}

	return int(r), nil
}

func (t *rawTransport) interrupt() {
	_ = t.conn.SetReadDeadline(time.Unix(1, 0))
}

func (t *rawTransport) resume() {
	_ = t.conn.SetReadDeadline(time.Time{})
}

func (t *rawTransport) writeBuffer() int {
	n, err := t.conn.WriteBuffer()
	if err != nil {
		return 0
	}

	return n
}

func (t *rawTransport) close() error {
	return t.conn.Close()
}

// isTimeout reports whether err comes from an interrupted receive.
func isTimeout(err error) bool {
	return errors.Is(err, os.ErrDeadlineExceeded)
}
