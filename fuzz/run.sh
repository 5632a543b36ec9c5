#!/usr/bin/env bash
# Run one fuzz target for a number of seconds: fuzz/run.sh TARGET SECONDS [extra libFuzzer args]
# Without sanitizers (-s none) it works on stable Rust. SANITIZER=address builds with
# AddressSanitizer, which needs nightly flags: RUSTC_BOOTSTRAP=1 is set for that build
# (see docs/reliability.md).
set -euo pipefail
cd "$(dirname "$0")/.."
target=${1:?usage: fuzz/run.sh TARGET SECONDS}
secs=${2:-60}
shift 2 || true
if ! command -v cargo-fuzz >/dev/null 2>&1; then
  cargo install cargo-fuzz --locked
fi
# New inputs go to a scratch corpus; the committed seeds in fuzz/corpus/ are only read.
work="fuzz/target/corpus/$target"
mkdir -p "$work" "fuzz/corpus/$target"
sanitizer=${SANITIZER:-none}
if [ "$sanitizer" != none ]; then
  export RUSTC_BOOTSTRAP=1
  # A probe that failed without RUSTC_BOOTSTRAP is cached here and would stick.
  rm -f fuzz/target/.rustc_info.json
fi
exec cargo fuzz run -s "$sanitizer" "$target" "$work" "fuzz/corpus/$target" -- \
  -max_total_time="$secs" -rss_limit_mb=4096 -timeout=30 "$@"
