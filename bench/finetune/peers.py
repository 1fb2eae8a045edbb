#!/usr/bin/env python3
"""bench/finetune/peers.py - the PyTorch side of bench_finetune.py, one system per process.

  trainer  transformers' Trainer with its defaults: random order (train_sampling_strategy
           "random", no length grouping), DataCollatorWithPadding (each batch padded to its
           longest), dropout on, fp32, AdamW as Trainer builds it (torch fused AdamW, no decay
           on biases and LayerNorm), linear schedule, clip 1.0. Set to match bertlite: lr,
           epochs, seed, warmup ratio, weight decay (the last two do not change the speed),
           per_device_train_batch_size (the driver passes the mean sentences per bertlite
           batch). Off: saving, evaluation, reporting, tqdm.
  loop     a careful PyTorch loop: length-grouped batches built like bertlite's (shuffle, pools
           of --bucket-batches batches sorted by length, cut at --batch-tokens *padded* tokens
           = longest-in-batch x sentences, batches shuffled), each padded to its own longest;
           model.train() (dropout on), fused AdamW with no decay on biases and LayerNorm, linear
           warmup schedule, clip_grad_norm_ 1.0, torch.set_num_threads(--threads);
           --compile adds torch.compile(dynamic=True) (off by default: see README).
  gemm     the GEMM limit on the torch side: the three GEMMs a training step runs per Linear
           (forward x W^T, input gradient dy W, weight gradient dW += dy^T x) at the model's
           shapes and --rows rows, bench_gemm_limit --training's twin.

Every system tokenizes its examples with the model's tokenizer (truncation at --max-length,
special tokens included) before its clock starts, loads AutoModelForSequenceClassification
(num_labels=2: BERT's pooler + a new classifier), and times only the training loop: from
before the first batch is built to after the last optimizer step (Trainer: on_train_begin to
on_train_end). Prints one JSON line on stdout; everything else goes to stderr.

  .venv/bin/python bench/finetune/peers.py loop --model models/all-MiniLM-L6-v2 \\
      --train train.tsv --threads 2 [--batch-tokens 2048] [--epochs 1] ...
"""

from __future__ import annotations

import argparse
import json
import math
import os
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def read_examples(path: Path) -> tuple[list[str], list[int]]:
    """A headerless TSV: sentence<TAB>label (SST-2's train.tsv), every row."""
    texts, labels = [], []
    for line in path.read_text(encoding="utf-8").split("\n"):
        line = line.rstrip("\r")
        if not line:
            continue
        text, label = line.split("\t")[:2]
        texts.append(text)
        labels.append(int(label))
    return texts, labels


def model_shape(folder: Path) -> dict:
    config = json.loads((Path(folder) / "config.json").read_text())
    if config.get("model_type") == "distilbert":
        return {"layers": config["n_layers"], "hidden": config["dim"], "heads": config["n_heads"],
                "ffn": config["hidden_dim"]}
    return {"layers": config["num_hidden_layers"], "hidden": config["hidden_size"],
            "heads": config["num_attention_heads"], "ffn": config["intermediate_size"]}


def forward_flops(shape: dict, lengths, num_labels: int = 2) -> float:
    """Forward FLOPs (multiply-add = 2) of the real tokens, as bertlite's
    SequenceClassifier::forward_flops counts them, for sentences of these lengths:
      per layer and sentence of L tokens: 2*L*(linear weights of the layer: 4*H*H + 2*H*I)
                                          + 4*L*L*H (q k^T and p v)
      per sentence, the head: 2*H*H (pooler dense) + 2*H*num_labels (classifier).
    Embeddings, layernorms, softmax and the like are not counted. A training step is counted as
    3x its forward (backward = 2x forward)."""
    H, I, layers = shape["hidden"], shape["ffn"], shape["layers"]
    total_t = float(sum(lengths))
    sum_l2 = float(sum(L * L for L in lengths))
    per_layer = 2.0 * total_t * H * (4 * H + 2 * I) + 4.0 * sum_l2 * H
    head = len(lengths) * (2.0 * H * H + 2.0 * H * num_labels)
    return layers * per_layer + head


