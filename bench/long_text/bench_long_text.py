"""bench/long_text/bench_long_text.py - does reading long texts in windows matter? Accuracy of
`bertlite predict --long-text truncate` against `--long-text window` on documents longer than the
model, made from SST-2's own sentences by tools/make_long_documents.py (consecutive same-label
sentences joined into 600-1,000-token documents).

Two protocols, so that no document holds a sentence its classifier was trained on:
  dev docs:   a classifier trained on the 6,920 SST-2 train sentences, scored on the documents
              made from the 872 dev sentences;
  train docs: a classifier trained on the 872 dev sentences, scored on the documents made from
              the 6,920 train sentences.
Each classifier: `bertlite train --pooling mean --normalize` (the default model's pooling), C by
5-fold grid search, trained on sentences (which fit any window). Each is scored at the model's
full 512 tokens and at --max-length 128, truncating and by windows (--stride default, a quarter
of a window; a document's probability is the mean of its windows').

  .venv/bin/python bench/long_text/bench_long_text.py [--bertlite build/cli/bertlite]
"""

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def run(*args):
    result = subprocess.run([str(a) for a in args], capture_output=True, text=True)
    if result.returncode != 0:
        sys.exit(f"failed: {' '.join(map(str, args))}\n{result.stderr}")
    return result.stdout


def accuracy(bertlite, classifier, docs, mode):
    # The classifier file holds its max length: predict encodes as it was trained.
    start = time.perf_counter()
    args = [bertlite, "predict", "--classifier", classifier, "--input", docs, "--long-text", mode,
            "--json"]
    out = run(*args)
    seconds = time.perf_counter() - start
    labels = [line.rsplit("\t", 1)[1] for line in docs.read_text(encoding="utf-8").splitlines()]
    predicted = [json.loads(line)["label"] for line in out.splitlines()]
    assert len(predicted) == len(labels)
    return sum(p == y for p, y in zip(predicted, labels)) / len(labels), len(labels), seconds


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--bertlite", default=str(ROOT / "build" / "cli" / "bertlite"))
    parser.add_argument("--work", default=str(ROOT / ".cache" / "bench_long_text"))
    parser.add_argument("--json", default=None)
    args = parser.parse_args()
    work = Path(args.work)
    work.mkdir(parents=True, exist_ok=True)
    python = sys.executable
    docs = {}
    for split in ("dev", "train"):
        docs[split] = work / f"{split}_docs.tsv"
        print(run(python, ROOT / "tools" / "make_long_documents.py", "--split", split, "--out",
                  docs[split]).strip())

    results = []
    for name, train_split, doc_split in (("dev docs", "train", "dev"),
                                         ("train docs", "dev", "train")):
        for max_length in (512, 128):
            classifier = work / f"clf_{train_split}_{max_length}.json"
            run(args.bertlite, "train", "--train", ROOT / "data" / "sst2" / f"{train_split}.tsv",
                "--pooling", "mean", "--normalize", "--max-length", max_length, "--out",
                classifier)
            for mode in ("truncate", "window"):
                acc, n, seconds = accuracy(args.bertlite, classifier, docs[doc_split], mode)
                results.append({"documents": name, "count": n, "max_length": max_length,
                                "long_text": mode, "accuracy": acc, "seconds": seconds})
                print(f"{name:10} ({n:3} documents)  max length {max_length:3}  {mode:8}  "
                      f"accuracy {acc:.4f}  ({seconds:.1f} s)", flush=True)
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=1) + "\n")


if __name__ == "__main__":
    main()
