// Package cli implements fibd's client commands (route, nexthop, status,
// verify), which talk to a running daemon over its gRPC API.
//
// Each command is a function that takes the arguments after its name and
// returns the process exit code. The code is 0 on success and 2 on wrong
// usage. It is 1 when the command ran and failed: fibd returned an error,
// the kernel rejected a route, or the kernel is not in sync. Every command
// accepts --json to print the API's response as JSON (protojson), and
// --timeout.
//
// # Connection
//
// A command reaches the daemon over its unix socket, --socket PATH
// (default $FIBD_SOCKET, else /run/fibd/fibd.sock), or over its TCP
// listener (api.tcp.address) with --address HOST:PORT (default
// $FIBD_ADDRESS). A flag on the command line takes precedence over the
// environment, and --socket with --address is a usage error.
//
// Over TCP, --ca FILE ($FIBD_CA) turns on TLS and verifies the daemon's
// certificate against that CA bundle, for the host of --address or for
// --server-name NAME. --cert FILE and --key FILE ($FIBD_CERT, $FIBD_KEY)
// add the client certificate that a daemon with api.tcp.client-ca
// requires. Without --ca the connection is plaintext, which the CLI
// allows only to 127.0.0.0/8, ::1 or localhost, and it checks the
// resolved address of localhost again before it dials.
//
// The route grammar follows iproute2:
//
//	fibd route add 192.0.2.0/24 via 198.51.100.2 dev v0
//	fibd route add 192.0.2.0/24 nexthop via 198.51.100.2 dev v0 weight 2 nexthop via 198.51.100.3 dev v1
//	fibd route add blackhole 203.0.113.0/24 table 100
package cli
