#!/usr/bin/env bash
# Builds the Debian packages with cargo-deb (Cargo.toml [package.metadata.deb])
# from the release binaries: amd64 with the VAAPI backend (x86 mini-PCs),
# arm64 with the default backends (V4L2 M2M, Rockchip MPP loaded at run time),
# cross-built with Debian's gcc-aarch64-linux-gnu as .cargo/config.toml says.
# Neither has x264 (GPL). File times come from the last commit
# (SOURCE_DATE_EPOCH), so the same commit gives the same package.
#
# Usage: bash packaging/build-deb.sh [amd64] [arm64]     (default: both)
# Output: target/debian/livepush_VERSION_ARCH.deb (the paths are printed)
set -euo pipefail
cd "$(dirname "$0")/.."
[ $# -gt 0 ] || set -- amd64 arm64
CARGO_DEB_VERSION=3.8.0
if ! cargo deb --version 2>/dev/null | grep -q "$CARGO_DEB_VERSION"; then
  cargo install cargo-deb --locked --version "$CARGO_DEB_VERSION"
fi
export SOURCE_DATE_EPOCH=${SOURCE_DATE_EPOCH:-$(git log -1 --format=%ct 2>/dev/null || date +%s)}
for arch in "$@"; do
  case $arch in
    amd64)
      cargo build --release --locked --features vaapi
      cargo deb --no-build -o target/debian ;;
    arm64)
      cargo build --release --locked --target aarch64-unknown-linux-gnu
      cargo deb --no-build --target aarch64-unknown-linux-gnu -o target/debian ;;
    *) echo "usage: $0 [amd64] [arm64]" >&2; exit 2 ;;
  esac
done
