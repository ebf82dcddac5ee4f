package cli

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"strings"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/fibd/fibd/api/fibdv1"
)

// Time limits of probeTLS.
const (
	probeTimeout = 5 * time.Second
	probeRead    = 2 * time.Second
)

// dialTCP returns a client of the daemon's TCP listener. It reads the TLS
// files before it returns, so that a wrong file fails before any traffic.
func (c *command) dialTCP() (fibdv1.FibClient, func(), error) {
	t := &c.opts.tcp

	creds, err := t.transportOptions()
	if err != nil {
		return nil, nil, err
	}

	// fibd's API has no service config, so the DNS resolver need not look
	// up TXT records for one.
	opts := append(creds,
		grpc.WithDisableServiceConfig(),
		grpc.WithDefaultCallOptions(grpc.MaxCallRecvMsgSize(maxRecvMsgSize)))

	conn, err := grpc.NewClient("dns:///"+t.address, opts...)
	if err != nil {
		return nil, nil, fmt.Errorf("connect to fibd on tcp %s: %w", t.address, err)
	}

	return fibdv1.NewFibClient(conn), func() { conn.Close() }, nil
}

// transportOptions returns TLS credentials with --ca, else plaintext
// restricted to loopback addresses.
func (t *tcpOptions) transportOptions() ([]grpc.DialOption, error) {
	if t.caFile == "" {
		return []grpc.DialOption{
			grpc.WithTransportCredentials(insecure.NewCredentials()),
			grpc.WithContextDialer(dialLoopback),
		}, nil
	}

	cfg, err := t.tlsConfig()
	if err != nil {
		return nil, err
	}

	return []grpc.DialOption{grpc.WithTransportCredentials(credentials.NewTLS(cfg))}, nil
}

// dialLoopback dials a plaintext connection after checking the resolved
// address, so that a "localhost" that resolves to another host never
// carries plaintext off this one.
func dialLoopback(ctx context.Context, address string) (net.Conn, error) {
	ap, err := netip.ParseAddrPort(address)
	if err != nil || !ap.Addr().Unmap().IsLoopback() {
		return nil, fmt.Errorf("dial %s: plaintext TCP is allowed only to a loopback address; pass --ca FILE", address)
	}

	var d net.Dialer

	return d.DialContext(ctx, "tcp", address)
}

// tlsConfig loads the CA bundle and, when given, the client certificate.
// Without --server-name, grpc verifies the host of --address.
func (t *tcpOptions) tlsConfig() (*tls.Config, error) {
	pool, err := loadCA(t.caFile)
	if err != nil {
		return nil, err
	}

	cfg := &tls.Config{RootCAs: pool, ServerName: t.serverName, MinVersion: tls.VersionTLS12}
	if t.certFile == "" {
		return cfg, nil
	}

	cert, err := loadClientCertificate(t.certFile, t.keyFile)
	if err != nil {
		return nil, err
	}

	cfg.Certificates = []tls.Certificate{cert}

	return cfg, nil
}

func loadCA(path string) (*x509.CertPool, error) {
	pem, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read --ca file: %w", err)
	}

	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		return nil, fmt.Errorf("load --ca file %s: no PEM certificate found; pass the PEM bundle of the CA that signed fibd's api.tcp.cert", path)
	}

	return pool, nil
}

func loadClientCertificate(certFile, keyFile string) (tls.Certificate, error) {
	certPEM, err := os.ReadFile(certFile)
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("read --cert file: %w", err)
	}

	keyPEM, err := os.ReadFile(keyFile)
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("read --key file: %w", err)
	}

	cert, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("load client certificate %s with key %s: %w; pass a PEM certificate and its own private key", certFile, keyFile, err)
	}

	return cert, nil
}

// explain returns the message for a failed connection to the TCP
// listener. It reads the cause from the dialer's or the TLS stack's error
// text in grpc's status message and adds the step that fixes it.
func (t *tcpOptions) explain(msg string) string {
	if t.caFile != "" && !strings.Contains(msg, "connection refused") {
		if err := t.probeTLS(); err != nil {
			msg = err.Error()
		}
	}

	return t.advice(msg)
}

// advice returns the message for the cause in msg, with the step that
// fixes it.
func (t *tcpOptions) advice(msg string) string {
	failed := fmt.Sprintf("cannot connect to fibd on tcp %s: %s\n", t.address, msg)
	handshake := fmt.Sprintf("TLS handshake with fibd on tcp %s failed: %s\n", t.address, msg)

	switch {
	case strings.Contains(msg, "connection refused"):
		return failed + "check that fibd runs on that host with api.tcp.address set to this address"
	case strings.Contains(msg, "x509: certificate has expired or is not yet valid"):
		return handshake + "fibd's certificate (api.tcp.cert) has expired or is not valid yet; renew it, or check the clocks of both hosts"
	case strings.Contains(msg, "remote error: tls: expired certificate"):
		return handshake + fmt.Sprintf("fibd rejected the client certificate %s as expired or not valid yet; renew it, or check the clocks of both hosts", t.certFile)
	case strings.Contains(msg, "x509:") || strings.Contains(msg, "failed to verify certificate"):
		return handshake + fmt.Sprintf("fibd's certificate does not verify against the CA file %s; pass with --ca the CA that signed the daemon's api.tcp.cert, "+
			"and --server-name NAME if the certificate does not name the host of --address", t.caFile)
	case strings.Contains(msg, "remote error: tls:") && t.certFile == "":
		return handshake + "fibd requires a client certificate; pass --cert FILE and --key FILE, signed by a CA in the daemon's api.tcp.client-ca"
	case strings.Contains(msg, "remote error: tls:"):
		return handshake + fmt.Sprintf("fibd did not accept the client certificate %s; pass one signed by a CA in the daemon's api.tcp.client-ca", t.certFile)
	case strings.Contains(msg, "first record does not look like a TLS handshake"):
		return handshake + "the listener serves plaintext; connect without --ca, which the CLI allows only to a loopback address"
	case t.caFile == "":
		return failed + "if fibd serves TLS there, pass --ca FILE, and --cert FILE and --key FILE for a daemon that requires client certificates"
	}

	return failed + "check that fibd runs on that host with api.tcp.address set to this address"
}

// probeTLS repeats the TLS handshake on a connection that sends no data
// and returns the error of the handshake or of the first read, or nil
// when the server accepted the handshake. In TLS 1.3 the server checks the
// client certificate after the client has finished its handshake, so grpc
// often receives only a reset of its first write ("broken pipe"). A
// connection that only reads receives the server's alert instead, such as
// "remote error: tls: certificate required".
func (t *tcpOptions) probeTLS() error {
	cfg, err := t.tlsConfig()
	if err != nil {
		return err
	}

	// The daemon's listener negotiates HTTP/2, as grpc does.
	cfg.NextProtos = []string{"h2"}

	ctx, cancel := context.WithTimeout(context.Background(), probeTimeout)
	defer cancel()

	d := tls.Dialer{Config: cfg}
	conn, err := d.DialContext(ctx, "tcp", t.address)
	if err != nil {
		return err
	}
	defer conn.Close()

	// A server that accepted the handshake waits for the HTTP/2 preface
	// and sends no application data, so the read times out.
	conn.SetReadDeadline(time.Now().Add(probeRead))

	_, err = conn.Read(make([]byte, 1))
	if netErr := net.Error(nil); errors.As(err, &netErr) && netErr.Timeout() {
		return nil
	}

	return err
}
