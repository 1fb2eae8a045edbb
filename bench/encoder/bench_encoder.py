#!/usr/bin/env python3
"""bench/encoder/bench_encoder.py - bertlite's encoder next to PyTorch and ONNX Runtime.

In one run, on the same sentences (SST-2 train, data/sst2/train.tsv) and the same thread count
(2), for each model (default: models/all-MiniLM-L6-v2 and a DistilBERT-base-shaped random
checkpoint, .cache/reference/distilbert-base), times:

  bertlite            build/bench/bench_encoder: packed batches (no padding), forward + pooling;
  PyTorch careful     transformers AutoModel, torch.inference_mode, length-sorted batches of 32
                      sentences, each padded to its longest, attention mask passed;
  ONNX Runtime        the model exported with torch.onnx.export and fused by onnxruntime's
                      transformers optimizer (Attention, SkipLayerNormalization, BiasGelu,
                      EmbedLayerNormalization), fp32, the same sorted batches of 32;
  PyTorch walkthrough the first 2,000 sentences padded into one batch, attention mask passed,
                      torch.no_grad - what the "first BERT" walkthrough does; bertlite is run on
                      the same 2,000 sentences (batches of 32) for its ratio;
  GEMM limit          the model's four GEMM shapes (QKV, attention output, FFN in, FFN out) alone
                      at --gemm-rows rows, with bertlite's oneDNN Linear and with torch's linear:
                      per shape the faster library, combined by FLOPs: the most an encoder could
                      reach if all it did were those GEMMs.

Every engine computes last_hidden_state for every token (bertlite too, unless --cls-rows-only
adds a row for its [CLS]-only last layer) and the model's own pooling (sentence-transformers'
mean + L2 normalize for MiniLM, [CLS] for DistilBERT). Tokenizing is not timed; the timed pass
covers building each batch's tensors, the forward pass and pooling. Each engine runs in its own
process (so one library's thread pool cannot slow another's), warms up on its first 4 batches,
then makes one timed pass; --repeats rounds are interleaved in a rotating order and the medians
reported. In the first round every engine's features are compared with bertlite's on the same
sentences (cosine per sentence > 0.9999, and no element off by more than 1e-3 of the largest
value) and its token and batch counts with bertlite's: a mismatch stops the run with PARITY
FAILURE.

Useful FLOPs (real tokens only, multiply-add = 2), per layer:
  2*T*H*3H + 2*2*sum(L_i^2)*H + 2*T*H*H + 2*2*T*H*I     (see bench_encoder.cpp)
so every engine is credited with the same work on the same sentences, whatever padding it does.

Usage: .venv/bin/python bench/encoder/bench_encoder.py [--model DIR ...] [--quick] [--json]
See bench/encoder/README.md.
"""

from __future__ import annotations

import argparse
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
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
DEFAULT_MODELS = [ROOT / "models" / "all-MiniLM-L6-v2", ROOT / ".cache" / "reference" / "distilbert-base"]
DEFAULT_DATA = ROOT / "data" / "sst2" / "train.tsv"
DEFAULT_BERTLITE = ROOT / "build" / "bench" / "bench_encoder"
ONNX_CACHE = ROOT / ".cache" / "bench_encoder"
EXPORT_VERSION = 1  # bump when the export recipe changes, so cached files are remade

WALKTHROUGH_SENTENCES = 2000
# Features must agree per sentence: cosine above MIN_COSINE and no element further off than
# MAX_RELATIVE_DIFF times the largest feature value. (Different sentences of the random
# DistilBERT checkpoint have [CLS] cosines up to ~0.98, so the cosine alone would be a loose test.)
MIN_COSINE = 0.9999
MAX_RELATIVE_DIFF = 1e-3
WARMUP_BATCHES = 4

# The issue's targets, fp32, DistilBERT-base shape.
TARGET_GEMM_SHARE = 0.75
TARGET_OVER_WALKTHROUGH = 3.0
TARGET_OVER_CAREFUL = 1.5
TARGET_OVER_ORT = 1.2

ENGINES = ("bertlite", "bertlite-first", "torch-careful", "ort", "torch-walkthrough",
           "bertlite-cls-rows-only", "gemm-bertlite", "gemm-torch")
LABELS = {"bertlite": "bertlite", "bertlite-first": "bertlite",
          "bertlite-cls-rows-only": "bertlite [CLS]-rows-only", "torch-careful": "PyTorch careful",
          "ort": "ONNX Runtime", "torch-walkthrough": "PyTorch walkthrough"}


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


