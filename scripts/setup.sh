#!/usr/bin/env bash
# crsim set-up: system packages (apt-get), a Python virtual environment in .venv with the Python
# packages, and the crsim package built from this checkout. Idempotent and quiet when already done.
set -euo pipefail
cd "$(dirname "$0")/.."

log() { printf 'setup: %s\n' "$*" >&2; }

# --- system packages (Debian 12 or 13) -------------------------------------------------------------
APT_PACKAGES=(g++ cmake ninja-build pkg-config libeigen3-dev libboost-dev libhdf5-dev catch2
              nlohmann-json3-dev python3-venv)
missing=()
for p in "${APT_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  log "installing system packages: ${missing[*]}"
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -qq >/dev/null
  $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# --- Python environment ----------------------------------------------------------------------------
PY=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  log "creating .venv"
  "$PY" -m venv .venv
fi
PIP=(.venv/bin/python -m pip -q --disable-pip-version-check)
mkdir -p build
pip_logged() {  # pip's chatter goes to a log, shown only when pip fails
  if ! "${PIP[@]}" "$@" >build/pip.log 2>&1; then cat build/pip.log >&2; log "pip $* failed"; exit 1; fi
}
REQS="numpy pandas matplotlib scipy h5py pyyaml pytest nbclient nbformat ipykernel ipywidgets scikit-build-core pybind11 antimony python-libsbml libroadrunner salib xarray hypothesis dask[distributed] tqdm"
req_stamp=$(printf '%s' "$REQS" | sha1sum | cut -c1-16)
if [ "$(cat .venv/.crsim-reqs 2>/dev/null)" != "$req_stamp" ]; then
  log "installing Python packages into .venv"
  pip_logged install --upgrade pip
  # shellcheck disable=SC2086
  pip_logged install $REQS
  echo "$req_stamp" > .venv/.crsim-reqs
fi

# --- crsim itself (rebuilt only when its sources changed) ------------------------------------------
src_stamp=$(find CMakeLists.txt pyproject.toml core models bindings data -type f \
              -not -path '*/__pycache__/*' -print0 | sort -z | xargs -0 sha1sum | sha1sum | cut -c1-16)
if [ "$(cat .venv/.crsim-src 2>/dev/null)" != "$src_stamp" ] || ! .venv/bin/python -c "import crsim._core" 2>/dev/null; then
  log "building and installing crsim"
  pip_logged install --no-build-isolation --no-deps .
  echo "$src_stamp" > .venv/.crsim-src
fi
