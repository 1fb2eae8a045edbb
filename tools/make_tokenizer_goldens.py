#!/usr/bin/env python3
"""make_tokenizer_goldens.py - writes the tokenizer goldens that tests/text/golden_test.cpp checks.

Hugging Face `tokenizers` (the fast BertTokenizer, bertlite's parity target) tokenizes a
corpus this script assembles itself, and the script writes what it got:

  tests/data/tokenizer/<category>.inp  one case per line (JSON Lines):
      {"text": str, "pair": str (absent for one text), "max_length": int (absent = no
       truncation), "add_special_tokens": bool (absent = true)}
  tests/data/tokenizer/<category>.out.gz  gzip of the same lines, in order:
      {"ids", "type_ids", "special_tokens_mask", "offsets": [[begin, end], ...] as BYTE
       offsets into the UTF-8 of the text the token came from (the second text for the pair's
       tokens, as Hugging Face does; [0, 0] for template tokens), "decoded":
       tokenizer.decode(ids, skip_special_tokens=True)}
  tests/data/tokenizer/codepoints.tsv  for every code point but the surrogates: what the
      tokenizer's BertNormalizer makes of that one character, and whether BertPreTokenizer
      treats it as whitespace, punctuation or a word character (format in its header).

The .out files are gzip-compressed (SST-2's alone is megabytes of JSON) with a fixed level and
no time stamp, so they stay deterministic. The corpus is fixed (the random mix uses a seeded
generator), and files are written atomically with fixed formatting, so running this again
with the same `tokenizers` (and zlib) gives byte-identical files; tests/python/test_goldens.py
checks exactly that. Files of this output
folder that the script no longer makes are deleted.

Usage: .venv/bin/python tools/make_tokenizer_goldens.py [MODEL_FOLDER] [--out DIR]
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import random
import sys
import tempfile
import unicodedata
from pathlib import Path

from tokenizers import Tokenizer

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_MODEL = ROOT / "models" / "all-MiniLM-L6-v2"
DEFAULT_OUT = ROOT / "tests" / "data" / "tokenizer"
DEFAULT_SST2 = ROOT / "data" / "sst2"

# Surrogates cannot be encoded in UTF-8, so no text can hold them.
SURROGATES = range(0xD800, 0xE000)

# ---------------------------------------------------------------------------------------------
# The corpus. Each category becomes one .inp/.out.gz pair; a case is a dict with the .inp keys.
# ---------------------------------------------------------------------------------------------


def case(text: str, pair: str | None = None, max_length: int | None = None,
         add_special_tokens: bool = True) -> dict:
    c = {"text": text}
    if pair is not None:
        c["pair"] = pair
    if max_length is not None:
        c["max_length"] = max_length
    if not add_special_tokens:
        c["add_special_tokens"] = False
    return c


def read_sst2(folder: Path) -> list[str]:
    """The sentence column of train.tsv then dev.tsv, first occurrence of each sentence kept."""
    seen: set[str] = set()
    out = []
    for name in ("train.tsv", "dev.tsv"):
        # split("\n") rather than splitlines(): the latter also splits at U+0085, U+2028, ...
        for line in (folder / name).read_text(encoding="utf-8").split("\n"):
            if not line:
                continue  # train.tsv has no final newline, dev.tsv has one
            text = line.split("\t", 1)[0]
            if text not in seen:
                seen.add(text)
                out.append(text)
    return out


ACCENTED = [
    "Le garçon a mangé une crème brûlée à l'hôtel.",
    "Où est la bibliothèque ? Ça dépend de l'œuvre.",
    "Ærøskøbing, Ångström, naïve café, résumé, façade, coöperate, São Paulo.",
    "Grüße aus München! Die Straße ist schön, Äpfel und Öl über Übermut.",
    "Tiếng Việt có nhiều dấu: Người ta nói rằng đường đi khó không phải vì ngăn sông cách núi.",
    "Hà Nội, Huế, Đà Nẵng, Thành phố Hồ Chí Minh, phở, bánh mì, cà phê sữa đá.",
    "Ñandú, pingüino, año, señor, ¿Qué tal? ¡Olé!",
    "Český Krumlov, Łódź, Kraków, Dvořák, Škoda, Žilina, Brașov, Ţară.",
    "A, naïve [MASK] AllenNLP sentence.",
    "UNwant\u00e9d,running",
    "ÀÁÂÃÄÅ àáâãäå ÈÉÊË èéêë ÌÍÎÏ ìíîï ÒÓÔÕÖ òóôõö ÙÚÛÜ ùúûü Ýýÿ Çç Ññ",
]

SCRIPTS = [
    # Chinese (spaced per ideograph), Japanese kana + kanji, Korean Hangul (not CJK here).
    "我爱自然语言处理。", "ah\u535a\u63a8zz", "北京是中国的首都，上海是最大的城市。",
    "日本語のテキストです。ひらがな、カタカナ、漢字を混ぜます。", "東京タワーはとても高いです",
    "한국어 문장입니다. 안녕하세요! 서울은 대한민국의 수도입니다.", "ｶﾀｶﾅ ﾊﾝｶｸ ｶﾞｷﾞｸﾞ",
    "𠀀𠀁 𪜀 𫝀 𫠠 𬺰 丽 丸", "中文English混合mixed文本",
    # Right-to-left scripts, with and without marks.
    "مرحبا بالعالم", "اَلْعَرَبِيَّةُ لُغَةٌ جَمِيلَةٌ", "עברית היא שפה שמית", "שָׁלוֹם עֲלֵיכֶם",
    "Привет, мир! Ёжик в тумане. ЙОД и йод.", "Україна, Київ, ґанок, їжак, Її.",
    "Ελληνικά: ΟΔΟΣ οδός ΣΊΣΥΦΟΣ σίσυφος Άλφα ΐ ΰ", "ὅτι ἐν ἀρχῇ ἦν ὁ λόγος",
    "हिन्दी भाषा बहुत सुंदर है।", "क्षत्रिय ज्ञान श्री", "ภาษาไทยเป็นภาษาที่สวยงาม", "ไม่ได้ ก็ได้",
    "ქართული ენა", "Հայերեն լեզու", "தமிழ் மொழி", "বাংলা ভাষা", "ᚠᚢᚦᚨᚱᚲ ᚷᚹ", "ⴰⵣⵓⵍ",
]

EMOJI = [
    "I love it 😀😃😄", "👍", "👍🏻👍🏼👍🏽👍🏾👍🏿", "👨‍👩‍👧‍👦 family", "👩🏽‍💻 coding",
    "🏳️‍🌈 🏴‍☠️", "🇺🇸🇫🇷🇯🇵 flags", "🇺", "❤️ ❤ ♥️", "#️⃣ 1️⃣ *️⃣", "🧑‍🤝‍🧑", "😀x😀", "a😀b",
    "🏴󠁧󠁢󠁳󠁣󠁴󠁿 Scotland", "☺️☹️✌🏿", "🤷‍♀️🤷‍♂️", "🫠🫡🫥 newer emoji", "emoji😀punct!😀?",
    "😀" * 60,
]

INVISIBLE = (
    [chr(c) for c in range(0x20)]
    + ["a" + chr(c) + "b" for c in range(0x20)]
    + ["\x7f", "a\x7fb", "\x80", "a\x85b", "\x85", "a\x9fb", "a\x00b\x00c"]
    + ["zero\u200bwidth", "zero\u200cnon\u200djoiner", "\ufeffbom at start", "word\u2060joiner",
       "soft\u00adhyphen", "\u00ad", "a\u200b\u200c\u200d\u2060\ufeffb", "\u200b", "\u200e\u200f",
       "left\u202aembedding\u202c", "\u2066isolate\u2069", "x\u061cy", "\U000e0001\U000e0041tag"]
    + ["a" + s + "b" for s in ["\u00a0", "\u1680", "\u202f", "\u205f", "\u3000", "\u2028",
                                "\u2029", "\u180e", "\u200b"]]
    + ["a" + chr(c) + "b" for c in range(0x2000, 0x200B)]
    + ["non\u00a0breaking\u00a0space", "\u3000\u3000全角\u3000空白\u3000", "\u2028\u2029"]
    + ["replacement \ufffd char", "\ufffd", "a\ufffdb", "\ufffd\ufffd\ufffd x"]
    + ["private \ue000\ue001\uf8ff use", "\U000f0000\U000ffffd\U00100000\U0010fffd",
       "a\ue000b", "\ue000", "x\U000f0041"]
    + ["unassigned \u0378\u0379 \u0380 \u05ff", "\ufdd0\ufdef\ufffe\uffff", "\U0001fffe\U0001ffff",
       "\U0010ffff", "a\U0010ffffb", "\U0002fffe", "\U00030000\U00031350\U0002ebf0 newer CJK",
       "\U000e0080", "x\u0378y", "\u08a0\u08b5\u08c7 \u1abf\u1ac0 \u2b97 \u9ffd\u9fff"]
)

LONG_WORDS = [
    "a" * 99, "a" * 100, "a" * 101, "b" * 150, "x" * 100 + " " + "y" * 101,
    "é" * 100, "é" * 101, "e\u0301" * 60, "e\u0301" * 100, "ж" * 50, "ж" * 51, "ж" * 100,
    "ж" * 101, "中" * 101, "😀" * 101, "한" * 100, "한" * 101, "ab" * 50 + "!" + "cd" * 51,
    "supercalifragilisticexpialidocious" * 3, "antidisestablishmentarianism",
    "pneumonoultramicroscopicsilicovolcanoconiosis", "word " + "z" * 200 + " word",
    "A" * 100, "İ" * 100, "İ" * 101, "ﬁ" * 100, "a\u00ad" * 60, "a\u200b" * 60,
    "é" * 99 + "\u0301", "ю" * 33 + "😀" * 34 + "x" * 33, "ю" * 33 + "😀" * 34 + "x" * 34,
    "unbelievable" * 8 + "ly", "ünbelievable" * 9, "x" * 1000,
    "hyphenated-words-are-split-at-each-hyphen-" * 3,
]

ASCII_PUNCT = "!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~"
PUNCTUATION = (
    [ASCII_PUNCT, " ".join(ASCII_PUNCT), "a" + "a".join(ASCII_PUNCT) + "a"]
    + [c for c in ASCII_PUNCT] + ["word" + c + "word" for c in ASCII_PUNCT]
    + ["!!!???...", "...", "?!", "--", "---", "'''", "\"\"", "((()))", "a...b", "$100.00", "50%",
       "e-mail", "C++", "x = y + z", "a&b", "user@example.com", "https://example.com/a?b=c&d=e#f",
       "I'm", "can't", "won't've", "it's", "'quoted'", "don't do not", "rock 'n' roll",
       "a\n'll !!to?'d of, can't.", "(parenthetical)", "[bracketed]", "{braced}", "<angled>"]
    + ["“smart quotes” ‘single’ „low“ «guillemets» ‹single›", "em—dash en–dash ‐ ‑ ‒ ―",
       "ellipsis… bullet• ·middle dot ‧", "¡¿ ¶§ † ‡ ※ ‼ ⁇ ⁈ ⁉", "、。・「」『』【】〔〕〈〉《》",
       "，！？：；（）［］｛｝", "٪ ، ؛ ؟ ۔", "। ॥", "¢£¤¥¦©®°±µ¬", "∑∏√∞≠≤≥ ∀∃∈ →←↔",
       "€ ₹ ₽ ₿", "^_^ ~_~ `code` |pipe| ~tilde~", "a_b_c __init__", "x⁄y", "%%%%%%%%%%",
       "#hashtag @mention", "1,000,000.50", "3.14159", "2024-01-01T00:00:00Z", "v1.2.3-rc.1"]
)

SPECIAL_TOKENS = [
    "[CLS]", "[SEP]", "[MASK]", "[PAD]", "[UNK]", "[CLS] hello [SEP]", "hello [SEP] world",
    "[sep]", "[Sep]", "[SEP", "SEP]", "[ SEP ]", "[SEP][SEP]", "[CLS][SEP][MASK][PAD][UNK]",
    "x[SEP]y", "x [SEP] y", "x[MASK]y", "[[SEP]]", "[SEP]]", "[[SEP]", "[SEP]s", "s[SEP]",
    "[MASK]ed", "a[UNK]b", "[SEP] [SEP]", "  [SEP]  ", "[SEP]\n[SEP]", "[ＳＥＰ]", "［SEP］",
    "[SEP\u200b]", "[S\u00adEP]", "[SÉP]", "the [MASK] sat on the [MASK].", "[MASK]" * 5,
    "[CLS]中[SEP]文", "😀[SEP]😀", "[SEP]" + "a" * 101, "a" * 101 + "[SEP]",
    "a visually stunning rumination on love",
]

EDGE = (
    ["", " ", "  ", "\t", "\n", "\r\n", " \t\n\r ", "\u00a0", "\u3000 \u2003", "\x00", "\x00\x00",
     " \tHeLLo!how  \n Are yoU?  ", "a", "A", "1", "0123456789", "a b", "  leading", "trailing  "]
    + ["İ", "İstanbul", "i̇", "ISTANBUL ıstanbul", "ẞ", "STRAẞE", "ß", "ǅ ǈ ǋ ǲ", "Ǆ ǆ", "Ω Ω ω",
       "K K k", "Å Å", "ﬁ ﬂ ﬀ ﬃ ﬄ ﬅ ﬆ", "ﬁnancial ﬂow", "ǰ ΐ ŉ", "ŉ", "Σ σ ς ΣΑΣ",
       "ＦＵＬＬＷＩＤＴＨ ｆｕｌｌｗｉｄｔｈ １２３", "ｈｅｌｌｏ，ｗｏｒｌｄ！",
       "𝐀𝐁𝐂 𝐚𝐛𝐜 𝔸𝔹ℂ 𝒜ℬ𝒞 𝟘𝟙𝟚", "ℌ ℍ ℎ ℏ", "Ⅻ ⅻ ① ⑴ ㊀", "µ μ Μ", "ſ", "ﬅ", "Ⓐⓐ",
       "\u0301", "\u0301\u0302\u0303", " \u0301 ", "a\u0301", "\u0301a", "\u20dd", "\u0345",
       "\u1dc0", "\u0488\u0489", "a\u0323\u0302", "a\u0302\u0323", "e\u0323\u0302", "ệ",
       "\U0001d165\U0001d16d", "\U0001d16d\U0001d165", "x\U0001d165\u0301\U0001d16dy", "𝅗𝅥 𝅘𝅥𝅮",
       "\u0915\u093c \u0958", "\u0f73 \u0f75 \u0f81", "\u1e9b\u0323", "\u0344", "\u0340\u0341",
       "Ａｂｃ Ǳ ǲ ǳ", "ΆΈΉΊΌΎΏ", "ᾼ ᾳ ῌ ῳ", "Ｉ ｉ", "\u1e9e\u00df", "ꭰ Ꭰ", "ᲀ ᲁ", "Ⴀ ⴀ",
       "𐐀 𐐨", "𞤀 𞤢", "𑢠 𑣀", "ǈeto", "ı", "ĳ Ĳ", "Ⱥ ⱥ Ȿ", "ꞵ Ʂ Ʂ", "Ꙁ ꙁ"]
    + ["Hangul 한글 한 한", "\u1100\u1161\u11a8", "\uac00\ud7a3", "ㄱㅏ ㄲ"]
    + ["123abc", "3.5mm", "x2", "ⅷ", "½ ¼ ¾", "²³¹", "⁰⁴", "١٢٣ ۴۵۶", "०१२", "๑๒๓"]
)


def sst2_cases(sentences: list[str]) -> list[dict]:
    return [case(s) for s in sentences]


def pair_cases(sentences: list[str], pool: list[str]) -> list[dict]:
    cases = [case(sentences[i], sentences[i + 1]) for i in range(0, 200, 2)]
    cases += [case(a, b) for a, b in [
        ("hello [SEP]", "world x"), ("", ""), ("hello", ""), ("", "world"), (" ", "\t"),
        ("Who was Jim Henson ?", "Jim Henson was a puppeteer"), ("[SEP]", "[SEP]"),
        ("我爱你", "I love you"), ("naïve café", "NAÏVE CAFÉ"), ("😀", "👨‍👩‍👧‍👦"),
        ("a" * 101, "b" * 101), ("\x00\u200b", "\ufeff"), ("ﬁ", "İ"), ("x[SEP]y", "[CLS]"),
        ("مرحبا", "שלום"), ("Привет", "Ελληνικά"), ("ภาษาไทย", "हिन्दी"), ("a\u0301", "\u0301"),
    ]]
    # Every category's texts against a short partner, on each side.
    partners = [s for s in sentences if len(s) < 40]
    for i, text in enumerate(pool):
        partner = partners[(i * 7) % len(partners)]
        cases.append(case(text, partner) if i % 2 == 0 else case(partner, text))
    return cases


def truncation_cases(sentences: list[str]) -> list[dict]:
    long_a = max(sentences[:500], key=len)
    long_b = max(sentences[500:1000], key=len)
    short = "short one"
    medium = sentences[3]
    unicode_text = "Tiếng Việt 我爱自然语言处理 Ελληνικά 😀 naïve supercalifragilistic [SEP] x"
    cases = []
    # One text: 3 is [CLS] + one token + [SEP], 2 leaves room for nothing but the template.
    for text in (long_a, medium, unicode_text, "unbelievably unaffable", "a", "", "[SEP] [SEP]"):
        for max_length in (2, 3, 4, 5, 7, 8, 16, 33, 128, 512):
            cases.append(case(text, max_length=max_length))
    # Pairs: 3 holds only the template; then each side longer, both longer, equal lengths,
    # odd and even budgets so the split is uneven.
    pairs = [(long_a, short), (short, long_a), (long_a, long_b), (long_b, long_a),
             (medium, medium), (unicode_text, long_a), ("", long_a), (long_a, ""),
             ("one two three", "four five six"), ("a", "b"), ("x[SEP]y", unicode_text)]
    for a, b in pairs:
        for max_length in (3, 4, 5, 6, 7, 8, 9, 12, 17, 32, 64, 512):
            cases.append(case(a, b, max_length=max_length))
    # Without special tokens max_length counts only the texts' tokens.
    for max_length in (1, 2, 3, 5, 10):
        cases.append(case(long_a, max_length=max_length, add_special_tokens=False))
        cases.append(case(long_a, short, max_length=max_length, add_special_tokens=False))
        cases.append(case(short, long_b, max_length=max_length, add_special_tokens=False))
        cases.append(case(long_a, long_b, max_length=max_length, add_special_tokens=False))
    return cases


def no_special_cases(sentences: list[str], pool: list[str]) -> list[dict]:
    cases = [case(s, add_special_tokens=False) for s in sentences[:30]]
    cases += [case(t, add_special_tokens=False) for t in pool]
    cases += [case(a, b, add_special_tokens=False) for a, b in [
        ("hello world", "second text"), ("", ""), ("x", ""), ("", "y"), ("[SEP]", "[CLS] z"),
        ("我爱你", "naïve"), (sentences[0], sentences[1])]]
    return cases


def random_mix_cases(pool: list[str], count: int, seed: int) -> list[dict]:
    """Fragments of the other categories glued together, plus strings of random code points
    (all planes, assigned or not), so stages meet each other's edge cases."""
    rng = random.Random(seed)
    separators = ["", " ", "  ", "\t", "\n", "\u00a0", "\u3000", "[SEP]", "-", "\u200b"]
    # Weights favour the planes where characters are assigned.
    planes = [(0x0000, 0xFFFF, 6), (0x10000, 0x1FFFF, 2), (0x20000, 0x3FFFF, 1),
              (0xE0000, 0x10FFFF, 1)]
    weights = [w for _, _, w in planes]
    cases = []
    for i in range(count):
        if i % 2 == 0:
            parts = [rng.choice(pool) for _ in range(rng.randint(2, 5))]
            text = ""
            for part in parts:
                start = rng.randint(0, len(part))
                text += part[start:start + rng.randint(1, 40)] + rng.choice(separators)
        else:
            chars = []
            for _ in range(rng.randint(1, 24)):
                lo, hi, _ = rng.choices(planes, weights)[0]
                cp = rng.randint(lo, hi)
                if cp in SURROGATES:
                    cp = 0x20
                chars.append(chr(cp))
                if rng.random() < 0.3:
                    chars.append(rng.choice("aZé ,.\u0301"))
            text = "".join(chars)
        if i % 5 == 4:
            cases.append(case(text, rng.choice(pool)))
        else:
            cases.append(case(text))
    return cases


