"""tests/python/test_goldens.py - the committed tokenizer goldens are what the generator makes.

tests/data/tokenizer/ is written by tools/make_tokenizer_goldens.py from Hugging Face
`tokenizers`; tests/text/golden_test.cpp checks bertlite against it. Regenerating into a
temporary folder must give byte-identical files, so anyone can reproduce every expected value,
and a `tokenizers` upgrade (or a corpus edit) that changes any output fails here until the
goldens are regenerated on purpose. The .out.gz files are compared as they are on disk (the
generator compresses deterministically) and, first, decompressed, so a failure says whether the
content or only the compression changed. Run:
  .venv/bin/python -m pytest -q tests/python/test_goldens.py
"""

import gzip
import json
import subprocess
import sys
from pathlib import Path

import tokenizers

ROOT = Path(__file__).resolve().parents[2]
GENERATOR = ROOT / "tools" / "make_tokenizer_goldens.py"
COMMITTED = ROOT / "tests" / "data" / "tokenizer"


def first_difference(a: bytes, b: bytes) -> str:
    a_lines, b_lines = a.split(b"\n"), b.split(b"\n")
    for number, (x, y) in enumerate(zip(a_lines, b_lines), start=1):
        if x != y:
            return f"line {number}:\n  regenerated: {x[:300]!r}\n  committed:   {y[:300]!r}"
    return f"line counts differ: regenerated {len(a_lines)}, committed {len(b_lines)}"


def test_regenerated_goldens_are_byte_identical(tmp_path):
    out = tmp_path / "tokenizer"
    result = subprocess.run([sys.executable, str(GENERATOR), "--out", str(out)],
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stderr

    generated = sorted(p.name for p in out.iterdir())
    committed = sorted(p.name for p in COMMITTED.iterdir())
    assert generated == committed, "the generator's files and the committed ones differ in name"
    hint = (f"(tokenizers {tokenizers.__version__}); if the change is intended, run "
            f"{sys.executable} {GENERATOR.relative_to(ROOT)} and commit the result")
    assert not [name for name in generated if name.endswith(".out")], "uncompressed .out files"
    for name in generated:
        regenerated, expected = (out / name).read_bytes(), (COMMITTED / name).read_bytes()
        if name.endswith(".gz"):
            content, expected_content = gzip.decompress(regenerated), gzip.decompress(expected)
            assert content == expected_content, (
                f"{name} differs from the regenerated one {hint}\n"
                f"{first_difference(content, expected_content)}")
            assert regenerated == expected, (
                f"{name} holds the same lines as the regenerated one but is compressed "
                f"differently (another zlib?) {hint}")
        assert regenerated == expected, (
            f"{name} differs from the regenerated one {hint}\n"
            f"{first_difference(regenerated, expected)}")


def test_offsets_are_byte_offsets_on_character_boundaries():
    # Hugging Face's Python offsets count characters; the goldens hold UTF-8 byte offsets. A
    # conversion slip would put some span's edge inside a multibyte character.
    checked = 0
    for inp in sorted(COMMITTED.glob("*.inp")):
        cases = inp.read_text(encoding="utf-8").split("\n")[:-1]
        outputs = gzip.decompress(inp.with_suffix(".out.gz").read_bytes()).decode("utf-8")
        outputs = outputs.split("\n")[:-1]
        assert len(cases) == len(outputs), inp.name
        for number, (case_line, out_line) in enumerate(zip(cases, outputs), start=1):
            case, out = json.loads(case_line), json.loads(out_line)
            texts = [case["text"].encode("utf-8"), case.get("pair", "").encode("utf-8")]
            first_b = next((i for i, t in enumerate(out["type_ids"]) if t == 1), None)
            for i, (begin, end) in enumerate(out["offsets"]):
                if out["special_tokens_mask"][i] and (begin, end) == (0, 0):
                    continue
                # Tokens of the second text are those from its first type id 1 on.
                text = texts[1] if "pair" in case and first_b is not None and i >= first_b \
                    else texts[0]
                assert 0 <= begin < end <= len(text), f"{inp.name}:{number} token {i}"
                text[begin:end].decode("utf-8")  # raises on a split character
                checked += 1
    assert checked > 100_000
