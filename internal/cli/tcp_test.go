package cli

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc"

	"github.com/fibd/fibd/api/fibdv1"
	"github.com/fibd/fibd/api/server"
)

// testCA is a certificate authority that signs certificates into PEM files
// of a temp dir.
type testCA struct {
	t    *testing.T
	dir  string
	key  *ecdsa.PrivateKey
	cert *x509.Certificate
	file string
}

func newTestCA(t *testing.T, name string) *testCA {
	t.Helper()

	ca := &testCA{t: t, dir: t.TempDir()}
	ca.key, ca.cert = ca.sign(&x509.Certificate{
		Subject:  pkix.Name{CommonName: name},
		IsCA:     true,
		KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
	})
	ca.file = ca.writePEM("ca.pem", "CERTIFICATE", ca.cert.Raw)

	return ca
}

// issue writes a certificate for name, valid for server and client
// authentication at the given IP addresses and DNS names, and returns
// the paths of the certificate and its key.
func (ca *testCA) issue(name string, ips []net.IP, dnsNames []string) (certFile, keyFile string) {
	ca.t.Helper()

	key, cert := ca.sign(&x509.Certificate{
		Subject:     pkix.Name{CommonName: name},
		KeyUsage:    x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
		IPAddresses: ips,
		DNSNames:    dnsNames,
	})

	der, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		ca.t.Fatal(err)
	}

	return ca.writePEM(name+".pem", "CERTIFICATE", cert.Raw), ca.writePEM(name+"-key.pem", "EC PRIVATE KEY", der)
}

// sign completes tmpl with a new key, serial number and validity, and
// signs it with the CA, or by itself while the CA has no certificate yet.
func (ca *testCA) sign(tmpl *x509.Certificate) (*ecdsa.PrivateKey, *x509.Certificate) {
	ca.t.Helper()

	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		ca.t.Fatal(err)
	}

	tmpl.SerialNumber = big.NewInt(time.Now().UnixNano())
	tmpl.NotBefore = time.Now().Add(-time.Hour)
	tmpl.NotAfter = time.Now().Add(time.Hour)
	tmpl.BasicConstraintsValid = true

	parent, parentKey := ca.cert, ca.key
	if parent == nil {
		parent, parentKey = tmpl, key
	}

	der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, &key.PublicKey, parentKey)
	if err != nil {
		ca.t.Fatal(err)
	}

	cert, err := x509.ParseCertificate(der)
	if err != nil {
		ca.t.Fatal(err)
	}

	return key, cert
}

func (ca *testCA) writePEM(name, kind string, der []byte) string {
	ca.t.Helper()

	path := filepath.Join(ca.dir, name)
	if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: kind, Bytes: der}), 0o600); err != nil {
		ca.t.Fatal(err)
	}

	return path
}

// testPKI is a CA with a server certificate for 127.0.0.1 and a client
// certificate, and the daemon's TCP settings that use them.
type testPKI struct {
	ca                    *testCA
	clientCert, clientKey string
	listen                server.ListenConfig
}

func newTestPKI(t *testing.T) *testPKI {
	t.Helper()

	ca := newTestCA(t, "fibd test CA")
	serverCert, serverKey := ca.issue("fibd", []net.IP{net.ParseIP("127.0.0.1")}, nil)
	clientCert, clientKey := ca.issue("controller", nil, nil)

	return &testPKI{
		ca:         ca,
		clientCert: clientCert,
		clientKey:  clientKey,
		listen: server.ListenConfig{
			TCPAddress:   "127.0.0.1:0",
			CertFile:     serverCert,
			KeyFile:      serverKey,
			ClientCAFile: ca.file,
		},
	}
}

// startTCP serves a fakeFib on the TCP listener that api/server's Listen
// opens for cfg and returns the listener's address.
func startTCP(t *testing.T, cfg server.ListenConfig) string {
	t.Helper()

	listeners, opts, err := server.Listen(cfg)
	if err != nil {
		t.Fatalf("listen: %v", err)
	}

	gs := grpc.NewServer(opts...)
	fibdv1.RegisterFibServer(gs, &fakeFib{})

	go func() { _ = gs.Serve(listeners[0]) }()
	t.Cleanup(gs.Stop)

	return listeners[0].Addr().String()
}

