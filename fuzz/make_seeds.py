#!/usr/bin/env python3
"""fuzz/make_seeds.py - writes the committed seed corpora in fuzz/seeds/, so they can be
regenerated and reviewed instead of being opaque blobs.

  python3 fuzz/make_seeds.py [--model models/all-MiniLM-L6-v2]

seeds/tokenizer_fuzz/: inputs in tokenizer_fuzz.cpp's layout (flags byte, max_length byte,
pad_to_multiple_of byte, then texts separated by 0xFF): SST-2 sentences, the inputs of the
ported tokenizer suites, Unicode edge cases, invalid UTF-8 snippets, batches.

seeds/tokenizer_json_fuzz/: the default model's tokenizer.json shrunk to a small vocabulary
(same structure, ids renumbered), variants that reach each branch of the loader (supported and
unsupported components, odd vocabularies, templates), and a few broken documents.

Uses only the standard library; reads data/sst2/train.tsv and the model's tokenizer.json.
Old seeds are deleted first, so the folders hold exactly what this script writes.
"""
import argparse
import copy
import json
import pathlib
import shutil

ROOT = pathlib.Path(__file__).resolve().parent.parent
SEEDS = ROOT / "fuzz" / "seeds"

# Flag bits of tokenizer_fuzz.cpp.
PAIR, SPECIAL, LONGEST, MAX_LENGTH, TINY, LOWER, STRIP, VIEWS = 1, 2, 4, 8, 16, 32, 64, 128


def tokenizer_seed(flags, max_length, multiple, *texts):
    parts = [t.encode("utf-8") if isinstance(t, str) else t for t in texts]
    return bytes([flags, max_length, multiple]) + b"\xff".join(parts)


def tokenizer_seeds():
    seeds = {}
    lines = (ROOT / "data" / "sst2" / "train.tsv").read_text(encoding="utf-8").splitlines()
    sentences = [line.split("\t")[0] for line in lines[:12]]
    for i, sentence in enumerate(sentences[:6]):
        flags = [SPECIAL, SPECIAL | MAX_LENGTH, 0, SPECIAL | LONGEST, SPECIAL, SPECIAL][i]
        seeds[f"sst2_{i}"] = tokenizer_seed(flags, [0, 16, 0, 8, 5, 0][i], i % 3, sentence)
    seeds["sst2_pair"] = tokenizer_seed(PAIR | SPECIAL, 20, 0, sentences[6], sentences[7])
    seeds["sst2_pair_batch"] = tokenizer_seed(PAIR | SPECIAL | LONGEST, 24, 8, *sentences[6:12])
    seeds["sst2_batch_views"] = tokenizer_seed(SPECIAL | LONGEST | VIEWS, 0, 0, *sentences)

    unicode = {
        # Inputs of the ported suites (REFERENCE.md section 2).
        "allennlp": "A, naïve [MASK] AllenNLP sentence.",
        "unwanted": "UNwant\u00e9d,running",
        "hello_spaces": " \tHeLLo!how  \n Are yoU?  ",
        "contractions": "a\n'll !!to?'d of, can't.",
        "cjk": "ah\u535a\u63a8zz",
        "soft_hyphen": "\u00ad",
        # Case, accents and decomposition.
        "turkish_greek": "İstanbul ΣΊΣΥΦΟΣ straße ǅ Å ﬁ",
        "combining": "e\u0301\u0302 a\u0308\u0323 \u0345",
        "greek_question_mark": "what\u037e now",
        "fullwidth": "ＡＢＣ１２３！",
        # Scripts without spaces or with their own punctuation.
        "hangul_kana": "한국어 日本語のテキスト、カタカナ。",
        "arabic_devanagari": "مرحبا بالعالم नमस्ते",
        "cjk_ext": "\U00020000\U0002b820\U0002b920\U0002f800",
        # Whitespace, controls, and what cleaning drops.
        "spaces": "a\u00a0b\u3000c\u2028d\u200be\u200df\ufeffg",
        "controls": "x\x00y\x01z\x7f\x1b[0m\ufffd\ue000\u0378\U000e0001",
        "emoji": "😀👍🏽 👨‍👩‍👧",
        # WordPiece limits and added tokens inside text.
        "long_word": "a" * 150 + " " + "supercalifragilistic" * 5,
        "added_tokens": "[CLS][SEP][PAD][UNK][MASK] foo[SEP]bar [sep] [ SEP ]",
        "hashes": "##ing ## # #a",
    }
    for name, text in unicode.items():
        seeds[f"unicode_{name}"] = tokenizer_seed(SPECIAL, 0, 0, text)
    seeds["unicode_pair_truncate"] = tokenizer_seed(
        PAIR | SPECIAL | MAX_LENGTH, 9, 4, unicode["turkish_greek"], unicode["hangul_kana"])

    invalid = {
        "overlong_2": b"\xc0\x80",
        "overlong_3": b"ok \xe0\x80\xaf",
        "overlong_4": b"\xf0\x8f\xbf\xbf",
        "surrogate": b"\xed\xa0\x80 high",
        "above_max": b"\xf4\x90\x80\x80",
        "lone_continuation": b"abc\x80def",
        "truncated": b"abc\xe2\x82",
        "truncated_end": b"caf\xc3",
        "fe": b"\xfe\xfe",
        "bad_lead": b"\xf5\x80\x80\x80",
    }
    for name, text in invalid.items():
        seeds[f"invalid_{name}"] = tokenizer_seed(SPECIAL, 0, 0, text)
    seeds["invalid_second_text"] = tokenizer_seed(PAIR | SPECIAL, 0, 0, "fine", b"bad \xed\xbf\xbf")
    seeds["invalid_batch_item"] = tokenizer_seed(SPECIAL | LONGEST, 0, 0, "ok", b"\xc3(", "ok")
    seeds["max_length_too_small"] = tokenizer_seed(PAIR | SPECIAL | MAX_LENGTH, 2, 0, "a", "b")

    tiny_text = "UNwanted running naïve Hello İ ß 中文 [SEP] the##a want##ed"
    for variant in range(4):
        flags = TINY | SPECIAL | (LOWER if variant & 1 else 0) | (STRIP if variant & 2 else 0)
        seeds[f"tiny_{variant}"] = tokenizer_seed(flags, 0, 0, tiny_text)
    seeds["tiny_pair_pad"] = tokenizer_seed(
        TINY | LOWER | STRIP | PAIR | SPECIAL | MAX_LENGTH, 12, 0, "want wanted", "É é e\u0301")
    seeds["tiny_no_special"] = tokenizer_seed(TINY | LOWER | PAIR, 3, 0, "the un", "a b a")
    return seeds


