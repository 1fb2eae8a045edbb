#!/usr/bin/env python3
"""Writes the tiny BERT / DistilBERT reference fixtures in tests/data/encoder.

Each fixture is a complete Hugging Face model folder (config.json,
model.safetensors, vocab.txt, tokenizer_config.json) that transformers itself
created and saved with random weights, plus what transformers computes for a
fixed padded batch of sentences (expected.safetensors) and the sentences and
their token ids as plain JSON (inputs.json), so the C++ tests need no Python.
tests/data/encoder/README.md describes the tensors.

The sizes are small and deliberately uneven (hidden 48 in 3 heads of 16,
intermediate 100, 2 or 3 layers, 64 positions, 127 vocabulary entries) so a
hard-coded dimension or a transposed weight shows up. Weights are drawn with
a larger spread than transformers' default (std 0.02) so that attention is far
from uniform and GELU sees inputs where its erf and tanh forms differ, and the
LayerNorm scales and biases are random so a LayerNorm that ignores them fails.

The outputs come from the checkpoint reloaded from disk with the "eager"
attention (the plain masked softmax of docs/REFERENCE.md section 3), in
float32 eval mode, so they describe exactly what the saved files mean.

Run from the repository root:  .venv/bin/python tools/make_encoder_fixtures.py
Re-running with the same torch / transformers versions rewrites identical files.
"""

from __future__ import annotations

import argparse
import json
import math
import shutil
import sys
from pathlib import Path

import torch
from safetensors.torch import load_file, save_file
from transformers import (AutoTokenizer, BertConfig, BertForSequenceClassification, BertModel,
                          DistilBertConfig, DistilBertForSequenceClassification, DistilBertModel)

SEED = 20240611
MAX_POSITIONS = 64

# Special tokens first, in BERT's order, then words and pieces chosen so the
# sentences below tokenize into real ids, with some [UNK] and some "##" pieces.
VOCAB = """
[PAD] [UNK] [CLS] [SEP] [MASK]
. , ! ? ' - ( ) : ;
the a an and or but not no is was are were be been it this that there here
i you he she we they my his her their who what how why when
movie film story plot actor director music scene end time year day night
good bad great best fun funny bor love hate like make made see watch feel play
very too so more most really just all one two some never always still even also
of to in on at for with by from about as than then well much little long
life world people man cafe naive n t
0 1 2 3
##s ##ing ##ed ##ly ##er ##est ##y ##0 ##2 ##able ##ful ##ness
""".split()

# (text, text_pair) rows of the fixed batch; the token counts in the comments
# include [CLS] and [SEP]. Mixed case, an accent, a CJK character, an unknown
# word, numbers and punctuation exercise the tokenizer on the way.
SENTENCES: list[tuple[str, str | None]] = [
    ("Good", None),  # 3
    ("The movie was fun!", None),  # 7
    ("great", "very bad"),  # 1 + 2 -> 6, token types 0/1
    ("The actors played well, but the naïve café story was xylophone 中 boring.", None),  # 20
    ("Who made this film?", "The director did, in 2020."),  # 7 + 10 -> 17
    ("I never watch films like this, but people love it: the plot is long and boring, the "
     "music is bad, and the end was (the worst) scene of the year.", None),  # 41
]


def build_vocab() -> list[str]:
    seen: set[str] = set()
    for token in VOCAB:
        if token in seen:
            raise SystemExit(f"duplicate vocabulary entry {token!r}")
        seen.add(token)
    return list(VOCAB)


