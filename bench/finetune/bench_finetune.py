#!/usr/bin/env python3
"""bench/finetune/bench_finetune.py - fine-tuning speed and memory: bertlite next to PyTorch.

In one run, on the same examples (default: the first 2,000 rows of data/sst2/train.tsv), the
same model (default: models/all-MiniLM-L6-v2 as AutoModelForSequenceClassification with 2
labels: BERT's pooler + a new classifier), the same threads (2), max length (128), epochs (1),
learning rate, seed, warmup and weight decay, fine-tunes with (--systems):

  bertlite  `bertlite finetune` (build/cli/bertlite): packed batches of up to --batch-tokens
            real tokens (no padding is computed), length-grouped in pools; dropout on, fp32.
  trainer   transformers' Trainer with its defaults: random batches of --batch-size sentences
            (default: the mean sentences per bertlite batch, so both take the same number of
            steps), DataCollatorWithPadding, no length grouping, dropout on, fp32, fused AdamW.
  loop      a careful PyTorch loop: length-grouped batches with bertlite's token budget counted
            as padded tokens (longest x sentences), dynamic padding, fused AdamW without decay on
            biases and LayerNorm, linear warmup, clip_grad_norm_ 1.0, model.train(), no
            torch.compile (see README.md).

and, first, the GEMM limit: the three GEMMs a training step runs per Linear (forward x W^T,
input gradient dy W, weight gradient dW += dy^T x) at the model's four shapes (H x 3H QKV,
H x H attention output, H x I FFN in, I x H FFN out) and --gemm-rows rows (default: the token
budget), timed with bertlite's kernels::gemm (build/bench/bench_gemm_limit --training) and with
torch (peers.py gemm); per GEMM the faster median, combined by FLOPs.

What is measured, the same way for all three:
  tokens/s       real (non-pad) tokens of the examples, summed over epochs, per second of the
                 training loop's wall time: forward + backward + optimizer (and building each
                 batch), not loading the model or tokenizing.
  padded/real    tokens the system computed (each batch padded to its longest) / real tokens;
                 bertlite packs, so it computes 1.00 (what its batches would be padded is shown
                 beside it).
  useful GFLOPS  3 x forward FLOPs of the real tokens / training seconds, forward FLOPs as
                 bertlite counts them (peers.forward_flops): per layer and sentence of L tokens
                 2*L*(4*H*H + 2*H*I) (the layer's linear weights) + 4*L*L*H (attention), plus
                 2*H*H + 2*H*2 for the head; % of the GEMM limit next to it.
  peak RSS       the process's resident high-water mark (wait4's ru_maxrss: each system runs in
                 a process of its own, which loads its model and data too).
Each system runs --repeats times (rounds interleaved, order rotating); medians are reported.
Prints a markdown table and the ratios (targets: bertlite >= 1.5x Trainer, >= 1.2x the loop),
writes everything as JSON (--json).

  .venv/bin/python bench/finetune/bench_finetune.py [--examples 2000] [--repeats 1] [--quick]
See bench/finetune/README.md.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import peers  # noqa: E402  (no torch at import: the driver stays small, see run_measured)

ROOT = Path(__file__).resolve().parents[2]
PEERS = Path(__file__).resolve().parent / "peers.py"
SYSTEMS = ("bertlite", "trainer", "loop")
LABELS = {"bertlite": "bertlite finetune", "trainer": "transformers Trainer (defaults)",
          "loop": "PyTorch careful loop"}
TARGETS = {"trainer": 1.5, "loop": 1.2}  # bertlite tokens/s over each peer's


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def cpu_name() -> str:
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return "unknown"


def token_lengths(model: Path, texts: list[str], max_length: int) -> list[int]:
    """Token counts ([CLS] and [SEP] included, truncated) with the model's tokenizer.json, via
    the `tokenizers` library (not transformers: that would pull torch into the driver)."""
    from tokenizers import Tokenizer

    tokenizer = Tokenizer.from_file(str(model / "tokenizer.json"))
    tokenizer.no_padding()
    tokenizer.enable_truncation(max_length)
    return [len(e.ids) for e in tokenizer.encode_batch(texts)]


def bertlite_batch_count(lengths: list[int], batch_tokens: int, seed: int,
                         bucket_batches: int = 50) -> int:
    """How many batches bertlite's make_batches (src/train/finetune.cpp) cuts one epoch into:
    shuffle, pools of `bucket_batches` batches, each sorted by length, batches of at most
    batch_tokens real tokens. The shuffle is not bertlite's, so the count can differ by one or
    so; the run's own step count is printed beside it."""
    order = list(range(len(lengths)))
    random.Random(seed).shuffle(order)
    full = lambda rows, tokens, nxt: rows > 0 and tokens + nxt > batch_tokens  # noqa: E731
    count, begin = 0, 0
    while begin < len(order):
        end, pool, rows, tokens = begin, 0, 0, 0
        while end < len(order):
            if full(rows, tokens, lengths[order[end]]):
                pool += 1
                if pool == bucket_batches:
                    break
                rows = tokens = 0
            rows, tokens, end = rows + 1, tokens + lengths[order[end]], end + 1
        rows = tokens = 0
        for i in sorted(order[begin:end], key=lambda i: lengths[i]):
            if full(rows, tokens, lengths[i]):
                count += 1
                rows = tokens = 0
            rows, tokens = rows + 1, tokens + lengths[i]
        count += rows > 0
        begin = end
    return count