# The tokens the shrunk vocabulary keeps, after the five special ones.
SMALL_VOCAB = (
    list("abcdefghijklmnopqrstuvwxyz") + ["##" + c for c in "abcdefghijklmnopqrstuvwxyz"]
    + ["the", "un", "want", "##want", "##ed", "runn", "##ing", "hello", "world", "naive",
       ",", ".", "!", "?", "'", "[", "]", "##s", "\u4e2d", "\u6587", "\u00e9"])
SPECIALS = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]


def shrink(tokenizer):
    """The model's tokenizer.json with SMALL_VOCAB, ids renumbered everywhere they appear."""
    t = copy.deepcopy(tokenizer)
    old_vocab = t["model"]["vocab"]
    tokens = [tok for tok in SPECIALS + SMALL_VOCAB if tok in old_vocab]
    new_id = {tok: i for i, tok in enumerate(tokens)}
    t["model"]["vocab"] = new_id
    for added in t.get("added_tokens", []):
        added["id"] = new_id[added["content"]]
    post = t.get("post_processor")
    if post and post.get("type") == "TemplateProcessing":
        for special in post["special_tokens"].values():
            special["ids"] = [new_id[tok] for tok in special["tokens"]]
    if t.get("padding"):
        t["padding"]["pad_id"] = new_id[t["padding"]["pad_token"]]
    return t