# ---------------------------------------------------------------------------------------------
# Shared by the driver and the workers: sentences, batches, FLOPs, model shape.

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


def process_cpu() -> float:
    return time.process_time()  # every thread of the process, like bench_encoder's


# ---------------------------------------------------------------------------------------------
# Workers: each runs in its own process, prints one JSON line.

def set_threads(threads: int) -> None:
    import torch

    torch.set_num_threads(threads)
    torch.set_num_interop_threads(1)


def tokenize(folder: Path, sentences: list[str]) -> tuple[list[list[int]], list[list[int]] | None]:
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(folder)
    max_length = min(tokenizer.model_max_length, 512)
    encoded = tokenizer(sentences, truncation=True, max_length=max_length)
    return encoded["input_ids"], encoded.get("token_type_ids")


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


def worker_result(args, engine: str, sentences: int, lengths: list[int], batches: list[list[int]],
                  seconds: list[float], cpu_seconds: list[float], extra: dict | None = None) -> dict:
    mid = statistics.median(seconds)
    result = {"impl": engine, "threads": args.threads, "sentences": sentences,
              "tokens": sum(lengths), "batches": len(batches),
              "padded_tokens": sum(len(b) * max(lengths[i] for i in b) for b in batches),
              "seconds": seconds, "cpu_seconds": cpu_seconds, "median": mid}
    result.update(extra or {})
    return result



def timed_passes(run, batches, repeat: int) -> tuple[list[float], list[float]]:
    """Runs every batch `repeat` times; wall and process-CPU seconds of each pass."""
    seconds, cpu_seconds = [], []
    for _ in range(repeat):
        c0, t0 = process_cpu(), time.perf_counter()
        for batch in batches:
            run(batch)
        seconds.append(time.perf_counter() - t0)
        cpu_seconds.append(process_cpu() - c0)
    return seconds, cpu_seconds

def torch_worker(args) -> dict:
    import numpy as np
    import torch
    from transformers import AutoModel

    set_threads(args.threads)
    sentences = read_sentences(args.data, args.limit)
    ids, type_ids = tokenize(args.model, sentences)
    lengths = [len(x) for x in ids]
    model = AutoModel.from_pretrained(args.model).float().eval()
    use_types = type_ids is not None and "token_type_ids" in inspect.signature(model.forward).parameters
    pad_id = model.config.pad_token_id or 0
    walkthrough = args.worker == "torch-walkthrough"
    batches = ([list(range(len(ids)))] if walkthrough
               else plan_batches(lengths, True, args.batch_size, args.batch_tokens))
    features = np.zeros((len(ids), model_shape(args.model)["hidden"]), dtype=np.float32)

    def run(batch: list[int]) -> None:
        input_ids, mask, types = padded_arrays(ids, type_ids if use_types else None, batch, pad_id)
        kwargs = {"input_ids": torch.from_numpy(input_ids), "attention_mask": torch.from_numpy(mask)}
        if types is not None:
            kwargs["token_type_ids"] = torch.from_numpy(types)
        hidden = model(**kwargs).last_hidden_state
        features[batch] = pool_torch(hidden, kwargs["attention_mask"], args.pooling,
                                     args.normalize).numpy()

    # The walkthrough's one batch is warmed up on a slice of it: the same code, fewer rows.
    context = torch.no_grad if walkthrough else torch.inference_mode
    with context():
        warmup = [batches[0][:64]] if walkthrough else batches[:WARMUP_BATCHES]
        for batch in warmup:
            run(batch)
        seconds, cpu_seconds = timed_passes(run, batches, args.repeat)
    if args.features_out:
        np.save(args.features_out, features)
    return worker_result(args, args.worker, len(ids), lengths, batches, seconds, cpu_seconds,
                         {"torch": torch.__version__,
                          "attention": model.config._attn_implementation})


