// Package cli implements fibd's client commands (route, nexthop, status,
// verify), which talk to a running daemon over its gRPC API.
//
// Each command is a function that takes the arguments after its name and
// returns the process exit code. The code is 0 on success and 2 on wrong
// usage. It is 1 when the command ran and failed: fibd returned an error,
// the kernel rejected a route, or the kernel is not in sync. Every command accepts --socket PATH
// (default $FIBD_SOCKET, else /run/fibd/fibd.sock), --json to print the
// API's answer as JSON (protojson), and --timeout.
//
// The route grammar follows iproute2:
//
//	fibd route add 192.0.2.0/24 via 198.51.100.2 dev v0
//	fibd route add 192.0.2.0/24 nexthop via 198.51.100.2 dev v0 weight 2 nexthop via 198.51.100.3 dev v1
//	fibd route add blackhole 203.0.113.0/24 table 100
package cli