def build_corpus(sst2_folder: Path) -> dict[str, list[dict]]:
    sentences = read_sst2(sst2_folder)
    accents = []
    for text in ACCENTED:
        # Both precomposed and decomposed forms (canonical decomposition is stable by Unicode
        # policy, so this does not depend on Python's version for these characters).
        for form in ("NFC", "NFD"):
            variant = unicodedata.normalize(form, text)
            if variant not in accents:
                accents.append(variant)
    corpus = {
        "sst2": sst2_cases(sentences),
        "accents": [case(t) for t in accents],
        "scripts": [case(t) for t in SCRIPTS],
        "emoji": [case(t) for t in EMOJI],
        "invisible": [case(t) for t in INVISIBLE],
        "long_words": [case(t) for t in LONG_WORDS],
        "punctuation": [case(t) for t in PUNCTUATION],
        "special_tokens": [case(t) for t in SPECIAL_TOKENS],
        "edge_cases": [case(t) for t in EDGE],
    }
    pool = [c["text"] for name, cases in corpus.items() if name != "sst2" for c in cases]
    corpus["pairs"] = pair_cases(sentences, pool)
    corpus["truncation"] = truncation_cases(sentences)
    corpus["no_special_tokens"] = no_special_cases(sentences, pool)
    corpus["random_mix"] = random_mix_cases(pool + sentences[:50], 600, seed=20240601)
    return corpus


