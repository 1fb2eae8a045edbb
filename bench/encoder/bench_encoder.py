#!/usr/bin/env python3
"""bench/encoder/bench_encoder.py - bertlite's encoder next to every CPU peer, in three precisions.

In one run, on the same sentences and the same thread count (2), for each model (default:
models/all-MiniLM-L6-v2 and a DistilBERT-base-shaped random checkpoint,
.cache/reference/distilbert-base), times these engines (--engines, --precisions):

  fp32  bertlite            build/bench/bench_encoder: packed batches (no padding), forward +
                            pooling (--cls-rows-only adds its [CLS]-rows-only last layer);
        PyTorch careful     transformers AutoModel, torch.inference_mode, batches padded to their
                            longest, attention mask passed;
        ONNX Runtime        the model exported with torch.onnx.export and fused by onnxruntime's
                            transformers optimizer (Attention, SkipLayerNormalization, BiasGelu,
                            EmbedLayerNormalization);
        CTranslate2         ctranslate2.converters.TransformersConverter, compute_type float32;
  bf16  bertlite bf16       bench_encoder --precision bf16;
        PyTorch bf16        the same PyTorch model after model.to(torch.bfloat16);
  int8  bertlite int8       bench_encoder --precision int8;
        ONNX Runtime int8   onnxruntime.quantization.quantize_dynamic of the optimized fp32 graph
                            (QInt8 weights, see ORT_INT8_PER_CHANNEL);
        CTranslate2 int8    converted with quantization="int8", compute_type int8_float32;

on these workloads (--workloads):

  sst2         every SST-2 train sentence (data/sst2/train.tsv), length-sorted batches of 32;
  walkthrough  the first 2,000 of them padded into one batch, torch.no_grad - what the "first
               BERT" walkthrough does (PyTorch only; bertlite fp32 on the same 2,000 in batches
               of 32 for its ratio);
  latency      once per --latency-tokens length N (default 8, 32 and 128: workloads latency-8,
               latency-32, latency-128): 200 inputs of exactly N tokens ([CLS] and [SEP]
               included: consecutive SST-2 sentences joined by spaces until they hold N - 2
               wordpieces, truncated at N), batch 1, one call per input; per-call p50 and p99;

and the GEMM limit: the model's four GEMM shapes (QKV, attention output, FFN in, FFN out) alone
at --gemm-rows rows, with bertlite's Linear in each precision and torch's linear in fp32 and
bf16; per precision and shape the faster library, combined by FLOPs: the most an encoder could
reach if all it did were those GEMMs.

Every engine computes last_hidden_state for every token and the model's own pooling
(sentence-transformers' mean + L2 normalize for MiniLM, [CLS] for DistilBERT). Tokenizing is not
timed: the script tokenizes each workload once with the model's Hugging Face tokenizer and hands
the ids to the Python engines; bertlite tokenizes itself, untimed, and its token counts are
checked against those. The timed pass covers building each batch's tensors, the forward pass and
pooling. Each engine runs in its own process (so one library's thread pool cannot slow
another's, and its peak resident memory, VmHWM, is its own), warms up on its
first 4 batches, then makes one timed pass; --repeats rounds are interleaved in a rotating order
and the medians reported. In the first round every engine's features are compared with bertlite
fp32's on the same inputs, with a threshold per precision (PARITY), and its token and batch
counts with bertlite's: a mismatch stops the run with PARITY FAILURE.

Useful FLOPs (real tokens only, multiply-add = 2), per layer:
  2*T*H*3H + 2*2*sum(L_i^2)*H + 2*T*H*H + 2*2*T*H*I     (see bench_encoder.cpp)
so every engine is credited with the same work on the same sentences, whatever padding it does.

Usage: .venv/bin/python bench/encoder/bench_encoder.py [--model DIR ...] [--engines LIST]
           [--precisions fp32,bf16,int8] [--workloads sst2,walkthrough,latency]
           [--latency-tokens 8,32,128] [--latency-inputs 200] [--quick]
See bench/encoder/README.md.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import inspect
import json
import math
import os
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
DEFAULT_MODELS = [ROOT / "models" / "all-MiniLM-L6-v2", ROOT / ".cache" / "reference" / "distilbert-base"]
DEFAULT_DATA = ROOT / "data" / "sst2" / "train.tsv"
DEFAULT_BERTLITE = ROOT / "build" / "bench" / "bench_encoder"
CACHE = ROOT / ".cache" / "bench_encoder"
EXPORT_VERSION = 1  # bump when a conversion recipe changes, so cached files are remade

WALKTHROUGH_SENTENCES = 2000
LATENCY_INPUTS = 200
LATENCY_TOKENS = (8, 32, 128)  # --latency-tokens: one latency workload per length
WARMUP_BATCHES = 4
PRECISIONS = ("fp32", "bf16", "int8")
# What --workloads names. "latency" runs as one workload per --latency-tokens length N, named
# latency-N (kind() maps each back to "latency"); the others are workloads as they are.
WORKLOADS = ("sst2", "walkthrough", "latency")

# Features must agree per sentence with bertlite fp32's: cosine above the first number and, for
# fp32, no element further off than the second times the largest feature value. (Different
# sentences of the random DistilBERT checkpoint have [CLS] cosines up to ~0.98, so in fp32 the
# cosine alone would be a loose test.) An fp32 engine that misses stops the run: it is not doing
# the same work. bf16 and int8 use the issue's accuracy guards; an engine below its guard is
# reported as such (that is its accuracy, worth seeing next to its speed) and the run goes on.
PARITY = {"fp32": (0.9999, 1e-3), "bf16": (0.999, None), "int8": (0.99, None)}

# ONNX Runtime int8: per-channel weight scales ran as fast as per-tensor ones and keep MiniLM's
# features far closer to fp32 (min cosine 0.966 vs 0.860 on 300 SST-2 sentences; README).
ORT_INT8_PER_CHANNEL = True


@dataclass(frozen=True)
class Engine:
    name: str
    family: str  # bertlite, torch, ort, ct2 or gemm: who runs it
    precision: str
    label: str
    workloads: tuple[str, ...] = ("sst2", "latency")  # kinds: "latency" is every latency-N
    default: bool = True


# In table order. bertlite's three precisions are each compared with the peers of theirs.
ENGINES = {e.name: e for e in (
    Engine("bertlite", "bertlite", "fp32", "bertlite"),
    Engine("bertlite-cls-rows-only", "bertlite", "fp32", "bertlite [CLS]-rows-only", ("sst2",),
           default=False),
    Engine("torch-careful", "torch", "fp32", "PyTorch careful"),
    Engine("ort", "ort", "fp32", "ONNX Runtime"),
    Engine("ct2", "ct2", "fp32", "CTranslate2"),
    Engine("bertlite-bf16", "bertlite", "bf16", "bertlite"),
    Engine("torch-bf16", "torch", "bf16", "PyTorch careful"),
    Engine("bertlite-int8", "bertlite", "int8", "bertlite"),
    Engine("ort-int8", "ort", "int8", "ONNX Runtime dynamic"),
    Engine("ct2-int8", "ct2", "int8", "CTranslate2"),
    Engine("bertlite-first", "bertlite", "fp32", "bertlite", ("walkthrough",)),
    Engine("torch-walkthrough", "torch", "fp32", "PyTorch walkthrough", ("walkthrough",)),
    Engine("gemm-bertlite", "gemm", "fp32", "bertlite oneDNN", ("gemm",)),
    Engine("gemm-torch", "gemm", "fp32", "torch linear", ("gemm",)),
    Engine("gemm-bertlite-bf16", "gemm", "bf16", "bertlite oneDNN", ("gemm",)),
    Engine("gemm-torch-bf16", "gemm", "bf16", "torch linear", ("gemm",)),
    Engine("gemm-bertlite-int8", "gemm", "int8", "bertlite oneDNN", ("gemm",)),
)}
FAMILIES = ("bertlite", "torch", "ort", "ct2", "gemm")
# The bertlite engine each row of a workload kind is compared with (same precision).
BERTLITE_OF = {("walkthrough", "fp32"): "bertlite-first", ("sst2", "fp32"): "bertlite",
               ("latency", "fp32"): "bertlite", ("sst2", "bf16"): "bertlite-bf16",
               ("latency", "bf16"): "bertlite-bf16", ("sst2", "int8"): "bertlite-int8",
               ("latency", "int8"): "bertlite-int8"}

# The issues' targets. Issue 3 (fp32, DistilBERT-base shape, SST-2 batches of 32):
TARGET3_GEMM_SHARE = 0.75
TARGET3_OVER_WALKTHROUGH = 3.0
TARGET3_OVER = {"torch-careful": 1.5, "ort": 1.2}
# Issue 5: bertlite over the fastest peer of its precision (SST-2 and 128-token latency), share
# of that precision's GEMM limit (DistilBERT-base shape), and bf16 / int8 over bertlite fp32.
TARGET5_OVER_PEERS_SST2 = {"fp32": 1.2, "bf16": 1.5, "int8": 1.5}
TARGET5_OVER_PEERS_LATENCY = {"fp32": 1.2, "bf16": 1.2, "int8": 1.2}
TARGET5_LATENCY_TOKENS = 128
TARGET5_GEMM_SHARE = {"fp32": 0.80, "bf16": 0.65}
TARGET5_OVER_FP32 = {"bf16": 1.7, "int8": 2.5}
# Issue 14 (MiniLM and DistilBERT-base shape): bertlite fp32's batch-1 p50 and p99 at 8, 32 and
# 128 tokens <= ONNX Runtime's (the optimized graph) and CTranslate2's. (Its other half, time
# to the first embedding of a fresh process, is bench_first_embedding.py's.)
TARGET14_LATENCY_TOKENS = (8, 32, 128)
TARGET14_PEERS = ("ort", "ct2")


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def latency_workload(tokens: int) -> str:
    """The name of the latency workload at `tokens` tokens per input."""
    return f"latency-{tokens}"


def kind(workload: str) -> str:
    """What a workload is, as --workloads, Engine.workloads and BERTLITE_OF name it: latency-N
    is "latency", the others are themselves."""
    return "latency" if workload.startswith("latency-") else workload


# ---------------------------------------------------------------------------------------------
# Shared by the driver and the workers: sentences, batches, tokens, FLOPs, model shape.

def read_sentences(path: Path, limit: int | None) -> list[str]:
    """Column 0 of a TSV, as bench_encoder's io::read_table reads it: split on newlines, drop
    a trailing CR and the empty piece after a final newline, text before the first TAB."""
    lines = path.read_text(encoding="utf-8").split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    sentences = [line.rstrip("\r").split("\t", 1)[0] for line in lines]
    return sentences[:limit] if limit else sentences


def plan_batches(lengths: list[int], sort: bool, batch_size: int, batch_tokens: int) -> list[list[int]]:
    """bench_encoder.cpp's plan_batches: stable sort longest first, then runs of batch_size
    sentences, or (batch_tokens > 0) as many as fit batch_tokens padded tokens."""
    order = sorted(range(len(lengths)), key=lambda i: -lengths[i]) if sort else list(range(len(lengths)))
    batches, batch, longest = [], [], 0
    for i in order:
        if batch_tokens > 0:
            full = batch and (len(batch) + 1) * max(longest, lengths[i]) > batch_tokens
        else:
            full = len(batch) == batch_size
        if full:
            batches.append(batch)
            batch, longest = [], 0
        batch.append(i)
        longest = max(longest, lengths[i])
    if batch:
        batches.append(batch)
    return batches


def model_shape(folder: Path) -> dict:
    """Layers, hidden, heads, FFN width and architecture from config.json (BERT or DistilBERT)."""
    config = json.loads((folder / "config.json").read_text())
    if config.get("model_type") == "distilbert":
        return {"arch": "distilbert", "layers": config["n_layers"], "hidden": config["dim"],
                "heads": config["n_heads"], "ffn": config["hidden_dim"]}
    return {"arch": "bert", "layers": config["num_hidden_layers"], "hidden": config["hidden_size"],
            "heads": config["num_attention_heads"], "ffn": config["intermediate_size"]}


def useful_flops(shape: dict, lengths: list[int]) -> float:
    """The file comment's formula (no pooler: neither model here pools with it)."""
    H, I = shape["hidden"], shape["ffn"]
    T = float(sum(lengths))
    sum_l2 = float(sum(L * L for L in lengths))
    layer = 2 * T * H * 3 * H + 2 * 2 * sum_l2 * H + 2 * T * H * H + 2 * 2 * T * H * I
    return shape["layers"] * layer