def randomize_(model: torch.nn.Module, generator: torch.Generator) -> None:
    """Redraws every parameter: Linear weights N(0, 1/fan_in), biases N(0, 0.1),
    embeddings N(0, 1), LayerNorm scales U(0.5, 1.5) and shifts N(0, 0.2).

    Visiting modules in their registration order keeps the draw reproducible.
    """
    with torch.no_grad():
        for module in model.modules():
            if isinstance(module, torch.nn.Linear):
                std = 1.0 / math.sqrt(module.in_features)
                module.weight.copy_(torch.randn(module.weight.shape, generator=generator) * std)
                if module.bias is not None:
                    module.bias.copy_(torch.randn(module.bias.shape, generator=generator) * 0.1)
            elif isinstance(module, torch.nn.Embedding):
                module.weight.copy_(torch.randn(module.weight.shape, generator=generator))
            elif isinstance(module, torch.nn.LayerNorm):
                module.weight.copy_(torch.rand(module.weight.shape, generator=generator) + 0.5)
                module.bias.copy_(torch.randn(module.bias.shape, generator=generator) * 0.2)


def write_tokenizer_files(folder: Path, vocab: list[str], tokenizer_class: str) -> None:
    (folder / "vocab.txt").write_text("".join(token + "\n" for token in vocab), encoding="utf-8")
    config = {
        "tokenizer_class": tokenizer_class,
        "do_lower_case": True,
        "strip_accents": None,
        "tokenize_chinese_chars": True,
        "unk_token": "[UNK]",
        "sep_token": "[SEP]",
        "pad_token": "[PAD]",
        "cls_token": "[CLS]",
        "mask_token": "[MASK]",
        "model_max_length": MAX_POSITIONS,
    }
    (folder / "tokenizer_config.json").write_text(json.dumps(config, indent=2) + "\n",
                                                  encoding="utf-8")


def tokenize_batch(folder: Path, use_token_types: bool) -> tuple[dict[str, torch.Tensor], list]:
    """Tokenizes SENTENCES with the tokenizer transformers loads from `folder`
    and pads them into one batch: pad id 0, token type 0, mask 0."""
    tokenizer = AutoTokenizer.from_pretrained(folder)
    rows = []
    for text, pair in SENTENCES:
        encoded = tokenizer(text, pair) if pair is not None else tokenizer(text)
        rows.append(encoded)
    unk_id = tokenizer.convert_tokens_to_ids("[UNK]")
    all_ids = [i for row in rows for i in row["input_ids"]]
    if sum(i != unk_id for i in all_ids) < 0.8 * len(all_ids):
        raise SystemExit(f"{folder}: the tokenizer maps most words to [UNK]; vocab.txt not read?")
    batch, seq = len(rows), max(len(row["input_ids"]) for row in rows)
    input_ids = torch.zeros(batch, seq, dtype=torch.int64)
    token_type_ids = torch.zeros(batch, seq, dtype=torch.int64)
    attention_mask = torch.zeros(batch, seq, dtype=torch.int64)
    lengths = torch.zeros(batch, dtype=torch.int64)
    records = []
    for b, row in enumerate(rows):
        n = len(row["input_ids"])
        input_ids[b, :n] = torch.tensor(row["input_ids"])
        types = row.get("token_type_ids") or [0] * n
        token_type_ids[b, :n] = torch.tensor(types)
        attention_mask[b, :n] = 1
        lengths[b] = n
        text, pair = SENTENCES[b]
        record = {"text": text, "text_pair": pair, "input_ids": list(row["input_ids"]),
                  "tokens": tokenizer.convert_ids_to_tokens(row["input_ids"])}
        if use_token_types:
            record["token_type_ids"] = list(types)
        records.append(record)
    tensors = {"input_ids": input_ids, "attention_mask": attention_mask, "lengths": lengths}
    if use_token_types:
        tensors["token_type_ids"] = token_type_ids
    return tensors, records


def pooled_features(hidden: torch.Tensor, mask: torch.Tensor) -> dict[str, torch.Tensor]:
    """cls = row 0; mean = sum(h*m)/max(sum m, 1e-9) as sentence-transformers
    computes it; *_normalized divide by max(L2 norm, 1e-12) (F.normalize)."""
    m = mask.unsqueeze(-1).to(hidden.dtype)
    cls = hidden[:, 0]
    mean = (hidden * m).sum(1) / torch.clamp(m.sum(1), min=1e-9)
    return {"pooled.cls": cls, "pooled.mean": mean}


