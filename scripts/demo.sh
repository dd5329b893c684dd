#!/usr/bin/env bash
# The demo (README's first command): builds livepush, runs its built-in RTMP
# receiver and the pusher on loopback for ~10 s with a synthetic camera and
# microphone, printing state codes and netstatus as they happen, and leaves
# livepush-demo.flv. Extra arguments go to `livepush demo` (--seconds, --out, --mode).
set -euo pipefail
cd "$(dirname "$0")/.."
# the Debian packages it needs (scripts/deps.sh demo): installed when run as
# root, else the apt-get line to run is printed and it stops here (exit 2)
bash scripts/deps.sh demo
cargo build --release --locked
./target/release/livepush demo "$@"
out=livepush-demo.flv
for ((i = 1; i <= $#; i++)); do [[ ${!i} == --out ]] && { j=$((i + 1)); out=${!j}; }; done
if command -v ffprobe >/dev/null; then
  echo "--- ffprobe $out"
  ffprobe -v error -show_entries stream=codec_name,profile,width,height,sample_rate,channels -show_entries format=duration -of compact "$out"
fi
