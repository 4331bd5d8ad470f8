#!/usr/bin/env bash
# The C++ tests under sanitizers (issue 18; docs/reliability.md has the last result and its cost):
#   1. AddressSanitizer + UndefinedBehaviorSanitizer (+ LeakSanitizer): every Catch2 test;
#   2. ThreadSanitizer: the multi-threaded tests (batch runs, interrupts of a batch).
# Any report fails the run (halt_on_error / abort_on_error; exit status non-zero).
#
# Usage: scripts/sanitize.sh [asan|tsan|all]   (default all)
# Environment: SANITIZE_DIR (build directories, default /tmp: $SANITIZE_DIR/build-asan and
# $SANITIZE_DIR/build-tsan), SANITIZE_JOBS (parallel compile jobs, default 2; each sanitized model
# translation unit takes up to ~2 GB of memory, see docs/reliability.md).
#
# Debug information is line tables only (-g1): reports still name file and line, and the compile
# of the generated models takes a fraction of the memory and time of full -g (figures in
# docs/reliability.md). -O1: the AD code at -O0 makes the CRS tests an order of magnitude slower.
set -euo pipefail
cd "$(dirname "$0")/.."
what=${1:-all}
dir=${SANITIZE_DIR:-/tmp}
jobs=${SANITIZE_JOBS:-2}
common="-O1 -g1 -fno-omit-frame-pointer"

build() {  # build DIR FLAGS
  local b=$1 flags=$2
  # every compile under /usr/bin/time: "<CPU user s> s, <peak KB> KB: <source>" lines in $b.build.log
  local launcher=""
  [[ -x /usr/bin/time ]] && launcher="/usr/bin/time;-f;TIME %U s user, %M KB peak: %C"
  cmake -S . -B "$b" -G Ninja -DCMAKE_BUILD_TYPE=Sanitize -DCRSIM_BUILD_TESTS=ON \
    -DCMAKE_CXX_FLAGS_SANITIZE="$flags" -DCMAKE_EXE_LINKER_FLAGS="$flags" \
    -DCMAKE_CXX_COMPILER_LAUNCHER="$launcher" >"$b.configure.log" 2>&1 ||
    { cat "$b.configure.log"; exit 1; }
  local t0=$SECONDS
  cmake --build "$b" -j"$jobs" --target crsim_tests >"$b.build.log" 2>&1 || { tail -50 "$b.build.log"; exit 1; }
  echo "   built in $((SECONDS - t0)) s (wall); the costliest compiles (CPU s, peak memory):"
  grep -o 'TIME [0-9.]* s user, [0-9]* KB peak: .* -c [^ ]*' "$b.build.log" | sort -k2 -g -r | head -4 |
    sed -E 's/TIME ([0-9.]+) s user, ([0-9]+) KB peak: .* -c (.*)/     \1 s  \2 KB  \3/' || true
}

if [[ $what == asan || $what == all ]]; then
  echo "== AddressSanitizer + UndefinedBehaviorSanitizer: all C++ tests"
  b=$dir/build-asan
  build "$b" "$common -fsanitize=address,undefined -fno-sanitize-recover=all"
  # detect_leaks: LeakSanitizer at exit. abort_on_error: a report kills the process (a child of the
  # HDF5 reader's probe then counts as crashed, as it should).
  t0=$SECONDS
  ASAN_OPTIONS=detect_leaks=1:abort_on_error=1:strict_string_checks=1:detect_stack_use_after_return=1 \
  UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
    "$b/tests/cpp/crsim_tests" --order decl >"$b.test.log" 2>&1 || { tail -80 "$b.test.log"; exit 1; }
  tail -n 2 "$b.test.log"
  echo "   ran in $((SECONDS - t0)) s"
fi

if [[ $what == tsan || $what == all ]]; then
  echo "== ThreadSanitizer: batch runs and their interrupts"
  b=$dir/build-tsan
  build "$b" "$common -fsanitize=thread"
  t0=$SECONDS
  TSAN_OPTIONS=halt_on_error=1:second_deadlock_stack=1 \
    "$b/tests/cpp/crsim_tests" "[batch]" >"$b.test.log" 2>&1 || { tail -80 "$b.test.log"; exit 1; }
  tail -n 2 "$b.test.log"
  echo "   ran in $((SECONDS - t0)) s"
fi
