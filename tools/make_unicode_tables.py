#!/usr/bin/env python3
"""make_unicode_tables.py - writes src/text/hf_unicode_tables.inc, Hugging Face's character data.

bertlite's tokenizer must match Hugging Face `tokenizers` on every code point, and tokenizers
does not take its character data from one Unicode version: BertNormalizer's cleaning
(is_other), accent stripping (is_mark_nonspacing) and BertPreTokenizer's punctuation come from
the `unicode_categories` crate (frozen at about Unicode 8, and unassigned code points are not
"other" there), whitespace and lowercase from Rust's std, NFD from the unicode-normalization
crate. bertlite takes its data from utf8proc, so this script asks the installed tokenizers
itself, code point by code point, and writes what it answered:

  kControl      ranges BertNormalizer(clean_text) drops (U+FFFD aside, which it drops by name)
  kWhitespace   ranges BertPreTokenizer splits at (Rust's char::is_whitespace); cleaning turns
                the same characters into ' ' unless it drops them
  kNonspacingMark  ranges strip_accents removes after NFD, on the characters that are their
                own NFD (the only ones it ever tests); elsewhere the value is a filler
  kPunctuation  non-ASCII ranges BertPreTokenizer splits off as punctuation (ASCII is a rule)
  kLowercase    code points whose lowercase (BertNormalizer(lowercase)) differs from utf8proc's
                utf8proc_tolower, with Hugging Face's result
  kNfd          code points whose NFD (normalizers.NFD) differs from utf8proc's
                utf8proc_decompose_char(UTF8PROC_DECOMPOSE), with Hugging Face's result

Lowercase and NFD keep utf8proc as the source (the installed libutf8proc.so.2, through ctypes,
called exactly as src/text/unicode.cpp calls it) so these lists hold only the differences.
Surrogates never reach the tokenizer (they are not valid UTF-8); in the range tables they, and
the fillers above, take the value of the code point before them, which never adds a range.

The output depends only on the installed tokenizers and utf8proc; it is written atomically with
fixed formatting, so a rerun gives a byte-identical file (tests/python/test_unicode_tables.py).

Usage: .venv/bin/python tools/make_unicode_tables.py [--out FILE]
"""

from __future__ import annotations

import argparse
import ctypes
import ctypes.util
import os
import sys
import tempfile
from pathlib import Path

import tokenizers
from tokenizers import normalizers, pre_tokenizers

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_OUT = ROOT / "src" / "text" / "hf_unicode_tables.inc"

CODE_POINTS = 0x110000
SURROGATES = range(0xD800, 0xE000)
# Longest output of one mapping: unicode.cpp's CodePointMapping holds this many code points.
MAPPING_WIDTH = 4
UTF8PROC_DECOMPOSE = 1 << 4  # utf8proc.h

# A starter (canonical combining class 0) that every step below leaves alone and that nothing
# maps to: chunks of code points joined by it are processed in one call and split at it.
SENTINEL = "\u2603"
CHUNK = 4096


# ---------------------------------------------------------------------------------------------
# Asking Hugging Face.
# ---------------------------------------------------------------------------------------------


def each(normalizer, cps: list[int]) -> list[str]:
    """normalizer.normalize_str(chr(cp)) for every cp. The steps used here work character by
    character, and NFD reorders marks only between starters, so a chunk joined by the sentinel
    gives the same parts as one call per character. A chunk that does not split into as many
    parts (the sentinel itself is in it) falls back to one call per character."""
    outputs = []
    for start in range(0, len(cps), CHUNK):
        chunk = cps[start:start + CHUNK]
        parts = normalizer.normalize_str(SENTINEL.join(map(chr, chunk))).split(SENTINEL)
        if len(parts) != len(chunk):
            parts = [normalizer.normalize_str(chr(cp)) for cp in chunk]
        outputs.extend(parts)
    return outputs


def pre_tokenizer_classes(cps: list[int]) -> dict[int, str]:
    """BertPreTokenizer's class of each code point: "W" (whitespace: split and removed), "P"
    (punctuation: a word of its own) or "" (word character). A chunk is pre-tokenized at once
    as "a c1 a c2 a ... a" (no spaces): a word character joins its neighbouring a's into one
    word, punctuation comes out alone, whitespace is in no word."""
    pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    classes = {}
    for start in range(0, len(cps), CHUNK):
        chunk = cps[start:start + CHUNK]
        text = "a" + "a".join(map(chr, chunk)) + "a"
        covered = bytearray(len(text))
        alone = set()
        for _, (begin, end) in pre_tokenizer.pre_tokenize_str(text):
            covered[begin:end] = b"\x01" * (end - begin)
            if end - begin == 1:
                alone.add(begin)
        for i, cp in enumerate(chunk):
            position = 2 * i + 1  # the character offset of cp in text
            classes[cp] = "P" if position in alone else "" if covered[position] else "W"
    return classes


