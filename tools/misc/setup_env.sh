#!/usr/bin/env bash
# Builds the project's virtual environment idempotently and incrementally.
#
# Usage: tools/misc/setup_env.sh [VENV_DIR]      (relative to the current directory or absolute)
#
# mmcv 2.1.0 (the newest release mmdet 3.3.0 / mmseg 1.2.2 accept) has no wheel for
# torch 2.14, so it is built once from the PyPI sdist with compiled ops and the wheel
# is cached in $STRUCT_DET_CACHE (default ~/.cache/struct_det) for every later setup.
#
# Environment:
#   STRUCT_DET_CACHE        wheel cache (default ~/.cache/struct_det)
#   STRUCT_DET_MMCV_SDIST   a local mmcv sdist (.tar.gz) to build instead of downloading one
#   STRUCT_DET_SETUP_UNTIL  stop after this step: "mmcv" (tests drive the cold build with it)
#   STRUCT_DET_PROGRESS_EVERY  seconds between progress lines of the mmcv build (default 60)
#   PYTHON, TORCH_VERSION, TORCHVISION_VERSION, MAX_JOBS
set -euo pipefail

# Every path is made absolute once, here: later steps change directory.
abspath() { case "$1" in /*) printf '%s\n' "$1" ;; *) printf '%s\n' "$PWD/$1" ;; esac; }
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
VENV="$(abspath "${1:-$ROOT/.venv}")"
CACHE="$(abspath "${STRUCT_DET_CACHE:-$HOME/.cache/struct_det}")"
MMCV_SDIST="${STRUCT_DET_MMCV_SDIST:+$(abspath "$STRUCT_DET_MMCV_SDIST")}"
UNTIL="${STRUCT_DET_SETUP_UNTIL:-}"
EVERY="${STRUCT_DET_PROGRESS_EVERY:-60}"
PYTHON="${PYTHON:-python3}"
TORCH_VERSION="${TORCH_VERSION:-2.14.1}"
TORCHVISION_VERSION="${TORCHVISION_VERSION:-0.29.1}"
MMCV_VERSION=2.1.0
STAMP="$VENV/.struct_det_setup"
START=$SECONDS

mkdir -p "$CACHE"
[ -x "$VENV/bin/python" ] || "$PYTHON" -m venv "$VENV"
PY="$VENV/bin/python"
PIP=("$PY" -m pip install --disable-pip-version-check -q -c "$ROOT/requirements/constraints.txt")

has() { "$PY" -c "import importlib.metadata as m, sys; sys.exit(0 if m.version('$1') == '$2' else 1)" 2>/dev/null; }
elapsed() { local s=$((SECONDS - $1)); printf '%dm%02ds' $((s / 60)) $((s % 60)); }

# Runs "$@" with its output in $1 (a log file), printing a progress line every $EVERY seconds:
# the compiled translation units (ninja's "[done/total]" lines, indented by pip -v) or the log's size.
with_progress() {
  local log="$1" t0=$SECONDS pid rc=0
  shift
  "$@" >"$log" 2>&1 &
  pid=$!
  while kill -0 "$pid" 2>/dev/null; do
    for _ in $(seq "$EVERY"); do kill -0 "$pid" 2>/dev/null || break; sleep 1; done
    kill -0 "$pid" 2>/dev/null || break
    local step
    step="$(grep -aoE '^ *\[[0-9]+/[0-9]+\]' "$log" | tail -n 1 | tr -d ' ' || true)"
    if [ -n "$step" ]; then
      echo "[setup]   $(elapsed "$t0"): compiled $step translation units"
    else
      echo "[setup]   $(elapsed "$t0"): $(wc -l <"$log") log lines"
    fi
  done
  wait "$pid" || rc=$?
  return "$rc"
}

# Builds mmcv's wheel from the sdist into $WHEEL_DIR (atomically: a half-built wheel never lands there).
build_mmcv() {
  local build src log t0=$SECONDS
  build="$(mktemp -d)"
  log="$CACHE/mmcv-build.log"
  echo "[setup] building mmcv $MMCV_VERSION with ops for torch $TORCH_TAG (about 28 min on 2 cores, done once)"
  echo "[setup]   compiler output: $log"
  if [ -n "$MMCV_SDIST" ]; then
    cp "$MMCV_SDIST" "$build/"
  else
    "$PY" -m pip download -q --no-deps --no-binary :all: "mmcv==$MMCV_VERSION" -d "$build"
  fi
  tar -xzf "$build"/mmcv-*.tar.gz -C "$build"
  src="$(ls -d "$build"/mmcv-*/)"
  # torch >= 2.4 headers need C++20; mmcv's setup.py hard-codes -std=c++17.
  sed -i 's/-std=c++17/-std=c++20/g' "$src/setup.py"
  grep -q -- '-std=c++20' "$src/setup.py" || { echo "[setup] error: the C++20 patch did not apply to $src/setup.py" >&2; return 1; }
  "${PIP[@]}" -r "$src/requirements/runtime.txt"
  if ! (cd "$src" && with_progress "$log" env MMCV_WITH_OPS=1 FORCE_CUDA=0 MAX_JOBS="${MAX_JOBS:-$(nproc)}" \
      "$PY" -m pip wheel -v --no-build-isolation --no-deps -w "$build/dist" .); then
    echo "[setup] error: building mmcv failed after $(elapsed "$t0"); the compiler output is in $log" >&2
    echo "[setup]   its first errors:" >&2
    grep -aE -m 15 'error:|Error [0-9]|fatal' "$log" | grep -v 'pip-setuptools-caller' >&2 || true
    echo "[setup]   its last lines:" >&2
    tail -n 15 "$log" >&2
    return 1
  fi
  local wheel
  wheel="$(ls "$build"/dist/mmcv-*.whl)"
  mkdir -p "$WHEEL_DIR"
  cp "$wheel" "$WHEEL_DIR/.partial.whl.tmp"
  mv "$WHEEL_DIR/.partial.whl.tmp" "$WHEEL_DIR/$(basename "$wheel")"
  rm -rf "$build"
  echo "[setup] built and cached $WHEEL_DIR/$(basename "$wheel") in $(elapsed "$t0")"
}