def write_tokens(path: Path, ids: list[list[int]], type_ids: list[list[int]] | None) -> None:
    """The ids of one workload, for the Python engines: flat arrays + lengths (.npz)."""
    import numpy as np

    flat = lambda rows: np.concatenate([np.asarray(r, dtype=np.int64) for r in rows])  # noqa: E731
    np.savez(path, ids=flat(ids), lengths=np.array([len(r) for r in ids], dtype=np.int64),
             type_ids=flat(type_ids) if type_ids is not None else np.zeros(0, dtype=np.int64))


def read_tokens(path: Path) -> tuple[list[list[int]], list[list[int]] | None]:
    import numpy as np

    data = np.load(path)
    ends = np.cumsum(data["lengths"])
    split = lambda flat: [r.tolist() for r in np.split(flat, ends[:-1])]  # noqa: E731
    return split(data["ids"]), (split(data["type_ids"]) if len(data["type_ids"]) else None)


# ---------------------------------------------------------------------------------------------
# Workers: each runs in its own process, prints one JSON line.

def set_threads(threads: int) -> None:
    import torch

    torch.set_num_threads(threads)
    torch.set_num_interop_threads(1)


def pool_torch(hidden, mask, pooling: str, normalize: bool):
    import torch

    if pooling == "mean":
        m = mask.unsqueeze(-1).to(hidden.dtype)
        out = (hidden * m).sum(1) / m.sum(1).clamp(min=1e-9)
    else:
        out = hidden[:, 0]
    if normalize:
        out = torch.nn.functional.normalize(out, p=2, dim=-1)
    return out


def pool_numpy(hidden, mask, pooling: str, normalize: bool):
    import numpy as np

    if pooling == "mean":
        m = mask[:, :, None].astype(np.float32)
        out = (hidden * m).sum(1) / np.maximum(m.sum(1), 1e-9)
    else:
        out = hidden[:, 0]
    if normalize:
        out = out / np.maximum(np.linalg.norm(out, axis=-1, keepdims=True), 1e-12)
    return out


def padded_arrays(ids: list[list[int]], type_ids, batch: list[int], pad_id: int):
    """int64 [B, longest] ids, mask and type ids (or None) for one batch, right-padded."""
    import numpy as np

    longest = max(len(ids[i]) for i in batch)
    input_ids = np.full((len(batch), longest), pad_id, dtype=np.int64)
    mask = np.zeros((len(batch), longest), dtype=np.int64)
    types = np.zeros((len(batch), longest), dtype=np.int64) if type_ids is not None else None
    for row, i in enumerate(batch):
        n = len(ids[i])
        input_ids[row, :n] = ids[i]
        mask[row, :n] = 1
        if types is not None:
            types[row, :n] = type_ids[i]
    return input_ids, mask, types


def timed_passes(run, batches, repeat: int) -> tuple[list[float], list[float], list[float]]:
    """Runs every batch `repeat` times; wall and process-CPU seconds of each pass, and the wall
    seconds of every batch (per-call latency at batch size 1)."""
    seconds, cpu_seconds, batch_seconds = [], [], []
    for _ in range(repeat):
        c0, t0 = time.process_time(), time.perf_counter()  # CPU time of every thread
        for batch in batches:
            b0 = time.perf_counter()
            run(batch)
            batch_seconds.append(time.perf_counter() - b0)
        seconds.append(time.perf_counter() - t0)
        cpu_seconds.append(time.process_time() - c0)
    return seconds, cpu_seconds, batch_seconds


# One function per peer library: it loads the model and returns forward(batch) -> pooled
# features [len(batch), H] as float32 numpy, a context to run inside, and what to report.

def torch_engine(args, engine: Engine, ids, type_ids):
    import torch
    from transformers import AutoModel

    set_threads(args.threads)
    model = AutoModel.from_pretrained(args.model).float().eval()
    if engine.precision == "bf16":
        model = model.to(torch.bfloat16)  # weights and activations; ids and mask as usual
    use_types = type_ids is not None and "token_type_ids" in inspect.signature(model.forward).parameters
    pad_id = model.config.pad_token_id or 0

    def forward(batch):
        input_ids, mask, types = padded_arrays(ids, type_ids if use_types else None, batch, pad_id)
        kwargs = {"input_ids": torch.from_numpy(input_ids), "attention_mask": torch.from_numpy(mask)}
        if types is not None:
            kwargs["token_type_ids"] = torch.from_numpy(types)
        hidden = model(**kwargs).last_hidden_state.float()  # bf16: pooled in fp32
        return pool_torch(hidden, kwargs["attention_mask"], args.pooling, args.normalize).numpy()

    context = torch.no_grad() if engine.name == "torch-walkthrough" else torch.inference_mode()
    return forward, context, {"torch": torch.__version__, "dtype": str(model.dtype),
                              "attention": model.config._attn_implementation}