def ort_worker(args) -> dict:
    import numpy as np
    import onnxruntime as ort

    sentences = read_sentences(args.data, args.limit)
    ids, type_ids = tokenize(args.model, sentences)
    lengths = [len(x) for x in ids]
    options = ort.SessionOptions()
    options.intra_op_num_threads = args.threads
    options.inter_op_num_threads = 1
    options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    session = ort.InferenceSession(str(args.onnx), options, providers=["CPUExecutionProvider"])
    dtypes = {i.name: (np.int32 if i.type == "tensor(int32)" else np.int64) for i in session.get_inputs()}
    batches = plan_batches(lengths, True, args.batch_size, args.batch_tokens)
    features = np.zeros((len(ids), model_shape(args.model)["hidden"]), dtype=np.float32)

    def run(batch: list[int]) -> None:
        input_ids, mask, _ = padded_arrays(ids, None, batch, 0)
        feeds = {"input_ids": input_ids.astype(dtypes["input_ids"], copy=False),
                 "attention_mask": mask.astype(dtypes["attention_mask"], copy=False)}
        hidden = session.run(["last_hidden_state"], feeds)[0]
        features[batch] = pool_numpy(hidden, mask, args.pooling, args.normalize)

    for batch in batches[:WARMUP_BATCHES]:
        run(batch)
    seconds, cpu_seconds = timed_passes(run, batches, args.repeat)
    if args.features_out:
        np.save(args.features_out, features)
    return worker_result(args, "ort", len(ids), lengths, batches, seconds, cpu_seconds,
                         {"onnxruntime": ort.__version__})


def gemm_torch_worker(args) -> dict:
    """torch.nn.functional.linear at the model's GEMM shapes: bench_encoder --gemm-limit's twin."""
    import torch

    set_threads(args.threads)
    shape = model_shape(args.model)
    H, I, M = shape["hidden"], shape["ffn"], args.gemm_rows
    shapes = [("qkv", H, 3 * H), ("attention_output", H, H), ("ffn_in", H, I), ("ffn_out", I, H)]
    out = {"impl": "gemm-torch", "threads": args.threads, "gemm": {"rows": M, "shapes": []}}
    flops_sum = median_sum = best_sum = 0.0
    generator = torch.Generator().manual_seed(0)
    with torch.inference_mode():
        for name, K, N in shapes:
            x = torch.rand(M, K, generator=generator) * 2 - 1
            w = torch.rand(N, K, generator=generator) * 2 - 1
            b = torch.rand(N, generator=generator) * 2 - 1
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
# ONNX export: once per model, cached under .cache/bench_encoder.

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
    raw = args.onnx.with_name("model_raw.onnx")
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
    optimized.save_model_to_file(str(args.onnx))
    raw.unlink()
    optimize_seconds = time.perf_counter() - start
    if fused.get("Attention", 0) != shape["layers"]:
        raise SystemExit(f"bench_encoder: the ONNX Runtime optimizer fused {fused.get('Attention', 0)} "
                         f"attention blocks of {shape['layers']}: {fused}")
    return {"impl": "export", "fused": fused, "rewired_reshapes": rewired,
            "export_seconds": export_seconds, "optimize_seconds": optimize_seconds,
            "torch": torch.__version__, "onnx": onnx.__version__}


def run_worker(args) -> None:
    workers = {"torch-careful": torch_worker, "torch-walkthrough": torch_worker, "ort": ort_worker,
               "gemm-torch": gemm_torch_worker, "export": export_worker}
    print(json.dumps(workers[args.worker](args)), flush=True)


# ---------------------------------------------------------------------------------------------
# The driver.

def run_process(cmd: list[str], what: str) -> dict:
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


def worker_cmd(args, engine: str, model: Path, limit: int | None, extra: list[str]) -> list[str]:
    cmd = [sys.executable, str(Path(__file__).resolve()), "--worker", engine, "--worker-model",
           str(model), "--data", str(args.data), "--threads", str(args.threads),
           "--batch-size", str(args.batch_size), "--batch-tokens", str(args.batch_tokens or 0)]
    if limit:
        cmd += ["--limit", str(limit)]
    return cmd + extra


def bertlite_cmd(args, model: Path, limit: int | None, extra: list[str],
                 warmup: int = WARMUP_BATCHES) -> list[str]:
    cmd = [str(args.bertlite), "--model", str(model), "--sentences", str(args.data),
           "--threads", str(args.threads), "--warmup-batches", str(warmup)]
    cmd += ["--batch-tokens", str(args.batch_tokens)] if args.batch_tokens else \
        ["--batch-size", str(args.batch_size)]
    if limit:
        cmd += ["--limit", str(limit)]
    return cmd + extra