# ---------------------------------------------------------------------------------------------
# Running Hugging Face and writing the files.
# ---------------------------------------------------------------------------------------------


def json_line(value) -> str:
    """Compact JSON with non-ASCII text kept as UTF-8, except characters a reader would not
    see (controls, format, separators, marks, unassigned, private use), which are escaped.
    Categories come from Unicode 3.2's fixed table, so a newer Python does not change the
    bytes (characters assigned later count as unassigned and are escaped, except the emoji
    and symbol blocks of plane 1, kept readable)."""
    text = json.dumps(value, ensure_ascii=False, separators=(",", ":"))
    if text.isascii() and "\x7f" not in text:
        return text  # json.dumps already escaped the other ASCII controls
    out = []
    for ch in text:
        cp = ord(ch)
        if (cp > 0x7E and unicodedata.ucd_3_2_0.category(ch)[0] in "CZM"
                and not 0x1F000 <= cp <= 0x1FAFF):
            if cp > 0xFFFF:
                cp -= 0x10000
                out.append("\\u%04x\\u%04x" % (0xD800 + (cp >> 10), 0xDC00 + (cp & 0x3FF)))
            else:
                out.append("\\u%04x" % cp)
        else:
            out.append(ch)
    return "".join(out)


def byte_positions(text: str) -> list[int]:
    """positions[i] = UTF-8 byte offset of character i; positions[len(text)] = total bytes."""
    if text.isascii():
        return list(range(len(text) + 1))
    positions = [0]
    for ch in text:
        positions.append(positions[-1] + len(ch.encode("utf-8")))
    return positions


