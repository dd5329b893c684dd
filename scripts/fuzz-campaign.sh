#!/usr/bin/env bash
# A long fuzzing campaign for one target (what the closing notes report):
# runs TARGET for SECONDS from its checked-in corpus plus a kept scratch
# corpus (target/fuzz-campaigns/TARGET/, so a second campaign continues the
# first), and prints executions, coverage, corpus size and peak RSS.
# Usage: bash scripts/fuzz-campaign.sh TARGET [SECONDS]   (default 3600)
# A crash leaves its input in fuzz/artifacts/TARGET/ and exits non-zero.
# The hang limit is 60 s of wall time, not CI's 10: a campaign runs beside
# other work at low priority (nice 19), and libFuzzer's limit is wall time,
# so a slow but finite input starved by a build crossed 10 s (a timeout
# artifact: run it alone, and look at the CPU time it takes).
set -euo pipefail
cd "$(dirname "$0")/.."
target=${1:?usage: $0 TARGET [SECONDS]}
secs=${2:-3600}
if ! compgen -G "fuzz/corpus/$target/*" > /dev/null; then
  echo "campaign $target: no seeds in fuzz/corpus/$target/" >&2
  exit 1
fi
scratch=$PWD/target/fuzz-campaigns/$target
mkdir -p "$scratch"
log=$scratch.log
cd fuzz
if rustup toolchain list | grep -q '^nightly'; then tc=+nightly; else tc=+stable; export RUSTC_BOOTSTRAP=1; fi
cargo $tc fuzz build "$target" 2>/dev/null
t=$(date +%s)
# the CPU it had, as well as the wall time libFuzzer counts (other work on
# the machine takes its share)
TIMEFORMAT='%U %S'
cpu=$( { time cargo $tc fuzz run "$target" "$scratch" "corpus/$target" -- \
  -max_total_time="$secs" -rss_limit_mb=1024 -timeout=60 -print_final_stats=1 \
  -print_pcs=0 > "$log" 2>&1 || true; } 2>&1 )
took=$(( $(date +%s) - t ))
last=$(grep -E "^#[0-9]+" "$log" | tail -1 || true)
if ! grep -qE "^(Done|stat::number_of_executed_units)" "$log"; then
  echo "campaign $target: did not run:" >&2
  tail -5 "$log" >&2
  exit 1
fi
cpu=$(awk '{printf "%d", $1 + $2}' <<< "$cpu")
echo "campaign $target: ${took} s (${cpu} s of CPU, user and system); ${last}"
grep -E "^stat::(number_of_executed_units|peak_rss_mb)" "$log" || true
if compgen -G "artifacts/$target/*" > /dev/null; then
  echo "campaign $target: CRASH; inputs in fuzz/artifacts/$target/" >&2
  grep -E "panicked|ERROR|SUMMARY" "$log" | head -5 >&2
  exit 1
fi
