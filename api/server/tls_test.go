package server

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"

	"github.com/fibd/fibd/api/fibdv1"
)

// testPKI is a CA with a server and a client certificate, written as PEM
// files into a temp dir.
type testPKI struct {
	caFile, certFile, keyFile string
	pool                      *x509.CertPool
	client                    tls.Certificate
}

func newTestPKI(t *testing.T) *testPKI {
	t.Helper()

	dir := t.TempDir()
	caKey, caCert := newCert(t, "fibd test CA", nil, nil, true)
	srvKey, srvCert := newCert(t, "fibd", caKey, caCert, false)
	cliKey, cliCert := newCert(t, "client", caKey, caCert, false)

	p := &testPKI{
		caFile:   writePEM(t, dir, "ca.pem", "CERTIFICATE", caCert.Raw),
		certFile: writePEM(t, dir, "cert.pem", "CERTIFICATE", srvCert.Raw),
		keyFile:  writePEM(t, dir, "key.pem", "EC PRIVATE KEY", marshalKey(t, srvKey)),
		pool:     x509.NewCertPool(),
		client:   tls.Certificate{Certificate: [][]byte{cliCert.Raw}, PrivateKey: cliKey},
	}
	p.pool.AddCert(caCert)

	return p
}

// newCert returns a key and a certificate signed by parent, or
// self-signed when parent is nil.
func newCert(t *testing.T, name string, parentKey *ecdsa.PrivateKey, parent *x509.Certificate, ca bool) (*ecdsa.PrivateKey, *x509.Certificate) {
	t.Helper()

	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}

	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(time.Now().UnixNano()),
		Subject:               pkix.Name{CommonName: name},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(time.Hour),
		IsCA:                  ca,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
		IPAddresses:           []net.IP{net.ParseIP("127.0.0.1")},
	}

	if parent == nil {
		parent, parentKey = tmpl, key
	}

	der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, &key.PublicKey, parentKey)
	if err != nil {
		t.Fatal(err)
	}

	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}

	return key, cert
}

func marshalKey(t *testing.T, key *ecdsa.PrivateKey) []byte {
	t.Helper()

	der, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}

	return der
}

func writePEM(t *testing.T, dir, name, kind string, der []byte) string {
	t.Helper()

	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: kind, Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}

	return path
}

func TestTLSClientCertificate(t *testing.T) {
	pki := newTestPKI(t)

	listeners, opts, err := Listen(ListenConfig{TCPAddress: "127.0.0.1:0", CertFile: pki.certFile, KeyFile: pki.keyFile, ClientCAFile: pki.caFile})
	if err != nil {
		t.Fatalf("listen: %v", err)
	}

	srv, err := newServer(Config{}, newFakeFIB())
	if err != nil {
		t.Fatal(err)
	}

	gs := grpc.NewServer(opts...)
	srv.Register(gs)
	go func() { _ = gs.Serve(listeners[0]) }()
	t.Cleanup(gs.Stop)

	address := listeners[0].Addr().String()
	call := func(certs []tls.Certificate) error {
		creds := credentials.NewTLS(&tls.Config{RootCAs: pki.pool, Certificates: certs, MinVersion: tls.VersionTLS12})
		conn, err := grpc.NewClient(address, grpc.WithTransportCredentials(creds))
		if err != nil {
			return err
		}
		defer conn.Close()

		_, err = fibdv1.NewFibClient(conn).Status(testContext(t), &fibdv1.StatusRequest{})

		return err
	}

	if err := call([]tls.Certificate{pki.client}); err != nil {
		t.Errorf("status with a client certificate: %v", err)
	}

	if err := call(nil); err == nil {
		t.Errorf("status without a client certificate succeeded, want a TLS error")
	}
}