def length_grouped_batches(lengths: list[int], batch_tokens: int, seed: int, epoch: int,
                           bucket_batches: int) -> list[list[int]]:
    """bertlite's batching made for padding: shuffle, take pools of about `bucket_batches`
    batches' worth of rows, sort each pool by length, cut it into batches of at most
    `batch_tokens` padded tokens (longest in the batch x sentences), shuffle the batches."""
    rng = random.Random(seed * 1_000_003 + epoch)
    order = list(range(len(lengths)))
    rng.shuffle(order)
    pool_tokens = batch_tokens * max(1, bucket_batches)
    batches: list[list[int]] = []
    begin = 0
    while begin < len(order):
        end, tokens = begin, 0
        while end < len(order) and (end == begin or tokens + lengths[order[end]] <= pool_tokens):
            tokens += lengths[order[end]]
            end += 1
        pool = sorted(order[begin:end], key=lambda i: lengths[i])
        batch: list[int] = []
        for i in pool:  # ascending: the newcomer is the longest
            if batch and (len(batch) + 1) * lengths[i] > batch_tokens:
                batches.append(batch)
                batch = []
            batch.append(i)
        if batch:
            batches.append(batch)
        begin = end
    rng.shuffle(batches)
    return batches


def peak_rss_mib() -> float:
    """This process's resident high-water mark (VmHWM)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def set_threads(threads: int) -> None:
    import torch

    torch.set_num_threads(threads)
    torch.set_num_interop_threads(1)


def load(args):
    """Tokenizer, tokenized examples, and the model (seeded, so the new head's weights repeat)."""
    import transformers
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    texts, labels = read_examples(args.train)
    tokenizer = AutoTokenizer.from_pretrained(args.model)
    encoded = tokenizer(texts, truncation=True, max_length=args.max_length)
    transformers.set_seed(args.seed)
    model = AutoModelForSequenceClassification.from_pretrained(args.model, num_labels=2)
    model = model.float()
    return tokenizer, encoded, labels, model


def no_decay_names(model) -> set[str]:
    """Parameters AdamW does not decay: biases and LayerNorm weights (Trainer's rule)."""
    import torch

    names = set()
    for module_name, module in model.named_modules():
        for name, _ in module.named_parameters(recurse=False):
            full = f"{module_name}.{name}" if module_name else name
            if isinstance(module, torch.nn.LayerNorm) or name == "bias":
                names.add(full)
    return names


def common_result(args, system: str, shape: dict, lengths_seen: list[int], seconds: float,
                  cpu_seconds: float, padded: int, batches: int, sentences: int, loss: float) -> dict:
    import torch
    import transformers

    real = sum(lengths_seen)
    flops = 3.0 * forward_flops(shape, lengths_seen)
    return {"system": system, "threads": args.threads, "epochs": args.epochs,
            "sentences": sentences, "batches": batches, "train_tokens": real,
            "padded_tokens": padded, "train_seconds": seconds, "cpu_seconds": cpu_seconds,
            "tokens_per_second": real / seconds, "useful_gflops": flops / seconds / 1e9,
            "train_loss": loss, "torch": torch.__version__,
            "transformers": transformers.__version__, "torch_threads": torch.get_num_threads()}


# ---------------------------------------------------------------------------------------------

def run_trainer(args) -> dict:
    import torch
    from transformers import DataCollatorWithPadding, Trainer, TrainerCallback, TrainingArguments

    set_threads(args.threads)
    tokenizer, encoded, labels, model = load(args)
    shape = model_shape(args.model)
    keys = [k for k in ("input_ids", "token_type_ids", "attention_mask") if k in encoded]
    dataset = [{**{k: encoded[k][i] for k in keys}, "labels": labels[i]} for i in range(len(labels))]

    pad = DataCollatorWithPadding(tokenizer)
    seen: list[int] = []  # real tokens of every sentence trained on, in order
    counts = {"padded": 0, "batches": 0}

    def collate(features):
        """DataCollatorWithPadding, counting what it pads (a sum per batch: noise in the time)."""
        batch = pad(features)
        counts["padded"] += batch["input_ids"].numel()
        counts["batches"] += 1
        seen.extend(batch["attention_mask"].sum(1).tolist())
        return batch

    clock = {}

    class Clock(TrainerCallback):
        def on_train_begin(self, a, state, control, **kw):
            clock["cpu0"], clock["t0"] = time.process_time(), time.perf_counter()

        def on_train_end(self, a, state, control, **kw):
            clock["t1"], clock["cpu1"] = time.perf_counter(), time.process_time()

    with tempfile.TemporaryDirectory(prefix="bench_finetune_trainer_") as out:
        training_args = TrainingArguments(
            output_dir=out, per_device_train_batch_size=args.batch_size,
            num_train_epochs=args.epochs, learning_rate=args.lr, warmup_steps=args.warmup,
            weight_decay=args.weight_decay, seed=args.seed, use_cpu=True, report_to="none",
            save_strategy="no", eval_strategy="no", disable_tqdm=True)
        trainer = Trainer(model=model, args=training_args, train_dataset=dataset,
                          data_collator=collate, processing_class=tokenizer, callbacks=[Clock()])
        start = time.perf_counter()
        output = trainer.train()
        whole = time.perf_counter() - start
    seconds = clock["t1"] - clock["t0"]
    result = common_result(args, "trainer", shape, seen, seconds, clock["cpu1"] - clock["cpu0"],
                           counts["padded"], counts["batches"], len(seen), output.training_loss)
    result.update({"batch_size": args.batch_size, "steps": output.global_step,
                   "trainer_train_seconds": whole, "optim": str(training_args.optim),
                   "train_sampling_strategy": training_args.train_sampling_strategy,
                   "attention": model.config._attn_implementation})
    return result


def run_loop(args) -> dict:
    import numpy as np
    import torch
    from transformers import get_linear_schedule_with_warmup

    set_threads(args.threads)
    tokenizer, encoded, labels, model = load(args)
    shape = model_shape(args.model)
    ids = [np.asarray(x, dtype=np.int64) for x in encoded["input_ids"]]
    types = [np.asarray(x, dtype=np.int64) for x in encoded["token_type_ids"]] \
        if "token_type_ids" in encoded else None
    lengths = [len(x) for x in ids]
    label_tensor = torch.tensor(labels, dtype=torch.long)
    pad_id = tokenizer.pad_token_id or 0

    epoch_batches = [length_grouped_batches(lengths, args.batch_tokens, args.seed, e,
                                            args.bucket_batches) for e in range(args.epochs)]
    total_steps = sum(len(b) for b in epoch_batches)
    warmup_steps = math.ceil(args.warmup * total_steps)  # as Trainer and bertlite round it

    skip = no_decay_names(model)
    named = [(n, p) for n, p in model.named_parameters() if p.requires_grad]
    groups = [{"params": [p for n, p in named if n not in skip], "weight_decay": args.weight_decay},
              {"params": [p for n, p in named if n in skip], "weight_decay": 0.0}]
    optimizer = torch.optim.AdamW(groups, lr=args.lr, betas=(0.9, 0.999), eps=1e-8,
                                  fused=not args.no_fused)
    scheduler = get_linear_schedule_with_warmup(optimizer, warmup_steps, total_steps)
    model.train()
    step_model = torch.compile(model, dynamic=True) if args.compile else model

    def make_batch(batch: list[int]) -> dict:
        longest = max(lengths[i] for i in batch)
        input_ids = np.full((len(batch), longest), pad_id, dtype=np.int64)
        mask = np.zeros((len(batch), longest), dtype=np.int64)
        type_ids = np.zeros((len(batch), longest), dtype=np.int64)
        for row, i in enumerate(batch):
            n = lengths[i]
            input_ids[row, :n] = ids[i]
            mask[row, :n] = 1
            if types is not None:
                type_ids[row, :n] = types[i]
        out = {"input_ids": torch.from_numpy(input_ids), "attention_mask": torch.from_numpy(mask),
               "labels": label_tensor[batch]}
        if types is not None:
            out["token_type_ids"] = torch.from_numpy(type_ids)
        return out

    seen: list[int] = []
    padded = 0
    losses = []
    step_seconds = []
    cpu0, t0 = time.process_time(), time.perf_counter()
    for batches in epoch_batches:
        for batch in batches:
            s0 = time.perf_counter()
            inputs = make_batch(batch)
            loss = step_model(**inputs).loss
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            optimizer.step()
            scheduler.step()
            optimizer.zero_grad(set_to_none=True)
            losses.append(loss.detach())
            seen.extend(lengths[i] for i in batch)
            padded += len(batch) * max(lengths[i] for i in batch)
            step_seconds.append(time.perf_counter() - s0)
    seconds = time.perf_counter() - t0
    cpu_seconds = time.process_time() - cpu0
    mean_loss = float(torch.stack(losses).mean())
    result = common_result(args, "loop", shape, seen, seconds, cpu_seconds, padded, total_steps,
                           len(seen), mean_loss)
    result.update({"batch_tokens": args.batch_tokens, "bucket_batches": args.bucket_batches,
                   "steps": total_steps, "compile": args.compile, "fused_adamw": not args.no_fused,
                   "attention": model.config._attn_implementation,
                   "first_step_seconds": step_seconds[0],
                   "median_step_seconds": statistics.median(step_seconds)})
    return result


def run_gemm(args) -> dict:
    import torch

    set_threads(args.threads)
    shape = model_shape(args.model)
    H, I, M = shape["hidden"], shape["ffn"], args.rows
    generator = torch.Generator().manual_seed(0)
    rand = lambda *size: torch.rand(*size, generator=generator) * 2 - 1  # noqa: E731
    gemms = []
    with torch.no_grad():
        for key, K, N in (("attn_out", H, H), ("qkv", H, 3 * H), ("ffn_in", H, I), ("ffn_out", I, H)):
            x, w, dy = rand(M, K), rand(N, K), rand(M, N)
            dw = torch.zeros(N, K)
            calls = (("forward", M, N, K, lambda: torch.nn.functional.linear(x, w)),
                     ("input_grad", M, K, N, lambda: torch.mm(dy, w)),
                     ("weight_grad", N, K, M, lambda: dw.addmm_(dy.t(), x)))
            for what, m, n, k, fn in calls:
                fn()  # warm-up
                runs = []
                start = time.perf_counter()
                while len(runs) < 3 or time.perf_counter() - start < args.seconds:
                    r0 = time.perf_counter()
                    fn()
                    runs.append(time.perf_counter() - r0)
                flops = 2.0 * M * K * N
                gemms.append({"name": f"{key}.{what}", "M": m, "N": n, "K": k, "flops": flops,
                              "best_seconds": min(runs), "median_seconds": statistics.median(runs),
                              "best_gflops": flops / min(runs) / 1e9,
                              "median_gflops": flops / statistics.median(runs) / 1e9})
    flops = sum(g["flops"] for g in gemms)
    best = sum(g["best_seconds"] for g in gemms)
    median = sum(g["median_seconds"] for g in gemms)
    return {"system": "gemm-torch", "mode": "training", "threads": args.threads, "tokens": M,
            "hidden": H, "ffn": I, "gemms": gemms, "torch": torch.__version__,
            "total": {"flops": flops, "best_seconds": best, "median_seconds": median,
                      "best_gflops": flops / best / 1e9, "median_gflops": flops / median / 1e9}}


SYSTEMS = {"trainer": run_trainer, "loop": run_loop, "gemm": run_gemm}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter,
                                     epilog=__doc__.split("\n\n", 1)[1])
    parser.add_argument("system", choices=sorted(SYSTEMS))
    parser.add_argument("--model", type=Path, required=True)
    parser.add_argument("--train", type=Path, help="headerless TSV: sentence<TAB>label")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--epochs", type=int, default=1)
    parser.add_argument("--lr", type=float, default=1e-4)
    parser.add_argument("--max-length", type=int, default=128)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--warmup", type=float, default=0.06, help="warmup fraction of the steps")
    parser.add_argument("--weight-decay", type=float, default=0.01)
    parser.add_argument("--batch-size", type=int, default=16, help="trainer: sentences per batch")
    parser.add_argument("--batch-tokens", type=int, default=2048,
                        help="loop: padded tokens per batch (longest x sentences)")
    parser.add_argument("--bucket-batches", type=int, default=50,
                        help="loop: batches per length-sorted pool (bertlite's default)")
    parser.add_argument("--compile", action="store_true", help="loop: torch.compile(dynamic=True)")
    parser.add_argument("--no-fused", action="store_true", help="loop: AdamW without fused=True")
    parser.add_argument("--rows", type=int, default=2048, help="gemm: rows M")
    parser.add_argument("--seconds", type=float, default=1.0, help="gemm: time per GEMM")
    args = parser.parse_args()
    if args.system != "gemm" and not args.train:
        parser.error("--train is required")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    result = SYSTEMS[args.system](args)
    result["peak_rss_mib"] = peak_rss_mib()
    print(json.dumps(result), flush=True)


if __name__ == "__main__":
    main()
