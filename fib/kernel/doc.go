// Package kernel programs fib's routes and nexthop objects into the Linux
// kernel over rtnetlink, and dumps them back. *Kernel implements
// fib.Dataplane.
//
// Every route and nexthop object carries fibd's protocol number (201 by
// default, shown as "proto fibd" once WriteProtocolName has run). Creates
// use NLM_F_EXCL, so an id or a route that another owner holds fails with
// EEXIST instead of being overwritten. Route deletes name the protocol, so
// they match only fibd's routes.
//
// NOTE: The kernel checks no protocol on nexthop replaces and deletes,
// which go by id, nor on route replaces, which go by table, prefix and
// metric. Callers issue them only for objects that fibd created; an object
// that another owner put in its place in between would be changed.
//
// # Batches and acknowledgements
//
// Apply encodes all its operations into large buffers and writes each
// buffer on the socket with one sendmsg. It requests no acknowledgement
// per message: the kernel replies only to the messages that fail, and each
// batch ends with an NLMSG_NOOP that requests one. The kernel processes a sendmsg
// in order, so the barrier's acknowledgement follows every error of its
// batch, and errors are matched to operations by sequence number. Config
// AckEach requests an acknowledgement per message instead.
//
// # Namespaces
//
// Config.NetNS opens the sockets in another network namespace by file
// descriptor; the calling thread never changes namespace.
//
// # Debugging
//
// `ip monitor route nexthop` in the namespace shows what Apply changes.
// `strace -f -e trace=write,recvfrom` shows one write per batch and one
// recvfrom per error or acknowledgement; dumps and lookups use sendmsg and
// recvmsg on a second socket.
package kernel