// clearConnectionEnv unsets the variables that set the connection flags'
// defaults, so that the caller's environment does not leak into a test.
func clearConnectionEnv(t *testing.T) {
	t.Helper()

	for _, name := range []string{envSocket, envAddress, envCA, envCert, envKey} {
		t.Setenv(name, "")
		os.Unsetenv(name)
	}
}

func TestConnectionFlags(t *testing.T) {
	tests := []struct {
		name        string
		env         map[string]string
		args        []string
		wantAddress string
		wantSocket  string
		wantErr     string
	}{
		{name: "default socket", wantSocket: DefaultSocket},
		{name: "socket flag", args: []string{"--socket", "/tmp/f.sock"}, wantSocket: "/tmp/f.sock"},
		{name: "loopback plaintext", args: []string{"--address", "127.0.0.1:50051"}, wantAddress: "127.0.0.1:50051"},
		{name: "loopback in 127/8", args: []string{"--address", "127.1.2.3:50051"}, wantAddress: "127.1.2.3:50051"},
		{name: "ipv6 loopback", args: []string{"--address=[::1]:50051"}, wantAddress: "[::1]:50051"},
		{name: "localhost", args: []string{"--address", "localhost:50051"}, wantAddress: "localhost:50051"},
		{name: "tls", args: []string{"--address", "192.0.2.1:50051", "--ca", "ca.pem"}, wantAddress: "192.0.2.1:50051"},
		{name: "mutual tls", args: []string{"--address", "fibd.example:50051", "--ca", "ca.pem", "--cert", "c.pem", "--key", "k.pem", "--server-name", "fibd"},
			wantAddress: "fibd.example:50051"},
		{name: "address from env", env: map[string]string{envAddress: "[::1]:50051"}, wantAddress: "[::1]:50051"},
		{name: "tls from env", env: map[string]string{envAddress: "192.0.2.1:50051", envCA: "ca.pem", envCert: "c.pem", envKey: "k.pem"},
			wantAddress: "192.0.2.1:50051"},
		{name: "socket flag over address env", env: map[string]string{envAddress: "192.0.2.1:50051", envCA: "ca.pem"},
			args: []string{"--socket", "/tmp/f.sock"}, wantSocket: "/tmp/f.sock"},
		{name: "address flag over socket env", env: map[string]string{envSocket: "/tmp/f.sock"},
			args: []string{"--address", "127.0.0.1:50051"}, wantAddress: "127.0.0.1:50051"},

		{name: "socket and address", args: []string{"--socket", "/tmp/f.sock", "--address", "127.0.0.1:50051"},
			wantErr: "--socket and --address exclude each other"},
		{name: "socket and address env", env: map[string]string{envSocket: "/tmp/f.sock", envAddress: "127.0.0.1:50051"},
			wantErr: "both $FIBD_SOCKET (/tmp/f.sock) and $FIBD_ADDRESS (127.0.0.1:50051) are set"},
		{name: "ca without address", args: []string{"--ca", "ca.pem", "--server-name", "fibd"},
			wantErr: "--ca and --server-name apply only with --address HOST:PORT"},
		{name: "missing port", args: []string{"--address", "192.0.2.1"},
			wantErr: `invalid --address "192.0.2.1": missing port in address; use HOST:PORT`},
		{name: "missing host", args: []string{"--address", ":50051"}, wantErr: `invalid --address ":50051": missing host`},
		{name: "port zero", args: []string{"--address", "127.0.0.1:0"}, wantErr: `invalid port "0": use 1 to 65535`},
		{name: "named port", args: []string{"--address", "127.0.0.1:grpc"}, wantErr: `invalid port "grpc"`},
		{name: "invalid env address", env: map[string]string{envAddress: "192.0.2.1"}, wantErr: `invalid $FIBD_ADDRESS "192.0.2.1"`},
		{name: "plaintext remote", args: []string{"--address", "192.0.2.1:50051"},
			wantErr: "plaintext TCP to 192.0.2.1:50051 is allowed only to a loopback address (127.0.0.0/8, ::1 or localhost); pass --ca FILE to verify fibd's certificate, and --cert FILE and --key FILE"},
		{name: "plaintext mapped remote", args: []string{"--address", "[::ffff:192.0.2.1]:50051"}, wantErr: "plaintext TCP to [::ffff:192.0.2.1]:50051 is allowed only"},
		{name: "plaintext remote name", args: []string{"--address", "fibd.example:50051"}, wantErr: "plaintext TCP to fibd.example:50051"},
		{name: "cert without key", args: []string{"--address", "192.0.2.1:50051", "--ca", "ca.pem", "--cert", "c.pem"},
			wantErr: "client certificate c.pem has no key; pass --key FILE"},
		{name: "key without cert", args: []string{"--address", "192.0.2.1:50051", "--ca", "ca.pem", "--key", "k.pem"},
			wantErr: "client key k.pem has no certificate; pass --cert FILE"},
		{name: "cert without ca", args: []string{"--address", "127.0.0.1:50051", "--cert", "c.pem", "--key", "k.pem"},
			wantErr: "--cert and --key need --ca FILE"},
		{name: "server name without ca", args: []string{"--address", "127.0.0.1:50051", "--server-name", "fibd"},
			wantErr: "--server-name needs --ca FILE"},
	}

	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clearConnectionEnv(t)
			for name, value := range tt.env {
				t.Setenv(name, value)
			}

			var stdout, stderr strings.Builder
			c := &command{name: "status", usage: statusUsage, stdout: &stdout, stderr: &stderr}
			_, ok := c.parse(tt.args, nil)

			if tt.wantErr != "" {
				if ok {
					t.Fatalf("parse succeeded with address %q, want error %q", c.opts.tcp.address, tt.wantErr)
				}

				if !strings.Contains(stderr.String(), tt.wantErr) {
					t.Errorf("stderr %q, want %q", stderr.String(), tt.wantErr)
				}

				return
			}

			if !ok {
				t.Fatalf("parse failed: %s", stderr.String())
			}

			if c.opts.tcp.address != tt.wantAddress {
				t.Errorf("address = %q, want %q", c.opts.tcp.address, tt.wantAddress)
			}

			if tt.wantSocket != "" && c.opts.socket != tt.wantSocket {
				t.Errorf("socket = %q, want %q", c.opts.socket, tt.wantSocket)
			}
		})
	}
}

