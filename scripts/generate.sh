#!/bin/sh
# generate.sh regenerates the Go code of fibd's gRPC contract from
# proto/fibd/v1/*.proto into api/fibdv1.
#
# It needs protoc (Debian package protobuf-compiler) and the well-known
# types under /usr/include (libprotobuf-dev, only recommended by
# protobuf-compiler), and installs the pinned Go
# plugins into ./bin with `go install`. Set OUT to write elsewhere (used by
# check-generated.sh).
set -eu

# Pinned plugin versions. protoc-gen-go matches the google.golang.org/protobuf
# version in go.mod. protoc-gen-go-grpc v1.5.1 emits code that needs
# grpc.SupportPackageIsVersion9 (grpc-go v1.64.0 or later).
PROTOC_GEN_GO_VERSION=v1.36.12
PROTOC_GEN_GO_GRPC_VERSION=v1.5.1

root=$(cd "$(dirname "$0")/.." && pwd)
out=${OUT:-$root}
bin=$root/bin/protoc-plugins

if ! command -v protoc >/dev/null 2>&1; then
	echo "generate.sh: protoc not found; install it with: apt-get install protobuf-compiler" >&2
	exit 1
fi

# Install the plugins once per version; the stamp records what bin holds.
stamp=$bin/versions
want="$PROTOC_GEN_GO_VERSION $PROTOC_GEN_GO_GRPC_VERSION"
if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
	mkdir -p "$bin"
	GOBIN=$bin go install "google.golang.org/protobuf/cmd/protoc-gen-go@$PROTOC_GEN_GO_VERSION"
	GOBIN=$bin go install "google.golang.org/grpc/cmd/protoc-gen-go-grpc@$PROTOC_GEN_GO_GRPC_VERSION"
	echo "$want" >"$stamp"
fi

mkdir -p "$out/api/fibdv1"
cd "$root/proto"
PATH=$bin:$PATH protoc \
	--proto_path=. \
	--go_out="$out/api/fibdv1" --go_opt=paths=source_relative \
	--go_opt=Mfibd/v1/fibd.proto=github.com/fibd/fibd/api/fibdv1 \
	--go-grpc_out="$out/api/fibdv1" --go-grpc_opt=paths=source_relative \
	--go-grpc_opt=Mfibd/v1/fibd.proto=github.com/fibd/fibd/api/fibdv1 \
	fibd/v1/fibd.proto

# paths=source_relative mirrors proto/fibd/v1; the Go package lives flat in
# api/fibdv1.
mv "$out/api/fibdv1/fibd/v1/"*.go "$out/api/fibdv1/"
rm -r "$out/api/fibdv1/fibd"
