"""tests/python/test_train_parity.py - `bertlite train` against scikit-learn on the features
bertlite writes.

`bertlite embed` writes the feature matrix of the first 1,000 SST-2 training sentences (the real
default model, mean pooling, normalized); `bertlite train` fits on the same sentences with the
same seeded 75/25 split and C = 1 (scikit-learn's defaults: max_iter 100, tol 1e-4); then
tools/make_learn_goldens.py fits scikit-learn's LogisticRegression on that .npy with
train_test_split(random_state=42) and compares the saved classifier: coefficients within 1e-3
relative and the same prediction on every test row (the script exits non-zero otherwise). Run:
  BERTLITE_BUILD=build .venv/bin/python -m pytest -q tests/python/test_train_parity.py
"""

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
BUILD = Path(os.environ.get("BERTLITE_BUILD", ROOT / "build"))
BERTLITE = BUILD / "cli" / "bertlite"


def test_train_matches_scikit_learn_on_bertlite_features(tmp_path):
    rows = (ROOT / "data" / "sst2" / "train.tsv").read_text(encoding="utf-8").splitlines()[:1000]
    data = tmp_path / "rows.tsv"
    data.write_text("\n".join(rows) + "\n", encoding="utf-8")
    (tmp_path / "labels.txt").write_text("\n".join(r.split("\t")[1] for r in rows) + "\n")
    env = dict(os.environ, BERTLITE_CACHE=str(tmp_path / "cache"))
    common = ["--pooling", "mean", "--normalize"]
    result = subprocess.run([str(BERTLITE), "embed", "--input", str(data), "--out",
                             str(tmp_path / "x.npy"), *common], capture_output=True, text=True,
                            env=env)
    assert result.returncode == 0, result.stderr
    result = subprocess.run([str(BERTLITE), "train", "--train", str(data), "--split", "0.25",
                             "--seed", "42", "--grid", "1", "--out", str(tmp_path / "clf.json"),
                             *common], capture_output=True, text=True, env=env)
    assert result.returncode == 0, result.stderr
    result = subprocess.run([sys.executable, str(ROOT / "tools" / "make_learn_goldens.py"),
                             "--features", str(tmp_path / "x.npy"), "--labels",
                             str(tmp_path / "labels.txt"), "--seed", "42", "--classifier",
                             str(tmp_path / "clf.json")], capture_output=True, text=True)
    print(result.stdout)
    assert result.returncode == 0, result.stdout + result.stderr