func TestStatusOverMutualTLS(t *testing.T) {
	clearConnectionEnv(t)
	pki := newTestPKI(t)
	address := startTCP(t, pki.listen)

	code, out, errOut := runCLI(Status, "--address", address, "--ca", pki.ca.file, "--cert", pki.clientCert, "--key", pki.clientKey, "--timeout", "10s")
	if code != 0 {
		t.Fatalf("exit %d, stderr %q", code, errOut)
	}

	if !strings.HasPrefix(out, "version     v0.1.0\n") || !strings.Contains(out, "bgp         2 peers, 2 established\n") {
		t.Errorf("status:\n%s\nwant the fake's status", out)
	}
}

func TestStatusOverTLSFromEnvironment(t *testing.T) {
	clearConnectionEnv(t)
	pki := newTestPKI(t)
	address := startTCP(t, pki.listen)

	t.Setenv(envAddress, address)
	t.Setenv(envCA, pki.ca.file)
	t.Setenv(envCert, pki.clientCert)
	t.Setenv(envKey, pki.clientKey)

	if code, _, errOut := runCLI(Status, "--timeout", "10s"); code != 0 {
		t.Errorf("exit %d, stderr %q; want 0 with $FIBD_ADDRESS, $FIBD_CA, $FIBD_CERT and $FIBD_KEY", code, errOut)
	}
}

