"""tests/python/test_learn_goldens.py - the committed learn goldens are what the generator makes.

tests/data/learn/ is written by tools/make_learn_goldens.py from scikit-learn and numpy;
tests/learn/*_test.cpp check bertlite against it. Regenerating into a temporary folder must give
the same data files byte for byte and the same goldens.json values, so anyone can reproduce every
expected value, and a scikit-learn or numpy upgrade that changes an answer fails here until the
goldens are regenerated on purpose. Everything but floats must be equal. Floats are not bit-equal
across CPUs: BLAS rounds differently per CPU, and L-BFGS-B carries that through its iterations.
Goldens made on an Intel Xeon, regenerated on an AMD Zen 3, differed by up to 5.9e-5 of an
array's largest value (class probabilities), 4.4e-6 for coefficients, and up to 8e-4 relative on
single small entries. So an array of floats must agree within 1e-4 of its largest value - the
strictest tolerance the C++ tests hold bertlite to - and a lone float within 1e-6 relative. The
L-BFGS iteration counts of long runs drift too (137 vs 148, 648 vs 666 there): within 10% or 3,
as logistic_regression_test.cpp allows. Run:
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


ARRAY_TOLERANCE = 1e-4  # of the array's largest |value|
SCALAR_TOLERANCE = 1e-6  # relative


def numbers(value):
    """The numbers of a nested list, flattened, or None if it holds anything else."""
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        return [value]
    if isinstance(value, list):
        flat = []
        for item in value:
            inner = numbers(item)
            if inner is None:
                return None
            flat += inner
        return flat
    return None


def differences(a, b, path="$"):
    """Paths where two JSON values differ (floats and iteration counts within the tolerances
    above)."""
    if path.endswith(".n_iter") and isinstance(a, int) and isinstance(b, int):
        return [] if abs(a - b) <= max(3, b // 10) else [f"{path}: {a} != {b} iterations"]
    if isinstance(a, list) and isinstance(b, list) and len(a) == len(b):
        xs, ys = numbers(a), numbers(b)
        if xs is not None and ys is not None and len(xs) == len(ys) and \
                any(isinstance(v, float) for v in xs + ys):
            scale = max((abs(y) for y in ys), default=0.0)
            worst = max((abs(x - y) for x, y in zip(xs, ys)), default=0.0)
            if worst <= ARRAY_TOLERANCE * scale or worst == 0:
                return []
            return [f"{path}: differs by {worst:.3g}, {worst / scale if scale else worst:.3g} "
                    "of its largest value"]
    if isinstance(a, float) or isinstance(b, float):
        if isinstance(a, (int, float)) and isinstance(b, (int, float)) and \
                math.isclose(a, b, rel_tol=SCALAR_TOLERANCE, abs_tol=1e-12):
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