def run_case(tokenizer: Tokenizer, c: dict) -> dict:
    if "max_length" in c:
        tokenizer.enable_truncation(c["max_length"], stride=0, strategy="longest_first",
                                    direction="right")
    else:
        tokenizer.no_truncation()
    add_special = c.get("add_special_tokens", True)
    if "pair" in c:
        e = tokenizer.encode(c["text"], c["pair"], add_special_tokens=add_special)
    else:
        e = tokenizer.encode(c["text"], add_special_tokens=add_special)
    positions = [byte_positions(c["text"]), byte_positions(c.get("pair", ""))]
    offsets = []
    for (begin, end), sequence in zip(e.offsets, e.sequence_ids):
        if sequence is None:  # a token the template added
            assert (begin, end) == (0, 0), (c, e.offsets)
            offsets.append([0, 0])
        else:
            offsets.append([positions[sequence][begin], positions[sequence][end]])
    return {
        "ids": e.ids,
        "type_ids": e.type_ids,
        "special_tokens_mask": e.special_tokens_mask,
        "offsets": offsets,
        "decoded": tokenizer.decode(e.ids, skip_special_tokens=True),
    }


def format_hex(cp: int) -> str:
    return "%04X" % cp


# A starter (canonical combining class 0) that nothing else normalizes into; see normalize_each.
SENTINEL = "\u2603"
CHUNK = 4096


