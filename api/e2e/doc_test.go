// Package e2e tests fibd's API end to end: the real daemon runs in a
// network namespace, and the CLI, the generated Go client and grpcurl talk
// to it over its unix socket. The tests need root; see netnstest.
package e2e
