// Package e2e runs the fibd daemon in network namespaces and checks what
// it promises across restarts. Routes installed by one run stay in the
// kernel and the next run adopts them without deleting or rewriting them.
// After drift, link flaps and restarts, the kernel converges on the
// desired state.
//
// The package holds only tests. They build the fibd binary once and start
// it inside a namespace with `ip netns exec`. They drive it with the
// generated gRPC client over a unix socket, and they watch the kernel
// independently, with `ip -j` and with a netlink socket that records every
// route and nexthop notification of fibd's protocol.
//
// # Running
//
// The tests need root (see package netnstest):
//
//	sudo go test ./e2e/ -v
//
// The adoption benchmark installs a million routes and runs only when
// FIBD_BENCH_ADOPT=1 is set:
//
//	sudo FIBD_BENCH_ADOPT=1 go test ./e2e/ -run TestAdoptMillion -v -timeout 20m
package e2e
