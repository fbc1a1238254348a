#!/usr/bin/env bash
# Builds the project's virtual environment idempotently and incrementally.
#
# Usage: tools/misc/setup_env.sh [VENV_DIR]
#
# mmcv 2.1.0 (the newest release mmdet 3.3.0 / mmseg 1.2.2 accept) has no wheel for
# torch 2.14, so it is built once from the PyPI sdist with compiled ops and the wheel
# is cached in $STRUCT_DET_CACHE (default ~/.cache/struct_det) for every later setup.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
VENV="${1:-$ROOT/.venv}"
CACHE="${STRUCT_DET_CACHE:-$HOME/.cache/struct_det}"
PYTHON="${PYTHON:-python3}"
TORCH_VERSION="${TORCH_VERSION:-2.14.1}"
TORCHVISION_VERSION="${TORCHVISION_VERSION:-0.29.1}"
MMCV_VERSION=2.1.0
STAMP="$VENV/.struct_det_setup"

mkdir -p "$CACHE"
[ -x "$VENV/bin/python" ] || "$PYTHON" -m venv "$VENV"
PY="$VENV/bin/python"
PIP=("$PY" -m pip install --disable-pip-version-check -q -c "$ROOT/requirements/constraints.txt")

has() { "$PY" -c "import importlib.metadata as m, sys; sys.exit(0 if m.version('$1') == '$2' else 1)" 2>/dev/null; }

# setuptools < 82 keeps pkg_resources (mmcv's setup.py and openmim import it); < 80 keeps the
# egg-link `setup.py develop`, the one editable install that `mim` can see (see below).
"${PIP[@]}" setuptools wheel ninja
has torch "$TORCH_VERSION" || "${PIP[@]}" "torch==$TORCH_VERSION" "torchvision==$TORCHVISION_VERSION"
has torchvision "$TORCHVISION_VERSION" || "${PIP[@]}" "torchvision==$TORCHVISION_VERSION"

TORCH_TAG="$("$PY" -c 'import torch; print(torch.__version__.split("+")[0])')"
PY_TAG="$("$PY" -c 'import sys; print("cp%d%d" % sys.version_info[:2])')"
WHEEL_DIR="$CACHE/mmcv-$MMCV_VERSION-torch$TORCH_TAG-$PY_TAG"
if ! has mmcv "$MMCV_VERSION"; then
  if ! ls "$WHEEL_DIR"/mmcv-*.whl >/dev/null 2>&1; then
    echo "[setup] building mmcv $MMCV_VERSION with ops for torch $TORCH_TAG (25-40 min on 2 cores, done once)"
    BUILD="$(mktemp -d)"
    "$PY" -m pip download -q --no-deps --no-binary :all: "mmcv==$MMCV_VERSION" -d "$BUILD"
    tar -xzf "$BUILD"/mmcv-*.tar.gz -C "$BUILD"
    SRC="$(ls -d "$BUILD"/mmcv-*/)"
    # torch >= 2.4 headers need C++20; mmcv's setup.py hard-codes -std=c++17.
    sed -i 's/-std=c++17/-std=c++20/g' "$SRC/setup.py"
    "${PIP[@]}" -r "$SRC/requirements/runtime.txt" 2>/dev/null || true
    (cd "$SRC" && MMCV_WITH_OPS=1 FORCE_CUDA=0 MAX_JOBS="${MAX_JOBS:-$(nproc)}" \
      "$PY" -m pip wheel --no-build-isolation --no-deps -w "$BUILD/dist" .)
    mkdir -p "$WHEEL_DIR"
    cp "$BUILD"/dist/mmcv-*.whl "$WHEEL_DIR/.tmp.whl"
    mv "$WHEEL_DIR/.tmp.whl" "$WHEEL_DIR/$(basename "$BUILD"/dist/mmcv-*.whl)"
    rm -rf "$BUILD"
  fi
  "${PIP[@]}" "$WHEEL_DIR"/mmcv-*.whl
fi

"${PIP[@]}" -r "$ROOT/requirements/runtime.txt" -r "$ROOT/requirements/tests.txt"
# openmim's own dependency list can pull openxlab, which downgrades setuptools: install it alone.
has openmim 0.3.9 || "${PIP[@]}" --no-deps openmim==0.3.9
"${PIP[@]}" click colorama model-index rich tabulate requests pandas

# mim resolves `<distribution location>/struct_det/.mim`. A PEP 660 editable install puts the
# distribution in site-packages, where no struct_det/ exists, so developers get the egg-link
# install instead: the distribution lives in the checkout and .mim links configs/ and tools/.
(cd "$ROOT" && "$PY" setup.py -q develop --no-deps >/dev/null)
"$PY" -c "import mmcv.ops, mmdet, mmseg, struct_det; print('[setup] ok: mmcv', mmcv.__version__, 'mmdet', mmdet.__version__)"
touch "$STAMP"