def ort_engine(args, engine: Engine, ids, type_ids):
    import numpy as np
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = args.threads
    options.inter_op_num_threads = 1
    options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    session = ort.InferenceSession(str(args.artifact), options, providers=["CPUExecutionProvider"])
    dtypes = {i.name: (np.int32 if i.type == "tensor(int32)" else np.int64) for i in session.get_inputs()}

    def forward(batch):
        # The export has no token type input: single sentences are all type 0.
        input_ids, mask, _ = padded_arrays(ids, None, batch, 0)
        feeds = {"input_ids": input_ids.astype(dtypes["input_ids"], copy=False),
                 "attention_mask": mask.astype(dtypes["attention_mask"], copy=False)}
        hidden = session.run(["last_hidden_state"], feeds)[0]
        return pool_numpy(hidden, mask, args.pooling, args.normalize)

    return forward, contextlib.nullcontext(), {"onnxruntime": ort.__version__}


def ct2_engine(args, engine: Engine, ids, type_ids):
    import ctranslate2
    import numpy as np

    compute_type = "int8_float32" if engine.precision == "int8" else "float32"
    encoder = ctranslate2.Encoder(str(args.artifact), device="cpu", intra_threads=args.threads,
                                  inter_threads=1, compute_type=compute_type)

    def forward(batch):
        # Lists of ids (CTranslate2 pads them itself); token types default to 0. Its output
        # also has BERT's pooler, computed whether used or not (B x H x H: ~0.1% of the FLOPs).
        rows = [ids[i] for i in batch]
        hidden = np.asarray(encoder.forward_batch(rows).last_hidden_state)
        mask = np.zeros(hidden.shape[:2], dtype=np.int64)
        for r, row in enumerate(rows):
            mask[r, :len(row)] = 1
        return pool_numpy(hidden, mask, args.pooling, args.normalize)

    return forward, contextlib.nullcontext(), {"ctranslate2": ctranslate2.__version__,
                                               "compute_type": encoder.compute_type}


PEER_ENGINES = {"torch": torch_engine, "ort": ort_engine, "ct2": ct2_engine}


def sentence_worker(args) -> dict:
    """The timing loop every Python engine shares: the workload's ids, batches, warm-up, one
    timed pass (or --repeat), the features."""
    import numpy as np

    engine = ENGINES[args.worker]
    ids, type_ids = read_tokens(args.tokens)
    lengths = [len(x) for x in ids]
    forward, context, info = PEER_ENGINES[engine.family](args, engine, ids, type_ids)
    one_batch = engine.name == "torch-walkthrough"
    batches = [list(range(len(ids)))] if one_batch else \
        plan_batches(lengths, True, args.batch_size, args.batch_tokens)
    features = np.zeros((len(ids), model_shape(args.model)["hidden"]), dtype=np.float32)

    def run(batch: list[int]) -> None:
        features[batch] = forward(batch)

    with context:
        # The walkthrough's one batch is warmed up on a slice of it: the same code, fewer rows.
        for batch in [batches[0][:64]] if one_batch else batches[:WARMUP_BATCHES]:
            run(batch)
        seconds, cpu_seconds, batch_seconds = timed_passes(run, batches, args.repeat)
    if args.features_out:
        np.save(args.features_out, features)
    result = {"impl": engine.name, "threads": args.threads, "sentences": len(ids),
              "tokens": sum(lengths), "batches": len(batches),
              "padded_tokens": sum(len(b) * max(lengths[i] for i in b) for b in batches),
              "seconds": seconds, "cpu_seconds": cpu_seconds, "batch_seconds": batch_seconds,
              "median": statistics.median(seconds)}
    result.update(info)
    return result


def layer_gemms(shape: dict) -> list[tuple[str, int, int]]:
    """(name, K, N) of a layer's four GEMMs, as bench_encoder --gemm-limit times them."""
    H, I = shape["hidden"], shape["ffn"]
    return [("qkv", H, 3 * H), ("attention_output", H, H), ("ffn_in", H, I), ("ffn_out", I, H)]


def gemm_torch_worker(args) -> dict:
    """torch.nn.functional.linear at the model's GEMM shapes: bench_encoder --gemm-limit's twin
    (fp32, or bf16 inputs and weights)."""
    import torch

    set_threads(args.threads)
    dtype = torch.bfloat16 if ENGINES[args.worker].precision == "bf16" else torch.float32
    M = args.gemm_rows
    out = {"impl": args.worker, "threads": args.threads, "gemm": {"rows": M, "shapes": []}}
    flops_sum = median_sum = best_sum = 0.0
    generator = torch.Generator().manual_seed(0)
    with torch.inference_mode():
        for name, K, N in layer_gemms(model_shape(args.model)):
            x = (torch.rand(M, K, generator=generator) * 2 - 1).to(dtype)
            w = (torch.rand(N, K, generator=generator) * 2 - 1).to(dtype)
            b = (torch.rand(N, generator=generator) * 2 - 1).to(dtype)
            y = torch.nn.functional.linear(x, w, b)  # warm-up
            runs = []
            start = time.perf_counter()
            while len(runs) < 5 or time.perf_counter() - start < args.gemm_seconds:
                t0 = time.perf_counter()
                y = torch.nn.functional.linear(x, w, b)
                runs.append(time.perf_counter() - t0)
            del y
            flops = 2.0 * M * K * N
            mid, best = statistics.median(runs), min(runs)
            out["gemm"]["shapes"].append({"name": name, "K": K, "N": N, "repeats": len(runs),
                                          "median_gflops": flops / mid / 1e9,
                                          "best_gflops": flops / best / 1e9})
            flops_sum, median_sum, best_sum = flops_sum + flops, median_sum + mid, best_sum + best
    out["gemm"]["median_gflops"] = flops_sum / median_sum / 1e9
    out["gemm"]["best_gflops"] = flops_sum / best_sum / 1e9
    return out
# ---------------------------------------------------------------------------------------------
# Conversions, once per model, cached under .cache/bench_encoder: ONNX export + optimizer,
# ONNX Runtime int8 quantization, CTranslate2 conversion.

def bert_onnx_attention(module, query, key, value, attention_mask, scaling=None, dropout=0.0,
                        **kwargs):
    """transformers' eager attention written the way BERT was exported before transformers 5
    (scores / sqrt(D) + additive mask), which is the pattern onnxruntime's optimizer fuses into
    its Attention op. The same arithmetic as eager: only the graph's shape differs."""
    import torch

    scores = torch.matmul(query, key.transpose(2, 3)) / math.sqrt(query.size(-1))
    if attention_mask is not None:
        scores = scores + attention_mask
    probs = torch.nn.functional.softmax(scores, dim=-1)
    return torch.matmul(probs, value).transpose(1, 2).contiguous(), None