def add_normalized(out: dict[str, torch.Tensor]) -> None:
    for name in [n for n in out if n.startswith("pooled.")]:
        out[name + "_normalized"] = torch.nn.functional.normalize(out[name], p=2, dim=-1)


def run_model(model_cls, folder: Path, inputs: dict[str, torch.Tensor], full: bool,
              dtype=torch.float32) -> dict[str, torch.Tensor]:
    """Loads the saved folder with transformers and records its outputs."""
    model, info = model_cls.from_pretrained(folder, attn_implementation="eager",
                                            output_loading_info=True)
    problems = {k: v for k, v in info.items() if v}
    if problems:
        raise SystemExit(f"{folder}: transformers did not load the checkpoint cleanly: {problems}")
    model = model.to(dtype).eval()
    # The encoder of a *ForSequenceClassification model is its base model.
    encoder = getattr(model, model.base_model_prefix, model)
    is_bert = isinstance(encoder, BertModel)
    captured: dict[str, torch.Tensor] = {}
    hooks = []
    if full:
        # Layer 0 intermediates, named as in README.md: the attention block
        # output after its residual LayerNorm, and the FFN after the activation.
        if is_bert:
            layer0 = encoder.encoder.layer[0]
            attention_ln, ffn_act = layer0.attention.output.LayerNorm, layer0.intermediate
        else:
            layer0 = encoder.transformer.layer[0]
            attention_ln, ffn_act = layer0.sa_layer_norm, layer0.ffn.activation

        def keep(name):
            def hook(_module, _args, output):
                if name in captured:
                    raise SystemExit(f"hook {name} fired twice; shared activation module?")
                captured[name] = output.detach().clone()
            return hook

        hooks.append(attention_ln.register_forward_hook(keep("layer.0.attention_output")))
        hooks.append(ffn_act.register_forward_hook(keep("layer.0.intermediate")))

    kwargs = {"input_ids": inputs["input_ids"], "attention_mask": inputs["attention_mask"]}
    if "token_type_ids" in inputs:
        kwargs["token_type_ids"] = inputs["token_type_ids"]
    with torch.no_grad():
        result = model(**kwargs, output_hidden_states=True)
        base = encoder(**kwargs, output_hidden_states=True) if encoder is not model else result
    for hook in hooks:
        hook.remove()

    out: dict[str, torch.Tensor] = {}
    out["last_hidden_state"] = base.last_hidden_state
    if full:
        for i, h in enumerate(base.hidden_states):
            out[f"hidden_states.{i}"] = h
        for name in ("layer.0.attention_output", "layer.0.intermediate"):
            if name not in captured:
                raise SystemExit(f"{folder}: hook {name} did not fire")
            out[name] = captured[name]
    out.update(pooled_features(base.last_hidden_state, inputs["attention_mask"]))
    if is_bert and getattr(base, "pooler_output", None) is not None:
        out["pooled.pooler"] = base.pooler_output
    add_normalized(out)
    if hasattr(result, "logits"):
        out["logits"] = result.logits
    # clone: last_hidden_state and the last hidden_states entry share storage.
    return {k: v.contiguous().clone() for k, v in out.items()}


def check_same(name: str, got: dict[str, torch.Tensor], want: dict[str, torch.Tensor]) -> None:
    for key, value in got.items():
        if key in want and not torch.equal(value, want[key]):
            diff = (value - want[key]).abs().max().item()
            raise SystemExit(f"{name}: {key} differs from the reference model by {diff:g}")


def float64_error(model_cls, folder: Path, inputs, out32) -> float:
    """Largest |float32 - float64| over real tokens of last_hidden_state."""
    out64 = run_model(model_cls, folder, inputs, full=False, dtype=torch.float64)
    mask = inputs["attention_mask"].bool()
    diff = out32["last_hidden_state"][mask].double() - out64["last_hidden_state"][mask]
    return diff.abs().max().item()