def run_measured(cmd: list[str], what: str, env: dict, cwd: Path | None = None) -> tuple[str, dict]:
    """Runs one system to the end; its stdout and its own rusage (wait4 on its pid: peak RSS of
    that process alone, which getrusage(RUSAGE_CHILDREN) would mix across systems). The driver
    imports no torch, so the RSS a child could inherit at fork is small."""
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        start = time.perf_counter()
        proc = subprocess.Popen(cmd, stdout=out, stderr=err, env=env, cwd=cwd)
        _, status, usage = os.wait4(proc.pid, 0)
        proc.returncode = os.waitstatus_to_exitcode(status)
        wall = time.perf_counter() - start
        out.seek(0)
        err.seek(0)
        stdout, stderr = out.read().decode(errors="replace"), err.read().decode(errors="replace")
    if proc.returncode != 0:
        raise SystemExit(f"bench_finetune: {what} failed (exit {proc.returncode}):\n"
                         f"{(stderr.strip() or stdout.strip())[-4000:]}")
    return stdout, {"process_seconds": wall, "peak_rss_mib": usage.ru_maxrss / 1024,
                    "process_cpu_seconds": usage.ru_utime + usage.ru_stime}


def last_json_line(stdout: str, what: str) -> dict:
    for line in reversed(stdout.strip().splitlines()):
        if line.startswith("{"):
            return json.loads(line)
    raise SystemExit(f"bench_finetune: {what} printed no JSON line:\n{stdout[-2000:]}")


# ---------------------------------------------------------------------------------------------
# bertlite. The contract with `bertlite finetune` is these two functions: the command line, and
# the fields of OUT/training.json the table reads. Adapt them here if the CLI changes.

def bertlite_cmd(args, train: Path, out: Path) -> list[str]:
    # --head pooler: the peers' BertForSequenceClassification head, whatever bertlite's default.
    return [str(args.bertlite), "finetune", "--model", str(args.model), "--train", str(train),
            "--head", "pooler", "--epochs", str(args.epochs), "--lr", str(args.lr),
            "--batch-tokens", str(args.batch_tokens), "--max-length", str(args.max_length),
            "--seed", str(args.seed), "--threads", str(args.threads),
            "--warmup", str(args.warmup), "--weight-decay", str(args.weight_decay),
            "--out", str(out)]


