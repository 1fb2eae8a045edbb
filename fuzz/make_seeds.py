#!/usr/bin/env python3
"""fuzz/make_seeds.py - writes the committed seed corpora in fuzz/seeds/, so they can be
regenerated and reviewed instead of being opaque blobs.

  python3 fuzz/make_seeds.py [--model models/all-MiniLM-L6-v2] [--targets TARGET...]

The committed tokenizer_json_fuzz folder also holds inputs merged from fuzzing runs (named by
their SHA-1), which rewriting that folder deletes; pass --targets to rewrite only some folders.

seeds/tokenizer_fuzz/: inputs in tokenizer_fuzz.cpp's layout (flags byte, max_length byte,
pad_to_multiple_of byte, then texts separated by 0xFF): SST-2 sentences, the inputs of the
ported tokenizer suites, Unicode edge cases, invalid UTF-8 snippets, batches.

seeds/tokenizer_json_fuzz/: the default model's tokenizer.json shrunk to a small vocabulary
(same structure, ids renumbered), variants that reach each branch of the loader (supported and
unsupported components, odd vocabularies, templates), and a few broken documents.

seeds/safetensors_fuzz/: a few small tensors sliced from the default model's model.safetensors
(header read, slices copied; never the 90 MB file), written here in the safetensors layout in
every dtype the reader converts, plus tests/data/io's fixtures written by the safetensors
package, and headers that lie (10^12 elements, overlaps, offsets past the end, deep nesting).

seeds/torch_checkpoint_fuzz/: tests/data/io's pytorch_model.bin fixtures, written by torch.save
(zip, ZIP64, legacy, nn.Parameter, shards), and truncated or damaged copies.

seeds/model_config_fuzz/: config.json, modules.json and 1_Pooling/config.json separated by
0xFF: the default model's, a DistilBERT spelling, CLS pooling, and broken variants.

seeds/npy_fuzz/: .npy files written by numpy: float32 and float64, 1-D and 2-D (rows of
tests/data/learn/binary_x.npy), empty, and the layouts the reader rejects (Fortran order,
big-endian, int, 3-D, format 2.0).

seeds/classifier_file_fuzz/: classifier files in the format learn/classifier_file.h
documents (binary with label names, multiclass, options), and broken variants.

seeds/vocab_txt_fuzz/: vocab.txt, 0xFF, tokenizer_config.json, 0xFF, a text: the default model's
vocabulary cut to its first 2,000 lines and a small hand-made one, with and without a config
(cased, renamed special tokens, broken JSON), CRLF lines, repeated and empty tokens, invalid
UTF-8, no [CLS].

seeds/feature_cache_fuzz/: a flags byte, KEY.json, 0xFF, KEY.npy: entries in the layout
model/feature_cache.cpp writes (a few rows of tests/data/learn/binary_x.npy), with the checksum
filled in by the harness (flag 1) or left wrong, and damaged variants (shape that disagrees,
fields missing or of the wrong type, a truncated matrix, no matrix).

seeds/hub_http_fuzz/: raw HTTP responses separated by 0xFF, in the order the hub download asks
for them (HEAD, then GET): a plain file, an LFS file behind a redirect to the CDN ({CDN}), a
404 the hub records, relative redirects, chunked bodies, and lies (Content-Length longer or
shorter than the body, a commit or ETag with "../", a wrong sha256, redirect loops).

seeds/server_request_fuzz/: what clients send `bertlite serve`: each route with TEI's and
OpenAI's request shapes (strings, lists, pairs-free, truncate, normalize, base64), pipelined
and keep-alive requests, chunked bodies, HEAD/OPTIONS, and broken requests (bad JSON or UTF-8,
wrong types, a Content-Length that lies, an oversize body, a request line without a version).

seeds/treebank_fuzz/: an options byte (1 SST-5, 2 phrases, 4 data/sst2's text rule), then
trees: the first lines of data/sst/dev.txt under each option, PTB escapes, CRLF and blank lines,
and broken trees (unbalanced, a label of 5 or 22, a node without words, text after the tree).

seeds/sharded_index_fuzz/: model.safetensors.index.json as transformers writes it for the
harness's two shards, optionally 0xFF and a second shard's bytes; indexes that name a missing
tensor, a missing shard, a path outside the folder, or are not the expected JSON.

seeds/dataset_fuzz/: SST-2 dev rows in each dialect (the dialect byte first): TSV, CSV with
quoting, JSONL, plain, headers, CRLF, and invalid UTF-8 / NUL cases.

Uses the standard library and numpy (for the .npy seeds only); reads data/sst2/*.tsv, the
model's tokenizer.json, config.json, modules.json, 1_Pooling/config.json and the header and a
few slices of model.safetensors, and tests/data/io, tests/data/learn. Old seeds are deleted
first, so the folders hold exactly what this script writes.
"""
import argparse
import copy
import hashlib
import json
import pathlib
import shutil
import struct

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


