#!/usr/bin/env bash
# A long fuzzing campaign for one target (what the closing notes report):
# runs TARGET for SECONDS from its checked-in corpus plus a kept scratch
# corpus (target/fuzz-campaigns/TARGET/, so a second campaign continues the
# first), and prints executions, coverage, corpus size and peak RSS.
# Usage: bash scripts/fuzz-campaign.sh TARGET [SECONDS]   (default 3600)
# A crash leaves its input in fuzz/artifacts/TARGET/ and exits non-zero.
set -euo pipefail
cd "$(dirname "$0")/.."
target=${1:?usage: $0 TARGET [SECONDS]}
secs=${2:-3600}
scratch=$PWD/target/fuzz-campaigns/$target
mkdir -p "$scratch"
log=$scratch.log
cd fuzz
if rustup toolchain list | grep -q '^nightly'; then tc=+nightly; else tc=+stable; export RUSTC_BOOTSTRAP=1; fi
cargo $tc fuzz build "$target" 2>/dev/null
t=$(date +%s)
cargo $tc fuzz run "$target" "$scratch" "corpus/$target" -- \
  -max_total_time="$secs" -rss_limit_mb=1024 -timeout=10 -print_final_stats=1 \
  -print_pcs=0 > "$log" 2>&1 || true
took=$(( $(date +%s) - t ))
last=$(grep -E "^#[0-9]+" "$log" | tail -1)
echo "campaign $target: ${took} s; ${last}"
grep -E "^stat::(number_of_executed_units|peak_rss_mb)" "$log" || true
if compgen -G "artifacts/$target/*" > /dev/null; then
  echo "campaign $target: CRASH; inputs in fuzz/artifacts/$target/" >&2
  grep -E "panicked|ERROR|SUMMARY" "$log" | head -5 >&2
  exit 1
fi
