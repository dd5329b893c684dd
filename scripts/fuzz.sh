#!/usr/bin/env bash
# Runs every fuzz target in fuzz/ (cargo-fuzz, libFuzzer, AddressSanitizer,
# debug assertions) from its checked-in corpus for a fixed number of
# iterations: about a minute in all on a 2-core machine. .ci/run calls it.
# Needs cargo-fuzz (`cargo install cargo-fuzz --locked`) and a nightly
# toolchain; without one it uses the stable toolchain with RUSTC_BOOTSTRAP=1
# (cargo-fuzz passes -Z flags: the sanitizer and coverage instrumentation).
# A crash leaves its input in fuzz/artifacts/TARGET/ and fails the script.
# Longer campaigns: RUNS_SCALE=100 bash scripts/fuzz.sh
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/deps.sh fuzz
command -v cargo-fuzz >/dev/null || cargo install cargo-fuzz --locked
cd fuzz
scale=${RUNS_SCALE:-1}
start=$(date +%s)
if rustup toolchain list | grep -q '^nightly'; then
  fuzz() { cargo +nightly fuzz "$@"; }
else
  echo "fuzz: no nightly toolchain: stable with RUSTC_BOOTSTRAP=1"
  fuzz() { RUSTC_BOOTSTRAP=1 cargo +stable fuzz "$@"; }
fi
fuzz build
for spec in chunk_decoder:60000 amf0_decoder:300000 receiver_session:30000 publish_session:12000 \
  config:10000 h264:60000 flv:150000 jpeg:30000 still:50000 control_request:60000; do
  target=${spec%%:*}
  runs=$(( ${spec##*:} * scale ))
  # the seeds must be there: without them libFuzzer stops at once
  if ! compgen -G "corpus/$target/*" > /dev/null; then
    echo "fuzz: $target: no seeds in fuzz/corpus/$target/" >&2
    exit 1
  fi
  # new inputs go to a scratch corpus, the checked-in one is only read;
  # removed on any exit (a failing target's log is printed first)
  scratch=$(mktemp -d)
  trap 'rm -rf "$scratch" "$scratch.log"' EXIT
  t=$(date +%s)
  fuzz run "$target" "$scratch" "corpus/$target" -- \
    -runs="$runs" -rss_limit_mb=1024 -timeout=10 -print_final_stats=1 > "$scratch.log" 2>&1 || true
  grep -E "^(Done|stat::number_of_executed_units|stat::peak_rss_mb)|ERROR|panicked|SUMMARY" "$scratch.log" || true
  # a crash leaves an artifact; a run that did not happen (a missing
  # corpus, a target that failed to start) has no "Done N runs" line
  if compgen -G "artifacts/$target/*" > /dev/null; then
    echo "fuzz: $target crashed; inputs in fuzz/artifacts/$target/" >&2
    exit 1
  fi
  if ! grep -qE "^Done $runs runs" "$scratch.log"; then
    echo "fuzz: $target did not run $runs inputs:" >&2
    tail -5 "$scratch.log" >&2
    exit 1
  fi
  rm -rf "$scratch" "$scratch.log"
  echo "fuzz: $target: $runs runs in $(( $(date +%s) - t )) s"
done
echo "fuzzing took $(( $(date +%s) - start )) s"
