#!/usr/bin/env bash
# The test command (README's second command; .ci/run calls it).
# Unit tests of the sans-IO core, then the loopback integration tests: the real
# binary against nginx-rtmp, the built-in receiver and fault servers, read back
# with ffprobe/ffmpeg. Needs: nginx libnginx-mod-rtmp ffmpeg (see .ci/run).
set -euo pipefail
cd "$(dirname "$0")/.."
start=$(date +%s)
cargo fmt --all -- --check
# the default build (no GPL code) must build and refuse video.encoder = "x264"
cargo build --release --locked
cargo test --release --locked --test push x264
# everything, with the optional libx264 encoder built in
cargo test --release --workspace --locked --features x264 "$@"
# aarch64: cross-build with Debian's gcc and run the demo under qemu-user
if command -v aarch64-linux-gnu-gcc >/dev/null && command -v qemu-aarch64 >/dev/null \
  && rustup target list --installed 2>/dev/null | grep -q aarch64-unknown-linux-gnu; then
  bash scripts/aarch64-smoke.sh
else
  echo "SKIPPED: aarch64 smoke test (needs gcc-aarch64-linux-gnu g++-aarch64-linux-gnu qemu-user and rustup target aarch64-unknown-linux-gnu; .ci/run installs them)" >&2
fi
echo "tests took $(( $(date +%s) - start )) s"
