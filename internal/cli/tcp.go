package cli

import (
	"errors"
	"flag"
	"fmt"
	"net"
	"os"
	"strconv"
	"strings"

	"github.com/fibd/fibd/internal/config"
)

// Environment variables that set the defaults of the connection flags.
const (
	envSocket  = "FIBD_SOCKET"
	envAddress = "FIBD_ADDRESS"
	envCA      = "FIBD_CA"
	envCert    = "FIBD_CERT"
	envKey     = "FIBD_KEY"
)

// tlsFlags are the flags that configure TLS on a TCP connection. They
// apply only with --address.
var tlsFlags = []string{"ca", "cert", "key", "server-name"}

// tcpOptions are the address of the daemon's TCP listener
// (api.tcp.address) and the TLS settings that reach it. An empty address
// means the unix socket.
type tcpOptions struct {
	address    string
	caFile     string
	certFile   string
	keyFile    string
	serverName string
}

// register adds the TCP and TLS flags, with their defaults from the
// environment.
func (t *tcpOptions) register(fs *flag.FlagSet) {
	fs.StringVar(&t.address, "address", os.Getenv(envAddress), "host:port of fibd's TCP listener, used instead of the unix socket")
	fs.StringVar(&t.caFile, "ca", os.Getenv(envCA), "PEM file of the CAs that verify fibd's certificate; without it TCP is plaintext")
	fs.StringVar(&t.certFile, "cert", os.Getenv(envCert), "PEM file of the client certificate for mutual TLS")
	fs.StringVar(&t.keyFile, "key", os.Getenv(envKey), "PEM file of the client certificate's private key")
	fs.StringVar(&t.serverName, "server-name", "", "name to verify in fibd's certificate (default: the host of --address)")
}

// checkConnection chooses between the unix socket and TCP and checks the
// TLS flags. A flag on the command line takes precedence over an
// environment variable.
func (o *options) checkConnection() error {
	if err := o.chooseTransport(); err != nil {
		return err
	}

	if o.tcp.address == "" {
		return o.checkUnix()
	}

	return o.checkTCP()
}

// chooseTransport clears the address when the unix socket is chosen.
func (o *options) chooseTransport() error {
	switch {
	case o.set["socket"] && o.set["address"]:
		return errors.New("--socket and --address exclude each other; pass --socket PATH for the unix socket or --address HOST:PORT for TCP")
	case o.set["socket"]:
		// An explicit --socket overrides $FIBD_ADDRESS.
		o.tcp.address = ""
	case !o.set["address"] && o.tcp.address != "" && os.Getenv(envSocket) != "":
		return fmt.Errorf("both $FIBD_SOCKET (%s) and $FIBD_ADDRESS (%s) are set; unset one, or choose with --socket or --address",
			os.Getenv(envSocket), o.tcp.address)
	}

	return nil
}

// checkUnix rejects TLS flags on the command line without --address. The
// TLS variables of the environment are ignored for the unix socket.
func (o *options) checkUnix() error {
	var explicit []string
	for _, name := range tlsFlags {
		if o.set[name] {
			explicit = append(explicit, "--"+name)
		}
	}

	verb := "applies"
	if len(explicit) > 1 {
		verb = "apply"
	}

	if len(explicit) > 0 {
		return fmt.Errorf("%s %s only with --address HOST:PORT; the unix socket %s uses no TLS", strings.Join(explicit, " and "), verb, o.socket)
	}

	return nil
}

// checkTCP checks the address and the combination of TLS flags.
func (o *options) checkTCP() error {
	t := &o.tcp

	host, err := splitAddress(t.address)
	if err != nil {
		origin := "--address"
		if !o.set["address"] {
			origin = "$FIBD_ADDRESS"
		}

		return fmt.Errorf("invalid %s %q: %w; use HOST:PORT, such as 192.0.2.1:50051 or [2001:db8::1]:50051", origin, t.address, err)
	}

	switch {
	case t.certFile != "" && t.keyFile == "":
		return fmt.Errorf("client certificate %s has no key; pass --key FILE with its private key", t.certFile)
	case t.keyFile != "" && t.certFile == "":
		return fmt.Errorf("client key %s has no certificate; pass --cert FILE with the client certificate", t.keyFile)
	case t.caFile != "":
		return nil
	case t.certFile != "":
		return fmt.Errorf("--cert and --key need --ca FILE: without --ca the connection to %s is plaintext and sends no client certificate", t.address)
	case t.serverName != "":
		return fmt.Errorf("--server-name needs --ca FILE: without --ca the connection to %s is plaintext and verifies no certificate", t.address)
	case !config.IsLoopbackHost(host):
		return fmt.Errorf("plaintext TCP to %s is allowed only to a loopback address (127.0.0.0/8, ::1 or localhost); "+
			"pass --ca FILE to verify fibd's certificate, and --cert FILE and --key FILE if fibd requires client certificates (api.tcp.client-ca)", t.address)
	}

	return nil
}

// splitAddress returns the host of a HOST:PORT address with a port from 1
// to 65535.
func splitAddress(address string) (string, error) {
	host, port, err := net.SplitHostPort(address)
	if addrErr := (*net.AddrError)(nil); errors.As(err, &addrErr) {
		return "", errors.New(addrErr.Err)
	}

	if err != nil {
		return "", err
	}

	if host == "" {
		return "", errors.New("missing host")
	}

	if n, err := strconv.ParseUint(port, 10, 16); err != nil || n == 0 {
		return "", fmt.Errorf("invalid port %q: use 1 to 65535", port)
	}

	return host, nil
}
