#!/usr/bin/env bash
# Fuzzes the readers of untrusted bytes (tests/fuzz): builds the `fuzz` preset (clang, libFuzzer, ASan + UBSan)
# and runs each target for SECONDS (default 600), one at a time at nice 19, then prints a table of
# executions and crashes. Usage: scripts/fuzz.sh [SECONDS] [TARGET...]   (targets: npy metadata safetensors
# spec image idx; default all). Each target starts from its committed seeds, tests/fuzz/corpus/<target>/,
# and grows a working corpus in build/fuzz/corpus/<target>/. Whatever crashes, runs out of memory (2 GB) or
# hangs (10 s) lands in build/fuzz/artifacts/<target>/; the log is build/fuzz/logs/<target>.log.
# Reproduce one with build/fuzz/tests/fuzz/fuzz_<target> FILE; once fixed, copy it into
# tests/fuzz/corpus/<target>/ (test_fuzz_corpus then runs it in every ctest).
set -euo pipefail
cd "$(dirname "$0")/.."

seconds=600
if [[ $# -gt 0 && $1 =~ ^[0-9]+$ ]]; then seconds=$1; shift; fi
targets=("$@")
[[ ${#targets[@]} -gt 0 ]] || targets=(npy metadata safetensors spec image idx)

nice -n 10 cmake --preset fuzz >/dev/null
nice -n 10 cmake --build build/fuzz -j2 >/dev/null

export ASAN_OPTIONS=detect_leaks=0:allocator_may_return_null=1
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
rows=()
for t in "${targets[@]}"; do
  exe=build/fuzz/tests/fuzz/fuzz_$t
  [[ -x $exe ]] || { echo "fuzz.sh: no target '$t'" >&2; exit 2; }
  corpus=build/fuzz/corpus/$t artifacts=build/fuzz/artifacts/$t log=build/fuzz/logs/$t.log
  mkdir -p "$corpus" "$artifacts" build/fuzz/logs
  echo "fuzzing $t for ${seconds}s (log: $log)" >&2
  # -fork=1: one worker process that libFuzzer restarts after a crash, so that a run reports every kind
  # of crash it meets in its time instead of stopping at the first.
  nice -n 19 "$exe" -fork=1 -ignore_crashes=1 -ignore_ooms=1 -ignore_timeouts=1 -max_total_time="$seconds" \
    -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 -artifact_prefix="$artifacts/" \
    "$corpus" "tests/fuzz/corpus/$t" >"$log" 2>&1 || true
  # The last status line of fork mode: "#EXECS: cov: ... oom/timeout/crash: O/T/C time: ..."
  last=$(grep -E '^#[0-9]+: cov:' "$log" | tail -1 || true)
  execs=$(sed -E 's/^#([0-9]+):.*/\1/' <<<"$last")
  faults=$(sed -E 's#.*oom/timeout/crash: ([0-9]+)/([0-9]+)/([0-9]+).*#\1 \2 \3#' <<<"$last")
  read -r ooms timeouts crashes <<<"${faults:-0 0 0}"
  rows+=("$(printf '%-12s %7.1f %14s %6s %8s %6s %9s' "$t" "$(awk "BEGIN { print $seconds / 60 }")" "${execs:-0}" \
    "$crashes" "$timeouts" "$ooms" "$(ls "$artifacts" | wc -l)")")
done
printf '%-12s %7s %14s %6s %8s %6s %9s\n' target minutes executions crash timeout oom artifacts
printf '%s\n' "${rows[@]}"