def export_worker(args) -> dict:
    import numpy as np
    import onnx
    import torch
    from onnx import numpy_helper
    from onnxruntime.transformers import optimizer
    from transformers import AttentionInterface, AutoModel

    set_threads(args.threads)
    shape = model_shape(args.model)
    AttentionInterface.register("bert_onnx", bert_onnx_attention)
    model = AutoModel.from_pretrained(args.model, attn_implementation="bert_onnx").float().eval()

    class LastHiddenState(torch.nn.Module):
        """(input_ids, attention_mask) -> last_hidden_state, with the additive mask built as
        BERT's exports always built it: (1 - mask[:, None, None, :]) * -10000. transformers
        5 builds it with Where, which the optimizer does not recognise; a 4-D mask is passed
        through unchanged. exp(-10000 + x) is 0 in fp32, as the float minimum's is."""

        def __init__(self, inner):
            super().__init__()
            self.inner = inner

        def forward(self, input_ids, attention_mask):
            additive = (1.0 - attention_mask[:, None, None, :].to(torch.float32)) * -10000.0
            return self.inner(input_ids=input_ids, attention_mask=additive).last_hidden_state

    start = time.perf_counter()
    raw = args.artifact.with_name("model_raw.onnx")
    example = torch.tensor([[101, 2023, 2003, 1037, 102], [101, 2023, 102, 0, 0]])
    axes = {0: "batch", 1: "sequence"}
    with torch.no_grad():
        # The TorchScript exporter (dynamo=False): its graph is the one the optimizer's BERT
        # fusions are written for.
        torch.onnx.export(LastHiddenState(model), (example, (example != 0).long()), str(raw),
                          input_names=["input_ids", "attention_mask"],
                          output_names=["last_hidden_state"],
                          dynamic_axes={"input_ids": axes, "attention_mask": axes,
                                        "last_hidden_state": axes},
                          opset_version=17, dynamo=False)
    export_seconds = time.perf_counter() - start

    # The per-head reshape is exported as Reshape(x, Concat(B, L, -1, D)); the optimizer reads
    # the head count from that constant and gives up on -1. Point it at the real count.
    graph = onnx.load(str(raw))
    producer = {o: n for n in graph.graph.node for o in n.output}
    heads_name = "bench_num_heads"
    graph.graph.initializer.append(numpy_helper.from_array(np.array([shape["heads"]], dtype=np.int64),
                                                           heads_name))
    head_size = shape["hidden"] // shape["heads"]
    rewired = 0
    for node in graph.graph.node:
        concat = producer.get(node.input[1]) if node.op_type == "Reshape" else None
        if concat is None or concat.op_type != "Concat" or len(concat.input) != 4:
            continue
        values = []
        for name in concat.input[2:]:
            const = producer.get(name)
            values.append(numpy_helper.to_array(const.attribute[0].t).tolist()
                          if const is not None and const.op_type == "Constant" else None)
        if values == [[-1], [head_size]]:
            concat.input[2] = heads_name
            rewired += 1
    onnx.save(graph, str(raw))

    start = time.perf_counter()
    optimized = optimizer.optimize_model(str(raw), model_type="bert", num_heads=shape["heads"],
                                         hidden_size=shape["hidden"], opt_level=0)
    fused = {k: v for k, v in optimized.get_fused_operator_statistics().items() if v}
    optimized.save_model_to_file(str(args.artifact))
    raw.unlink()
    optimize_seconds = time.perf_counter() - start
    if fused.get("Attention", 0) != shape["layers"]:
        raise SystemExit(f"bench_encoder: the ONNX Runtime optimizer fused {fused.get('Attention', 0)} "
                         f"attention blocks of {shape['layers']}: {fused}")
    return {"impl": "export", "fused": fused, "rewired_reshapes": rewired,
            "export_seconds": export_seconds, "optimize_seconds": optimize_seconds,
            "torch": torch.__version__, "onnx": onnx.__version__}




def quantize_ort_worker(args) -> dict:
    """ONNX Runtime's dynamic int8 quantization of the optimized fp32 graph: int8 weights (QInt8,
    ORT_INT8_PER_CHANNEL), activations quantized at run time; the fused Attention becomes
    QAttention and the MatMuls DynamicQuantizeMatMul / MatMulInteger."""
    import onnx
    from onnxruntime.quantization import QuantType, quantize_dynamic

    start = time.perf_counter()
    # ONNX shape inference stops at the optimizer's contrib ops (Attention, SkipLayerNormalization),
    # so the quantizer cannot type the MatMuls after them: every such tensor is float here.
    quantize_dynamic(str(args.source), str(args.artifact), weight_type=QuantType.QInt8,
                     per_channel=ORT_INT8_PER_CHANNEL,
                     extra_options={"DefaultTensorType": onnx.TensorProto.FLOAT})
    ops: dict[str, int] = {}
    for node in onnx.load(str(args.artifact)).graph.node:
        ops[node.op_type] = ops.get(node.op_type, 0) + 1
    return {"impl": "quantize-ort", "per_channel": ORT_INT8_PER_CHANNEL, "weight_type": "QInt8",
            "ops": ops, "seconds": time.perf_counter() - start}


def convert_ct2_worker(args) -> dict:
    """CTranslate2's own converter (it loads the model with transformers and writes model.bin)."""
    import ctranslate2

    start = time.perf_counter()
    converter = ctranslate2.converters.TransformersConverter(str(args.model))
    converter.convert(str(args.artifact), quantization=args.quantization, force=True)
    return {"impl": "convert-ct2", "quantization": args.quantization,
            "ctranslate2": ctranslate2.__version__, "seconds": time.perf_counter() - start}


PREPARE_WORKERS = {"export-onnx": export_worker, "quantize-ort": quantize_ort_worker,
                   "convert-ct2": convert_ct2_worker}


def peak_rss_mb() -> float:
    """This process's resident high-water mark (VmHWM), as bench_encoder.cpp reports its own."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024  # kB
    return float("nan")


def run_worker(args) -> None:
    if args.worker in PREPARE_WORKERS:
        result = PREPARE_WORKERS[args.worker](args)
    elif ENGINES[args.worker].family == "gemm":
        result = gemm_torch_worker(args)
    else:
        result = sentence_worker(args)
    result["peak_rss_mb"] = peak_rss_mb()
    print(json.dumps(result), flush=True)


# ---------------------------------------------------------------------------------------------
# The driver.

def run_process(cmd: list[str], what: str) -> dict:
    """Runs one worker; its JSON line. (Every worker reports its own peak resident memory,
    VmHWM: wait4's ru_maxrss would not do, Linux carries the forking driver's RSS over exec.)"""
    env = dict(os.environ)
    # torch's OpenMP pool and oneDNN's read these too; each process sets its threads itself as
    # well. No OPENBLAS variables matter here: none of the engines uses OpenBLAS.
    env["OMP_NUM_THREADS"] = cmd[cmd.index("--threads") + 1] if "--threads" in cmd else "2"
    env.setdefault("TOKENIZERS_PARALLELISM", "false")
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True)
    if proc.returncode != 0:
        raise SystemExit(f"bench_encoder: {what} failed (exit {proc.returncode}):\n"
                         f"{proc.stderr.strip()[-4000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def worker_cmd(args, worker: str, model: Path, extra: list[str]) -> list[str]:
    return [sys.executable, str(Path(__file__).resolve()), "--worker", worker, "--worker-model",
            str(model), "--threads", str(args.threads)] + extra


@dataclass
class Workload:
    """One set of inputs, as every engine of the workload sees it."""
    name: str
    title: str
    data: Path  # the sentences file bertlite reads
    limit: int | None
    tokens: Path  # the same, tokenized by the driver, for the Python engines
    lengths: list[int]
    batch_size: int
    batch_tokens: int
    max_length: int  # truncation, special tokens included; 0: the model's


def latency_texts(lengths: list[int], sentences: list[str], count: int, tokens: int) -> list[str]:
    """`count` inputs of consecutive sentences joined by spaces, each with at least `tokens`
    wordpieces, so truncation at `tokens` (with [CLS] and [SEP]) leaves exactly that many."""
    texts, parts, n, i = [], [], 0, 0
    while len(texts) < count:
        parts.append(sentences[i % len(sentences)])
        n += lengths[i % len(sentences)]
        i += 1
        if n >= tokens:
            texts.append(" ".join(parts))
            parts, n = [], 0
    return texts


def prepare_workloads(args, model: Path, tmp: Path) -> dict[str, Workload]:
    """Tokenizes each selected workload once with the model's Hugging Face tokenizer (the same
    ids as bertlite's tokenizer: the token totals are checked after the runs)."""
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(model)
    model_max = min(tokenizer.model_max_length, 512)
    sentences = read_sentences(args.data, args.sentences)
    out = {}

    def add(name, title, data, texts, limit, batch_size, batch_tokens, max_length):
        encoded = tokenizer(texts, truncation=True, max_length=max_length or model_max)
        path = tmp / f"{name}-tokens.npz"
        write_tokens(path, encoded["input_ids"], encoded.get("token_type_ids"))
        out[name] = Workload(name, title, data, limit, path, [len(x) for x in encoded["input_ids"]],
                             batch_size, batch_tokens, max_length)

    batching = (f"{args.batch_tokens} padded tokens" if args.batch_tokens
                else f"{args.batch_size} sentences")
    if "sst2" in args.workloads:
        add("sst2", f"SST-2 train, {len(sentences)} sentences, length-sorted batches of {batching}",
            args.data, sentences, len(sentences), args.batch_size, args.batch_tokens, 0)
    if "walkthrough" in args.workloads:
        n_first = min(WALKTHROUGH_SENTENCES, len(sentences))
        add("walkthrough", f"first {n_first} sentences (the walkthrough's way: one padded batch; "
            f"bertlite in batches of {args.batch_size})", args.data, sentences[:n_first], n_first,
            args.batch_size, 0, 0)
    if "latency" in args.workloads:
        every = read_sentences(args.data, None)
        plain = [len(x) for x in tokenizer(every, add_special_tokens=False)["input_ids"]]
        for tokens in args.latency_tokens:
            if tokens > model_max:
                raise SystemExit(f"bench_encoder: --latency-tokens {tokens}: {model.name} takes at "
                                 f"most {model_max} tokens")
            name = latency_workload(tokens)
            texts = latency_texts(plain, every, args.latency_inputs, tokens - 2)
            data = tmp / f"{name}.tsv"
            data.write_text("".join(t + "\n" for t in texts), encoding="utf-8")
            add(name, f"{name}: {len(texts)} inputs of {tokens} tokens, batch 1, one call each",
                data, texts, None, 1, 0, tokens)
            if set(out[name].lengths) != {tokens}:
                raise SystemExit(f"bench_encoder: {name} inputs are not all {tokens} tokens")
    return out