def ensure_onnx(args, model: Path) -> tuple[Path, dict]:
    """The optimized ONNX file for `model`, exporting it when the cache has none for these
    weights (keyed by the weights' size and mtime and the recipe version)."""
    weights = next((model / n for n in ("model.safetensors", "pytorch_model.bin")
                    if (model / n).exists()), None)
    if weights is None:
        raise SystemExit(f"bench_encoder: {model} has no model.safetensors or pytorch_model.bin")
    stat = weights.stat()
    key = hashlib.sha256(f"{model.resolve()}|{stat.st_size}|{stat.st_mtime_ns}|{EXPORT_VERSION}"
                         .encode()).hexdigest()[:16]
    folder = ONNX_CACHE / f"{model.name}-{key}"
    path = folder / "model_optimized.onnx"
    info_path = folder / "export.json"
    if path.exists() and info_path.exists():
        return path, json.loads(info_path.read_text())
    folder.mkdir(parents=True, exist_ok=True)
    log(f"[{model.name}] exporting to ONNX and optimizing (once; cached in {folder})")
    cmd = [sys.executable, str(Path(__file__).resolve()), "--worker", "export", "--worker-model",
           str(model), "--onnx", str(path), "--threads", str(args.threads)]
    info = run_process(cmd, f"ONNX export of {model}")
    info_path.write_text(json.dumps(info, indent=1) + "\n")
    return path, info


def cosine_check(name: str, reference, other, label: str) -> dict:
    import numpy as np

    if reference.shape != other.shape:
        raise SystemExit(f"bench_encoder: PARITY FAILURE [{name}] {label}: features "
                         f"{other.shape}, bertlite {reference.shape}")
    a, b = reference.astype(np.float64), other.astype(np.float64)
    cos = (a * b).sum(1) / np.maximum(np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1), 1e-30)
    worst = int(np.argmin(cos))
    max_abs = float(np.abs(a - b).max())
    scale = float(np.abs(a).max())
    if not cos[worst] > MIN_COSINE:
        raise SystemExit(f"bench_encoder: PARITY FAILURE [{name}] {label}: sentence {worst} has "
                         f"cosine {cos[worst]:.6f} with bertlite's features (need > {MIN_COSINE})")
    if not max_abs <= MAX_RELATIVE_DIFF * scale:
        row = int(np.unravel_index(np.argmax(np.abs(a - b)), a.shape)[0])
        raise SystemExit(f"bench_encoder: PARITY FAILURE [{name}] {label}: sentence {row} differs "
                         f"from bertlite's features by {max_abs:.3g} (values up to {scale:.3g})")
    return {"engine": label, "min_cosine": float(cos[worst]), "max_abs_diff": max_abs,
            "max_abs_value": scale}


