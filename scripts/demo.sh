#!/usr/bin/env bash
# The main job: set up if needed, then run the default scenario (simulate, write results.h5, save a
# plot, print a clinical summary).
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/setup.sh
exec .venv/bin/crsim demo "$@"
