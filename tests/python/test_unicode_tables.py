"""tests/python/test_unicode_tables.py - the committed Unicode tables are what the generator makes.

src/text/hf_unicode_tables.inc holds Hugging Face tokenizers' character classes and the
lowercase/NFD overrides over utf8proc, written by tools/make_unicode_tables.py from the
installed `tokenizers` and libutf8proc. Regenerating into a temporary folder must give a
byte-identical file, so a `tokenizers` or utf8proc upgrade that changes any answer fails here
until the tables are regenerated on purpose. Run:
  .venv/bin/python -m pytest -q tests/python/test_unicode_tables.py
"""

import subprocess
import sys
from pathlib import Path

import tokenizers

ROOT = Path(__file__).resolve().parents[2]
GENERATOR = ROOT / "tools" / "make_unicode_tables.py"
COMMITTED = ROOT / "src" / "text" / "hf_unicode_tables.inc"


def test_regenerated_tables_are_byte_identical(tmp_path):
    out = tmp_path / "hf_unicode_tables.inc"
    result = subprocess.run([sys.executable, str(GENERATOR), "--out", str(out)],
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    regenerated, committed = out.read_text(encoding="utf-8"), COMMITTED.read_text(encoding="utf-8")
    if regenerated != committed:
        new, old = regenerated.split("\n"), committed.split("\n")
        number = next((i for i, (a, b) in enumerate(zip(new, old)) if a != b),
                      min(len(new), len(old)))
        line = lambda lines: lines[number][:200] if number < len(lines) else "<end of file>"
        raise AssertionError(
            f"{COMMITTED.relative_to(ROOT)} differs from the regenerated one (tokenizers "
            f"{tokenizers.__version__}) at line {number + 1}:\n"
            f"  regenerated: {line(new)}\n  committed:   {line(old)}\n"
            f"if the change is intended, run {sys.executable} "
            f"{GENERATOR.relative_to(ROOT)} and commit the result")
    # The header names the versions the tables came from.
    assert f"tokenizers {tokenizers.__version__}" in committed.split("\n", 4)[2]


def test_tables_are_small():
    # Ranges and overrides only: the per-code-point answers would be megabytes.
    assert COMMITTED.stat().st_size < 100_000