def bench_model(args, model: Path) -> dict:
    import numpy as np

    shape = model_shape(model)
    sentences = read_sentences(args.data, args.sentences)
    n_all = len(sentences)
    n_first = min(WALKTHROUGH_SENTENCES, n_all)
    # The model's pooling as bertlite reads it (sentence-transformers config, else [CLS]).
    probe = run_process(bertlite_cmd(args, model, 1, ["--repeat", "1"], warmup=0),
                        f"bertlite probe of {model}")
    pooling, normalize = probe["pooling"], probe["normalize"]
    common = ["--pooling", pooling] + (["--normalize"] if normalize else [])
    onnx_path, export_info = (ensure_onnx(args, model) if "ort" in args.engines else (None, {}))

    engines = [e for e in ENGINES if e in args.engines]
    if "bertlite-cls-rows-only" in engines and pooling == "mean":
        log(f"[{model.name}] mean pooling: no [CLS]-rows-only row")
        engines.remove("bertlite-cls-rows-only")
    runs = {e: [] for e in engines}
    parity = []
    with tempfile.TemporaryDirectory(prefix="bench_encoder_") as tmp:
        tmp = Path(tmp)
        for round_index in range(args.repeats):
            shift = round_index % len(engines)
            for engine in engines[shift:] + engines[:shift]:
                features = tmp / f"{engine}.npy" if round_index == 0 else None
                out = ["--features-out", str(features)] if features else []
                if engine == "gemm-bertlite":
                    cmd = [str(args.bertlite), "--gemm-limit", "--model", str(model), "--threads",
                           str(args.threads), "--gemm-rows", str(args.gemm_rows), "--seconds",
                           str(args.gemm_seconds)]
                elif engine == "gemm-torch":
                    cmd = worker_cmd(args, engine, model, None,
                                     ["--gemm-rows", str(args.gemm_rows), "--gemm-seconds",
                                      str(args.gemm_seconds)])
                elif engine.startswith("bertlite"):
                    limit = n_first if engine == "bertlite-first" else n_all
                    extra = ["--pooling", pooling, "--normalize", "yes" if normalize else "no",
                             "--repeat", "1", "--profile"] + out
                    if engine == "bertlite-cls-rows-only":
                        extra.append("--cls-rows-only")
                    cmd = bertlite_cmd(args, model, limit, extra)
                else:
                    limit = n_first if engine == "torch-walkthrough" else n_all
                    extra = common + ["--repeat", "1"] + out
                    if engine == "ort":
                        extra += ["--onnx", str(onnx_path)]
                    cmd = worker_cmd(args, engine, model, limit, extra)
                load_before = os.getloadavg()[0]
                result = run_process(cmd, f"{engine} on {model}")
                # The 1-minute load average around each run: above the thread count, other
                # processes were competing for the cores (see the cores column too).
                result["load_average"] = [load_before, os.getloadavg()[0]]
                runs[engine].append(result)
                if "median" in result:
                    log(f"[{model.name}] round {round_index + 1}/{args.repeats} {engine:22s} "
                        f"{result['median']:8.2f} s  {result['sentences'] / result['median']:8.1f} "
                        f"sentences/s  (CPU {result['cpu_seconds'][0]:.1f} s)")
                else:
                    log(f"[{model.name}] round {round_index + 1}/{args.repeats} {engine:22s} "
                        f"{result['gemm']['median_gflops']:8.1f} GFLOPS at M={args.gemm_rows}")
            if round_index == 0:
                parity = check_parity(model.name, runs, tmp)

    # Same sentences, same tokens, same batches: or the comparison means nothing.
    for engine in engines:
        if engine.startswith("gemm"):
            continue
        ref_engine = "bertlite-first" if engine in ("bertlite-first", "torch-walkthrough") else "bertlite"
        ref = runs[ref_engine][0] if ref_engine in runs else None
        for r in runs[engine]:
            if ref is not None and (r["sentences"], r["tokens"]) != (ref["sentences"], ref["tokens"]):
                raise SystemExit(f"bench_encoder: PARITY FAILURE [{model.name}] {engine}: "
                                 f"{r['sentences']} sentences / {r['tokens']} tokens, bertlite "
                                 f"{ref['sentences']} / {ref['tokens']}")
            if ref is not None and engine != "torch-walkthrough" and \
                    (r["batches"], r["padded_tokens"]) != (ref["batches"], ref["padded_tokens"]):
                raise SystemExit(f"bench_encoder: PARITY FAILURE [{model.name}] {engine}: batches "
                                 f"{r['batches']} / padded tokens {r['padded_tokens']}, bertlite "
                                 f"{ref['batches']} / {ref['padded_tokens']}")

    rows = {}
    for engine in engines:
        if engine.startswith("gemm"):
            continue
        results = runs[engine]
        seconds = [s for r in results for s in r["seconds"]]
        cpu = [s for r in results for s in r["cpu_seconds"]]
        first = results[0]
        mid = statistics.median(seconds)
        rows[engine] = {"engine": engine, "label": LABELS[engine], "sentences": first["sentences"],
                        "tokens": first["tokens"], "batches": first["batches"],
                        "padded_tokens": first["padded_tokens"], "median_s": mid,
                        "min_s": min(seconds), "max_s": max(seconds), "seconds": seconds,
                        "cpu_seconds": cpu, "cores_used": statistics.median(cpu) / mid,
                        "sentences_per_s": first["sentences"] / mid,
                        "tokens_per_s": first["tokens"] / mid,
                        "max_load_average": max(max(r["load_average"]) for r in results)}
        for key in ("torch", "attention", "onnxruntime", "profile"):
            if key in first:
                rows[engine][key] = first[key]
    # Useful FLOPs, from the formula, on each row's sentences; cross-checked with bertlite's count.
    tokens_by_limit = {}
    for engine, row in rows.items():
        if row["sentences"] not in tokens_by_limit:
            # Lengths come from bertlite's tokenizer via its JSON totals; the per-sentence lengths
            # for sum(L^2) come from Hugging Face's tokenizer (checked identical by the tokenizer
            # benchmark and by the token totals above).
            from transformers import AutoTokenizer

            tokenizer = AutoTokenizer.from_pretrained(model)
            ids = tokenizer(sentences[:row["sentences"]], truncation=True, max_length=512)["input_ids"]
            tokens_by_limit[row["sentences"]] = [len(x) for x in ids]
        lengths = tokens_by_limit[row["sentences"]]
        row["useful_flops"] = useful_flops(shape, lengths)
        if engine == "bertlite-cls-rows-only":
            bl = runs[engine][0]
            row["flops_done"] = bl["flops_done"]
        else:
            row["flops_done"] = row["useful_flops"]
        if engine.startswith("bertlite") and engine != "bertlite-cls-rows-only":
            reported = runs[engine][0]["useful_flops"]
            if abs(reported - row["useful_flops"]) > 1e-9 * reported:
                raise SystemExit(f"bench_encoder: FLOP counts differ: bertlite {reported}, "
                                 f"bench_encoder.py {row['useful_flops']}")
        row["gflops"] = row["flops_done"] / row["median_s"] / 1e9

    gemm = summarize_gemm(runs)
    limit = gemm.get("limit_gflops")
    for row in rows.values():
        row["gemm_share"] = row["gflops"] / limit if limit else None
    # bertlite's ratio to each peer on the same sentences: peer time / bertlite time.
    for engine, row in rows.items():
        ref = "bertlite-first" if engine == "torch-walkthrough" else "bertlite"
        if ref in rows and not engine.startswith("bertlite"):
            row["bertlite_speedup"] = row["median_s"] / rows[ref]["median_s"]
        if engine == "bertlite-cls-rows-only" and "bertlite" in rows:
            row["bertlite_speedup_vs_full"] = rows["bertlite"]["median_s"] / row["median_s"]

    return {"model": str(model), "name": model.name, "shape": shape, "pooling": pooling,
            "normalize": normalize, "sentences": n_all, "walkthrough_sentences": n_first,
            "batch_size": args.batch_size, "batch_tokens": args.batch_tokens,
            "export": export_info, "gemm": gemm, "rows": rows, "parity": parity,
            "targets": targets(shape, rows, limit)}


