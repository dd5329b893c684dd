#!/usr/bin/env bash
# Cross-builds livepush for aarch64 with Debian's cross gcc (.cargo/config.toml)
# and runs the demo under qemu-user: the receiver's recording must hold H.264
# and AAC and decode cleanly. Needs gcc-aarch64-linux-gnu g++-aarch64-linux-gnu
# qemu-user ffmpeg and the rustup target aarch64-unknown-linux-gnu.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release --locked --target aarch64-unknown-linux-gnu
out=$(mktemp -d)/arm.flv
QEMU_LD_PREFIX=/usr/aarch64-linux-gnu qemu-aarch64 target/aarch64-unknown-linux-gnu/release/livepush \
  demo --seconds 3 --mode RTC --out "$out" > /dev/null
streams=$(ffprobe -v error -show_entries stream=codec_name,width,height -of csv=p=0 "$out" | sort | tr '\n' ' ')
[[ $streams == "aac h264,640,360 " ]] || { echo "aarch64 smoke: unexpected streams: $streams" >&2; exit 1; }
errors=$(ffmpeg -nostdin -v error -i "$out" -f null - 2>&1)
[[ -z $errors ]] || { echo "aarch64 smoke: decode errors: $errors" >&2; exit 1; }
echo "aarch64 smoke: OK ($streams)"
