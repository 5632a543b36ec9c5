#!/usr/bin/env bash
# Run one fuzz target for a number of seconds: fuzz/run.sh TARGET SECONDS [extra libFuzzer args]
# Without sanitizers (-s none) it works on stable Rust. For AddressSanitizer use
#   RUSTC_BOOTSTRAP=1 cargo fuzz run TARGET   (see docs/reliability.md).
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
exec cargo fuzz run -s none "$target" "$work" "fuzz/corpus/$target" -- \
  -max_total_time="$secs" -rss_limit_mb=4096 -timeout=30 "$@"