def read_bertlite(out: Path) -> dict:
    """OUT/training.json -> the peers' result fields. Required: train_tokens (real tokens, summed
    over epochs), train_seconds, epochs[].train_loss; used when present: padded_tokens (tokens
    its batches would have been padded to), steps, tokens_per_second, useful_gflops,
    peak_rss_mib (its own report; the table uses wait4's like the peers')."""
    j = json.loads((out / "training.json").read_text())
    epochs = j.get("epochs", [])
    result = {"system": "bertlite", "train_tokens": j["train_tokens"],
              "train_seconds": j["train_seconds"],
              "padded_tokens": j["train_tokens"],  # packed: it computes no padding
              "padded_if_padded": j.get("padded_tokens"),
              "trainer_padded_tokens": j.get("trainer_padded_tokens"),
              "batches": j.get("steps"), "sentences": j.get("examples"),
              "train_loss": epochs[-1]["train_loss"] if epochs else None,
              "own_tokens_per_second": j.get("tokens_per_second"),
              "own_useful_gflops": j.get("useful_gflops"),
              "own_peak_rss_mib": j.get("peak_rss_mib"), "threads": j.get("threads"),
              "epochs": len(epochs), "peak_activation_mib": j.get("peak_activation_mib")}
    if result["sentences"] is not None:
        result["sentences"] *= max(1, len(epochs))
    return result


# ---------------------------------------------------------------------------------------------

def peer_cmd(args, system: str, train: Path) -> list[str]:
    cmd = [sys.executable, str(PEERS), system, "--model", str(args.model), "--train", str(train),
           "--threads", str(args.threads), "--epochs", str(args.epochs), "--lr", str(args.lr),
           "--max-length", str(args.max_length), "--seed", str(args.seed),
           "--warmup", str(args.warmup), "--weight-decay", str(args.weight_decay),
           "--batch-size", str(args.batch_size), "--batch-tokens", str(args.batch_tokens)]
    return cmd + (["--compile"] if args.compile and system == "loop" else [])


def gemm_limit(args, env: dict) -> dict:
    """Both libraries' training GEMMs at the model's shapes; per GEMM the faster median."""
    shape = peers.model_shape(args.model)
    with tempfile.TemporaryDirectory(prefix="bench_finetune_gemm_") as tmp:
        path = Path(tmp) / "gemm.json"
        run_measured([str(args.gemm_tool), "--training", "--threads", str(args.threads),
                      "--tokens", str(args.gemm_rows), "--hidden", str(shape["hidden"]),
                      "--ffn", str(shape["ffn"]), "--heads", str(shape["heads"]),
                      "--seconds", str(args.gemm_seconds), "--json", str(path)],
                     "bench_gemm_limit", env)
        ours = json.loads(path.read_text())
    stdout, _ = run_measured([sys.executable, str(PEERS), "gemm", "--model", str(args.model),
                              "--threads", str(args.threads), "--rows", str(args.gemm_rows),
                              "--seconds", str(args.gemm_seconds)], "peers.py gemm", env)
    theirs = last_json_line(stdout, "peers.py gemm")
    by_name = {g["name"]: g for g in theirs["gemms"]}
    flops = seconds = 0.0
    best_of = []
    for g in ours["gemms"]:
        t = by_name[g["name"]]
        winner = "bertlite" if g["median_seconds"] <= t["median_seconds"] else "torch"
        s = min(g["median_seconds"], t["median_seconds"])
        best_of.append({"name": g["name"], "winner": winner, "median_gflops": g["flops"] / s / 1e9})
        flops, seconds = flops + g["flops"], seconds + s
    return {"rows": args.gemm_rows, "hidden": shape["hidden"], "ffn": shape["ffn"],
            "bertlite_gflops": ours["total"]["median_gflops"],
            "torch_gflops": theirs["total"]["median_gflops"], "gflops": flops / seconds / 1e9,
            "per_gemm": best_of, "bertlite": ours, "torch": theirs}


def run_system(args, system: str, train: Path, tmp: Path, env: dict, round_: int) -> dict:
    if system == "bertlite":
        out = tmp / f"bertlite-{round_}"
        stdout, usage = run_measured(bertlite_cmd(args, train, out), "bertlite finetune", env,
                                     cwd=ROOT)
        result = read_bertlite(out)
        shutil.rmtree(out, ignore_errors=True)
        shutil.rmtree(Path(str(out) + ".checkpoint"), ignore_errors=True)
    else:
        stdout, usage = run_measured(peer_cmd(args, system, train), f"peers.py {system}", env)
        result = last_json_line(stdout, f"peers.py {system}")
        result["own_peak_rss_mib"] = result.pop("peak_rss_mib", None)
    result.update(usage)
    result["tokens_per_second"] = result["train_tokens"] / result["train_seconds"]
    result["useful_gflops"] = args.train_flops / result["train_seconds"] / 1e9
    result["padded_ratio"] = result["padded_tokens"] / result["train_tokens"]
    if result.get("batches"):
        result["sentences_per_batch"] = (result.get("sentences") or args.examples * args.epochs) \
            / result["batches"]
    return result