def ensure_artifact(args, model: Path, path: Path, worker: str, extra: list[str]) -> dict:
    """Makes `path` with a preparation worker unless the cache has it; its report beside it."""
    info_path = path.with_name(path.name + ".json")
    if path.exists() and info_path.exists():
        return json.loads(info_path.read_text())
    path.parent.mkdir(parents=True, exist_ok=True)
    log(f"[{model.name}] {worker} -> {path} (once; cached)")
    info = run_process(worker_cmd(args, worker, model, ["--artifact", str(path)] + extra),
                       f"{worker} of {model}")
    info_path.write_text(json.dumps(info, indent=1) + "\n")
    return info


def prepare_artifacts(args, model: Path, engines: list[str]) -> tuple[dict[str, Path], dict]:
    """The converted models the peers load, per engine, made once per model's weights (the cache
    is keyed by the weights' size and mtime and the recipe version)."""
    weights = next((model / n for n in ("model.safetensors", "pytorch_model.bin")
                    if (model / n).exists()), None)
    if weights is None:
        raise SystemExit(f"bench_encoder: {model} has no model.safetensors or pytorch_model.bin")
    stat = weights.stat()
    key = hashlib.sha256(f"{model.resolve()}|{stat.st_size}|{stat.st_mtime_ns}|{EXPORT_VERSION}"
                         .encode()).hexdigest()[:16]
    folder = CACHE / f"{model.name}-{key}"
    paths, info = {}, {}
    if {"ort", "ort-int8"} & set(engines):
        paths["ort"] = folder / "model_optimized.onnx"
        info["onnx"] = ensure_artifact(args, model, paths["ort"], "export-onnx", [])
    if "ort-int8" in engines:
        name = "model_int8_per_channel.onnx" if ORT_INT8_PER_CHANNEL else "model_int8.onnx"
        paths["ort-int8"] = folder / name
        info["onnx_int8"] = ensure_artifact(args, model, paths["ort-int8"], "quantize-ort",
                                            ["--source", str(paths["ort"])])
    for engine, quantization in (("ct2", "float32"), ("ct2-int8", "int8")):
        if engine in engines:
            paths[engine] = folder / f"ct2-{quantization}"
            info[engine] = ensure_artifact(args, model, paths[engine], "convert-ct2",
                                           ["--quantization", quantization])
    return paths, info


def optimized_onnx(model: Path, threads: int = 2) -> Path:
    """The optimized fp32 ONNX graph the ONNX Runtime engine runs, exported once into the same
    cache (for bench_first_embedding.py, which imports this module)."""
    paths, _ = prepare_artifacts(argparse.Namespace(threads=threads), model, ["ort"])
    return paths["ort"]


def job_cmd(args, model: Path, engine: Engine, workload: Workload | None, pooling: str,
            normalize: bool, artifact: Path | None, features: Path | None) -> list[str]:
    """The command line of one engine on one workload (or of a GEMM-limit run)."""
    threads = ["--threads", str(args.threads)]
    if engine.family == "gemm":
        if engine.name.startswith("gemm-bertlite"):
            return [str(args.bertlite), "--gemm-limit", "--model", str(model), "--precision",
                    engine.precision, "--gemm-rows", str(args.gemm_rows), "--seconds",
                    str(args.gemm_seconds)] + threads
        return worker_cmd(args, engine.name, model, ["--gemm-rows", str(args.gemm_rows),
                                                     "--gemm-seconds", str(args.gemm_seconds)])
    batching = (["--batch-tokens", str(workload.batch_tokens)] if workload.batch_tokens
                else ["--batch-size", str(workload.batch_size)])
    common = batching + ["--pooling", pooling, "--repeat", "1"]
    common += ["--features-out", str(features)] if features else []
    if engine.family == "bertlite":
        cmd = [str(args.bertlite), "--model", str(model), "--sentences", str(workload.data),
               "--precision", engine.precision, "--normalize", "yes" if normalize else "no",
               "--warmup-batches", str(WARMUP_BATCHES), "--profile"] + threads + common
        cmd += ["--limit", str(workload.limit)] if workload.limit else []
        cmd += ["--max-length", str(workload.max_length)] if workload.max_length else []
        cmd += ["--cls-rows-only"] if engine.name == "bertlite-cls-rows-only" else []
        return cmd
    cmd = worker_cmd(args, engine.name, model, ["--tokens", str(workload.tokens)] + common)
    cmd += ["--normalize"] if normalize else []
    cmd += ["--artifact", str(artifact)] if artifact else []
    return cmd


def cosine_check(name: str, reference, other, label: str, precision: str) -> dict:
    """Per-sentence cosine (and, in fp32, largest element difference) against the reference
    features, with the precision's thresholds (PARITY)."""
    import numpy as np

    if reference.shape != other.shape:
        raise SystemExit(f"bench_encoder: PARITY FAILURE [{name}] {label}: features "
                         f"{other.shape}, bertlite {reference.shape}")
    min_cosine, max_relative_diff = PARITY[precision]
    a, b = reference.astype(np.float64), other.astype(np.float64)
    cos = (a * b).sum(1) / np.maximum(np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1), 1e-30)
    worst = int(np.argmin(cos))
    max_abs = float(np.abs(a - b).max())
    scale = float(np.abs(a).max())
    meets_guard = bool(cos[worst] > min_cosine)
    if not meets_guard and precision != "fp32":
        log(f"[{name}] {label}: sentence {worst} has cosine {cos[worst]:.6f} with bertlite fp32's "
            f"features, below the {precision} guard {min_cosine}")
    elif not meets_guard:
        raise SystemExit(f"bench_encoder: PARITY FAILURE [{name}] {label}: sentence {worst} has "
                         f"cosine {cos[worst]:.6f} with bertlite fp32's features (need > "
                         f"{min_cosine} in {precision})")
    if max_relative_diff is not None and not max_abs <= max_relative_diff * scale:
        row = int(np.unravel_index(np.argmax(np.abs(a - b)), a.shape)[0])
        raise SystemExit(f"bench_encoder: PARITY FAILURE [{name}] {label}: sentence {row} differs "
                         f"from bertlite's features by {max_abs:.3g} (values up to {scale:.3g})")
    return {"engine": label, "precision": precision, "min_cosine": float(cos[worst]),
            "mean_cosine": float(cos.mean()), "max_abs_diff": max_abs, "max_abs_value": scale,
            "threshold": min_cosine, "meets_guard": meets_guard}


def check_parity(name: str, runs: dict, tmp: Path) -> list[dict]:
    """Every engine's features against bertlite fp32's on the same inputs (the walkthrough's
    against bertlite's on its 2,000 sentences); bertlite's own features must not depend on the
    batch (the first 2,000 of SST-2 against the same sentences in the full run)."""
    import numpy as np

    checks = []
    features = lambda workload, engine: np.load(tmp / f"{workload}-{engine}.npy")  # noqa: E731
    for (engine, workload) in runs:
        reference = "bertlite-first" if workload == "walkthrough" else "bertlite"
        if workload is None or engine == reference:
            continue
        if (reference, workload) not in runs:
            log(f"[{name}] no parity check of {engine} on {workload}: bertlite fp32 not run")
            continue
        checks.append(cosine_check(name, features(workload, reference), features(workload, engine),
                                   f"{workload}/{engine}", ENGINES[engine].precision))
    if ("bertlite", "sst2") in runs and ("bertlite-first", "walkthrough") in runs:
        first = features("walkthrough", "bertlite-first")
        checks.append(cosine_check(name, features("sst2", "bertlite")[:len(first)], first,
                                   "bertlite batch-independence", "fp32"))
    for c in checks:
        log(f"[{name}] parity: {c['engine']:32s} min cosine {c['min_cosine']:.7f}, max |diff| "
            f"{c['max_abs_diff']:.2e} (values up to {c['max_abs_value']:.2f})")
    return checks


def check_counts(name: str, runs: dict, workloads: dict[str, Workload]) -> None:
    """Same sentences, same tokens, same batches as the workload: or the comparison means
    nothing. (bertlite tokenizes itself; the others get the driver's ids.)"""
    for (engine, workload), results in runs.items():
        if workload is None:
            continue
        w = workloads[workload]
        batches = [list(range(len(w.lengths)))] if engine == "torch-walkthrough" else \
            plan_batches(w.lengths, True, w.batch_size, w.batch_tokens)
        want = (len(w.lengths), sum(w.lengths), len(batches),
                sum(len(b) * max(w.lengths[i] for i in b) for b in batches))
        for r in results:
            got = (r["sentences"], r["tokens"], r["batches"], r["padded_tokens"])
            if got != want:
                raise SystemExit(f"bench_encoder: PARITY FAILURE [{name}] {engine} on {workload}: "
                                 f"sentences, tokens, batches, padded tokens {got}, expected {want}")


