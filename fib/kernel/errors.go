package kernel

import (
	"errors"
	"syscall"
)

// OpError is the failure of one dataplane operation, as the kernel reported
// it: the errno and the extended acknowledgement text (NETLINK_EXT_ACK).
type OpError struct {
	// Op is the operation: "create", "replace" or "delete".
	Op string

	// Object names what the operation was on, such as
	// "route 192.0.2.0/24 table 254 metric 20" or "nexthop 3000000001".
	Object string

	// Errno is the kernel's error number.
	Errno syscall.Errno

	// Message is the kernel's extended acknowledgement text, or empty.
	Message string
}

// Error formats the error as "OP OBJECT: ERRNO TEXT: EXT-ACK TEXT".
func (e *OpError) Error() string {
	s := e.Op + " " + e.Object + ": " + e.Errno.Error()
	if e.Message != "" {
		s += ": " + e.Message
	}

	return s
}

// Unwrap returns the errno, so that errors.Is(err, fs.ErrExist) holds for
// EEXIST.
func (e *OpError) Unwrap() error {
	return e.Errno
}

// errnoOf returns the errno inside err, or zero.
func errnoOf(err error) syscall.Errno {
	var errno syscall.Errno
	if errors.As(err, &errno) {
		return errno
	}

	return 0
}
