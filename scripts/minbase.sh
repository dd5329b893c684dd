#!/usr/bin/env bash
# Prints the path of a minimal Debian 12 root filesystem tarball (mmdebstrap's
# minbase variant: Essential packages and apt, nothing else), making it first
# when it is not cached yet. The fresh-machine test and the package test
# start from it. Cache: $LIVEPUSH_FRESH_CACHE (default target/fresh); needs
# mmdebstrap and Debian's mirror.
set -euo pipefail
cd "$(dirname "$0")/.."
CACHE=${LIVEPUSH_FRESH_CACHE:-$(pwd)/target/fresh}
mkdir -p "$CACHE"
tarball=$CACHE/bookworm-minbase.tar
if [[ ! -s $tarball ]]; then
  mmdebstrap --quiet --format=tar --variant=minbase bookworm "$tarball.tmp" http://deb.debian.org/debian >&2
  mv "$tarball.tmp" "$tarball"
fi
echo "$tarball"