def summarize_gemm(runs: dict) -> dict:
    """Per precision: medians over rounds per library and shape; the limit takes the faster
    library per shape and combines the shapes by FLOPs (each appears once per layer)."""
    out = {}
    for precision in PRECISIONS:
        libs = {}
        for engine in ENGINES.values():
            if engine.family != "gemm" or engine.precision != precision or (engine.name, None) not in runs:
                continue
            results = [r["gemm"] for r in runs[(engine.name, None)]]
            shapes = []
            for k, s in enumerate(results[0]["shapes"]):
                shapes.append({"name": s["name"], "K": s["K"], "N": s["N"],
                               "median_gflops": statistics.median(r["shapes"][k]["median_gflops"]
                                                                  for r in results),
                               "best_gflops": max(r["shapes"][k]["best_gflops"] for r in results),
                               "implementation": s.get("implementation", "")})
            libs[engine.name] = {"label": engine.label, "rows": results[0]["rows"], "shapes": shapes,
                                 "median_gflops": statistics.median(r["median_gflops"] for r in results),
                                 "best_gflops": max(r["best_gflops"] for r in results)}
        if not libs:
            continue
        first = next(iter(libs.values()))
        flops = seconds = 0.0
        for k, s in enumerate(first["shapes"]):
            f = 2.0 * first["rows"] * s["K"] * s["N"]
            flops += f
            seconds += min(f / (lib["shapes"][k]["median_gflops"] * 1e9) for lib in libs.values())
        out[precision] = {"rows": first["rows"], "libraries": libs,
                          "limit_gflops": flops / seconds / 1e9}
    return out


def percentile(values: list[float], q: float) -> float:
    import numpy as np

    return float(np.percentile(np.asarray(values), q))


def metric(workload: str, row: dict) -> float:
    """What bertlite's ratios compare: a whole pass, or at batch 1 the median call."""
    return row["p50_s"] if kind(workload) == "latency" else row["median_s"]


def summarize_rows(name: str, runs: dict, workloads: dict[str, Workload], shape: dict,
                   gemm: dict) -> dict:
    """rows[workload][engine]: medians over rounds, per-batch percentiles, peak memory, useful
    GFLOPS and share of the precision's GEMM limit, bertlite's ratios."""
    rows: dict[str, dict] = {}
    for engine_name in ENGINES:
        for workload in workloads:
            results = runs.get((engine_name, workload))
            if not results:
                continue
            engine, w = ENGINES[engine_name], workloads[workload]
            seconds = [s for r in results for s in r["seconds"]]
            cpu = [s for r in results for s in r["cpu_seconds"]]
            calls = [s for r in results for s in r["batch_seconds"]]
            first, mid = results[0], statistics.median(seconds)
            row = {"engine": engine_name, "label": engine.label, "precision": engine.precision,
                   "sentences": first["sentences"], "tokens": first["tokens"],
                   "batches": first["batches"], "padded_tokens": first["padded_tokens"],
                   "median_s": mid, "min_s": min(seconds), "max_s": max(seconds),
                   "seconds": seconds, "cpu_seconds": cpu, "cores_used": statistics.median(cpu) / mid,
                   "p50_s": percentile(calls, 50), "p99_s": percentile(calls, 99),
                   "sentences_per_s": first["sentences"] / mid, "tokens_per_s": first["tokens"] / mid,
                   "peak_rss_mb": max(r["peak_rss_mb"] for r in results),
                   "max_load_average": max(max(r["load_average"]) for r in results)}
            for key in ("torch", "dtype", "attention", "onnxruntime", "ctranslate2", "compute_type",
                        "gemm_implementation", "profile"):
                if key in first:
                    row[key] = first[key]
            # Useful FLOPs from the driver's token lengths, checked against bertlite's own count.
            row["useful_flops"] = row["flops_done"] = useful_flops(shape, w.lengths)
            if engine.family == "bertlite":
                reported = first["useful_flops"]
                if abs(reported - row["useful_flops"]) > 1e-9 * reported:
                    raise SystemExit(f"bench_encoder: [{name}] FLOP counts differ: bertlite "
                                     f"{reported}, bench_encoder.py {row['useful_flops']}")
                row["flops_done"] = first["flops_done"]
            row["gflops"] = row["flops_done"] / mid / 1e9
            limit = gemm.get(engine.precision, {}).get("limit_gflops")
            row["gemm_share"] = row["gflops"] / limit if limit else None
            rows.setdefault(workload, {})[engine_name] = row
    for workload, wrows in rows.items():
        for engine_name, row in wrows.items():
            engine = ENGINES[engine_name]
            ref = wrows.get(BERTLITE_OF.get((kind(workload), engine.precision)))
            if engine.family != "bertlite" and ref:
                row["bertlite_speedup"] = metric(workload, row) / metric(workload, ref)
            if engine_name in ("bertlite-bf16", "bertlite-int8", "bertlite-cls-rows-only") and \
                    "bertlite" in wrows:
                row["speedup_vs_fp32"] = metric(workload, wrows["bertlite"]) / metric(workload, row)
    return rows


def fastest_peers(rows: dict) -> dict:
    """Per workload (SST-2, each latency-N) and precision: bertlite's ratio to the fastest peer."""
    out = {}
    for workload, wrows in rows.items():
        if kind(workload) not in ("sst2", "latency"):
            continue
        for precision in PRECISIONS:
            mine = wrows.get(BERTLITE_OF[(kind(workload), precision)])
            peers = [r for r in wrows.values() if r["precision"] == precision
                     and ENGINES[r["engine"]].family != "bertlite"]
            if mine and peers:
                best = min(peers, key=lambda r: metric(workload, r))
                out.setdefault(workload, {})[precision] = {
                    "peer": best["engine"], "label": best["label"],
                    "ratio": metric(workload, best) / metric(workload, mine)}
    return out


def is_distilbert_base(shape: dict) -> bool:
    return shape["arch"] == "distilbert" and shape["hidden"] == 768


def targets(shape: dict, rows: dict, gemm: dict, best: dict) -> list[dict]:
    """The issues' targets that this run measured (GEMM shares: DistilBERT-base shape only)."""
    out = []

    def add(issue, target, value, met):
        out.append({"issue": issue, "target": target, "value": value, "met": met})

    sst2, walk = rows.get("sst2", {}), rows.get("walkthrough", {})
    if is_distilbert_base(shape):
        bl = sst2.get("bertlite")
        if bl and bl.get("gemm_share"):
            add(3, f"fp32 >= {TARGET3_GEMM_SHARE:.0%} of the GEMM limit on useful work (SST-2)",
                f"{bl['gemm_share']:.0%}", bl["gemm_share"] >= TARGET3_GEMM_SHARE)
        if "bertlite_speedup" in walk.get("torch-walkthrough", {}):
            ratio = walk["torch-walkthrough"]["bertlite_speedup"]
            add(3, f"fp32 >= {TARGET3_OVER_WALKTHROUGH:g}x PyTorch walkthrough", f"{ratio:.2f}x",
                ratio >= TARGET3_OVER_WALKTHROUGH)
        for engine, goal in TARGET3_OVER.items():
            if "bertlite_speedup" in sst2.get(engine, {}):
                ratio = sst2[engine]["bertlite_speedup"]
                add(3, f"fp32 >= {goal:g}x {ENGINES[engine].label} (SST-2)", f"{ratio:.2f}x",
                    ratio >= goal)
    for workload, goals, what in (
            ("sst2", TARGET5_OVER_PEERS_SST2, "SST-2"),
            (latency_workload(TARGET5_LATENCY_TOKENS), TARGET5_OVER_PEERS_LATENCY,
             f"{TARGET5_LATENCY_TOKENS}-token batch-1 p50 latency")):
        for precision, goal in goals.items():
            b = best.get(workload, {}).get(precision)
            if b:
                add(5, f"{precision} >= {goal:g}x the fastest {precision} peer ({what})",
                    f"{b['ratio']:.2f}x ({b['label']})", b["ratio"] >= goal)
    if is_distilbert_base(shape):
        for precision, goal in TARGET5_GEMM_SHARE.items():
            row = sst2.get(BERTLITE_OF[("sst2", precision)])
            if row and row.get("gemm_share"):
                add(5, f"{precision} >= {goal:.0%} of the {precision} GEMM limit on useful work (SST-2)",
                    f"{row['gemm_share']:.0%} ({row['gflops']:.0f} of "
                    f"{gemm[precision]['limit_gflops']:.0f})", row["gemm_share"] >= goal)
    for precision, goal in TARGET5_OVER_FP32.items():
        row = sst2.get(BERTLITE_OF[("sst2", precision)])
        if row and "speedup_vs_fp32" in row:
            add(5, f"bertlite {precision} >= {goal:g}x bertlite fp32 (SST-2)",
                f"{row['speedup_vs_fp32']:.2f}x", row["speedup_vs_fp32"] >= goal)
    for tokens in TARGET14_LATENCY_TOKENS:
        wrows = rows.get(latency_workload(tokens), {})
        bl = wrows.get("bertlite")
        for peer in TARGET14_PEERS:
            other = wrows.get(peer)
            if bl and other:
                ms = lambda r, p: r[p] * 1e3  # noqa: E731
                add(14, f"fp32 batch-1 p50 and p99 <= {other['label']}'s ({tokens}-token inputs)",
                    f"p50 {ms(bl, 'p50_s'):.2f} vs {ms(other, 'p50_s'):.2f} ms, p99 "
                    f"{ms(bl, 'p99_s'):.2f} vs {ms(other, 'p99_s'):.2f} ms",
                    bl["p50_s"] <= other["p50_s"] and bl["p99_s"] <= other["p99_s"])
    return out


