#!/usr/bin/env bash
# Every test: set up if needed, then the C++ tests (Catch2 via CTest), the Python tests (pytest) and
# the notebooks (executed by pytest).
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/setup.sh
mkdir -p build
run_logged() {  # quiet on success, the full log on failure
  local log=$1; shift
  if ! "$@" >"$log" 2>&1; then cat "$log"; echo "FAILED: $*" >&2; exit 1; fi
}
echo "== C++ tests (CTest)"
run_logged build/cmake-configure.log cmake -S . -B build/cpp -G Ninja -DCMAKE_BUILD_TYPE=Release -DCRSIM_BUILD_TESTS=ON
run_logged build/cmake-build.log cmake --build build/cpp -j2
run_logged build/ctest.log ctest --test-dir build/cpp --output-on-failure -j2
tail -n 3 build/ctest.log
# ThreadSanitizer over the multi-threaded C++ tests (batches, their interrupts): about 6 CPU-minutes
# to build on top of the Release build; the ASan + UBSan half of scripts/sanitize.sh does not fit
# into CI's time (docs/reliability.md, "Sanitizers").
echo "== ThreadSanitizer: the [batch] C++ tests (scripts/sanitize.sh tsan)"
run_logged build/sanitize-tsan.log env SANITIZE_DIR=build ./scripts/sanitize.sh tsan
grep -E "passed|failed" build/sanitize-tsan.log | tail -n 1 || true
echo "== Python tests and notebooks (pytest)"
.venv/bin/python -m pytest -q tests/python "$@"