func TestStatusWithoutClientCertificate(t *testing.T) {
	clearConnectionEnv(t)
	pki := newTestPKI(t)
	address := startTCP(t, pki.listen)

	code, out, errOut := runCLI(Status, "--address", address, "--ca", pki.ca.file, "--timeout", "10s")
	if code != 1 {
		t.Errorf("exit %d, want 1", code)
	}

	if out != "" {
		t.Errorf("stdout %q, want none", out)
	}

	for _, want := range []string{"TLS handshake with fibd on tcp " + address + " failed", "requires a client certificate", "--cert FILE and --key FILE", "api.tcp.client-ca"} {
		if !strings.Contains(errOut, want) {
			t.Errorf("stderr %q lacks %q", errOut, want)
		}
	}
}

func TestStatusClientCertificateOfOtherCA(t *testing.T) {
	clearConnectionEnv(t)
	pki := newTestPKI(t)
	address := startTCP(t, pki.listen)
	otherCert, otherKey := newTestCA(t, "other CA").issue("intruder", nil, nil)

	code, _, errOut := runCLI(Status, "--address", address, "--ca", pki.ca.file, "--cert", otherCert, "--key", otherKey, "--timeout", "10s")
	if code != 1 {
		t.Errorf("exit %d, want 1", code)
	}

	if want := "fibd did not accept the client certificate " + otherCert; !strings.Contains(errOut, want) {
		t.Errorf("stderr %q lacks %q", errOut, want)
	}
}

func TestStatusWrongCA(t *testing.T) {
	clearConnectionEnv(t)
	pki := newTestPKI(t)
	address := startTCP(t, pki.listen)
	other := newTestCA(t, "other CA")

	code, _, errOut := runCLI(Status, "--address", address, "--ca", other.file, "--cert", pki.clientCert, "--key", pki.clientKey, "--timeout", "10s")
	if code != 1 {
		t.Errorf("exit %d, want 1", code)
	}

	for _, want := range []string{"TLS handshake with fibd on tcp " + address + " failed", "does not verify against the CA file " + other.file, "--server-name"} {
		if !strings.Contains(errOut, want) {
			t.Errorf("stderr %q lacks %q", errOut, want)
		}
	}
}

func TestStatusServerName(t *testing.T) {
	clearConnectionEnv(t)
	pki := newTestPKI(t)

	// The server certificate names fibd.test only, not 127.0.0.1.
	pki.listen.CertFile, pki.listen.KeyFile = pki.ca.issue("fibd-named", nil, []string{"fibd.test"})
	address := startTCP(t, pki.listen)
	args := []string{"--address", address, "--ca", pki.ca.file, "--cert", pki.clientCert, "--key", pki.clientKey, "--timeout", "10s"}

	code, _, errOut := runCLI(Status, args...)
	if code != 1 || !strings.Contains(errOut, "--server-name NAME") {
		t.Errorf("without --server-name: exit %d, stderr %q; want 1 and the hint to pass --server-name", code, errOut)
	}

	if code, _, errOut := runCLI(Status, append(args, "--server-name", "fibd.test")...); code != 0 {
		t.Errorf("with --server-name: exit %d, stderr %q; want 0", code, errOut)
	}
}

func TestStatusPlaintextLoopback(t *testing.T) {
	clearConnectionEnv(t)
	address := startTCP(t, server.ListenConfig{TCPAddress: "127.0.0.1:0", AllowInsecureLoopback: true})

	code, out, errOut := runCLI(Status, "--address", address, "--timeout", "10s")
	if code != 0 {
		t.Fatalf("exit %d, stderr %q", code, errOut)
	}

	if !strings.HasPrefix(out, "version     v0.1.0\n") {
		t.Errorf("status:\n%s\nwant the fake's status", out)
	}
}

func TestStatusTLSToPlaintextListener(t *testing.T) {
	clearConnectionEnv(t)
	pki := newTestPKI(t)
	address := startTCP(t, server.ListenConfig{TCPAddress: "127.0.0.1:0", AllowInsecureLoopback: true})

	code, _, errOut := runCLI(Status, "--address", address, "--ca", pki.ca.file, "--timeout", "10s")
	if code != 1 || !strings.Contains(errOut, "the listener serves plaintext; connect without --ca") {
		t.Errorf("exit %d, stderr %q; want 1 and the hint to drop --ca", code, errOut)
	}
}