def bench_model(args, model: Path) -> dict:
    shape = model_shape(model)
    # The model's pooling as bertlite reads it (sentence-transformers config, else [CLS]).
    probe = run_process([str(args.bertlite), "--model", str(model), "--sentences", str(args.data),
                         "--limit", "1", "--warmup-batches", "0", "--threads", str(args.threads)],
                        f"bertlite probe of {model}")
    pooling, normalize = probe["pooling"], probe["normalize"]
    engines = list(args.engines)
    if "bertlite-cls-rows-only" in engines and pooling == "mean":
        log(f"[{model.name}] mean pooling: no [CLS]-rows-only row")
        engines.remove("bertlite-cls-rows-only")
    artifacts, conversions = prepare_artifacts(args, model, engines)

    runs: dict[tuple[str, str | None], list[dict]] = {}
    parity = []
    with tempfile.TemporaryDirectory(prefix="bench_encoder_") as tmp:
        tmp = Path(tmp)
        workloads = prepare_workloads(args, model, tmp)
        jobs = []  # (engine, workload), or (engine, None) for a GEMM limit
        for e in engines:
            if ENGINES[e].family == "gemm":
                jobs.append((e, None))
            else:
                jobs += [(e, w) for w in workloads if kind(w) in ENGINES[e].workloads]
        for round_index in range(args.repeats):
            shift = round_index % len(jobs)
            for engine, workload in jobs[shift:] + jobs[:shift]:
                features = tmp / f"{workload}-{engine}.npy" if round_index == 0 and workload else None
                cmd = job_cmd(args, model, ENGINES[engine], workloads.get(workload), pooling,
                              normalize, artifacts.get(engine), features)
                load_before = os.getloadavg()[0]
                result = run_process(cmd, f"{engine} on {model} ({workload or 'GEMM limit'})")
                # The 1-minute load average around each run: above the thread count, other
                # processes were competing for the cores (see the cores column too).
                result["load_average"] = [load_before, os.getloadavg()[0]]
                runs.setdefault((engine, workload), []).append(result)
                if workload:
                    log(f"[{model.name}] round {round_index + 1}/{args.repeats} {workload:11s} "
                        f"{engine:22s} {result['median']:8.2f} s  "
                        f"{result['sentences'] / result['median']:8.1f} sentences/s  "
                        f"(CPU {result['cpu_seconds'][0]:.1f} s, peak {result['peak_rss_mb']:.0f} MB)")
                else:
                    log(f"[{model.name}] round {round_index + 1}/{args.repeats} {engine:34s} "
                        f"{result['gemm']['median_gflops']:8.1f} GFLOPS at M={args.gemm_rows}")
            if round_index == 0:
                parity = check_parity(model.name, runs, tmp)
        check_counts(model.name, runs, workloads)

    gemm = summarize_gemm(runs)
    rows = summarize_rows(model.name, runs, workloads, shape, gemm)
    best = fastest_peers(rows)
    return {"model": str(model), "name": model.name, "shape": shape, "pooling": pooling,
            "normalize": normalize, "workloads": {k: {"title": w.title, "kind": kind(k),
                                                      "sentences": len(w.lengths),
                                                      "tokens": sum(w.lengths)}
                                                  for k, w in workloads.items()},
            "conversions": conversions, "gemm": gemm, "rows": rows, "fastest_peers": best,
            "parity": parity, "targets": targets(shape, rows, gemm, best)}


def print_report(report: dict) -> None:
    v = report["versions"]
    print(f"bertlite encoder benchmark: {report['threads']} threads; {report['data']}; "
          + ", ".join(f"{k} {v[k]}" for k in ("torch", "transformers", "onnxruntime", "ctranslate2")
                      if v.get(k))
          + f"; medians of {report['repeats']} interleaved rounds; tokenizing not timed")
    print("GFLOPS = useful FLOPs (real tokens only) / median time (int8: operations); % limit = "
          "share of the\nGEMM limit of the row's precision; p50/p99 = per call (batch 1) or per "
          "batch; peak MB = the engine\nprocess's resident high-water mark (VmHWM: "
          "interpreter, libraries, model and all, nothing\nsubtracted); cores = CPU seconds / wall "
          "seconds; load = highest 1-minute load average around the\nruns (above the thread "
          "count, other processes shared the cores); bertlite is = peer's time /\nbertlite's in "
          "the same precision (latency-N: p50 / p50); (x) = bertlite fp32's time / this row's")
    for m in report["models"]:
        s = m["shape"]
        print(f"\n## {m['name']}: {s['arch']}, {s['layers']} layers, H {s['hidden']}, "
              f"{s['heads']} heads, FFN {s['ffn']}; pooling {m['pooling']}"
              f"{' + L2 normalize' if m['normalize'] else ''}")
        if m["gemm"]:
            rows_m = next(iter(m["gemm"].values()))["rows"]
            print(f"GEMM limit at M = {rows_m} rows (median GFLOPS per shape; best of rounds in "
                  f"brackets):")
            for precision, g in m["gemm"].items():
                for lib in g["libraries"].values():
                    cells = "  ".join(f"{sh['name']} {sh['K']}x{sh['N']}: {sh['median_gflops']:.0f} "
                                      f"[{sh['best_gflops']:.0f}]" for sh in lib["shapes"])
                    print(f"  {precision} {lib['label']:16s} layer mix {lib['median_gflops']:6.1f}  "
                          f"|  {cells}")
                print(f"  {precision} limit (faster library per shape, by FLOPs): "
                      f"{g['limit_gflops']:.1f} {'GOPS' if precision == 'int8' else 'GFLOPS'}")
        header = (f"{'engine':33s} {'prec':4s} {'sent/s':>8s} {'tokens/s':>8s} {'GFLOPS':>7s} "
                  f"{'%limit':>6s} {'p50 ms':>8s} {'p99 ms':>8s} {'peak MB':>7s} {'median s':>8s} "
                  f"{'(min..max)':>13s} {'cores':>5s} {'load':>4s} {'bertlite is':>11s}")
        for workload, wrows in m["rows"].items():
            w = m["workloads"][workload]
            print(f"\n{w['title']}: {w['tokens']} tokens")
            print(header)
            print("-" * len(header))
            for r in wrows.values():
                ratio = (f"{r['bertlite_speedup']:.2f}x" if "bertlite_speedup" in r
                         else f"(x{r['speedup_vs_fp32']:.2f})" if "speedup_vs_fp32" in r else "")
                share = f"{r['gemm_share']:.0%}" if r.get("gemm_share") else "-"
                label = r["label"]
                if r["padded_tokens"] != r["tokens"] and ENGINES[r["engine"]].family != "bertlite":
                    label += f" ({r['padded_tokens'] / r['tokens']:.2f}x pad)"
                spread = f"{r['min_s']:.2f}..{r['max_s']:.2f}"
                print(f"{label:33s} {r['precision']:4s} {r['sentences_per_s']:8.1f} "
                      f"{r['tokens_per_s']:8.0f} {r['gflops']:7.1f} {share:>6s} "
                      f"{r['p50_s'] * 1e3:8.2f} {r['p99_s'] * 1e3:8.2f} {r['peak_rss_mb']:7.0f} "
                      f"{r['median_s']:8.2f} {spread:>13s} {r['cores_used']:5.2f} "
                      f"{r['max_load_average']:4.1f} {ratio:>11s}")
        for workload, per_precision in m["fastest_peers"].items():
            print(f"bertlite vs the fastest peer, {workload}: " + "; ".join(
                f"{p} {b['ratio']:.2f}x ({b['label']})" for p, b in per_precision.items()))
        for workload, wrows in m["rows"].items():
            bl = wrows.get("bertlite")
            if workload == "sst2" and bl and "profile" in bl:
                prof = bl["profile"]
                total = sum(v["seconds"] for v in prof.values())
                parts = sorted(prof.items(), key=lambda kv: -kv[1]["seconds"])
                print("bertlite fp32, where the time goes (SST-2, first round): " + ", ".join(
                    f"{k} {v['seconds'] / total:.0%}"
                    + (f" ({v['flops'] / v['seconds'] / 1e9:.0f} GFLOPS)" if v["flops"] and v["seconds"] else "")
                    for k, v in parts))
        if m["parity"]:
            print("parity (features vs bertlite fp32's, same inputs; min cosine): " + "; ".join(
                f"{p['engine']} {p['min_cosine']:.5f}"
                + ("" if p["meets_guard"] else f" (BELOW the {p['precision']} guard {p['threshold']})")
                for p in m["parity"]))
        conv = m["conversions"]
        if "onnx" in conv:
            print(f"ONNX: fused {conv['onnx'].get('fused')}")
        if "onnx_int8" in conv:
            ops = conv["onnx_int8"]["ops"]
            print(f"ONNX int8 ({'per-channel' if conv['onnx_int8']['per_channel'] else 'per-tensor'} "
                  f"QInt8 weights): " + ", ".join(f"{k} {ops[k]}" for k in sorted(ops)
                                                  if k.startswith(("Q", "Dynamic", "MatMul"))))
        if m["targets"]:
            print("targets (issue 3: fp32, DistilBERT-base shape; issue 5; issue 14: fp32 "
                  "batch-1 latency):")
            for t in m["targets"]:
                print(f"  [{'met' if t['met'] else 'not met'}] issue {t['issue']}: {t['target']}: "
                      f"{t['value']}")


