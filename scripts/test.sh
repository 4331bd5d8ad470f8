#!/usr/bin/env bash
# Every test: set up if needed, then the C++ tests (Catch2 via CTest), the Python tests (pytest) and
# the notebooks (executed by pytest).
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/setup.sh
echo "== C++ tests (CTest)"
cmake -S . -B build/cpp -G Ninja -DCMAKE_BUILD_TYPE=Release -DCRSIM_BUILD_TESTS=ON >/dev/null
cmake --build build/cpp -j2 >/dev/null
ctest --test-dir build/cpp --output-on-failure -j2 | tail -n 3
echo "== Python tests and notebooks (pytest)"
.venv/bin/python -m pytest -q tests/python "$@"
