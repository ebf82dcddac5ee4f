// Package server implements fibd's gRPC service, fibd.v1.Fib, over a
// *fib.FIB, and the listeners it is served on.
//
// The service translates requests into fib routes and keys and back; it
// holds no routing state of its own besides the sessions of connected
// sources. It has no kernel knowledge: kernel outcomes come from the FIB
// (fib.Sync, then fib.Lookup).
//
// # Validation
//
// A request is validated whole before the FIB is touched, so a request
// that fails validation changes nothing. It returns INVALID_ARGUMENT with a
// message that names the field, the value and the fix. A
// google.rpc.BadRequest detail lists up to 20 field violations. A request
// that passes validation is offered route by route, and each route gets its
// own result: the kernel may reject one route of a batch and accept the
// others.
//
// # Sources and distances
//
// Every request names its source. A source's administrative distance comes
// from Config.Sources, else Config.DefaultDistance; a route may raise it (to
// offer a backup) but never lower it. Sources reserved for fibd's own
// producers (Config.Reserved, "bgp" by default) are rejected.
//
// # Transport
//
// Listen opens a unix socket and, optionally, a TCP listener that requires
// TLS with client certificates. Plain TCP is allowed only on a loopback
// address and only when asked for explicitly.
package server
