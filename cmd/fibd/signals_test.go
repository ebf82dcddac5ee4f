package main

import (
	"context"
	"io"
	"log/slog"
	"syscall"
	"testing"
	"time"

	"github.com/fibd/fibd/internal/sdnotify"
)

func TestSignals(t *testing.T) {
	exited := make(chan int, 1)
	exit = func(code int) { exited <- code }
	t.Cleanup(func() { exit = func(code int) { panic("exit after test") } })

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()

	w := watchSignals(cancel, slog.New(slog.NewTextHandler(io.Discard, nil)), sdnotify.ForSocket(""))
	defer w.stop()

	if err := syscall.Kill(syscall.Getpid(), syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}

	select {
	case <-w.reload:
	case <-time.After(5 * time.Second):
		t.Fatal("SIGHUP did not request a reload")
	}

	if ctx.Err() != nil {
		t.Fatal("SIGHUP cancelled the context")
	}

	if err := syscall.Kill(syscall.Getpid(), syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}

	select {
	case <-ctx.Done():
	case <-time.After(5 * time.Second):
		t.Fatal("first SIGTERM did not cancel the context")
	}

	select {
	case code := <-exited:
		t.Fatalf("first SIGTERM exited with %d", code)
	default:
	}

	if err := syscall.Kill(syscall.Getpid(), syscall.SIGINT); err != nil {
		t.Fatal(err)
	}

	select {
	case code := <-exited:
		if code != exitError {
			t.Errorf("second signal exited with %d, want %d", code, exitError)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("second signal did not exit")
	}
}
