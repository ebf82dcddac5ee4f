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

	// interrupt makes receive fail once no datagram is queued, until
	// resume. Datagrams that are queued can still be received.
	interrupt()
	resume()

	// buffers returns the socket's receive and send buffer sizes as the
	// kernel accounts them, or zeros when unknown.
	buffers() (read, write int)

	close() error
}

// rawTransport writes pre-encoded batches straight on a netlink socket's
// file descriptor: one sendmsg per batch and no copy into netlink.Message
// values.
//
// One goroutine sends and another receives at the same time, so the fields
// of each direction are separate. Each direction is used by one goroutine
// at a time.
type rawTransport struct {
	conn *netlink.Conn
	rc   syscall.RawConn

	writeFn func(fd uintptr) bool
	wbuf    []byte
	wn      int
	werr    error

	readFn func(fd uintptr) bool
	rbuf   []byte
	rn     int
	rerr   error
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
	// Errors then echo only the request's header, not the whole request.
	if err := t.conn.SetOption(netlink.CapAcknowledge, true); err != nil {
		return fmt.Errorf("set NETLINK_CAP_ACK on rtnetlink request socket: %w", err)
	}

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
	t.writeFn = t.write
	t.readFn = t.read

	return nil
}

func (t *rawTransport) send(b []byte) error {
	t.wbuf = b
	err := t.rc.Write(t.writeFn)
	n, werr := t.wn, t.werr
	t.wbuf, t.werr = nil, nil
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

// write is the callback of rc.Write. Like read, it is bound once in setup
// and passes its values in fields, so that a call allocates nothing.
func (t *rawTransport) write(fd uintptr) bool {
	for {
		t.wn, t.werr = unix.Write(int(fd), t.wbuf)
		if t.werr != unix.EINTR {
			return t.werr != unix.EAGAIN
		}
	}
}

func (t *rawTransport) receive(b []byte) (int, error) {
	t.rbuf = b
	err := t.rc.Read(t.readFn)
	n, rerr := t.rn, t.rerr
	t.rbuf, t.rerr = nil, nil
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

func (t *rawTransport) read(fd uintptr) bool {
	for {
		t.rn, t.rerr = recvTrunc(int(fd), t.rbuf)
		if t.rerr != unix.EINTR {
			return t.rerr != unix.EAGAIN
		}
	}
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

// drainTime is how long a receive still waits after interrupt. The replies
// to every sent batch are queued by the time its sendmsg returns, so the
// reader needs this time only to be scheduled and read them.
const drainTime = 100 * time.Millisecond

// interrupt sets a read deadline a little ahead rather than in the past,
// because a deadline in the past fails a read even with datagrams queued.
func (t *rawTransport) interrupt() {
	_ = t.conn.SetReadDeadline(time.Now().Add(drainTime))
}

func (t *rawTransport) resume() {
	_ = t.conn.SetReadDeadline(time.Time{})
}

func (t *rawTransport) buffers() (read, write int) {
	read, errRead := t.conn.ReadBuffer()
	write, errWrite := t.conn.WriteBuffer()
	if errRead != nil || errWrite != nil {
		return 0, 0
	}

	return read, write
}

func (t *rawTransport) close() error {
	return t.conn.Close()
}

// isTimeout reports whether err comes from an interrupted receive.
func isTimeout(err error) bool {
	return errors.Is(err, os.ErrDeadlineExceeded)
}
