package server

import (
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	reflectionpb "google.golang.org/grpc/reflection/grpc_reflection_v1"
)

func TestReflectionOverSocket(t *testing.T) {
	h := newHarness(t, Config{})

	info, err := os.Stat(h.socket)
	if err != nil {
		t.Fatalf("stat socket: %v", err)
	}

	if mode := info.Mode().Perm(); mode != DefaultSocketMode {
		t.Errorf("socket mode = %04o, want %04o", mode, DefaultSocketMode)
	}

	stream, err := reflectionpb.NewServerReflectionClient(h.conn).ServerReflectionInfo(testContext(t))
	if err != nil {
		t.Fatalf("reflection: %v", err)
	}

	err = stream.Send(&reflectionpb.ServerReflectionRequest{MessageRequest: &reflectionpb.ServerReflectionRequest_ListServices{}})
	if err != nil {
		t.Fatalf("send list services: %v", err)
	}

	resp, err := stream.Recv()
	if err != nil {
		t.Fatalf("receive services: %v", err)
	}

	var names []string
	for _, s := range resp.GetListServicesResponse().GetService() {
		names = append(names, s.GetName())
	}

	for _, want := range []string{"fibd.v1.Fib", "grpc.health.v1.Health"} {
		if !slices.Contains(names, want) {
			t.Errorf("services %v lack %s", names, want)
		}
	}

	health, err := healthpb.NewHealthClient(h.conn).Check(testContext(t), &healthpb.HealthCheckRequest{Service: "fibd.v1.Fib"})
	if err != nil || health.GetStatus() != healthpb.HealthCheckResponse_SERVING {
		t.Errorf("health check = %v, %v; want SERVING", health, err)
	}
}

func TestListenStaleSocket(t *testing.T) {
	path := filepath.Join(t.TempDir(), "run", "fibd.sock")

	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}

	// A socket whose listener is gone, as a crashed fibd leaves it.
	l, err := net.Listen("unix", path)
	if err != nil {
		t.Fatalf("listen: %v", err)
	}

	l.(*net.UnixListener).SetUnlinkOnClose(false)
	l.Close()

	listeners, _, err := Listen(ListenConfig{Socket: path, SocketMode: 0o600})
	if err != nil {
		t.Fatalf("listen over stale socket: %v", err)
	}
	defer listeners[0].Close()

	info, err := os.Stat(path)
	if err != nil || info.Mode().Perm() != 0o600 {
		t.Errorf("socket stat = %v, %v; want mode 0600", info, err)
	}

	// A second listener must not steal the live socket.
	_, _, err = Listen(ListenConfig{Socket: path})
	if err == nil || !strings.Contains(err.Error(), "is listening") {
		t.Errorf("listen on a live socket: %v, want an error saying another process listens", err)
	}
}

func TestListenCreatesDirectory(t *testing.T) {
	path := filepath.Join(t.TempDir(), "a", "b", "fibd.sock")

	listeners, _, err := Listen(ListenConfig{Socket: path})
	if err != nil {
		t.Fatalf("listen: %v", err)
	}
	defer listeners[0].Close()

	info, err := os.Stat(filepath.Dir(path))
	if err != nil || info.Mode().Perm() != 0o755 {
		t.Errorf("directory stat = %v, %v; want mode 0755", info, err)
	}
}

func TestListenInvalid(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "not-a-socket")
	if err := os.WriteFile(file, []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}

	tests := []struct {
		name string
		cfg  ListenConfig
		want string
	}{
		{"nothing", ListenConfig{}, "set api.socket or api.tcp.address"},
		{"regular file", ListenConfig{Socket: file}, "is not a socket"},
		{"tcp without tls", ListenConfig{TCPAddress: "127.0.0.1:0"}, "api.tcp.allow-insecure-loopback"},
		{"insecure wildcard", ListenConfig{TCPAddress: "0.0.0.0:0", AllowInsecureLoopback: true}, "only on a loopback IP address"},
		{"insecure name", ListenConfig{TCPAddress: "localhost:0", AllowInsecureLoopback: true}, "only on a loopback IP address"},
		{"half tls", ListenConfig{TCPAddress: "127.0.0.1:0", CertFile: "c.pem"}, "missing api.tcp.key and api.tcp.client-ca"},
		{"missing cert", ListenConfig{TCPAddress: "127.0.0.1:0", CertFile: filepath.Join(dir, "c.pem"), KeyFile: filepath.Join(dir, "k.pem"), ClientCAFile: filepath.Join(dir, "ca.pem")}, "load api.tcp.cert"},
	}

	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			listeners, _, err := Listen(tt.cfg)
			closeAll(listeners)

			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error = %v, want one containing %q", err, tt.want)
			}
		})
	}
}

func TestListenInsecureLoopback(t *testing.T) {
	listeners, _, err := Listen(ListenConfig{TCPAddress: "127.0.0.1:0", AllowInsecureLoopback: true})
	if err != nil {
		t.Fatalf("listen: %v", err)
	}

	closeAll(listeners)
}
