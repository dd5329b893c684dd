#!/usr/bin/env bash
# The demo (README's first command): builds livepush, runs its built-in RTMP
# receiver and the pusher on loopback for ~10 s with a synthetic camera and
# microphone, printing state codes and netstatus as they happen, and leaves
# livepush-demo.flv. Extra arguments go to `livepush demo` (--seconds, --out, --mode).
set -euo pipefail
cd "$(dirname "$0")/.."
need=()
command -v g++ >/dev/null || need+=(g++)
command -v nasm >/dev/null || need+=(nasm)
command -v pkg-config >/dev/null || need+=(pkg-config)
command -v ffprobe >/dev/null || need+=(ffmpeg)
if ((${#need[@]})); then
  if [[ $(id -u) == 0 ]]; then
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}"
  else
    echo "demo: missing ${need[*]}; install with: sudo apt-get install -y ${need[*]}" >&2
  fi
fi
cargo build --release --locked
./target/release/livepush demo "$@"
out=livepush-demo.flv
for ((i = 1; i <= $#; i++)); do [[ ${!i} == --out ]] && { j=$((i + 1)); out=${!j}; }; done
if command -v ffprobe >/dev/null; then
  echo "--- ffprobe $out"
  ffprobe -v error -show_entries stream=codec_name,profile,width,height,sample_rate,channels -show_entries format=duration -of compact "$out"
fi
