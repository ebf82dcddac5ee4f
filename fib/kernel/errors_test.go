package kernel

import (
	"errors"
	"io/fs"
	"syscall"
	"testing"
)

func TestOpErrorFormat(t *testing.T) {
	err := error(&OpError{Op: "create", Object: "route 192.0.2.0/24 table 254 metric 20", Errno: syscall.EEXIST, Message: "some text"})
	want := "create route 192.0.2.0/24 table 254 metric 20: file exists: some text"
	if err.Error() != want {
		t.Errorf("Error() = %q, want %q", err.Error(), want)
	}

	if !errors.Is(err, fs.ErrExist) || !errors.Is(err, syscall.EEXIST) {
		t.Errorf("errors.Is(%v, fs.ErrExist) = false, want true", err)
	}

	bare := &OpError{Op: "delete", Object: "nexthop 3000000001", Errno: syscall.EBUSY}
	if got := bare.Error(); got != "delete nexthop 3000000001: device or resource busy" {
		t.Errorf("Error() without ext-ack = %q", got)
	}
}
