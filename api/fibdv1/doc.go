// Package fibdv1 is the Go code generated from fibd's gRPC contract,
// proto/fibd/v1/fibd.proto (package fibd.v1). Regenerate it with
// scripts/generate.sh; never edit the .pb.go files by hand.
package fibdv1
