"""bench/python/bench_transform.py - bertlite.FeatureExtractor.transform against `bertlite embed`
on the same sentences and threads (issue 16: within 5%).

Runs are interleaved (CLI, Python, CLI, Python, ...) so a neighbour's load hits both alike, and
the fastest of each is reported. The CLI's time is its own measure of the encoding (the
"N s" it prints: reading the file and loading the model excluded); Python's is the transform
call alone (the encoder loaded before, as a Pipeline's second call finds it).
  .venv/bin/python bench/python/bench_transform.py --bertlite build/cli/bertlite [--threads 2]
"""

import argparse
import re
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

import bertlite
from bench_common import cpu_name

ROOT = Path(__file__).resolve().parents[2]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--bertlite", type=Path, default=ROOT / "build" / "cli" / "bertlite")
    parser.add_argument("--data", type=Path, default=ROOT / "data" / "sst2" / "train.tsv")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()

    texts = [line.split("\t")[0] for line in args.data.read_text(encoding="utf-8").splitlines()]
    bertlite.set_threads(args.threads)
    bert = bertlite.FeatureExtractor()
    bert.transform(texts[:64])  # load the model and warm the GEMM plans
    cli_times, py_times = [], []
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "features.npy"
        for _ in range(args.repeats):
            result = subprocess.run(
                [str(args.bertlite), "embed", "--input", str(args.data), "--out", str(out),
                 "--threads", str(args.threads)], capture_output=True, text=True, check=True)
            cli_times.append(float(re.search(r"tokens, .* truncated, ([0-9.]+) s",
                                             result.stdout).group(1)))
            start = time.perf_counter()
            bert.transform(texts)
            py_times.append(time.perf_counter() - start)
    cli, py = min(cli_times), min(py_times)
    print(f"CPU: {cpu_name()}; {len(texts):,} sentences ({args.data.name}), "
          f"{args.threads} threads, best of {args.repeats}")
    print(f"  bertlite embed                 {cli:6.2f} s  (median {statistics.median(cli_times):.2f})")
    print(f"  FeatureExtractor.transform     {py:6.2f} s  (median {statistics.median(py_times):.2f})")
    print(f"  Python / CLI: {py / cli:.3f}")


if __name__ == "__main__":
    main()
