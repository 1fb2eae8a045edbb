"""tests/python/conftest.py - the `bertlite_package` fixture: the Python package, built and
installed as a user gets it, for the tests of python/ (test_package*.py, test_first_bert.py).

It runs `pip install .` from the repository root into the Python running pytest (the project's
.venv under `make test`), so the tests import the very wheel a user would install. Two choices
keep that fast and offline: --no-build-isolation builds with the .venv's pinned
scikit-build-core and nanobind (requirements.txt) instead of fetching them, and a fixed build
folder ($BERTLITE_BUILD-py, `build-py` beside the main build) makes every run after the first an
incremental CMake build (about 10 s when nothing changed; the first, from a fresh clone,
compiles the library once more with -fPIC, about 4 minutes on 2 cores).
BERTLITE_PYTHON_PACKAGE=installed skips the step and tests whatever bertlite is installed.
"""

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
BUILD = Path(os.environ.get("BERTLITE_BUILD", ROOT / "build"))


@pytest.fixture(scope="session")
def bertlite_package():
    if os.environ.get("BERTLITE_PYTHON_PACKAGE") != "installed":
        env = dict(os.environ)
        env.setdefault("CMAKE_BUILD_PARALLEL_LEVEL", str(os.cpu_count() or 2))
        result = subprocess.run(
            [sys.executable, "-m", "pip", "install", "--no-build-isolation", "--no-deps",
             "--disable-pip-version-check", "-q", f"--config-settings=build-dir={BUILD}-py",
             str(ROOT)],
            capture_output=True, text=True, env=env, cwd=ROOT)
        assert result.returncode == 0, result.stdout[-5000:] + result.stderr[-5000:]
    import bertlite

    return bertlite