def write_fixture(folder: Path, inputs, records, outputs, model_type: str) -> None:
    tensors = dict(inputs)
    tensors.update(outputs)
    # One metadata key: safetensors writes several in a random order, which
    # would change the committed bytes on every run.
    metadata = {"generator": "tools/make_encoder_fixtures.py"}
    save_file(tensors, str(folder / "expected.safetensors"), metadata=metadata)
    document = {"model_type": model_type, "padded_length": int(inputs["input_ids"].shape[1]),
                "pad_token_id": 0, "sentences": records}
    (folder / "inputs.json").write_text(json.dumps(document, indent=1, ensure_ascii=False) + "\n",
                                        encoding="utf-8")


def legacy_names(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    renamed = {}
    for key, value in state.items():
        if key.endswith("LayerNorm.weight"):
            key = key[: -len("weight")] + "gamma"
        elif key.endswith("LayerNorm.bias"):
            key = key[: -len("bias")] + "beta"
        renamed[key] = value
    return renamed


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path,
                        default=Path(__file__).resolve().parent.parent / "tests/data/encoder")
    args = parser.parse_args()
    # One thread: a GEMM split across threads may sum in a different order from
    # run to run, and the committed files should only change when inputs do.
    torch.set_num_threads(1)
    torch.manual_seed(SEED)
    generator = torch.Generator().manual_seed(SEED)
    vocab = build_vocab()
    out_root: Path = args.out
    out_root.mkdir(parents=True, exist_ok=True)

    def fresh(name: str) -> Path:
        folder = out_root / name
        if folder.exists():
            shutil.rmtree(folder)
        folder.mkdir()
        return folder

    bert_args = dict(vocab_size=len(vocab), hidden_size=48, num_attention_heads=3,
                     num_hidden_layers=3, intermediate_size=100,
                     max_position_embeddings=MAX_POSITIONS, type_vocab_size=2,
                     hidden_act="gelu", layer_norm_eps=1e-12, pad_token_id=0)
    distil_args = dict(vocab_size=len(vocab), dim=48, n_heads=3, n_layers=2, hidden_dim=100,
                       max_position_embeddings=MAX_POSITIONS, activation="gelu",
                       sinusoidal_pos_embds=False, pad_token_id=0)
    summary = []

    # bert_tiny: the plain BertModel export (no prefix, new LayerNorm names).
    folder = fresh("bert_tiny")
    bert = BertModel(BertConfig(**bert_args))
    randomize_(bert, generator)
    bert.save_pretrained(folder, safe_serialization=True)
    write_tokenizer_files(folder, vocab, "BertTokenizer")
    bert_inputs, bert_records = tokenize_batch(folder, use_token_types=True)
    bert_out = run_model(BertModel, folder, bert_inputs, full=True)
    write_fixture(folder, bert_inputs, bert_records, bert_out, "bert")
    summary.append(("bert_tiny", float64_error(BertModel, folder, bert_inputs, bert_out)))

    # bert_tiny_prefixed: same encoder under "bert." plus a random classifier.
    folder = fresh("bert_tiny_prefixed")
    classifier = BertForSequenceClassification(BertConfig(**bert_args, num_labels=2))
    randomize_(classifier, generator)
    classifier.bert.load_state_dict(bert.state_dict())
    classifier.save_pretrained(folder, safe_serialization=True)
    write_tokenizer_files(folder, vocab, "BertTokenizer")
    inputs, records = tokenize_batch(folder, use_token_types=True)
    out = run_model(BertForSequenceClassification, folder, inputs, full=False)
    check_same("bert_tiny_prefixed", out, bert_out)
    write_fixture(folder, inputs, records, out, "bert")
    summary.append(("bert_tiny_prefixed", None))

    # bert_tiny_legacy_names: bert_tiny's tensors with LayerNorm gamma/beta,
    # written directly because transformers only writes the new names.
    folder = fresh("bert_tiny_legacy_names")
    shutil.copy(out_root / "bert_tiny/config.json", folder / "config.json")
    state = load_file(str(out_root / "bert_tiny/model.safetensors"))
    renamed = legacy_names(state)
    layer_norms = 2 * bert_args["num_hidden_layers"] + 1  # embeddings + 2 per layer
    if sum(k.endswith((".gamma", ".beta")) for k in renamed) != 2 * layer_norms:
        raise SystemExit("bert_tiny_legacy_names: unexpected number of LayerNorm tensors")
    save_file(renamed, str(folder / "model.safetensors"), metadata={"format": "pt"})
    write_tokenizer_files(folder, vocab, "BertTokenizer")
    inputs, records = tokenize_batch(folder, use_token_types=True)
    out = run_model(BertModel, folder, inputs, full=False)  # fails unless every tensor loaded
    check_same("bert_tiny_legacy_names", out, bert_out)
    write_fixture(folder, inputs, records, out, "bert")
    summary.append(("bert_tiny_legacy_names", None))

    # bert_tiny_gelu_tanh: different weights, 2 layers, the tanh GELU.
    folder = fresh("bert_tiny_gelu_tanh")
    gelu_tanh = BertModel(BertConfig(**{**bert_args, "hidden_act": "gelu_new",
                                        "num_hidden_layers": 2}))
    randomize_(gelu_tanh, generator)
    gelu_tanh.save_pretrained(folder, safe_serialization=True)
    write_tokenizer_files(folder, vocab, "BertTokenizer")
    inputs, records = tokenize_batch(folder, use_token_types=True)
    out = run_model(BertModel, folder, inputs, full=True)
    write_fixture(folder, inputs, records, out, "bert")
    summary.append(("bert_tiny_gelu_tanh", float64_error(BertModel, folder, inputs, out)))

    # distilbert_tiny and its "distilbert."-prefixed classifier export.
    folder = fresh("distilbert_tiny")
    distil = DistilBertModel(DistilBertConfig(**distil_args))
    randomize_(distil, generator)
    distil.save_pretrained(folder, safe_serialization=True)
    write_tokenizer_files(folder, vocab, "DistilBertTokenizer")
    distil_inputs, records = tokenize_batch(folder, use_token_types=False)
    if not torch.equal(distil_inputs["input_ids"], bert_inputs["input_ids"]):
        raise SystemExit("distilbert_tiny: the tokenizer disagrees with bert_tiny's")
    distil_out = run_model(DistilBertModel, folder, distil_inputs, full=True)
    write_fixture(folder, distil_inputs, records, distil_out, "distilbert")
    summary.append(("distilbert_tiny",
                    float64_error(DistilBertModel, folder, distil_inputs, distil_out)))

    folder = fresh("distilbert_tiny_prefixed")
    distil_classifier = DistilBertForSequenceClassification(
        DistilBertConfig(**distil_args, num_labels=2))
    randomize_(distil_classifier, generator)
    distil_classifier.distilbert.load_state_dict(distil.state_dict())
    distil_classifier.save_pretrained(folder, safe_serialization=True)
    write_tokenizer_files(folder, vocab, "DistilBertTokenizer")
    inputs, records = tokenize_batch(folder, use_token_types=False)
    out = run_model(DistilBertForSequenceClassification, folder, inputs, full=False)
    check_same("distilbert_tiny_prefixed", out, distil_out)
    write_fixture(folder, inputs, records, out, "distilbert")
    summary.append(("distilbert_tiny_prefixed", None))

    lengths = bert_inputs["lengths"].tolist()
    print(f"batch: {len(lengths)} sequences, token lengths {lengths}, vocabulary {len(vocab)}")
    total = 0
    for name, err in summary:
        size = sum(p.stat().st_size for p in (out_root / name).iterdir())
        total += size
        note = f", float32 vs float64 max abs {err:.2e}" if err is not None else ""
        print(f"{name}: {size / 1024:.0f} KiB{note}")
    print(f"total: {total / 1024:.0f} KiB in {out_root}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
