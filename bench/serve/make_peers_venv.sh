#!/usr/bin/env bash
# bench/serve/make_peers_venv.sh - the venv bench_serve.py runs its Python peers from.
#
# Separate from the project's .venv: infinity-emb pins numpy, fastapi and huggingface_hub to
# versions the project's tests do not use. torch is pinned first to the CPU wheel (2.13.0):
# an unpinned torch would pull a CUDA build of several GB.
set -euo pipefail
cd "$(dirname "$0")/../.."
venv=.cache/venv-peers
python3 -m venv "$venv"
"$venv/bin/pip" install -q torch==2.13.0
"$venv/bin/pip" install -q "infinity-emb[server,torch]==0.0.78" torch==2.13.0
"$venv/bin/python" -c "import infinity_emb, sentence_transformers, torch; print('peers ready:', \
'infinity-emb', infinity_emb.__version__, 'sentence-transformers', sentence_transformers.__version__, \
'torch', torch.__version__)"