def normalize_each(tokenizer: Tokenizer, cps: list[int]) -> list[str]:
    """What the normalizer makes of each single code point.

    BertNormalizer works character by character (cleaning, CJK spacing, accent stripping,
    lowercasing), and NFD reorders marks only between starters, so normalizing a chunk of
    characters joined by a starter sentinel and splitting at it gives the same results as one
    call per character, in far fewer calls. A chunk that does not split into as many parts
    (the sentinel itself is in it) falls back to one call per character."""
    normalizer = tokenizer.normalizer
    outputs = []
    for start in range(0, len(cps), CHUNK):
        chunk = cps[start:start + CHUNK]
        parts = normalizer.normalize_str(SENTINEL.join(map(chr, chunk))).split(SENTINEL)
        if len(parts) != len(chunk):
            parts = [normalizer.normalize_str(chr(cp)) for cp in chunk]
        outputs.extend(parts)
    return outputs


def classify_each(tokenizer: Tokenizer, cps: list[int]) -> list[str]:
    """The pre-tokenizer's class of each code point: "W" (whitespace, split and removed), "P"
    (punctuation, a word of its own) or "" (word character).

    BertPreTokenizer classes characters one by one, so a chunk is tokenized at once as
    "a c1 a c2 a ... a" (no spaces): a word character joins its neighbouring a's into one
    longer word, punctuation comes out alone, and whitespace is in no word."""
    pre_tokenizer = tokenizer.pre_tokenizer
    classes = []
    for start in range(0, len(cps), CHUNK):
        chunk = cps[start:start + CHUNK]
        text = "a" + "a".join(map(chr, chunk)) + "a"
        covered = bytearray(len(text))
        alone = set()
        for _, (begin, end) in pre_tokenizer.pre_tokenize_str(text):
            covered[begin:end] = b"\x01" * (end - begin)
            if end - begin == 1:
                alone.add(begin)
        for i in range(len(chunk)):
            position = 2 * i + 1  # chunk[i]'s character offset in text
            classes.append("P" if position in alone else "" if covered[position] else "W")
    return classes