def bert_normalizer(**switched_on: bool):
    options = dict(clean_text=False, handle_chinese_chars=False, strip_accents=False,
                   lowercase=False)
    options.update(switched_on)
    return normalizers.BertNormalizer(**options)


# ---------------------------------------------------------------------------------------------
# Asking utf8proc, as unicode.cpp does.
# ---------------------------------------------------------------------------------------------


class Utf8proc:
    def __init__(self):
        self.lib = ctypes.CDLL(ctypes.util.find_library("utf8proc") or "libutf8proc.so.2")
        self.lib.utf8proc_version.restype = ctypes.c_char_p
        self.lib.utf8proc_unicode_version.restype = ctypes.c_char_p
        self.lib.utf8proc_tolower.restype = ctypes.c_int32
        self.lib.utf8proc_tolower.argtypes = [ctypes.c_int32]
        self.lib.utf8proc_decompose_char.restype = ctypes.c_ssize_t
        self.lib.utf8proc_decompose_char.argtypes = [
            ctypes.c_int32, ctypes.POINTER(ctypes.c_int32), ctypes.c_ssize_t, ctypes.c_int,
            ctypes.POINTER(ctypes.c_int)]
        self.buffer = (ctypes.c_int32 * 8)()
        self.boundclass = ctypes.c_int(0)

    def version(self) -> str:
        return self.lib.utf8proc_version().decode()

    def unicode_version(self) -> str:
        return self.lib.utf8proc_unicode_version().decode()

    def lowercase(self, cp: int) -> str:
        return chr(self.lib.utf8proc_tolower(cp))

    def nfd(self, cp: int) -> str:
        self.boundclass.value = 0
        n = self.lib.utf8proc_decompose_char(cp, self.buffer, 8, UTF8PROC_DECOMPOSE,
                                             ctypes.byref(self.boundclass))
        if not 0 < n <= 8:
            return chr(cp)  # unicode.cpp keeps the character as is
        return "".join(chr(self.buffer[i]) for i in range(n))


# ---------------------------------------------------------------------------------------------
# Building the tables.
# ---------------------------------------------------------------------------------------------


def ranges_of(member, dont_care=lambda cp: False) -> list[tuple[int, int]]:
    """Sorted disjoint [first, last] ranges of the code points where member(cp) holds. A
    don't-care code point (and a surrogate) takes the value of the one before it."""
    ranges = []
    previous = False
    for cp in range(CODE_POINTS):
        inside = previous if cp in SURROGATES or dont_care(cp) else member(cp)
        if inside:
            if ranges and ranges[-1][1] == cp - 1:
                ranges[-1][1] = cp
            else:
                ranges.append([cp, cp])
        previous = inside
    return [(first, last) for first, last in ranges]


def differences(hf: dict[int, str], ours) -> list[tuple[int, str]]:
    out = []
    for cp, expected in sorted(hf.items()):
        if expected != ours(cp):
            assert 1 <= len(expected) <= MAPPING_WIDTH and "\0" not in expected, (cp, expected)
            out.append((cp, expected))
    return out


def build_tables() -> dict:
    cps = [cp for cp in range(CODE_POINTS) if cp not in SURROGATES]
    as_dict = lambda outputs: dict(zip(cps, outputs))
    cleaned = as_dict(each(bert_normalizer(clean_text=True), cps))
    stripped = as_dict(each(bert_normalizer(strip_accents=True), cps))
    lowered = as_dict(each(bert_normalizer(lowercase=True), cps))
    decomposed = as_dict(each(normalizers.NFD(), cps))
    classes = pre_tokenizer_classes(cps)

    # Cleaning drops a character, turns it into ' ', or leaves it alone.
    dropped = {cp for cp, out in cleaned.items() if out == ""}
    spaced = {cp for cp, out in cleaned.items() if out == " "}
    for cp, out in cleaned.items():
        assert out in ("", " ", chr(cp)), (cp, out)
    whitespace = {cp for cp, cls in classes.items() if cls == "W"}
    punctuation = {cp for cp, cls in classes.items() if cls == "P"}
    # One whitespace table serves both: cleaning maps exactly the whitespace it keeps.
    assert spaced == whitespace - dropped, sorted(spaced ^ (whitespace - dropped))[:20]
    assert {0x09, 0x0A, 0x0D, 0x20} <= whitespace and 0x00 in dropped and 0xFFFD in dropped
    control = dropped - {0xFFFD}
    ascii_punctuation = {cp for cp in range(0x21, 0x7F) if not chr(cp).isalnum()}
    assert {cp for cp in punctuation if cp < 0x80} == ascii_punctuation

    # Marks: decided on the code points that are their own NFD, and those are all that NFD
    # ever produces, so stripping = NFD, then dropping these marks.
    stable = {cp for cp, out in decomposed.items() if out == chr(cp)}
    marks = set()
    for cp in stable:
        assert stripped[cp] in ("", chr(cp)), (cp, stripped[cp])
        if stripped[cp] == "":
            marks.add(cp)
    for cp, out in decomposed.items():
        assert all(ord(c) in stable for c in out), cp
        assert stripped[cp] == "".join(c for c in out if ord(c) not in marks), cp

    utf8proc = Utf8proc()
    return {
        "control": ranges_of(lambda cp: cp in control),
        "whitespace": ranges_of(lambda cp: cp in whitespace),
        "marks": ranges_of(lambda cp: cp in marks, dont_care=lambda cp: cp not in stable),
        "punctuation": ranges_of(lambda cp: cp >= 0x80 and cp in punctuation),
        "lowercase": differences(lowered, utf8proc.lowercase),
        "nfd": differences(decomposed, utf8proc.nfd),
        "utf8proc": (utf8proc.version(), utf8proc.unicode_version()),
    }


