package main

import (
	"errors"
	"fmt"
	"net"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// instanceLock is the abstract unix socket that makes fibd the only one
// with its protocol in its network namespace. Abstract socket names are
// per network namespace and disappear when the process that bound one
// exits, even by SIGKILL, so no stale lock survives a crash.
type instanceLock struct {
	listener *net.UnixListener
}

// instanceSocketName returns the abstract socket name for protocol. The
// leading "@" makes Go bind an abstract name.
func instanceSocketName(protocol uint8) string {
	return fmt.Sprintf("@fibd-proto-%d", protocol)
}

// lockInstance binds the protocol's abstract socket. A second fibd with
// the same protocol in the same namespace would adopt the first one's
// routes and delete them when its hold ends, so it must not start.
func lockInstance(protocol uint8) (*instanceLock, error) {
	name := instanceSocketName(protocol)
	ln, err := net.ListenUnix("unix", &net.UnixAddr{Name: name, Net: "unix"})
	if errors.Is(err, syscall.EADDRINUSE) {
		return nil, fmt.Errorf("another fibd with protocol %d runs in this network namespace%s (it holds the abstract socket %s); stop it, or give this one another kernel.protocol", protocol, holderPID(name), name)
	}

	if err != nil {
		return nil, fmt.Errorf("bind instance socket %s: %w", name, err)
	}

	// Connections only tell a second instance who holds the socket, so
	// each is closed at once. Accept fails when the lock is released.
	go func() {
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}

			conn.Close()
		}
	}()

	return &instanceLock{listener: ln}, nil
}

// holderPID returns " (pid N)" for the process listening on the abstract
// socket name, or "" when its peer credentials are unavailable.
func holderPID(name string) string {
	conn, err := net.DialTimeout("unix", name, time.Second)
	if err != nil {
		return ""
	}
	defer conn.Close()

	raw, err := conn.(*net.UnixConn).SyscallConn()
	if err != nil {
		return ""
	}

	var cred *unix.Ucred
	ctrlErr := raw.Control(func(fd uintptr) {
		cred, err = unix.GetsockoptUcred(int(fd), unix.SOL_SOCKET, unix.SO_PEERCRED)
	})
	if ctrlErr != nil || err != nil || cred == nil || cred.Pid == 0 {
		return ""
	}

	return fmt.Sprintf(" (pid %d)", cred.Pid)
}

// release closes the socket, so that another fibd may start.
func (l *instanceLock) release() error {
	return l.listener.Close()
}