def codepoint_table(tokenizer: Tokenizer) -> str:
    """The per-code-point file: normalizer output of each single character as compressed runs,
    and the pre-tokenizer's whitespace and punctuation classes as ranges."""
    cps = [cp for cp in range(0x110000) if cp not in SURROGATES]
    runs = []  # [first, last, template, first_output]
    ranges = {"W": [], "P": []}  # [first, last]
    for cp, normalized, cls in zip(cps, normalize_each(tokenizer, cps),
                                   classify_each(tokenizer, cps)):
        if cls:
            if ranges[cls] and ranges[cls][-1][1] == cp - 1:
                ranges[cls][-1][1] = cp
            else:
                ranges[cls].append([cp, cp])
        if len(normalized) == 1 and ord(normalized) == cp:
            continue
        output = [ord(x) for x in normalized]
        run = runs[-1] if runs else None
        if run and run[1] == cp - 1 and len(output) == len(run[3]):
            if run[2] is None:
                # The second member fixes the template: each output character is either
                # constant along the run or moves with the code point.
                template = []
                for o0, o1 in zip(run[3], output):
                    if o1 == o0:
                        template.append(("abs", o0))
                    elif o1 - o0 == 1:
                        template.append(("rel", o0 - run[0]))
                    else:
                        template = None
                        break
                if template is not None:
                    run[1], run[2] = cp, template
                    continue
            elif all(o == (v if kind == "abs" else cp + v)
                     for (kind, v), o in zip(run[2], output)):
                run[1] = cp
                continue
        runs.append([cp, cp, None, output])

    lines = [
        "# codepoints.tsv - generated by tools/make_tokenizer_goldens.py from the model's",
        "# tokenizer.json (BertNormalizer, BertPreTokenizer) with Hugging Face tokenizers. Do not edit.",
        "# Every code point 0..10FFFF except the surrogates D800..DFFF; hex, TAB-separated.",
        "# N first last output: BertNormalizer turns each single code point cp in [first, last]",
        "#   into the output, a space-separated list: a hex item is that code point, a +d or -d",
        "#   item is cp + d (decimal). An empty output means the character is dropped. Code points",
        "#   in no N line normalize to themselves.",
        "# W first last: BertPreTokenizer treats these as whitespace (split and removed).",
        "# P first last: BertPreTokenizer treats these as punctuation (a word of their own).",
        "#   Any other code point is a word character.",
    ]
    for first, last, template, output in runs:
        if template is None:
            items = [format_hex(o) for o in output]
        else:
            items = [format_hex(v) if kind == "abs" else "%+d" % v for kind, v in template]
        lines.append(f"N\t{format_hex(first)}\t{format_hex(last)}\t{' '.join(items)}")
    for kind in ("W", "P"):
        for first, last in ranges[kind]:
            lines.append(f"{kind}\t{format_hex(first)}\t{format_hex(last)}")
    return "\n".join(lines) + "\n"