# ---------------------------------------------------------------------------------------------
# Writing the file.
# ---------------------------------------------------------------------------------------------


def hex_cp(cp: int) -> str:
    return "0x%04X" % cp


def wrapped(items: list[str], indent: str = "    ", width: int = 100) -> list[str]:
    lines, line = [], indent
    for item in items:
        if len(line) + len(item) + 1 > width and line.strip():
            lines.append(line.rstrip())
            line = indent
        line += item + " "
    if line.strip():
        lines.append(line.rstrip())
    return lines


def range_table(name: str, comment: str, ranges: list[tuple[int, int]]) -> list[str]:
    items = [f"{{{hex_cp(a)}, {hex_cp(b)}}}," for a, b in ranges]
    return ([f"// {comment} {len(ranges)} ranges.",
             f"constexpr CodePointRange {name}[] = {{"] + wrapped(items) + ["};", ""])


def mapping_table(name: str, comment: str, mappings: list[tuple[int, str]]) -> list[str]:
    items = []
    for cp, out in mappings:
        items.append(f"{{{hex_cp(cp)}, {{{', '.join(hex_cp(ord(c)) for c in out)}}}}},")
    count = f"{len(mappings)} code point" + ("s" if len(mappings) != 1 else "")
    return ([f"// {comment} {count}.",
             f"constexpr CodePointMapping {name}[] = {{"] + wrapped(items) + ["};", ""])


def render(tables: dict) -> str:
    utf8proc_version, unicode_version = tables["utf8proc"]
    lines = [
        "// text/hf_unicode_tables.inc - Hugging Face tokenizers' character data, for unicode.cpp.",
        "//",
        f"// GENERATED by tools/make_unicode_tables.py from tokenizers {tokenizers.__version__}"
        f" and utf8proc {utf8proc_version}",
        f"// (Unicode {unicode_version}). Do not edit: rerun"
        " `.venv/bin/python tools/make_unicode_tables.py`.",
        "// Ranges are inclusive, sorted and disjoint; mappings are sorted by code point and list",
        "// the whole result (unused slots are 0). unicode.cpp defines both types.",
        "",
    ]
    lines += range_table("kControl", "Dropped by clean_text (is_other), U+FFFD aside (dropped by name).",
                         tables["control"])
    lines += range_table("kWhitespace", "Rust's char::is_whitespace (BertPreTokenizer).",
                         tables["whitespace"])
    lines += range_table("kNonspacingMark",
                         "Removed by strip_accents after NFD (Mn, unicode_categories).",
                         tables["marks"])
    lines += range_table("kPunctuation",
                         "Non-ASCII punctuation of BertPreTokenizer (P*, unicode_categories).",
                         tables["punctuation"])
    lines += mapping_table("kLowercase", "Lowercase where Hugging Face differs from utf8proc.",
                           tables["lowercase"])
    lines += mapping_table("kNfd", "NFD where Hugging Face differs from utf8proc.",
                           tables["nfd"])
    return "\n".join(lines[:-1]) + "\n"


def write_atomic(path: Path, content: str) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix="." + path.name + ".")
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as f:
            f.write(content)
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        os.unlink(tmp)
        raise


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT,
                        help="output file (default: %(default)s)")
    args = parser.parse_args(argv)
    tables = build_tables()
    content = render(tables)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    write_atomic(args.out, content)
    counts = ", ".join(f"{name} {len(tables[name])}" for name in
                       ("control", "whitespace", "marks", "punctuation", "lowercase", "nfd"))
    print(f"wrote {args.out} ({len(content)} bytes; {counts})", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