# ---- safetensors_fuzz ----

def safetensors_bytes(tensors, metadata=None, pad=True):
    """tensors: [(name, dtype, shape, raw bytes)] laid out in order."""
    header, data = {}, b""
    if metadata is not None:
        header["__metadata__"] = metadata
    for name, dtype, shape, raw in tensors:
        header[name] = {"dtype": dtype, "shape": shape,
                        "data_offsets": [len(data), len(data) + len(raw)]}
        data += raw
    text = json.dumps(header, separators=(",", ":")).encode()
    if pad:
        text += b" " * (-len(text) % 8)
    return struct.pack("<Q", len(text)) + text + data


def raw_header(header, data=b""):
    text = header if isinstance(header, bytes) else json.dumps(header).encode()
    return struct.pack("<Q", len(text)) + text + data


def safetensors_seeds(model):
    path = model / "model.safetensors"
    with open(path, "rb") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        header = json.loads(f.read(n))
        base = 8 + n

        def read(name, count):
            info = header[name]
            size = {"F32": 4, "I64": 8}[info["dtype"]]
            f.seek(base + info["data_offsets"][0])
            return f.read(count * size)
        ln_w = read("embeddings.LayerNorm.weight", 8)
        ln_b = read("embeddings.LayerNorm.bias", 8)
        pos = read("embeddings.position_ids", 6)
        word = read("embeddings.word_embeddings.weight", 4 * 8)
    floats = struct.unpack("<32f", word)

    def f16(values):
        return b"".join(struct.pack("<e", v) for v in values)

    def bf16(values):
        return b"".join(struct.pack("<I", struct.unpack("<I", struct.pack("<f", v))[0])[2:]
                        for v in values)
    seeds = {
        "minilm_slice": safetensors_bytes([
            ("embeddings.position_ids", "I64", [1, 6], pos),
            ("embeddings.LayerNorm.bias", "F32", [8], ln_b),
            ("embeddings.LayerNorm.weight", "F32", [8], ln_w),
            ("embeddings.word_embeddings.weight", "F32", [4, 8], word)], {"format": "pt"}),
        "minilm_f16": safetensors_bytes([("w", "F16", [4, 8], f16(floats))]),
        "minilm_bf16": safetensors_bytes([("w", "BF16", [4, 8], bf16(floats))]),
        "dtypes": safetensors_bytes([
            ("b", "BOOL", [3], b"\x00\x01\x01"), ("u8", "U8", [2], b"\x07\xff"),
            ("i8", "I8", [2], b"\x80\x7f"), ("i16", "I16", [1], b"\x01\x80"),
            ("u16", "U16", [1], b"\xff\xff"), ("i32", "I32", [1], b"\xff\xff\xff\x7f"),
            ("u32", "U32", [1], b"\xff\xff\xff\xff"), ("f64", "F64", [1], struct.pack("<d", 1.5)),
            ("u64", "U64", [1], b"\xff" * 8), ("e5", "F8_E5M2", [1], b"\x3c"),
            ("e4", "F8_E4M3", [1], b"\x38"), ("c", "C64", [1], b"\x00" * 8)]),
        "scalar_and_empty": safetensors_bytes([("s", "F32", [], struct.pack("<f", 2.0)),
                                               ("e", "F32", [0, 5], b""),
                                               ("z", "I64", [3, 0, 2], b"")]),
        "unaligned": safetensors_bytes([("a", "U8", [1], b"\x01"),
                                        ("f", "F32", [2], struct.pack("<2f", 1, 2))], pad=False),
        "no_padding": safetensors_bytes([("w", "F32", [2], ln_w[:8])], pad=False),
        "empty": raw_header(b"{}"),
        "metadata_only": raw_header({"__metadata__": {"a": "b"}}),
        "huge_shape": raw_header({"w": {"dtype": "F32", "shape": [1000000, 1000000],
                                        "data_offsets": [0, 4000000000000]}}),
        "huge_shape_empty": raw_header({"w": {"dtype": "F32", "shape": [1000000, 1000000, 0],
                                              "data_offsets": [0, 0]}}),
        "overflow_shape": raw_header({"w": {"dtype": "F64", "shape": [4294967296, 4294967296],
                                            "data_offsets": [0, 0]}}),
        "overlap": raw_header({"a": {"dtype": "U8", "shape": [4], "data_offsets": [0, 4]},
                               "b": {"dtype": "U8", "shape": [4], "data_offsets": [2, 6]}},
                              b"\x00" * 6),
        "past_end": raw_header({"a": {"dtype": "F32", "shape": [4], "data_offsets": [0, 16]}},
                               b"\x00" * 8),
        "bad_dtype": raw_header({"a": {"dtype": "F128", "shape": [1], "data_offsets": [0, 16]}},
                                b"\x00" * 16),
        "negative_shape": raw_header({"a": {"dtype": "U8", "shape": [-1], "data_offsets": [0, 0]}}),
        "deep": raw_header(b'{"a": {"b": {"c": {"d": {"e": []}}}}}'),
        "duplicate": raw_header(b'{"a": {"dtype": "U8", "shape": [1], "data_offsets": [0, 1]},'
                                b' "a": {"dtype": "U8", "shape": [1], "data_offsets": [0, 1]}}',
                                b"\x00"),
        "header_too_long": struct.pack("<Q", 2**63) + b"{}",
        "short": b"\x02\x00\x00",
    }
    for fixture in sorted((ROOT / "tests" / "data" / "io").glob("*.safetensors")):
        seeds["fixture_" + fixture.stem] = fixture.read_bytes()
    for fixture in sorted((ROOT / "tests" / "data" / "io" / "sharded").glob("*.safetensors")):
        seeds["fixture_" + fixture.stem] = fixture.read_bytes()
    return seeds


