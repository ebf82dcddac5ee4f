// Package nlmsg encodes and decodes the rtnetlink messages that fibd
// exchanges with the Linux kernel: routes (rtmsg), nexthop objects and
// groups (nhmsg), acknowledgements and errors, and dump requests.
//
// The package is a pure codec. It opens no socket, builds on every OS and
// declares the kernel's constants itself (see const.go). Encoding appends to
// a caller's buffer and allocates nothing, so a batch of route messages can
// be built in one reused buffer. Integers are in host byte order, as the
// kernel expects; addresses are in network byte order.
//
// # Debugging
//
// To compare the bytes this package builds with what iproute2 sends, run
// `strace -e trace=sendmsg -s 512 -x ip route add ...` and trace fibd the
// same way. Then `ip monitor route nexthop` in the namespace prints what the
// kernel stored.
package nlmsg
