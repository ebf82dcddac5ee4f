package server

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"time"

	"google.golang.org/grpc"
)

// Defaults of ListenConfig fields left at their zero value.
const (
	DefaultSocketMode     os.FileMode = 0o660
	DefaultMaxRecvMsgSize             = 64 << 20
)

// ListenConfig configures the API's listeners.
type ListenConfig struct {
	// Socket is the path of the unix socket; "" opens none. Its parent
	// directory is created (mode 0755) when missing, and a stale socket
	// file left by an earlier run is removed.
	Socket string

	// SocketMode is the socket file's mode; zero means 0660, so that the
	// socket's group may use the API.
	SocketMode os.FileMode

	// TCPAddress is the address of an optional TCP listener ("" opens
	// none). It requires CertFile, KeyFile and ClientCAFile (TLS with
	// client certificates), unless AllowInsecureLoopback is set and the
	// address is a loopback IP address.
	TCPAddress   string
	CertFile     string
	KeyFile      string
	ClientCAFile string

	// AllowInsecureLoopback allows plaintext TCP on a loopback address.
	AllowInsecureLoopback bool

	// MaxRecvMsgSize bounds the size of one request message in bytes.
	// Zero means DefaultMaxRecvMsgSize, 64 MiB. By proto.Size, a batch of
	// 10,000 IPv6 routes takes 2.6 MB with 8 next hops each and 85 MB
	// with 256 each, so batches of routes with very many next hops must
	// be smaller.
	MaxRecvMsgSize int
}

// Listen opens the configured listeners and returns them with the gRPC
// server options they need. The caller serves one grpc.Server on every
// listener and closes them (closing the unix listener removes its socket
// file). TLS is terminated on the TCP listener itself, so the unix socket
// of the same server stays plaintext.
func Listen(cfg ListenConfig) ([]net.Listener, []grpc.ServerOption, error) {
	if cfg.Socket == "" && cfg.TCPAddress == "" {
		return nil, nil, errors.New("listen: no listener configured; set api.socket or api.tcp.address")
	}

	tlsConfig, err := tcpTLS(cfg)
	if err != nil {
		return nil, nil, err
	}

	var listeners []net.Listener
	if cfg.Socket != "" {
		l, err := listenUnix(cfg.Socket, cfg.SocketMode)
		if err != nil {
			return nil, nil, err
		}

		listeners = append(listeners, l)
	}

	if cfg.TCPAddress != "" {
		l, err := net.Listen("tcp", cfg.TCPAddress)
		if err != nil {
			closeAll(listeners)

			return nil, nil, fmt.Errorf("listen on tcp %s: %w", cfg.TCPAddress, err)
		}

		if tlsConfig != nil {
			l = tls.NewListener(l, tlsConfig)
		}

		listeners = append(listeners, l)
	}

	size := cfg.MaxRecvMsgSize
	if size <= 0 {
		size = DefaultMaxRecvMsgSize
	}

	return listeners, []grpc.ServerOption{grpc.MaxRecvMsgSize(size)}, nil
}

// tcpTLS checks the TCP settings and returns the TLS configuration, or nil
// for no TCP listener or plaintext loopback.
func tcpTLS(cfg ListenConfig) (*tls.Config, error) {
	if cfg.TCPAddress == "" {
		return nil, nil
	}

	files := map[string]string{"api.tcp.cert": cfg.CertFile, "api.tcp.key": cfg.KeyFile, "api.tcp.client-ca": cfg.ClientCAFile}
	var missing []string
	for _, key := range []string{"api.tcp.cert", "api.tcp.key", "api.tcp.client-ca"} {
		if files[key] == "" {
			missing = append(missing, key)
		}
	}

	switch {
	case len(missing) == 0:
		return loadTLS(cfg)
	case len(missing) < len(files):
		return nil, fmt.Errorf("listen on tcp %s: incomplete TLS configuration, missing %s; set api.tcp.cert, api.tcp.key and api.tcp.client-ca together", cfg.TCPAddress, strings.Join(missing, " and "))
	case !cfg.AllowInsecureLoopback:
		return nil, fmt.Errorf("listen on tcp %s: TCP needs TLS with client certificates; set api.tcp.cert, api.tcp.key and api.tcp.client-ca, or use a loopback address with api.tcp.allow-insecure-loopback", cfg.TCPAddress)
	case !isLoopback(cfg.TCPAddress):
		return nil, fmt.Errorf("listen on tcp %s: plaintext TCP is allowed only on a loopback IP address (127.0.0.1 or [::1]); use one, or configure TLS with api.tcp.cert, api.tcp.key and api.tcp.client-ca", cfg.TCPAddress)
	}

	return nil, nil
}

// isLoopback reports whether a host:port address has a loopback IP. Names
// such as "localhost" do not count: they may resolve elsewhere.
func isLoopback(address string) bool {
	ap, err := netip.ParseAddrPort(address)

	return err == nil && ap.Addr().IsLoopback()
}

// loadTLS reads the server certificate and the client CA.
func loadTLS(cfg ListenConfig) (*tls.Config, error) {
	cert, err := tls.LoadX509KeyPair(cfg.CertFile, cfg.KeyFile)
	if err != nil {
		return nil, fmt.Errorf("load api.tcp.cert %s and api.tcp.key %s: %w", cfg.CertFile, cfg.KeyFile, err)
	}

	pem, err := os.ReadFile(cfg.ClientCAFile)
	if err != nil {
		return nil, fmt.Errorf("read api.tcp.client-ca: %w", err)
	}

	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		return nil, fmt.Errorf("read api.tcp.client-ca %s: no PEM certificate found", cfg.ClientCAFile)
	}

	return &tls.Config{
		Certificates: []tls.Certificate{cert},
		ClientCAs:    pool,
		ClientAuth:   tls.RequireAndVerifyClientCert,
		MinVersion:   tls.VersionTLS12,
		// grpc-go clients since v1.67 reject a TLS server that does not
		// negotiate HTTP/2 by ALPN.
		NextProtos: []string{"h2"},
	}, nil
}

// listenUnix opens the unix socket at path with mode. It removes a stale
// socket file first but never removes a file of another type.
func listenUnix(path string, mode os.FileMode) (net.Listener, error) {
	if mode == 0 {
		mode = DefaultSocketMode
	}

	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return nil, fmt.Errorf("create socket directory for %s: %w", path, err)
	}

	if err := removeStaleSocket(path); err != nil {
		return nil, err
	}

	l, err := net.Listen("unix", path)
	if err != nil {
		return nil, fmt.Errorf("listen on unix socket %s: %w", path, err)
	}

	if err := os.Chmod(path, mode); err != nil {
		l.Close()

		return nil, fmt.Errorf("set mode %04o on socket %s: %w", mode, path, err)
	}

	return l, nil
}

// removeStaleSocket removes a socket file that no process listens on.
func removeStaleSocket(path string) error {
	info, err := os.Lstat(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}

	if err != nil {
		return fmt.Errorf("check socket %s: %w", path, err)
	}

	if info.Mode().Type() != fs.ModeSocket {
		return fmt.Errorf("listen on unix socket %s: the path exists and is not a socket; remove it or set api.socket to another path", path)
	}

	conn, err := net.DialTimeout("unix", path, time.Second)
	if err == nil {
		conn.Close()

		return fmt.Errorf("listen on unix socket %s: another process, perhaps another fibd, is listening on it; stop it or set api.socket to another path", path)
	}

	if err := os.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("remove stale socket %s: %w", path, err)
	}

	return nil
}

func closeAll(listeners []net.Listener) {
	for _, l := range listeners {
		l.Close()
	}
}