func TestStatusPlaintextToTLSListener(t *testing.T) {
	clearConnectionEnv(t)
	pki := newTestPKI(t)
	address := startTCP(t, pki.listen)

	code, _, errOut := runCLI(Status, "--address", address, "--timeout", "10s")
	if code != 1 || !strings.Contains(errOut, "if fibd serves TLS there, pass --ca FILE") {
		t.Errorf("exit %d, stderr %q; want 1 and the hint to pass --ca", code, errOut)
	}
}

func TestStatusConnectionRefused(t *testing.T) {
	clearConnectionEnv(t)

	// The port was free a moment ago, so nothing listens on it now.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}

	address := l.Addr().String()
	l.Close()

	code, _, errOut := runCLI(Status, "--address", address, "--timeout", "10s")
	if code != 1 {
		t.Errorf("exit %d, want 1", code)
	}

	for _, want := range []string{"cannot connect to fibd on tcp " + address, "connection refused", "api.tcp.address"} {
		if !strings.Contains(errOut, want) {
			t.Errorf("stderr %q lacks %q", errOut, want)
		}
	}
}

func TestTLSFileErrors(t *testing.T) {
	clearConnectionEnv(t)
	pki := newTestPKI(t)
	dir := t.TempDir()

	empty := filepath.Join(dir, "empty.pem")
	if err := os.WriteFile(empty, []byte("no certificate here\n"), 0o600); err != nil {
		t.Fatal(err)
	}

	missing := filepath.Join(dir, "missing.pem")
	_, otherKey := pki.ca.issue("other", nil, nil)

	// Each case fails while it loads the files, before it dials the address.
	tests := []struct {
		name string
		tls  []string
		want string
	}{
		{"ca without certificate", []string{"--ca", empty},
			"load --ca file " + empty + ": no PEM certificate found; pass the PEM bundle of the CA that signed fibd's api.tcp.cert"},
		{"missing ca", []string{"--ca", missing}, "read --ca file: open " + missing + ": no such file or directory"},
		{"missing cert", []string{"--ca", pki.ca.file, "--cert", missing, "--key", pki.clientKey}, "read --cert file: open " + missing},
		{"missing key", []string{"--ca", pki.ca.file, "--cert", pki.clientCert, "--key", missing}, "read --key file: open " + missing},
		{"key of other certificate", []string{"--ca", pki.ca.file, "--cert", pki.clientCert, "--key", otherKey},
			"load client certificate " + pki.clientCert + " with key " + otherKey + ": tls: private key does not match public key"},
		{"cert as key", []string{"--ca", pki.ca.file, "--cert", pki.clientCert, "--key", pki.clientCert},
			"load client certificate " + pki.clientCert + " with key " + pki.clientCert},
	}

	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			args := append([]string{"--address", "127.0.0.1:9"}, tt.tls...)

			code, _, errOut := runCLI(Status, args...)
			if code != 1 {
				t.Errorf("exit %d, want 1", code)
			}

			if !strings.Contains(errOut, tt.want) {
				t.Errorf("stderr %q, want %q", errOut, tt.want)
			}
		})
	}
}

func TestDialLoopbackRejectsOtherHosts(t *testing.T) {
	// The check runs before any packet is sent.
	_, err := dialLoopback(t.Context(), "192.0.2.1:50051")
	if err == nil || !strings.Contains(err.Error(), "plaintext TCP is allowed only to a loopback address") {
		t.Errorf("dial 192.0.2.1:50051 = %v, want the loopback error", err)
	}
}

func TestTCPAdviceExpired(t *testing.T) {
	opts := &tcpOptions{address: "127.0.0.1:50051", caFile: "ca.pem", certFile: "client.pem"}
	tests := []struct {
		msg, want string
	}{
		{"tls: failed to verify certificate: x509: certificate has expired or is not yet valid: current time", "fibd's certificate (api.tcp.cert) has expired"},
		{"remote error: tls: expired certificate", "rejected the client certificate client.pem as expired"},
	}

	for _, tt := range tests {
		if got := opts.advice(tt.msg); !strings.Contains(got, tt.want) {
			t.Errorf("advice(%q) = %q, want it to contain %q", tt.msg, got, tt.want)
		}
	}
}
