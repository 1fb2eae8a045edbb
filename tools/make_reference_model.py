#!/usr/bin/env python3
"""Makes full-size reference checkpoints and transformers' outputs for them.

Two jobs, in one command or separately:

1. With --shape, writes a random-weight checkpoint of a real model's shape
   into MODEL_DIR with transformers' save_pretrained (config.json,
   model.safetensors, the real bert-base-uncased vocab.txt copied from
   models/all-MiniLM-L6-v2, tokenizer_config.json). The files are large
   (distilbert-base: about 265 MB), so they are never committed: tests and
   benchmarks generate them on demand into a cache folder. A stamp file,
   reference_model.json, lets a second call with the same shape and seed
   return at once.

2. With --expected SENTENCES.tsv OUT.safetensors, runs the model in MODEL_DIR
   (default: models/all-MiniLM-L6-v2) through transformers on every sentence
   (the text before the first TAB of each line) and writes what it computes;
   for a sentence-transformers folder it also writes what
   SentenceTransformer.encode(normalize_embeddings=True) returns. Tensors:

     offsets            int64   [N + 1]  sentence i owns rows offsets[i]..offsets[i+1]
     input_ids          int64   [T]      T = offsets[N], with [CLS] and [SEP]
     token_type_ids     int64   [T]      BERT only (DistilBERT has none)
     last_hidden_state  float32 [T, H]   each sentence run on its own, unpadded
     cls, mean          float32 [N, H]   row 0; mean over the sentence's tokens
     cls_normalized, mean_normalized     the same divided by max(L2 norm, 1e-12)
     pooler, pooler_normalized           BERT with pooler weights: tanh(dense(h[CLS]))
     st_embedding       float32 [N, H]   sentence-transformers' encode(), if modules.json

   Sentences are batched by token count, so no batch needs padding and every
   row is exactly the unpadded result. Truncation: at the tokenizer's
   model_max_length, capped by max_position_embeddings (512 for these).

Examples (from the repository root):
  .venv/bin/python tools/make_reference_model.py .cache/distilbert-base --shape distilbert-base
  .venv/bin/python tools/make_reference_model.py --expected data/sst2/dev.tsv \\
      out/minilm_dev.safetensors
  .venv/bin/python tools/make_reference_model.py .cache/distilbert-base --shape distilbert-base \\
      --expected data/sst2/dev.tsv out/distilbert_base_dev.safetensors
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import time
from collections import defaultdict
from pathlib import Path

import torch
from safetensors.torch import save_file
from transformers import (AutoModel, AutoTokenizer, BertConfig, BertModel, DistilBertConfig,
                          DistilBertModel)

sys.path.insert(0, str(Path(__file__).resolve().parent))
from make_encoder_fixtures import randomize_  # noqa: E402  (same weight draw as the fixtures)

REPO = Path(__file__).resolve().parent.parent
DEFAULT_MODEL = REPO / "models/all-MiniLM-L6-v2"
STAMP = "reference_model.json"
STAMP_VERSION = 1

# Real models' shapes. vocab 30522 is bert-base-uncased's vocab.txt.
SHAPES = {
    "distilbert-base": (DistilBertModel, DistilBertConfig, "DistilBertTokenizer",
                        dict(vocab_size=30522, dim=768, n_layers=6, n_heads=12, hidden_dim=3072,
                             max_position_embeddings=512, activation="gelu",
                             sinusoidal_pos_embds=False, pad_token_id=0)),
    "bert-base": (BertModel, BertConfig, "BertTokenizer",
                  dict(vocab_size=30522, hidden_size=768, num_hidden_layers=12,
                       num_attention_heads=12, intermediate_size=3072,
                       max_position_embeddings=512, type_vocab_size=2, hidden_act="gelu",
                       layer_norm_eps=1e-12, pad_token_id=0)),
}


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def make_model(folder: Path, shape: str, seed: int, force: bool) -> None:
    stamp = {"shape": shape, "seed": seed, "version": STAMP_VERSION,
             "generator": "tools/make_reference_model.py"}
    stamp_path = folder / STAMP
    if not force and stamp_path.exists() and (folder / "model.safetensors").exists():
        try:
            if json.loads(stamp_path.read_text()) == stamp:
                log(f"{folder}: {shape} seed {seed} already there")
                return
        except json.JSONDecodeError:
            pass
    vocab = DEFAULT_MODEL / "vocab.txt"
    if not vocab.exists():
        raise SystemExit(f"{vocab}: missing; run scripts/setup.sh to install the default model")
    model_cls, config_cls, tokenizer_class, config_args = SHAPES[shape]
    start = time.perf_counter()
    folder.mkdir(parents=True, exist_ok=True)
    stamp_path.unlink(missing_ok=True)  # a half-written folder must not look finished
    torch.manual_seed(seed)
    model = model_cls(config_cls(**config_args))
    randomize_(model, torch.Generator().manual_seed(seed))
    model.save_pretrained(folder, safe_serialization=True)
    shutil.copyfile(vocab, folder / "vocab.txt")
    tokenizer_config = {"tokenizer_class": tokenizer_class, "do_lower_case": True,
                        "strip_accents": None, "tokenize_chinese_chars": True,
                        "unk_token": "[UNK]", "sep_token": "[SEP]", "pad_token": "[PAD]",
                        "cls_token": "[CLS]", "mask_token": "[MASK]",
                        "model_max_length": config_args["max_position_embeddings"]}
    (folder / "tokenizer_config.json").write_text(json.dumps(tokenizer_config, indent=2) + "\n")
    stamp_path.write_text(json.dumps(stamp, indent=2) + "\n")
    size = (folder / "model.safetensors").stat().st_size
    log(f"{folder}: wrote {shape} seed {seed}, {size / 1e6:.0f} MB, "
        f"{time.perf_counter() - start:.1f} s")


def read_sentences(path: Path, limit: int | None) -> list[str]:
    """One sentence per line, the text before the first TAB. A last line
    without a newline counts; the empty piece after a final newline does not."""
    lines = path.read_text(encoding="utf-8").split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    sentences = [line.rstrip("\r").split("\t", 1)[0] for line in lines]
    return sentences[:limit] if limit is not None else sentences


def write_expected(model_dir: Path, sentences_path: Path, out_path: Path, limit: int | None,
                   attention: str, with_st: bool) -> None:
    sentences = read_sentences(sentences_path, limit)
    timings = {}
    start = time.perf_counter()
    tokenizer = AutoTokenizer.from_pretrained(model_dir)
    model = AutoModel.from_pretrained(model_dir, attn_implementation=attention).float().eval()
    timings["load"] = time.perf_counter() - start
    max_length = min(tokenizer.model_max_length, model.config.max_position_embeddings)
    is_bert = isinstance(model, BertModel)

    start = time.perf_counter()
    encoded = [tokenizer(text, truncation=True, max_length=max_length) for text in sentences]
    timings["tokenize"] = time.perf_counter() - start
    # Truncated, or exactly full: either way worth a look.
    at_max_length = sum(len(e["input_ids"]) == max_length for e in encoded)

    # Batches of equal length need no padding, so each row is the unpadded result.
    by_length: dict[int, list[int]] = defaultdict(list)
    for index, e in enumerate(encoded):
        by_length[len(e["input_ids"])].append(index)
    hidden: list[torch.Tensor | None] = [None] * len(sentences)
    pooler: list[torch.Tensor | None] = [None] * len(sentences)
    tokens_per_batch = 4096
    start = time.perf_counter()
    with torch.inference_mode():
        for length, indices in sorted(by_length.items()):
            step = max(1, tokens_per_batch // length)
            for first in range(0, len(indices), step):
                chunk = indices[first:first + step]
                kwargs = {"input_ids": torch.tensor([encoded[i]["input_ids"] for i in chunk]),
                          "attention_mask": torch.ones(len(chunk), length, dtype=torch.int64)}
                if is_bert:
                    kwargs["token_type_ids"] = torch.tensor(
                        [encoded[i]["token_type_ids"] for i in chunk])
                output = model(**kwargs)
                for row, i in enumerate(chunk):
                    hidden[i] = output.last_hidden_state[row].clone()
                    if getattr(output, "pooler_output", None) is not None:
                        pooler[i] = output.pooler_output[row].clone()
    timings["forward"] = time.perf_counter() - start

    lengths = torch.tensor([h.shape[0] for h in hidden])
    offsets = torch.zeros(len(sentences) + 1, dtype=torch.int64)
    offsets[1:] = torch.cumsum(lengths, 0)
    normalize = torch.nn.functional.normalize
    tensors = {
        "offsets": offsets,
        "input_ids": torch.tensor([i for e in encoded for i in e["input_ids"]], dtype=torch.int64),
        "last_hidden_state": torch.cat(hidden).contiguous(),
        # No padding, so the mask-weighted mean sum(h*m)/max(sum m, 1e-9) is the plain mean.
        "cls": torch.stack([h[0] for h in hidden]),
        "mean": torch.stack([h.sum(0) / max(h.shape[0], 1e-9) for h in hidden]),
    }
    if is_bert:
        tensors["token_type_ids"] = torch.tensor(
            [t for e in encoded for t in e["token_type_ids"]], dtype=torch.int64)
    if all(p is not None for p in pooler):
        tensors["pooler"] = torch.stack(pooler)
    for name in ("cls", "mean", "pooler"):
        if name in tensors:
            tensors[name + "_normalized"] = normalize(tensors[name], p=2, dim=-1)

    info = {"model": str(model_dir), "sentences": str(sentences_path), "count": len(sentences),
            "max_length": max_length, "at_max_length": at_max_length, "attention": attention,
            "transformers": __import__("transformers").__version__, "torch": torch.__version__}
    if with_st and (model_dir / "modules.json").exists():
        from sentence_transformers import SentenceTransformer
        start = time.perf_counter()
        st_model = SentenceTransformer(str(model_dir), device="cpu")
        st = st_model.encode(sentences, batch_size=32, normalize_embeddings=True,
                             convert_to_tensor=True, show_progress_bar=False)
        timings["sentence_transformers"] = time.perf_counter() - start
        tensors["st_embedding"] = st.float().contiguous()
        info["st_max_seq_length"] = st_model.max_seq_length
        st_diff = (tensors["st_embedding"] - tensors["mean_normalized"]).abs().max().item()
        info["st_vs_mean_normalized_max_abs"] = st_diff
        long_ones = sum(len(e["input_ids"]) > st_model.max_seq_length for e in encoded)
        if long_ones:
            log(f"note: {long_ones} sentences exceed sentence-transformers' max_seq_length "
                f"{st_model.max_seq_length}; their st_embedding is of a truncated text")

    info["seconds"] = {k: round(v, 2) for k, v in timings.items()}
    out_path.parent.mkdir(parents=True, exist_ok=True)
    # One metadata key: safetensors writes several in an arbitrary order.
    save_file(tensors, str(out_path), metadata={"info": json.dumps(info, sort_keys=True)})
    log(json.dumps(info, sort_keys=True))
    log(f"{out_path}: {len(sentences)} sentences, {int(offsets[-1])} tokens, "
        f"{out_path.stat().st_size / 1e6:.1f} MB")


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0],
        formatter_class=argparse.RawDescriptionHelpFormatter, epilog=__doc__.split("\n\n", 1)[1])
    parser.add_argument("model_dir", nargs="?", type=Path,
                        help="model folder to create (--shape) or read; default "
                             "models/all-MiniLM-L6-v2 without --shape")
    parser.add_argument("--shape", choices=sorted(SHAPES), help="create a random checkpoint")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--force", action="store_true", help="rewrite even if the stamp matches")
    parser.add_argument("--expected", nargs=2, type=Path,
                        metavar=("SENTENCES.tsv", "OUT.safetensors"))
    parser.add_argument("--limit", type=int, help="only the first N sentences")
    parser.add_argument("--attention", choices=("eager", "sdpa"), default="eager",
                        help="transformers attention kernel (eager: the plain masked softmax)")
    parser.add_argument("--no-sentence-transformers", action="store_true",
                        help="skip the sentence-transformers comparison")
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()

    torch.set_num_threads(args.threads)
    if args.shape:
        if args.model_dir is None:
            parser.error("--shape needs the output folder MODEL_DIR")
        make_model(args.model_dir, args.shape, args.seed, args.force)
    elif args.expected is None:
        parser.error("nothing to do: give --shape, --expected, or both")
    if args.expected:
        model_dir = args.model_dir or DEFAULT_MODEL
        write_expected(model_dir, args.expected[0], args.expected[1], args.limit, args.attention,
                       not args.no_sentence_transformers)
    return 0


if __name__ == "__main__":
    sys.exit(main())