# setuptools < 82 keeps pkg_resources (mmcv's setup.py and openmim import it); < 80 keeps the
# egg-link `setup.py develop`, the one editable install that `mim` can see (see below).
"${PIP[@]}" setuptools wheel ninja
has torch "$TORCH_VERSION" || "${PIP[@]}" "torch==$TORCH_VERSION" "torchvision==$TORCHVISION_VERSION"
has torchvision "$TORCHVISION_VERSION" || "${PIP[@]}" "torchvision==$TORCHVISION_VERSION"

TORCH_TAG="$("$PY" -c 'import torch; print(torch.__version__.split("+")[0])')"
PY_TAG="$("$PY" -c 'import sys; print("cp%d%d" % sys.version_info[:2])')"
WHEEL_DIR="$CACHE/mmcv-$MMCV_VERSION-torch$TORCH_TAG-$PY_TAG"
if ! has mmcv "$MMCV_VERSION"; then
  if ls "$WHEEL_DIR"/mmcv-*.whl >/dev/null 2>&1; then
    echo "[setup] mmcv $MMCV_VERSION: cached wheel $(ls "$WHEEL_DIR"/mmcv-*.whl)"
  else
    build_mmcv
  fi
  "${PIP[@]}" "$WHEEL_DIR"/mmcv-*.whl
fi
if [ "$UNTIL" = mmcv ]; then
  echo "[setup] stopped after mmcv (STRUCT_DET_SETUP_UNTIL=mmcv) in $(elapsed "$START")"
  exit 0
fi

"${PIP[@]}" -r "$ROOT/requirements/runtime.txt" -r "$ROOT/requirements/tests.txt" \
  -r "$ROOT/requirements/lint.txt"
# openmim's own dependency list can pull openxlab, which downgrades setuptools: install it alone.
has openmim 0.3.9 || "${PIP[@]}" --no-deps openmim==0.3.9
"${PIP[@]}" click colorama model-index rich tabulate requests pandas

# mim resolves `<distribution location>/struct_det/.mim`. A PEP 660 editable install puts the
# distribution in site-packages, where no struct_det/ exists, so developers get the egg-link
# install instead: the distribution lives in the checkout and .mim links configs/ and tools/.
(cd "$ROOT" && "$PY" setup.py -q develop --no-deps >/dev/null)
"$PY" -c "import mmcv.ops, mmdet, mmseg, struct_det; print('[setup] ok: mmcv', mmcv.__version__, 'mmdet', mmdet.__version__)"
touch "$STAMP"
echo "[setup] done in $(elapsed "$START")"
