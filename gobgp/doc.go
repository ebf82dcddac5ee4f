// Package gobgp translates GoBGP best paths into fib candidate routes of
// source "bgp", from a GoBGP speaker embedded in the process or from a
// remote gobgpd over its gRPC API.
//
// # Paths and routes
//
// GoBGP's best-path watch sends, for each changed prefix, the whole
// current equal-cost multipath set. A member that leaves shows only by its
// absence, and a prefix whose last path went away arrives as one withdrawn
// path that still carries the old next hop. Each set becomes one fib.Route
// with one member of weight 1 per distinct next hop and no device: the FIB
// finds the device with the kernel's lookup. A link-local IPv6 next hop is
// the exception, because GoBGP keeps no zone: it is bound to the interface
// of the session it was learned on.
//
// # Failover
//
// GoBGP removes every path of a peer whose session went down before it
// reports the peer's new state. The package therefore tracks which peers
// announce each next hop. As soon as a peer is known to be down, it marks
// the next hops learned only from that peer down in the sink
// (SetGatewayDown), so that the FIB shrinks each group in place. The
// per-prefix withdrawals that follow then change nothing in the kernel. A
// peer is known to be down when its state event arrives on a separate
// watch stream, or earlier, when a multipath set loses the peer's member
// and the speaker then reports the session as not established. The
// embedded speaker's session loss is known earliest of all, from the
// "Peer Down" line its FSM logs before GoBGP removes the session's paths,
// so the groups shrink whatever the size of the table. A peer
// with graceful restart negotiated keeps its next hops up, because GoBGP
// keeps its paths as stale while it restarts.
//
// # Remote gobgpd
//
// The remote mode reconnects with exponential backoff and resynchronises
// the whole table after each connection: it offers the fresh table and
// then withdraws only the prefixes that did not come back. A restarted
// gobgpd starts with an empty table, so the withdrawal waits until every
// neighbor is established and has sent End-of-RIB. A neighbor without
// End-of-RIB counts once it has been established for 5 seconds and the
// watch has been quiet as long. The convergence timeout ends the wait in
// any case. A route announced again in the meantime is never withdrawn.
//
// # Embedded speaker
//
// GoBGP keeps multipath and route-selection settings in package
// variables, so a process runs one embedded speaker at a time. Its
// configuration is decoded by GoBGP's own gobgpd decoder, and
// Options.APIAddress exposes its gRPC API for the gobgp command, for
// example `gobgp --target unix:///run/fibd/gobgp.sock neighbor`.
//
// # Tests
//
// The privileged tests run real gobgpd and exabgp peers in network
// namespaces; package gobgptest builds gobgpd and gobgp once (about 30
// seconds) and caches them under the temporary directory. The benchmarks
// report CPU time per prefix next to the rate, because the rate depends on
// the load of the machine:
//
//	go test -run '^$' -bench . -benchtime 2x ./gobgp/
package gobgp
