"""tests/python/test_learn_goldens.py - the committed learn goldens are what the generator makes.

tests/data/learn/ is written by tools/make_learn_goldens.py from scikit-learn and numpy;
tests/learn/*_test.cpp check bertlite against it. Regenerating into a temporary folder must give
the same data files byte for byte and the same goldens.json values (floats within 1e-9
relative: scipy's L-BFGS-B and BLAS may round differently on another machine; everything else
exactly), so anyone can reproduce every expected value, and a scikit-learn or numpy upgrade that
changes an answer fails here until the goldens are regenerated on purpose. Run:
  .venv/bin/python -m pytest -q tests/python/test_learn_goldens.py
"""

import json
import math
import subprocess
import sys
from pathlib import Path

import sklearn

ROOT = Path(__file__).resolve().parents[2]
GENERATOR = ROOT / "tools" / "make_learn_goldens.py"
COMMITTED = ROOT / "tests" / "data" / "learn"


def differences(a, b, path="$"):
    """Paths where two JSON values differ (floats compared with a relative tolerance)."""
    if isinstance(a, float) or isinstance(b, float):
        if isinstance(a, (int, float)) and isinstance(b, (int, float)) and \
                math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-12):
            return []
        return [f"{path}: {a!r} != {b!r}"]
    if type(a) is not type(b):
        return [f"{path}: {type(a).__name__} != {type(b).__name__}"]
    if isinstance(a, dict):
        if a.keys() != b.keys():
            return [f"{path}: keys {sorted(a.keys() ^ b.keys())} differ"]
        return [d for k in a for d in differences(a[k], b[k], f"{path}.{k}")]
    if isinstance(a, list):
        if len(a) != len(b):
            return [f"{path}: length {len(a)} != {len(b)}"]
        return [d for i, (x, y) in enumerate(zip(a, b)) for d in differences(x, y, f"{path}[{i}]")]
    return [] if a == b else [f"{path}: {a!r} != {b!r}"]


def test_regenerated_goldens_match(tmp_path):
    out = tmp_path / "learn"
    result = subprocess.run([sys.executable, str(GENERATOR), "--out", str(out)],
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    generated = sorted(p.name for p in out.iterdir())
    committed = sorted(p.name for p in COMMITTED.iterdir())
    assert generated == committed
    hint = (f"(scikit-learn {sklearn.__version__}); if the change is intended, run "
            f"{sys.executable} {GENERATOR.relative_to(ROOT)} and commit the result")
    for name in generated:
        if name.endswith(".npy"):
            assert (out / name).read_bytes() == (COMMITTED / name).read_bytes(), \
                f"{name} differs from the regenerated one {hint}"
    regenerated = json.loads((out / "goldens.json").read_text())
    expected = json.loads((COMMITTED / "goldens.json").read_text())
    regenerated.pop("versions")
    expected.pop("versions")
    found = differences(regenerated, expected)
    assert not found, f"goldens.json differs {hint}:\n" + "\n".join(found[:20])