def summarize(runs: list[dict]) -> dict:
    med = lambda key: statistics.median(r[key] for r in runs)  # noqa: E731
    out = {k: med(k) for k in ("tokens_per_second", "train_seconds", "useful_gflops",
                               "peak_rss_mib", "padded_ratio", "process_seconds")}
    out["tokens_per_second_min"] = min(r["tokens_per_second"] for r in runs)
    out["tokens_per_second_max"] = max(r["tokens_per_second"] for r in runs)
    first = runs[0]
    for k in ("train_tokens", "batches", "sentences_per_batch", "train_loss", "padded_if_padded",
              "own_useful_gflops", "own_peak_rss_mib"):
        if first.get(k) is not None:
            out[k] = first[k]
    return out


def batching_note(args, system: str, s: dict) -> str:
    if system == "bertlite":
        return f"packed, <= {args.batch_tokens} real tokens"
    if system == "trainer":
        return f"random, {args.batch_size} sentences, padded"
    return f"length-grouped, <= {args.batch_tokens} padded tokens"


def print_report(args, report: dict) -> None:
    g = report["gemm_limit"]
    print(f"\n## Fine-tuning {args.model_name}: {args.examples} examples of "
          f"{args.data.name}, {args.epochs} epoch(s), max length {args.max_length}, "
          f"{args.threads} threads\n")
    print(f"CPU: {report['cpu']}; torch {report['versions'].get('torch', '?')}, transformers "
          f"{report['versions'].get('transformers', '?')}; load average "
          f"{report['load_before']:.1f} before, {report['load_after']:.1f} after; "
          f"{report['repeats']} round(s), medians.")
    print(f"Trainer batch size: {args.batch_size} sentences ({report['batch_size_source']}).")
    if g:
        print(f"GEMM limit (training GEMMs, {g['rows']} rows, H={g['hidden']}, I={g['ffn']}): "
              f"{g['gflops']:.1f} GFLOPS (bertlite kernels::gemm {g['bertlite_gflops']:.1f}, "
              f"torch {g['torch_gflops']:.1f}; per GEMM the faster median)\n")
    else:
        print("GEMM limit: not measured (--no-gemm)\n")
    print("| system | batching | batches | sentences/batch | real tokens | computed/real | "
          "train s | tokens/s | useful GFLOPS | % of GEMM limit | peak RSS MiB | train loss |")
    print("| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    for system, s in report["summary"].items():
        ratio = f"{s['padded_ratio']:.2f}"
        if system == "bertlite" and s.get("padded_if_padded"):
            ratio += f" (padded: {s['padded_if_padded'] / s['train_tokens']:.2f})"
        tps = f"{s['tokens_per_second']:,.0f}"
        if report["repeats"] > 1:
            tps += f" ({s['tokens_per_second_min']:,.0f}..{s['tokens_per_second_max']:,.0f})"
        spb = f"{s['sentences_per_batch']:.1f}" if s.get("sentences_per_batch") else "-"
        loss = f"{s['train_loss']:.4f}" if s.get("train_loss") is not None else "-"
        share = f"{100 * s['useful_gflops'] / g['gflops']:.0f}%" if g else "-"
        print(f"| {LABELS[system]} | {batching_note(args, system, s)} | {s.get('batches', '-')} | "
              f"{spb} | {s['train_tokens']:,} | {ratio} | {s['train_seconds']:.1f} | {tps} | "
              f"{s['useful_gflops']:.1f} | {share} | "
              f"{s['peak_rss_mib']:,.0f} | {loss} |")
    if report["ratios"]:
        print()
        for peer, r in report["ratios"].items():
            verdict = "met" if r["ratio"] >= r["target"] else "MISSED"
            print(f"- bertlite tokens/s / {LABELS[peer]}: **{r['ratio']:.2f}x** "
                  f"(target >= {r['target']}: {verdict})")
    for note in report["notes"]:
        print(f"- note: {note}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter,
                                     epilog=__doc__.split("\n\n", 1)[1])
    parser.add_argument("--bertlite", type=Path, default=ROOT / "build" / "cli" / "bertlite")
    parser.add_argument("--gemm-tool", type=Path,
                        default=ROOT / "build" / "bench" / "bench_gemm_limit")
    parser.add_argument("--model", type=Path, default=ROOT / "models" / "all-MiniLM-L6-v2")
    parser.add_argument("--data", type=Path, default=ROOT / "data" / "sst2" / "train.tsv",
                        help="headerless TSV: sentence<TAB>label")
    parser.add_argument("--examples", type=int, default=2000, help="the first N rows of --data")
    parser.add_argument("--epochs", type=int, default=1)
    parser.add_argument("--lr", type=float, default=1e-4)
    parser.add_argument("--batch-tokens", type=int, default=2048,
                        help="bertlite's token budget (real tokens), the loop's (padded tokens)")
    parser.add_argument("--batch-size", type=int, default=0,
                        help="Trainer's per_device_train_batch_size (0: the mean sentences per "
                             "bertlite batch)")
    parser.add_argument("--max-length", type=int, default=128)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--warmup", type=float, default=0.06)
    parser.add_argument("--weight-decay", type=float, default=0.01)
    parser.add_argument("--repeats", type=int, default=1, help="rounds (medians when > 1)")
    parser.add_argument("--systems", default=",".join(SYSTEMS), help="subset of %(default)s")
    parser.add_argument("--compile", action="store_true", help="the loop with torch.compile")
    parser.add_argument("--gemm-rows", type=int, default=0, help="M of the GEMM limit "
                        "(0: --batch-tokens)")
    parser.add_argument("--gemm-seconds", type=float, default=1.0, help="time per GEMM")
    parser.add_argument("--no-gemm", action="store_true", help="skip the GEMM limit")
    parser.add_argument("--quick", action="store_true",
                        help="smoke run: 200 examples, one round, 0.3 s per GEMM")
    parser.add_argument("--json", default=str(ROOT / ".cache" / "bench_finetune" / "results.json"),
                        help="write the report here ('' for none; default: %(default)s)")
    args = parser.parse_args()
    args.json = Path(args.json) if args.json else None
    if args.quick:
        args.examples = min(args.examples, 200)
        args.repeats = 1
        args.gemm_seconds = min(args.gemm_seconds, 0.3)
    systems = [s.strip() for s in args.systems.split(",") if s.strip()]
    if not systems or set(systems) - set(SYSTEMS):
        parser.error(f"--systems: a subset of {','.join(SYSTEMS)}")
    if args.repeats < 1 or args.threads < 1 or args.examples < 2:
        parser.error("--repeats and --threads must be >= 1, --examples >= 2")
    if "bertlite" in systems and not args.bertlite.is_file():
        parser.error(f"{args.bertlite} is not built (cmake --build build --target bertlite), "
                     "or leave it out with --systems trainer,loop")
    if not args.no_gemm and not args.gemm_tool.is_file():
        parser.error(f"{args.gemm_tool} is not built (cmake --build build --target "
                     "bench_gemm_limit), or pass --no-gemm")
    if not (args.model / "config.json").is_file():
        parser.error(f"{args.model}: no config.json")
    args.model_name = args.model.name  # before resolve(): models/ may hold a symlink
    args.model, args.data = args.model.resolve(), args.data.resolve()
    args.gemm_rows = args.gemm_rows or args.batch_tokens

    texts, labels = peers.read_examples(args.data)
    texts, labels = texts[:args.examples], labels[:args.examples]
    args.examples = len(texts)
    if len(set(labels)) < 2:
        parser.error("the examples need both labels")
    lengths = token_lengths(args.model, texts, args.max_length)
    shape = peers.model_shape(args.model)
    args.train_flops = 3.0 * peers.forward_flops(shape, lengths) * args.epochs
    expected_tokens = sum(lengths) * args.epochs
    estimated = bertlite_batch_count(lengths, args.batch_tokens, args.seed)
    if args.batch_size:
        source = "--batch-size"
    else:
        args.batch_size = max(1, round(len(texts) / estimated))
        source = (f"= {len(texts)} examples / {estimated} batches, bertlite's batching replayed "
                  f"on these lengths")

    env = dict(os.environ, OMP_NUM_THREADS=str(args.threads), TOKENIZERS_PARALLELISM="false",
               HF_HUB_OFFLINE="1", TRANSFORMERS_VERBOSITY="error")
    report = {"cpu": cpu_name(), "threads": args.threads, "model": str(args.model),
              "data": str(args.data), "examples": args.examples, "epochs": args.epochs,
              "max_length": args.max_length, "lr": args.lr, "batch_tokens": args.batch_tokens,
              "batch_size": args.batch_size, "batch_size_source": source,
              "repeats": args.repeats, "real_tokens": expected_tokens,
              "train_flops": args.train_flops, "load_before": os.getloadavg()[0],
              "versions": {}, "notes": []}
    log(f"{args.examples} examples, {sum(lengths):,} tokens per epoch; Trainer batch size "
        f"{args.batch_size} ({source})")

    start = time.perf_counter()
    if args.no_gemm:
        report["gemm_limit"] = None
    else:
        log("GEMM limit ...")
        report["gemm_limit"] = gemm_limit(args, env)
        log(f"GEMM limit: {report['gemm_limit']['gflops']:.1f} GFLOPS")

    runs: dict[str, list[dict]] = {s: [] for s in systems}
    with tempfile.TemporaryDirectory(prefix="bench_finetune_") as tmp_name:
        tmp = Path(tmp_name)
        train = tmp / "train.tsv"
        train.write_text("".join(f"{t}\t{y}\n" for t, y in zip(texts, labels)), encoding="utf-8")
        for r in range(args.repeats):
            order = systems[r % len(systems):] + systems[:r % len(systems)]
            for system in order:
                result = run_system(args, system, train, tmp, env, r)
                runs[system].append(result)
                for k in ("torch", "transformers"):
                    if result.get(k):
                        report["versions"][k] = result[k]
                log(f"round {r + 1}: {system}: {result['tokens_per_second']:,.0f} tokens/s, "
                    f"{result['train_seconds']:.1f} s training, peak RSS "
                    f"{result['peak_rss_mib']:,.0f} MiB (load average {os.getloadavg()[0]:.1f})")
    report["load_after"] = os.getloadavg()[0]
    report["seconds"] = time.perf_counter() - start
    report["runs"] = runs
    report["summary"] = {s: summarize(runs[s]) for s in systems}
    if report["gemm_limit"]:
        for summary in report["summary"].values():
            summary["gemm_limit_share"] = summary["useful_gflops"] / report["gemm_limit"]["gflops"]
    report["ratios"] = {}
    if "bertlite" in systems:
        ours = report["summary"]["bertlite"]["tokens_per_second"]
        for peer in ("trainer", "loop"):
            if peer in systems:
                report["ratios"][peer] = {
                    "ratio": ours / report["summary"][peer]["tokens_per_second"],
                    "target": TARGETS[peer]}
        b = runs["bertlite"][0]
        if b.get("batches") and b["batches"] != estimated * args.epochs:
            report["notes"].append(f"bertlite took {b['batches']} steps, the replay estimated "
                                   f"{estimated * args.epochs}: Trainer's batch size would be "
                                   f"{round(len(texts) * args.epochs / b['batches'])} from them")
        own = b.get("own_useful_gflops")
        if own and abs(own / b["useful_gflops"] - 1) > 0.01:
            report["notes"].append(f"bertlite's own useful GFLOPS ({own:.1f}) differs from this "
                                   f"script's formula ({b['useful_gflops']:.1f})")
    for system, rs in runs.items():
        if any(x["train_tokens"] != expected_tokens for x in rs):
            report["notes"].append(f"{system} trained on {rs[0]['train_tokens']:,} real tokens, "
                                   f"the driver's tokenizer counts {expected_tokens:,}")
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(report, indent=1) + "\n")
    print_report(args, report)
    print(f"\n(run took {report['seconds'] / 60:.1f} min" +
          (f"; JSON: {args.json})" if args.json else ")"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
