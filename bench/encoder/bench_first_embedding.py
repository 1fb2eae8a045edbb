#!/usr/bin/env python3
"""Time from a cold start to the first embedding: the whole `bertlite embed` process on one
sentence (start, load the model folder, tokenize, one forward pass, write the .npy, exit), next to
the same in Python with sentence-transformers (interpreter start and imports included, then
SentenceTransformer(folder) and encode() of the sentence).

Every run is a fresh process; the model files are in the page cache after the first (warm-up)
run of each variant, as they are for a user's second command. Variants alternate, --repeats
rounds, medians (and min..max) reported.

  .venv/bin/python bench/encoder/bench_first_embedding.py --bertlite build/cli/bertlite \\
      [--model models/all-MiniLM-L6-v2] [--repeats 15] [--no-python]

The int8 row also loads a folder written by `bertlite quantize` (weights stored in int8), made
once into a temporary folder.
"""
import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SENTENCE = "a visually stunning rumination on love"
TARGET_MS = 100.0

PYTHON_PEER = r'''
import sys
from sentence_transformers import SentenceTransformer
model = SentenceTransformer(sys.argv[1], device="cpu")
model.encode([sys.argv[2]])
'''


def wall_ms(command):
    start = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True)
    elapsed = 1000.0 * (time.perf_counter() - start)
    if done.returncode != 0:
        sys.exit(f"{' '.join(map(str, command))} failed:\n{done.stderr}")
    return elapsed


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bertlite", default=str(ROOT / "build/cli/bertlite"))
    parser.add_argument("--model", default=str(ROOT / "models/all-MiniLM-L6-v2"))
    parser.add_argument("--repeats", type=int, default=15)
    parser.add_argument("--no-python", action="store_true", help="skip sentence-transformers")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="bertlite-first-") as tmp:
        tmp = Path(tmp)
        (tmp / "one.txt").write_text(SENTENCE + "\n", encoding="utf-8")
        quantized = tmp / "int8-folder"
        subprocess.run([args.bertlite, "quantize", "--model", args.model, "--precision", "int8",
                        "--out", str(quantized)], check=True, capture_output=True)

        def embed(model, *extra):
            return [args.bertlite, "embed", "--model", str(model), "--input", str(tmp / "one.txt"),
                    "--out", str(tmp / "one.npy"), *extra]

        variants = {
            "bertlite fp32": embed(args.model),
            "bertlite bf16": embed(args.model, "--precision", "bf16"),
            "bertlite int8 (quantized at load)": embed(args.model, "--precision", "int8"),
            "bertlite int8 (bertlite quantize folder)": embed(quantized),
        }
        if not args.no_python:
            variants["sentence-transformers fp32 (python)"] = [
                sys.executable, "-c", PYTHON_PEER, args.model, SENTENCE]
        times = {name: [] for name in variants}
        for command in variants.values():
            wall_ms(command)  # warm-up: files into the page cache
        for _ in range(args.repeats):
            for name, command in variants.items():
                times[name].append(wall_ms(command))

    print(f"time to the first embedding, whole process, one sentence; {args.model}; "
          f"medians of {args.repeats} alternating runs")
    print(f"{'variant':44} {'median ms':>10} {'min..max':>16}")
    for name, values in times.items():
        print(f"{name:44} {statistics.median(values):10.1f} "
              f"{min(values):7.1f}..{max(values):7.1f}")
    fp32 = statistics.median(times["bertlite fp32"])
    verdict = "met" if fp32 < TARGET_MS else "not met"
    print(f"[{verdict}] bertlite fp32 first embedding {fp32:.1f} ms (target < {TARGET_MS:.0f} ms)")


if __name__ == "__main__":
    main()
