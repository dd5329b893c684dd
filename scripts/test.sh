#!/usr/bin/env bash
# The test command (README's second command; .ci/run calls it).
# Unit tests of the sans-IO core, then the loopback integration tests: the real
# binary against nginx-rtmp, the built-in receiver and fault servers, read back
# with ffprobe/ffmpeg. Needs: nginx libnginx-mod-rtmp ffmpeg (see .ci/run).
set -euo pipefail
cd "$(dirname "$0")/.."
start=$(date +%s)
cargo fmt --all -- --check
cargo test --release --workspace --locked "$@"
echo "tests took $(( $(date +%s) - start )) s"
