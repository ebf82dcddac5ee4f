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
// # Group weights
//
// struct nexthop_grp stores weight-1 in its weight byte and, since Linux
// 6.12, the high byte of weight-1 in weight_high, for weights of 1 to
// MaxWeight (65535). Requests need no flag: the encoder always fills both
// bytes, and a kernel before 6.12 rejects a non-zero weight_high, so weights
// above 256 fail there instead of being truncated. In dump replies the
// kernel marks weight_high as valid with NHA_OP_FLAG_RESP_GRP_RESVD_0 in
// NHA_OP_FLAGS, and the decoder ignores weight_high without that flag.
//
// # Debugging
//
// To compare the bytes this package builds with what iproute2 sends, run
// `strace -e trace=sendmsg -s 512 -x ip route add ...` and trace fibd the
// same way. Then `ip monitor route nexthop` in the namespace prints what the
// kernel stored.
package nlmsg