def check_parity(name: str, runs: dict, tmp: Path) -> list[dict]:
    import numpy as np

    checks = []
    if "bertlite" not in runs and "bertlite-first" not in runs:
        return checks
    full = np.load(tmp / "bertlite.npy") if "bertlite" in runs else None
    first = np.load(tmp / "bertlite-first.npy") if "bertlite-first" in runs else None
    if full is not None and first is not None:
        # A sentence's features must not depend on its batch.
        checks.append(cosine_check(name, full[:len(first)], first, "bertlite-first"))
    for engine in ("torch-careful", "ort", "bertlite-cls-rows-only"):
        if engine in runs and full is not None:
            checks.append(cosine_check(name, full, np.load(tmp / f"{engine}.npy"), engine))
    if "torch-walkthrough" in runs and first is not None:
        checks.append(cosine_check(name, first, np.load(tmp / "torch-walkthrough.npy"),
                                   "torch-walkthrough"))
    for c in checks:
        log(f"[{name}] parity: {c['engine']:22s} min cosine {c['min_cosine']:.8f}, max |diff| "
            f"{c['max_abs_diff']:.2e} (values up to {c['max_abs_value']:.2f})")
    return checks


def summarize_gemm(runs: dict) -> dict:
    """Medians over rounds per library and shape; the limit takes the faster library per shape
    and combines the shapes by FLOPs (each appears once per layer)."""
    out = {}
    for engine in ("gemm-bertlite", "gemm-torch"):
        if engine not in runs:
            continue
        results = [r["gemm"] for r in runs[engine]]
        shapes = []
        for k, s in enumerate(results[0]["shapes"]):
            shapes.append({"name": s["name"], "K": s["K"], "N": s["N"],
                           "median_gflops": statistics.median(r["shapes"][k]["median_gflops"]
                                                              for r in results),
                           "best_gflops": max(r["shapes"][k]["best_gflops"] for r in results),
                           "implementation": s.get("implementation", "")})
        out[engine] = {"rows": results[0]["rows"], "shapes": shapes,
                       "median_gflops": statistics.median(r["median_gflops"] for r in results),
                       "best_gflops": max(r["best_gflops"] for r in results)}
    if out:
        libs = list(out.values())
        flops = time = 0.0
        for k, s in enumerate(libs[0]["shapes"]):
            f = 2.0 * libs[0]["rows"] * s["K"] * s["N"]
            flops += f
            time += min(f / (lib["shapes"][k]["median_gflops"] * 1e9) for lib in libs)
        out["rows"] = libs[0]["rows"]
        out["limit_gflops"] = flops / time / 1e9
    return out


