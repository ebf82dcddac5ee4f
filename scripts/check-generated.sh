#!/bin/sh
# check-generated.sh fails when the committed Go code in api/fibdv1 differs
# from what scripts/generate.sh produces from proto/, and names the files.
# CI runs it; fix a failure by running scripts/generate.sh and committing
# the result.
set -eu

root=$(cd "$(dirname "$0")/.." && pwd)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

OUT=$tmp "$root/scripts/generate.sh"

stale=""
for f in "$tmp"/api/fibdv1/*.pb.go; do
	name=api/fibdv1/$(basename "$f")
	if ! cmp -s "$f" "$root/$name"; then
		stale="$stale $name"
	fi
done

# A committed file that generation no longer produces is stale as well.
for f in "$root"/api/fibdv1/*.pb.go; do
	name=api/fibdv1/$(basename "$f")
	if [ ! -e "$tmp/$name" ]; then
		stale="$stale $name"
	fi
done

if [ -n "$stale" ]; then
	echo "check-generated.sh: generated code is stale:$stale" >&2
	echo "run scripts/generate.sh and commit the result" >&2
	exit 1
fi

echo "generated code is up to date"