# ---- torch_checkpoint_fuzz ----

def torch_seeds():
    seeds = {}
    folder = ROOT / "tests" / "data" / "io"
    fixtures = sorted(folder.glob("torch_*.bin")) + sorted((folder / "torch_sharded").glob("*.bin"))
    for fixture in fixtures:
        data = fixture.read_bytes()
        seeds["fixture_" + fixture.stem] = data
    zipped = (folder / "torch_zip.bin").read_bytes()
    seeds["damaged_truncated"] = zipped[: len(zipped) // 2]
    seeds["damaged_no_end_record"] = zipped[:-22]
    pickle_at = zipped.find(b"\x80\x02")
    if pickle_at >= 0:  # a protocol-2 pickle, as torch.save writes; damage its opcodes
        seeds["damaged_pickle_opcode"] = zipped[:pickle_at + 2] + b"R" + zipped[pickle_at + 3:]
    legacy = (folder / "torch_legacy.bin").read_bytes()
    seeds["damaged_legacy_truncated"] = legacy[: len(legacy) * 2 // 3]
    seeds["tar_magic"] = b"\x00" * 257 + b"ustar\x00" + b"\x00" * 250
    seeds["empty"] = b""
    return seeds


# ---- model_config_fuzz ----

def model_config_seeds(model):
    config = (model / "config.json").read_bytes()
    modules = (model / "modules.json").read_bytes()
    pooling = (model / "1_Pooling" / "config.json").read_bytes()
    cfg = json.loads(config)
    distil = {"model_type": "distilbert", "vocab_size": 64, "dim": 32, "n_layers": 2,
              "n_heads": 4, "hidden_dim": 64, "max_position_embeddings": 16,
              "activation": "gelu", "sinusoidal_pos_embds": False}
    cls_pooling = dict(json.loads(pooling), pooling_mode_cls_token=True,
                       pooling_mode_mean_tokens=False)

    def dumps(o):
        return json.dumps(o).encode()

    def variant(**change):
        return dumps({k: v for k, v in dict(cfg, **change).items() if v is not None})
    sep = b"\xff"
    return {
        "minilm": config + sep + modules + sep + pooling,
        "minilm_config_only": config,
        "minilm_no_pooling_file": config + sep + modules,
        "minilm_cls_pooling": config + sep + modules + sep + dumps(cls_pooling),
        "minilm_max_pooling": config + sep + modules + sep + dumps(
            dict(json.loads(pooling), pooling_mode_mean_tokens=False,
                 pooling_mode_max_tokens=True)),
        "distilbert": dumps(distil),
        "distilbert_relu": dumps(dict(distil, activation="relu")),
        "gelu_new_int8": variant(hidden_act="gelu_new", bertlite_precision="int8"),
        "heads_not_dividing": variant(num_attention_heads=7),
        "relative_positions": variant(position_embedding_type="relative_key"),
        "roberta": variant(model_type="roberta"),
        "missing_hidden": variant(hidden_size=None),
        "huge_layers": variant(num_hidden_layers=1 << 30),
        "float_size": variant(hidden_size=384.0),
        "eps_zero": variant(layer_norm_eps=0),
        "modules_not_list": config + sep + b'{"type": "sentence_transformers.models.Pooling"}',
        "modules_odd": config + sep + dumps([5, {"type": 3}, {"type": "x.Pooling", "path": "p"}]),
        "not_object": b"[1, 2]",
        "broken_json": config[: len(config) // 2],
    }


# ---- npy_fuzz ----

def npy_seeds():
    import io as _io
    import numpy as np

    def npy(array, **kwargs):
        out = _io.BytesIO()
        np.lib.format.write_array(out, array, **kwargs)
        return out.getvalue()
    x = np.load(ROOT / "tests" / "data" / "learn" / "binary_x.npy")
    rows = np.ascontiguousarray(x[:3, :16], dtype=np.float32)
    return {
        "f32_2d": npy(rows),
        "f64_2d": npy(rows.astype(np.float64)),
        "f32_1d": npy(rows[0]),
        "f32_one_row": npy(rows[:1]),
        "f32_empty": npy(np.zeros((0, 4), np.float32)),
        "f32_no_columns": npy(np.zeros((5, 0), np.float32)),
        "f32_special_values": npy(np.array([[np.nan, np.inf], [-np.inf, -0.0]], np.float32)),
        "version_2": npy(rows, version=(2, 0)),
        "fortran": npy(np.asfortranarray(rows)),
        "big_endian": npy(rows.astype(">f4")),
        "int64": npy(np.arange(6, dtype=np.int64).reshape(2, 3)),
        "f16": npy(rows.astype(np.float16)),
        "3d": npy(np.zeros((2, 2, 2), np.float32)),
        "scalar": npy(np.float32(1.0)),
        "truncated_data": npy(rows)[:-5],
        "bad_magic": b"\x93NUMPZ" + npy(rows)[6:],
    }


# ---- classifier_file_fuzz ----

def classifier_seeds():
    def classifier(classes, n_features, label_names=(), pooling="mean", weight="none"):
        rows = 1 if len(classes) == 2 else len(classes)
        coef = [[round(0.01 * (r + 1) * (f - n_features / 2), 6) for f in range(n_features)]
                for r in range(rows)]
        return {
            "format": "bertlite-classifier", "version": 1, "estimator": "logistic_regression",
            "encoder": {"model": "all-MiniLM-L6-v2", "pooling": pooling, "normalize": True,
                        "max_length": 128},
            "classes": list(classes), "label_names": list(label_names), "n_features": n_features,
            "coef": coef, "intercept": [0.125 * r for r in range(rows)],
            "options": {"C": 1.0, "max_iter": 1000, "tol": 1e-6, "fit_intercept": True,
                        "class_weight": weight},
            "training": {"best_C": 1.0, "cv_accuracy": 0.8125, "train_rows": 64}}
    binary = classifier([0, 1], 24, ["negative", "positive"])
    multi = classifier([-1, 3, 7], 8, [], pooling="cls", weight="balanced")

    def dumps(o, indent=1):
        return (json.dumps(o, indent=indent) + "\n").encode()

    def variant(base, **change):
        return dumps(dict(copy.deepcopy(base), **change))
    return {
        "sst2_binary": dumps(binary),
        "multiclass": dumps(multi),
        "compact": dumps(binary, indent=None),
        "newer_version": variant(binary, version=2),
        "wrong_format": variant(binary, format="sklearn"),
        "label_count": variant(binary, label_names=["only"]),
        "classes_unsorted": variant(multi, classes=[7, 3, -1]),
        "classes_repeated": variant(multi, classes=[3, 3, 7]),
        "coef_short": variant(binary, n_features=25),
        "coef_rows": variant(multi, coef=binary["coef"]),
        "huge_n_features": variant(binary, n_features=10**12),
        "bad_pooling": variant(binary, encoder=dict(binary["encoder"], pooling="max")),
        "training_list": variant(binary, training=[1, 2]),
        "not_object": b"[]",
    }


# ---- dataset_fuzz ----

PLAIN, TSV, CSV, JSONL, AUTO_TSV, AUTO_CSV, AUTO_JSONL, AUTO_TXT = range(8)
HEADER = 8


def dataset_seeds():
    lines = (ROOT / "data" / "sst2" / "dev.tsv").read_text(encoding="utf-8").splitlines()[:6]
    rows = [line.split("\t") for line in lines]

    def csv_field(s):
        return '"' + s.replace('"', '""') + '"' if any(c in s for c in ',"\n') else s

    tsv = "\n".join(lines) + "\n"
    csv = "".join(csv_field(t) + "," + l + "\n" for t, l in rows)
    jsonl = "".join(json.dumps({"sentence": t, "label": int(l)}) + "\n" for t, l in rows)
    plain = "".join(t + "\n" for t, _ in rows)

    def seed(dialect, text):
        return bytes([dialect]) + (text.encode() if isinstance(text, str) else text)
    return {
        "sst2_tsv": seed(TSV, tsv),
        "sst2_tsv_header": seed(TSV | HEADER, "sentence\tlabel\n" + tsv),
        "sst2_tsv_auto": seed(AUTO_TSV, tsv),
        "sst2_csv": seed(CSV, csv),
        "sst2_csv_header_auto": seed(AUTO_CSV | HEADER, "sentence,label\n" + csv),
        "sst2_jsonl": seed(JSONL, jsonl),
        "sst2_jsonl_auto": seed(AUTO_JSONL, jsonl),
        "sst2_plain": seed(PLAIN, plain),
        "sst2_plain_auto": seed(AUTO_TXT, plain),
        "csv_quoting": seed(CSV | HEADER, 'text,label\n"a, ""quoted""\nline",1\r\n"",0\n'
                                          'x,"unterminated\n'),
        "csv_ragged": seed(CSV, "a\nb,c,d\n,\n\n"),
        "tsv_crlf_ragged": seed(TSV | HEADER, "s\tl\r\nonly\r\n\ta\tb\r\n"),
        "jsonl_mixed": seed(JSONL, '{"text": "x", "label": 1}\n\n  \n{"label": [1], "extra": null}\n'
                                   '{"text": {"nested": true}, "text": "dup"}\n'),
        "jsonl_not_object": seed(JSONL, '{"a": 1}\n[1]\n'),
        "jsonl_broken": seed(JSONL, '{"a": \n'),
        "unicode": seed(TSV, "naïve café 中文 😀\t1\n\u2028line\t0\n"),
        "invalid_utf8": seed(TSV, b"ok\t1\nbad \xc3(\t0\n"),
        "nul": seed(PLAIN, b"a\nb\x00c\n"),
        "empty": seed(CSV | HEADER, ""),
    }


# ---- treebank_fuzz ----

SST5, PHRASES, SST2_TSV = 1, 2, 4


def treebank_seeds():
    trees = (ROOT / "data" / "sst" / "dev.txt").read_text(encoding="utf-8").splitlines()[:3]
    text = "\n".join(trees) + "\n"

    def seed(options, body):
        return bytes([options]) + (body.encode() if isinstance(body, str) else body)
    escapes = "(3 (2 -LRB-) (3 (2 a\\/b) (3 -RRB-)) (2 \\*) (2 -LCB-x-RCB-))\n"
    return {
        "dev_sst2_sentences": seed(0, text),
        "dev_sst2_phrases": seed(PHRASES, text),
        "dev_sst5_phrases": seed(SST5 | PHRASES, text),
        "dev_sst2_tsv_phrases": seed(SST2_TSV | PHRASES, text),
        "dev_sst5_tsv_sentences": seed(SST5 | SST2_TSV, text),
        "escapes": seed(PHRASES, escapes),
        "crlf_blank_lines": seed(SST5, "\r\n  \t\r\n(2 (1 bad) (3 good))\r\n\n"),
        "neutral_root": seed(PHRASES, "(2 (0 awful) (4 great))\n(2 fine)\n"),
        "punctuation_only": seed(SST2_TSV | PHRASES, "(1 (2 --) (1 (2 ...) (1 bad)))\n"),
        "unbalanced_open": seed(0, "(3 (2 a) (3 b)\n"),
        "unbalanced_close": seed(0, "(3 (2 a)))\n"),
        "label_5": seed(0, "(5 x)\n"),
        "label_22": seed(0, "(22 x)\n"),
        "no_words": seed(0, "(3 )\n"),
        "text_after": seed(0, "(3 x) y\n"),
        "leaf_then_subtree": seed(0, "(3 x (2 y))\n"),
        "invalid_utf8": seed(0, b"(3 caf\xc3)\n"),
        "bom": seed(0, b"\xef\xbb\xbf(3 x)\n"),
    }


# ---- sharded_index_fuzz ----

def sharded_index_seeds():
    def index(weight_map, metadata=True):
        doc = {"weight_map": weight_map}
        if metadata:
            doc = {"metadata": {"total_size": 24}, **doc}
        return json.dumps(doc, indent=2).encode()
    both = {"a": "shard-1.safetensors", "b": "shard-1.safetensors", "c": "shard-2.safetensors"}
    second = safetensors_bytes([("c", "F32", [2], struct.pack("<2f", 1.5, -1.0)),
                                ("d", "BF16", [1, 2], b"\x80\x3f\x00\x40")])
    return {
        "two_shards": index(both),
        "one_shard": index({"a": "shard-1.safetensors"}, metadata=False),
        "second_shard_given": index({**both, "d": "shard-2.safetensors"}) + b"\xff" + second,
        "second_shard_duplicates_a": index(both) + b"\xff" + safetensors_bytes(
            [("a", "F32", [2], struct.pack("<2f", 0.0, 0.0))]),
        "tensor_not_in_shard": index({**both, "z": "shard-2.safetensors"}),
        "shard_missing": index({"a": "shard-9.safetensors"}),
        "shard_outside": index({"secret": "../outside.safetensors"}),
        "shard_absolute": index({"secret": "/etc/passwd"}),
        "shard_dot": index({"a": "."}),
        "shard_is_index": index({"a": "model.safetensors.index.json"}),
        "shard_not_string": index({"a": 1}),
        "empty_map": index({}),
        "map_not_object": b'{"weight_map": ["a"]}',
        "no_map": b'{"metadata": {}}',
        "not_json": b'{"weight_map": {"a": "shard-1.safetensors"',
        "second_shard_truncated": index(both) + b"\xff" + second[:20],
    }


# ---- vocab_txt_fuzz ----

def vocab_txt_seeds(model):
    full = (model / "vocab.txt").read_bytes()
    head = b"\n".join(full.split(b"\n")[:2000]) + b"\n"
    small = b"[PAD]\n[UNK]\n[CLS]\n[SEP]\n[MASK]\nthe\nfilm\n##s\nis\ngood\n!\n,\nfun\n##ny\n"
    text = "The films are FUNNY, good! caf\u00e9 \u4e2d [MASK] x".encode()

    def seed(vocab, config, sentence=text):
        return vocab + b"\xff" + config + b"\xff" + sentence
    return {
        "model_head": seed(head, b'{"do_lower_case": true}'),
        "model_head_no_config": head,  # no 0xFF: no tokenizer_config.json, the text "a test"
        "small_no_config": small,
        "small_config": seed(small, b'{"do_lower_case": true, "model_max_length": 16}'),
        "small_cased": seed(small, b'{"do_lower_case": false, "strip_accents": false}'),
        "small_renamed_specials": seed(small.replace(b"[CLS]", b"<s>").replace(b"[SEP]", b"</s>"),
                                       b'{"cls_token": "<s>", "sep_token": "</s>", '
                                       b'"unk_token": {"content": "[UNK]"}}'),
        "small_crlf": seed(small.replace(b"\n", b"\r\n"), b"{}"),
        "small_repeated_empty": seed(small + b"the\n\n\n##\n", b"{}"),
        "small_broken_config": seed(small, b'{"do_lower_case": '),
        "small_config_not_object": seed(small, b"[1, 2]"),
        "no_cls": seed(small.replace(b"[CLS]\n", b""), b"{}"),
        "invalid_utf8": seed(small + b"caf\xc3(\n", b"{}"),
        "nul": seed(small + b"a\x00b\n", b"{}"),
        "empty": b"",
        "only_newlines": b"\n\n\n",
    }


# ---- feature_cache_fuzz ----

def feature_cache_seeds():
    import io as _io
    import numpy as np
    x = np.load(ROOT / "tests" / "data" / "learn" / "binary_x.npy")
    rows = np.ascontiguousarray(x[:3, :8], dtype=np.float32)
    out = _io.BytesIO()
    np.lib.format.write_array(out, rows)
    npy = out.getvalue()
    info = {"format": 1, "rows": 3, "cols": 8, "tokens": 17, "truncated": 0, "pooling": "mean",
            "normalize": True, "max_length": 128, "windowed": 0, "long_text": "truncate",
            "stride": 0, "checksum": "0" * 32}
    FIX, NO_NPY = 1, 2

    def seed(flags, meta, matrix=npy):
        text = meta if isinstance(meta, bytes) else json.dumps(meta, indent=1).encode()
        return bytes([flags]) + text + b"\xff" + matrix

    def changed(**fields):
        d = dict(info)
        for key, value in fields.items():
            if value is None:
                d.pop(key)
            else:
                d[key] = value
        return d
    return {
        "entry": seed(FIX, info),
        "entry_wrong_checksum": seed(0, info),
        "entry_window": seed(FIX, changed(long_text="window", stride=64, windowed=2)),
        "entry_cls_raw": seed(FIX, changed(pooling="cls", normalize=False)),
        "rows_disagree": seed(FIX, changed(rows=4)),
        "cols_negative": seed(FIX, changed(cols=-8)),
        "missing_tokens": seed(FIX, changed(tokens=None)),
        "pooling_unknown": seed(FIX, changed(pooling="max")),
        "long_text_unknown": seed(FIX, changed(long_text="summarize")),
        "types_wrong": seed(FIX, changed(rows="3", normalize=1, max_length=-1)),
        "truncated_matrix": seed(FIX, info, npy[:-6]),
        "no_matrix": seed(FIX | NO_NPY, info),
        "not_json": seed(FIX, b"{\"rows\": 3,"),
        "array": seed(FIX, b"[3, 8]"),
    }


# ---- hub_http_fuzz ----

def hub_http_seeds():
    config = b'{"model_type": "bert", "hidden_size": 8}\n'
    sha1 = hashlib.sha1(b"blob %d\0" % len(config) + config).hexdigest()
    sha256 = hashlib.sha256(config).hexdigest()
    commit = "0123456789abcdef0123456789abcdef01234567"

    def response(status, headers, body=b"", length=None, reason=b"OK"):
        """`length`: the Content-Length to send (a HEAD's is the file's); False: none."""
        lines = [b"HTTP/1.1 %d %s" % (status, reason)]
        lines += [f"{k}: {v}".encode() for k, v in headers]
        if length is not False:
            lines.append(b"Content-Length: %d" % (len(body) if length is None else length))
        lines.append(b"Connection: close")
        return b"\r\n".join(lines) + b"\r\n\r\n" + body

    def chunked(body):
        return b"%x\r\n%s\r\n0\r\n\r\n" % (len(body), body)
    plain_head = response(200, [("X-Repo-Commit", commit), ("ETag", f'"{sha1}"')],
                          length=len(config))
    plain_get = response(200, [("ETag", f'"{sha1}"')], config)
    lfs_head = response(302, [("Location", "{CDN}/blobs/config?sig=1"), ("X-Repo-Commit", commit),
                              ("X-Linked-Etag", f'"{sha256}"'), ("X-Linked-Size", len(config)),
                              ("ETag", f'"{sha1}"')], reason=b"Found")
    lfs_get_redirect = response(302, [("Location", "{CDN}/blobs/config?sig=1")], reason=b"Found")
    lfs_get = response(200, [("ETag", f'"{sha256}"')], config)
    missing = response(404, [("X-Error-Code", "EntryNotFound"), ("X-Repo-Commit", commit)],
                       b"Entry not found", reason=b"Not Found")

    def script(*responses):
        return b"\xff".join(responses)
    return {
        "plain": script(plain_head, plain_get),
        "lfs_via_cdn": script(lfs_head, lfs_get_redirect, lfs_get),
        "lfs_direct_get": script(lfs_head, lfs_get),
        "missing_404": script(missing),
        "repo_not_found": script(response(401, [("X-Error-Code", "RepoNotFound")], b"",
                                          reason=b"Unauthorized")),
        "relative_redirect": script(response(307, [("Location", "/org/model/resolve/" + commit +
                                                    "/config.json")], reason=b"Temporary"),
                                    plain_head, plain_get),
        "chunked_get": script(plain_head, response(200, [("Transfer-Encoding", "chunked")],
                                                    chunked(config), length=False)),
        "length_longer_than_body": script(plain_head, response(200, [], config, length=999)),
        "length_shorter_than_body": script(plain_head, response(200, [], config, length=5)),
        "commit_escapes": script(plain_head.replace(commit.encode(), b"../../../escape"),
                                 plain_get),
        "etag_escapes": script(plain_head.replace(sha1.encode(), b"../../blob"), plain_get),
        "wrong_sha256": script(lfs_head.replace(sha256.encode(), b"f" * 64), lfs_get_redirect,
                               lfs_get),
        "redirect_loop": script(*[lfs_get_redirect] * 12),
        "head_only": script(plain_head),
        "garbage": b"HTTP/1.1 banana\r\n\r\n",
        "no_status_line": b"\r\n\r\n",
    }


# ---- server_request_fuzz ----

def server_request_seeds():
    def post(route, body, extra=b"", length=None):
        if not isinstance(body, bytes):
            body = json.dumps(body).encode()
        n = len(body) if length is None else length
        return (b"POST %s HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
                b"%sContent-Length: %d\r\n\r\n%s" % (route.encode(), extra, n, body))

    def get(route, extra=b""):
        return b"GET %s HTTP/1.1\r\nHost: 127.0.0.1\r\n%s\r\n" % (route.encode(), extra)
    sentence = "a visually stunning rumination on love"
    return {
        "embed_string": post("/embed", {"inputs": sentence}),
        "embed_list": post("/embed", {"inputs": [sentence, "bad", ""], "normalize": False,
                                       "truncate": True}),
        "embed_too_many": post("/embed", {"inputs": ["a"] * 6}),
        "embed_long": post("/embed", {"inputs": "word " * 200, "truncate": False}),
        "embed_wrong_type": post("/embed", {"inputs": 5}),
        "embed_nested": post("/embed", {"inputs": [["a", "b"]]}),
        "openai": post("/v1/embeddings", {"input": [sentence], "model": "x",
                                          "encoding_format": "base64"}),
        "openai_float": post("/v1/embeddings", {"input": sentence, "encoding_format": "float"}),
        "predict": post("/predict", {"inputs": sentence, "raw_scores": True}),
        "tokenize": post("/tokenize", {"inputs": [sentence, "caf\u00e9 \u4e2d"],
                                       "add_special_tokens": True}),
        "root": post("/", {"inputs": sentence}),
        "info": get("/info"),
        "metrics": get("/metrics"),
        "openapi": get("/openapi.json"),
        "head_health": b"HEAD /health HTTP/1.1\r\nHost: x\r\n\r\n",
        "options": b"OPTIONS /embed HTTP/1.1\r\nHost: x\r\n\r\n",
        "pipelined": get("/health") + post("/embed", {"inputs": "a"}) + get("/info"),
        "keep_alive": get("/health", b"Connection: keep-alive\r\n") * 3,
        "chunked": (b"POST /embed HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
                    b"e\r\n{\"inputs\": \"a\"}\r\n0\r\n\r\n"),
        "bad_json": post("/embed", b'{"inputs": '),
        "bad_utf8": post("/embed", b'{"inputs": "caf\xc3("}'),
        "length_lies_long": post("/embed", {"inputs": "a"}, length=500),
        "length_lies_short": post("/embed", {"inputs": "a"}, length=3),
        "over_limit": post("/embed", {"inputs": "x" * 5000}),
        "auth_header": get("/info", b"Authorization: Bearer nope\r\n"),
        "no_version": b"GET /health\r\n\r\n",
        "unknown_route": get("/../../etc/passwd"),
        "absolute_uri": b"GET http://127.0.0.1/health HTTP/1.1\r\nHost: x\r\n\r\n",
        "http10": b"GET /health HTTP/1.0\r\n\r\n",
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
    parser.add_argument("--targets", nargs="+", metavar="TARGET",
                        help="write only these targets' seeds (default: all); the other "
                             "folders are left alone")
    args = parser.parse_args()
    model = pathlib.Path(args.model)

    def tokenizer_json_seeds():
        tokenizer = json.loads((model / "tokenizer.json").read_text("utf-8"))
        json_seeds = {}
        for name, t in json_variants(shrink(tokenizer)).items():
            json_seeds[name] = json.dumps(t, ensure_ascii=False, separators=(",", ":")).encode()
        # One pretty-printed copy, as Hugging Face writes the file.
        json_seeds["small_indented"] = json.dumps(shrink(tokenizer), ensure_ascii=False,
                                                  indent=2).encode()
        json_seeds.update({f"broken_{k}": v for k, v in BROKEN_JSON.items()})
        return json_seeds

    writers = {
        "tokenizer_fuzz": tokenizer_seeds,
        "tokenizer_json_fuzz": tokenizer_json_seeds,
        "safetensors_fuzz": lambda: safetensors_seeds(model),
        "torch_checkpoint_fuzz": torch_seeds,
        "model_config_fuzz": lambda: model_config_seeds(model),
        "npy_fuzz": npy_seeds,
        "classifier_file_fuzz": classifier_seeds,
        "dataset_fuzz": dataset_seeds,
        "vocab_txt_fuzz": lambda: vocab_txt_seeds(model),
        "feature_cache_fuzz": feature_cache_seeds,
        "hub_http_fuzz": hub_http_seeds,
        "server_request_fuzz": server_request_seeds,
        "treebank_fuzz": treebank_seeds,
        "sharded_index_fuzz": sharded_index_seeds,
    }
    targets = args.targets or list(writers)
    unknown = sorted(set(targets) - set(writers))
    if unknown:
        parser.error(f"unknown targets {unknown}; known: {sorted(writers)}")
    total = 0
    for target in targets:
        total += write(SEEDS / target, writers[target]())
    print(f"wrote {total} bytes of seeds to {SEEDS}")


if __name__ == "__main__":
    main()