def targets(shape: dict, rows: dict, limit: float | None) -> list[dict]:
    """The issue's targets; they are stated for the DistilBERT-base shape only."""
    if not (shape["arch"] == "distilbert" and shape["hidden"] == 768) or "bertlite" not in rows:
        return []
    out = []
    bl = rows["bertlite"]
    if limit:
        out.append({"target": f"bertlite >= {TARGET_GEMM_SHARE:.0%} of the GEMM limit on useful work",
                    "value": f"{bl['gemm_share']:.0%} ({bl['gflops']:.0f} of {limit:.0f} GFLOPS)",
                    "met": bl["gemm_share"] >= TARGET_GEMM_SHARE})
    for engine, goal in (("torch-walkthrough", TARGET_OVER_WALKTHROUGH),
                         ("torch-careful", TARGET_OVER_CAREFUL), ("ort", TARGET_OVER_ORT)):
        if engine in rows and "bertlite_speedup" in rows[engine]:
            ratio = rows[engine]["bertlite_speedup"]
            out.append({"target": f"bertlite >= {goal:g}x {LABELS[engine]}",
                        "value": f"{ratio:.2f}x", "met": ratio >= goal})
    return out


def print_report(report: dict) -> None:
    print(f"bertlite encoder benchmark: {report['threads']} threads; {report['data']}; "
          f"torch {report['versions'].get('torch')}, transformers "
          f"{report['versions'].get('transformers')}, onnxruntime "
          f"{report['versions'].get('onnxruntime')}; medians of {report['repeats']} interleaved "
          f"rounds; tokenizing not timed")
    print("GFLOPS = useful FLOPs (real tokens only) / median time; % limit = share of the GEMM "
          "limit;\ncores = CPU seconds / wall seconds; load = highest 1-minute load average "
          "around the runs\n(above the thread count, other processes shared the cores); "
          "bertlite is = peer's time / bertlite's\non the same sentences")
    for m in report["models"]:
        s = m["shape"]
        print(f"\n## {m['name']}: {s['arch']}, {s['layers']} layers, H {s['hidden']}, "
              f"{s['heads']} heads, FFN {s['ffn']}; pooling {m['pooling']}"
              f"{' + L2 normalize' if m['normalize'] else ''}")
        g = m["gemm"]
        if "limit_gflops" in g:
            print(f"GEMM limit at M = {g['rows']} rows (median GFLOPS per shape; best of rounds in "
                  f"brackets):")
            names = [sh["name"] for sh in next(v for k, v in g.items() if k.startswith("gemm"))["shapes"]]
            for lib, label in (("gemm-bertlite", "bertlite oneDNN"), ("gemm-torch", "torch linear")):
                if lib in g:
                    cells = "  ".join(f"{sh['name']} {sh['K']}x{sh['N']}: {sh['median_gflops']:.0f} "
                                      f"[{sh['best_gflops']:.0f}]" for sh in g[lib]["shapes"])
                    print(f"  {label:16s} layer mix {g[lib]['median_gflops']:6.1f}  |  {cells}")
            del names
            print(f"  limit (faster library per shape, by FLOPs): {g['limit_gflops']:.1f} GFLOPS")
        header = (f"{'engine':32s} {'sentences/s':>11s} {'tokens/s':>9s} {'GFLOPS':>7s} "
                  f"{'% limit':>7s} {'median s':>9s} {'(min..max)':>15s} {'cores':>5s} "
                  f"{'load':>5s} {'bertlite is':>12s}")
        groups = [(f"all {m['sentences']} sentences, length-sorted batches of "
                   f"{m['batch_size'] if not m['batch_tokens'] else str(m['batch_tokens']) + ' padded tokens'}",
                   ("bertlite", "bertlite-cls-rows-only", "torch-careful", "ort")),
                  (f"first {m['walkthrough_sentences']} sentences (the walkthrough's way: one padded "
                   f"batch)", ("bertlite-first", "torch-walkthrough"))]
        for title, engines in groups:
            present = [m["rows"][e] for e in engines if e in m["rows"]]
            if not present:
                continue
            r0 = present[0]
            print(f"\n{title}: {r0['tokens']} tokens")
            print(header)
            print("-" * len(header))
            for r in present:
                ratio = ""
                if "bertlite_speedup" in r:
                    ratio = f"{r['bertlite_speedup']:.2f}x"
                elif "bertlite_speedup_vs_full" in r:
                    ratio = f"(x{r['bertlite_speedup_vs_full']:.2f})"
                share = f"{r['gemm_share']:.0%}" if r.get("gemm_share") else "-"
                label = r["label"]
                if r["engine"] != "bertlite-first" and r["padded_tokens"] != r["tokens"] and \
                        not r["engine"].startswith("bertlite"):
                    label += f" ({r['padded_tokens'] / r['tokens']:.2f}x pad)"
                spread = f"{r['min_s']:.2f}..{r['max_s']:.2f}"
                print(f"{label:32s} {r['sentences_per_s']:11.1f} {r['tokens_per_s']:9.0f} "
                      f"{r['gflops']:7.1f} {share:>7s} {r['median_s']:9.2f} {spread:>15s} "
                      f"{r['cores_used']:5.2f} {r['max_load_average']:5.1f} {ratio:>12s}")
        bl = m["rows"].get("bertlite")
        if bl and "profile" in bl:
            prof = bl["profile"]
            total = sum(v["seconds"] for v in prof.values())
            parts = sorted(prof.items(), key=lambda kv: -kv[1]["seconds"])
            print("\nbertlite, where the time goes (first round, one pass): " + ", ".join(
                f"{k} {v['seconds'] / total:.0%}"
                + (f" ({v['flops'] / v['seconds'] / 1e9:.0f} GFLOPS)" if v["flops"] and v["seconds"] else "")
                for k, v in parts))
        if m["parity"]:
            print("parity (features vs bertlite's, same sentences): " + "; ".join(
                f"{p['engine']} min cosine {p['min_cosine']:.7f}" for p in m["parity"]))
        if m["export"]:
            print(f"ONNX: fused {m['export'].get('fused')}")
        if m["targets"]:
            print("targets (fp32, DistilBERT-base shape):")
            for t in m["targets"]:
                print(f"  [{'met' if t['met'] else 'MISSED'}] {t['target']}: {t['value']}")


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
                        help="use the first N sentences (default: all); the walkthrough way uses "
                             f"the first {WALKTHROUGH_SENTENCES} of them")
    parser.add_argument("--batch-size", type=int, default=32, help="sentences per batch")
    parser.add_argument("--batch-tokens", type=int, default=0,
                        help="instead: fill sorted batches up to N padded tokens")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=3,
                        help="interleaved rounds, one timed pass per engine each (default: 3)")
    parser.add_argument("--gemm-rows", type=int, default=2048, help="M for the GEMM limit")
    parser.add_argument("--gemm-seconds", type=float, default=2.0, help="time per GEMM shape")
    parser.add_argument("--engines", default=",".join(e for e in ENGINES
                                                      if e != "bertlite-cls-rows-only"),
                        help=f"comma-separated subset of {','.join(ENGINES)}")
    parser.add_argument("--cls-rows-only", action="store_true",
                        help="add a bertlite row with the [CLS]-rows-only last layer")
    parser.add_argument("--quick", action="store_true",
                        help="1,000 sentences, one round, 1 s per GEMM shape")
    parser.add_argument("--json", action="store_true", help="print the report as JSON")
    parser.add_argument("--json-out", type=Path, help="also write the JSON report here")
    # Internal: worker processes.
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    parser.add_argument("--worker-model", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--limit", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--pooling", help=argparse.SUPPRESS)
    parser.add_argument("--normalize", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--repeat", type=int, default=1, help=argparse.SUPPRESS)
    parser.add_argument("--features-out", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--onnx", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()

    if args.worker:
        args.model = args.worker_model
        run_worker(args)
        return
    if args.quick:
        args.sentences = args.sentences or 1000
        args.repeats = 1
        args.gemm_seconds = 1.0
    args.engines = [e.strip() for e in args.engines.split(",") if e.strip()]
    if args.cls_rows_only and "bertlite-cls-rows-only" not in args.engines:
        args.engines.append("bertlite-cls-rows-only")
    unknown = set(args.engines) - set(ENGINES)
    if unknown:
        parser.error(f"unknown engines {sorted(unknown)}; choose from {','.join(ENGINES)}")
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

    import onnxruntime
    import torch
    import transformers

    start = time.perf_counter()
    report = {"threads": args.threads, "data": str(args.data), "repeats": args.repeats,
              "versions": {"torch": torch.__version__, "transformers": transformers.__version__,
                           "onnxruntime": onnxruntime.__version__},
              "models": []}
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
