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
echo "tests took $(( $(date +%s) - start )) s"
