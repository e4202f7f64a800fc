#!/usr/bin/env bash
# Bounded fuzzing with cargo-fuzz (libFuzzer) on the STABLE toolchain:
# RUSTC_BOOTSTRAP=1 lets cargo-fuzz pass its -Z flags, and `--sanitizer none`
# avoids AddressSanitizer (which needs a nightly std). Each target runs
# FUZZ_SECONDS (default 30) seconds, starting from fuzz/seeds/<target> and the
# local corpus fuzz/corpus/<target> (kept, gitignored).
#
#   scripts/fuzz.sh                  all targets, 30 s each
#   FUZZ_SECONDS=300 scripts/fuzz.sh config
#   FUZZ_STRICT=1 scripts/fuzz.sh    fail (exit 1) when cargo-fuzz is unavailable
#
# A crash leaves its input in fuzz/artifacts/<target>/; reproduce with
#   cd fuzz && RUSTC_BOOTSTRAP=1 cargo fuzz run --sanitizer none <target> artifacts/<target>/<file>
# Without cargo-fuzz, `cargo test --test cli fuzz_seeds` still checks the same
# properties on the seeds and their mutations.
set -euo pipefail
cd "$(dirname "$0")/../fuzz"
secs=${FUZZ_SECONDS:-30}
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(version config responses)

if ! command -v cargo-fuzz >/dev/null 2>&1; then
  echo "== installing cargo-fuzz"
  if ! cargo install cargo-fuzz --locked --quiet; then
    echo "!!! cargo-fuzz could not be installed: FUZZING SKIPPED !!!"
    [ "${FUZZ_STRICT:-0}" = 1 ] && exit 1
    exit 0
  fi
fi
export RUSTC_BOOTSTRAP=1 CARGO_TERM_COLOR=never
echo "== cargo fuzz build (stable toolchain, no sanitizer)"
cargo fuzz build --sanitizer none -O
for t in "${targets[@]}"; do
  mkdir -p "corpus/$t"
  echo "== fuzzing $t for ${secs}s"
  log="artifacts/$t.log"
  mkdir -p artifacts
  rc=0
  cargo fuzz run --sanitizer none -O "$t" "corpus/$t" "seeds/$t" -- \
    -max_total_time="$secs" -rss_limit_mb=2048 -print_final_stats=1 >"$log" 2>&1 || rc=$?
  grep -E '^(#[0-9]+ +DONE|stat::number_of_executed_units|Done [0-9]+ runs)|panicked|ERROR|SUMMARY' "$log" || true
  if [ $rc != 0 ]; then
    tail -n 40 "$log"
    echo "!!! $t failed (exit $rc): crash inputs in fuzz/artifacts/$t/, full log $log"
    exit 1
  fi
done
echo "fuzzing passed: ${targets[*]} (${secs}s each)"