def json_variants(small):
    v = {"small": small}

    def variant(name, change):
        t = copy.deepcopy(small)
        change(t)
        v[name] = t

    def cased(t):
        t["normalizer"].update(lowercase=False, strip_accents=True, clean_text=False,
                               handle_chinese_chars=False)
    variant("cased_normalizer", cased)
    variant("no_normalizer", lambda t: t.update(normalizer=None))
    variant("bert_processing", lambda t: t.update(post_processor={
        "type": "BertProcessing", "sep": ["[SEP]", 3], "cls": ["[CLS]", 2]}))
    variant("bare", lambda t: t.update(post_processor=None, decoder=None, padding=None,
                                       truncation=None, added_tokens=[]))
    variant("roberta_processing", lambda t: t.update(post_processor={
        "type": "RobertaProcessing", "sep": ["[SEP]", 3], "cls": ["[CLS]", 2],
        "trim_offsets": True, "add_prefix_space": False}))
    variant("bpe_model", lambda t: t["model"].update(type="BPE", merges=[]))
    variant("metaspace", lambda t: t.update(pre_tokenizer={
        "type": "Metaspace", "replacement": "\u2581", "prepend_scheme": "always"}))

    def gaps(t):
        t["model"]["vocab"].update({"gap": 100, "##gap": 77, "far": 1000})
    variant("vocab_gaps", gaps)

    def duplicate_ids(t):
        t["model"]["vocab"].update({"dup": 5, "also": 5})
    variant("vocab_duplicate_ids", duplicate_ids)

    def added(t):
        t["added_tokens"] += [
            {"id": 500, "content": "<extra>", "special": True, "single_word": False,
             "lstrip": False, "rstrip": False, "normalized": False},
            {"id": 7, "content": "hello world", "special": False, "single_word": False,
             "lstrip": False, "rstrip": False, "normalized": False}]
    variant("added_beyond_vocab", added)
    variant("added_lstrip", lambda t: t["added_tokens"][0].update(lstrip=True))

    def template(t):
        post = t["post_processor"]
        post["special_tokens"]["[CLS]"]["ids"] = [2, 3]
        post["pair"][3]["Sequence"]["type_id"] = 2
        post["single"].insert(0, {"Sequence": {"id": "B", "type_id": 1}})
    variant("template_odd", template)
    variant("template_undefined", lambda t: t["post_processor"]["single"].append(
        {"SpecialToken": {"id": "[BOS]", "type_id": 0}}))
    variant("unk_missing", lambda t: t["model"].update(unk_token="<unk>"))

    def subword_prefix(t):
        t["model"]["continuing_subword_prefix"] = "@@"
        t["model"]["max_input_chars_per_word"] = 3
        t["decoder"].update(prefix="@@", cleanup=False)
    variant("subword_prefix", subword_prefix)
    return v


BROKEN_JSON = {
    "empty_object": b"{}",
    "array": b"[]",
    "null": b"null",
    "model_number": b'{"model": 5}',
    "vocab_list": b'{"model": {"vocab": ["[UNK]", "a"]}, "pre_tokenizer": {"type": "BertPreTokenizer"}}',
    "minimal": b'{"model": {"vocab": {"[UNK]": 0, "a": 1}}, "pre_tokenizer": {"type": "BertPreTokenizer"}}',
    "negative_id": b'{"model": {"vocab": {"[UNK]": 0, "a": -1}}, "pre_tokenizer": {"type": "BertPreTokenizer"}}',
    "float_id": b'{"model": {"vocab": {"[UNK]": 0.5}}, "pre_tokenizer": {"type": "BertPreTokenizer"}}',
    "nested": b"[" * 64 + b"]" * 64,
    "truncated": b'{"model": {"type": "WordPiece", "vocab": {"[UNK]": 0, "a',
    "invalid_utf8": b'{"model": {"vocab": {"\xc3\x28": 0}}}',
    "bom": b'\xef\xbb\xbf{"model": {"vocab": {"[UNK]": 0}}, "pre_tokenizer": {"type": "BertPreTokenizer"}}',
}


def write(folder, seeds):
    if folder.exists():
        shutil.rmtree(folder)
    folder.mkdir(parents=True)
    for name, data in seeds.items():
        (folder / name).write_bytes(data)
    return sum(len(d) for d in seeds.values())


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default=str(ROOT / "models" / "all-MiniLM-L6-v2"))
    args = parser.parse_args()

    total = write(SEEDS / "tokenizer_fuzz", tokenizer_seeds())
    tokenizer = json.loads((pathlib.Path(args.model) / "tokenizer.json").read_text("utf-8"))
    json_seeds = {}
    for name, t in json_variants(shrink(tokenizer)).items():
        json_seeds[name] = json.dumps(t, ensure_ascii=False, separators=(",", ":")).encode()
    # One pretty-printed copy, as Hugging Face writes the file.
    json_seeds["small_indented"] = json.dumps(shrink(tokenizer), ensure_ascii=False,
                                              indent=2).encode()
    json_seeds.update({f"broken_{k}": v for k, v in BROKEN_JSON.items()})
    total += write(SEEDS / "tokenizer_json_fuzz", json_seeds)
    print(f"wrote {total} bytes of seeds to {SEEDS}")


if __name__ == "__main__":
    main()