def select_engines(parser, spec: str, precisions: list[str], cls_rows_only: bool) -> list[str]:
    """--engines names engines or families (bertlite, torch, ort, ct2, gemm), or 'all'."""
    items = {x.strip() for x in spec.split(",") if x.strip()}
    unknown = items - set(ENGINES) - set(FAMILIES) - {"all"}
    if unknown:
        parser.error(f"unknown engines {sorted(unknown)}; choose from all, "
                     f"{','.join(FAMILIES)}, {','.join(ENGINES)}")
    if cls_rows_only:
        items.add("bertlite-cls-rows-only")
    return [e.name for e in ENGINES.values() if e.precision in precisions and (
        e.name in items or (e.default and ("all" in items or e.family in items)))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", type=Path, action="append",
                        help="model folder (repeatable; default: MiniLM and the DistilBERT-base "
                             "shape in .cache/reference)")
    parser.add_argument("--bertlite", type=Path, default=DEFAULT_BERTLITE,
                        help="the bench_encoder executable (default: %(default)s)")
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA,
                        help="sentences, column 0 of a TSV (default: %(default)s)")
    parser.add_argument("--sentences", type=int, default=0,
                        help="SST-2 workload: the first N sentences (default: all); the "
                             f"walkthrough uses the first {WALKTHROUGH_SENTENCES} of them")
    parser.add_argument("--latency-inputs", type=int, default=LATENCY_INPUTS,
                        help="inputs of each latency workload (default: %(default)s)")
    parser.add_argument("--latency-tokens", default=",".join(map(str, LATENCY_TOKENS)),
                        help="comma-separated tokens per input ([CLS] and [SEP] included): one "
                             "batch-1 latency workload, latency-N, per length (default: "
                             "%(default)s)")
    parser.add_argument("--batch-size", type=int, default=32, help="sentences per batch")
    parser.add_argument("--batch-tokens", type=int, default=0,
                        help="instead: fill sorted batches up to N padded tokens")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=3,
                        help="interleaved rounds, one timed pass per engine each (default: 3)")
    parser.add_argument("--gemm-rows", type=int, default=2048, help="M for the GEMM limit")
    parser.add_argument("--gemm-seconds", type=float, default=2.0, help="time per GEMM shape")
    parser.add_argument("--engines", default="all",
                        help=f"comma-separated engines or families: all, {','.join(FAMILIES)}, "
                             f"{','.join(ENGINES)} (default: all but bertlite-cls-rows-only)")
    parser.add_argument("--precisions", default=",".join(PRECISIONS),
                        help="comma-separated subset of %(default)s")
    parser.add_argument("--workloads", default=",".join(WORKLOADS),
                        help="comma-separated subset of %(default)s (latency: every "
                             "--latency-tokens length)")
    parser.add_argument("--cls-rows-only", action="store_true",
                        help="add a bertlite row with the [CLS]-rows-only last layer")
    parser.add_argument("--quick", action="store_true",
                        help="1,000 sentences, 50 inputs per latency length, one round, 1 s per "
                             "GEMM shape")
    parser.add_argument("--json", action="store_true", help="print the report as JSON")
    parser.add_argument("--json-out", type=Path, help="also write the JSON report here")
    # Internal: worker processes.
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    parser.add_argument("--worker-model", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--tokens", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--pooling", help=argparse.SUPPRESS)
    parser.add_argument("--normalize", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--repeat", type=int, default=1, help=argparse.SUPPRESS)
    parser.add_argument("--features-out", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--artifact", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--source", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--quantization", help=argparse.SUPPRESS)
    args = parser.parse_args()

    if args.worker:
        args.model = args.worker_model
        run_worker(args)
        return
    if args.quick:
        args.sentences = args.sentences or 1000
        args.latency_inputs = min(args.latency_inputs, 50)
        args.repeats = 1
        args.gemm_seconds = 1.0
    args.precisions = [p.strip() for p in args.precisions.split(",") if p.strip()]
    args.workloads = [w.strip() for w in args.workloads.split(",") if w.strip()]
    if set(args.precisions) - set(PRECISIONS) or set(args.workloads) - set(WORKLOADS):
        parser.error(f"--precisions: subset of {','.join(PRECISIONS)}; --workloads: subset of "
                     f"{','.join(WORKLOADS)}")
    try:
        lengths = [int(n) for n in args.latency_tokens.split(",") if n.strip()]
    except ValueError:
        lengths = []
    if not lengths or min(lengths) < 3:
        parser.error("--latency-tokens: comma-separated token counts, each >= 3 ([CLS], [SEP] and "
                     "at least one wordpiece)")
    args.latency_tokens = list(dict.fromkeys(lengths))  # in the order given, once each
    if args.latency_inputs < 1:
        parser.error("--latency-inputs must be >= 1")
    args.engines = select_engines(parser, args.engines, args.precisions, args.cls_rows_only)
    if not args.engines:
        parser.error("no engine selected")
    if args.repeats < 1 or args.threads < 1:
        parser.error("--repeats and --threads must be >= 1")
    if not args.bertlite.is_file():
        parser.error(f"{args.bertlite} is not built (cmake --build BUILD --target bench_encoder)")
    args.bertlite = args.bertlite.resolve()
    models = args.model or DEFAULT_MODELS
    for m in models:
        if not (m / "config.json").is_file():
            parser.error(f"{m}: no config.json (for the DistilBERT shape run "
                         f"tools/make_reference_model.py {m} --shape distilbert-base)")

    import torch
    import transformers

    versions = {"torch": torch.__version__, "transformers": transformers.__version__}
    for family, module in (("ort", "onnxruntime"), ("ct2", "ctranslate2")):
        if any(ENGINES[e].family == family for e in args.engines):
            try:
                versions[module] = __import__(module).__version__
            except ImportError:
                parser.error(f"{module} is not installed: .venv/bin/pip install -r "
                             f"bench/requirements.txt (or leave out --engines {family})")
    log(f"engines: {', '.join(args.engines)}; workloads: {', '.join(args.workloads)}")
    start = time.perf_counter()
    report = {"threads": args.threads, "data": str(args.data), "repeats": args.repeats,
              "engines": args.engines, "versions": versions, "models": []}
    for m in models:
        report["models"].append(bench_model(args, m))
        report["seconds"] = time.perf_counter() - start
        if args.json_out:  # after each model, so a long run that is stopped keeps what it did
            args.json_out.write_text(json.dumps(report, indent=1) + "\n")
    if args.json:
        print(json.dumps(report, indent=1))
    else:
        print_report(report)
        print(f"\n(run took {report['seconds'] / 60:.1f} min)")


if __name__ == "__main__":
    main()