# zlib's best; with mtime 0 the gzip header holds nothing that changes between runs.
GZIP_LEVEL = 9


def gzipped(content: str) -> bytes:
    return gzip.compress(content.encode("utf-8"), compresslevel=GZIP_LEVEL, mtime=0)


def write_atomic(path: Path, content: str | bytes) -> None:
    """Writes via a temporary file in the same folder and a rename, so a reader never sees a
    half-written golden. Text is written as UTF-8, byte for byte."""
    if isinstance(content, str):
        content = content.encode("utf-8")
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix="." + path.name + ".")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(content)
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        os.unlink(tmp)
        raise


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("model", nargs="?", type=Path, default=DEFAULT_MODEL,
                        help="model folder holding tokenizer.json (default: %(default)s)")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT,
                        help="output folder (default: %(default)s)")
    parser.add_argument("--sst2", type=Path, default=DEFAULT_SST2,
                        help="folder with SST-2 train.tsv and dev.tsv (default: %(default)s)")
    args = parser.parse_args(argv)

    tokenizer = Tokenizer.from_file(str(args.model / "tokenizer.json"))
    tokenizer.no_truncation()
    tokenizer.no_padding()

    args.out.mkdir(parents=True, exist_ok=True)
    written = set()
    total_cases = 0
    for category, cases in build_corpus(args.sst2).items():
        inp = "".join(json_line(c) + "\n" for c in cases)
        out = "".join(json_line(run_case(tokenizer, c)) + "\n" for c in cases)
        for suffix, content in ((".inp", inp), (".out.gz", gzipped(out))):
            write_atomic(args.out / (category + suffix), content)
            written.add(category + suffix)
        total_cases += len(cases)
    write_atomic(args.out / "codepoints.tsv", codepoint_table(tokenizer))
    written.add("codepoints.tsv")

    for stale in sorted(args.out.iterdir()):
        if stale.is_file() and stale.name not in written:
            stale.unlink()
    size = sum((args.out / name).stat().st_size for name in written)
    print(f"wrote {total_cases} cases and the code point table to {args.out} ({size} bytes)",
          file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
