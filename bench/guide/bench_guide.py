#!/usr/bin/env python3
"""bertlite guide end to end against the same steps in Python (transformers + scikit-learn).

Side by side in one run, same model, same threads, feature cache cold:
  python:   the notebook's steps as its code does them - the first 2,000 SST-2 train sentences
            tokenized and padded into one batch, the model run with the attention mask, the
            features pooled as bertlite guide pools them by default (the model's own pooling:
            mean + L2-normalize for all-MiniLM-L6-v2), train_test_split(random_state=42),
            LogisticRegression(), DummyClassifier cross_val_score, the same over 10 seeds,
            GridSearchCV over np.linspace(0.0001, 100, 20); then all 6,920 train -> 872 dev
            sentences in length-sorted batches of 32 (one padded batch of 7,792 would not be
            sane), [CLS] and mean features, a grid search for each.
  bertlite: `bertlite guide --no-cache --report ''` - the same steps (it prints them).
Both include loading the model. Prints wall seconds, medians over --repeats, and the ratio.

  .venv/bin/python bench/guide/bench_guide.py --bertlite build/cli/bertlite [--repeats 3]
"""
import argparse
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

PYTHON_STEPS = r'''
import sys, time, numpy as np, torch
from transformers import AutoModel, AutoTokenizer
from sklearn.linear_model import LogisticRegression
from sklearn.dummy import DummyClassifier
from sklearn.model_selection import train_test_split, cross_val_score, GridSearchCV
torch.set_num_threads(int(sys.argv[2]))
start = time.perf_counter()
model_dir, root = sys.argv[1], sys.argv[3]
def read(path):
    rows = [l.rstrip("\n").split("\t") for l in open(path, encoding="utf-8") if l.strip()]
    return [r[0] for r in rows], np.array([int(r[1]) for r in rows])
texts, labels = read(root + "/data/sst2/train.tsv")
dev_texts, dev_labels = read(root + "/data/sst2/dev.tsv")
tok = AutoTokenizer.from_pretrained(model_dir)
model = AutoModel.from_pretrained(model_dir).eval()
def pool(h, mask, how):
    if how == "cls":
        return h[:, 0]
    m = mask.unsqueeze(-1).float()
    return torch.nn.functional.normalize((h * m).sum(1) / m.sum(1).clamp(min=1e-9), dim=1)
with torch.inference_mode():
    enc = tok(texts[:2000], padding=True, return_tensors="pt")
    h = model(**enc).last_hidden_state
    features = pool(h, enc["attention_mask"], "mean").numpy()
y = labels[:2000]
a, b, c, d = train_test_split(features, y, random_state=42)
LogisticRegression().fit(a, c).score(b, d)
cross_val_score(DummyClassifier(), a, c)
for seed in range(42, 52):
    a2, b2, c2, d2 = train_test_split(features, y, random_state=seed)
    LogisticRegression().fit(a2, c2).score(b2, d2)
GridSearchCV(LogisticRegression(), {"C": np.linspace(0.0001, 100, 20)}).fit(a, c).score(b, d)
def encode_all(sentences):
    order = sorted(range(len(sentences)), key=lambda i: -len(tok(sentences[i])["input_ids"]))
    out = {"cls": [None] * len(sentences), "mean": [None] * len(sentences)}
    with torch.inference_mode():
        for k in range(0, len(order), 32):
            idx = order[k:k + 32]
            e = tok([sentences[i] for i in idx], padding=True, return_tensors="pt")
            h = model(**e).last_hidden_state
            for how in out:
                p = pool(h, e["attention_mask"], how)
                if how == "cls":
                    p = torch.nn.functional.normalize(p, dim=1)
                for j, i in enumerate(idx):
                    out[how][i] = p[j].numpy()
    return {how: np.stack(v) for how, v in out.items()}
train_f, dev_f = encode_all(texts), encode_all(dev_texts)
for how in ("mean", "cls"):
    GridSearchCV(LogisticRegression(), {"C": np.linspace(0.0001, 100, 20)}).fit(
        train_f[how], labels).score(dev_f[how], dev_labels)
print(time.perf_counter() - start)
'''


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bertlite", default=str(ROOT / "build/cli/bertlite"))
    parser.add_argument("--model", default=str(ROOT / "models/all-MiniLM-L6-v2"))
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    times = {"python (transformers + scikit-learn)": [], "bertlite guide": []}
    env = dict(os.environ, OMP_NUM_THREADS=str(args.threads), TOKENIZERS_PARALLELISM="false")
    for r in range(args.repeats):
        for name in (list(times) if r % 2 == 0 else list(times)[::-1]):
            start = time.perf_counter()
            if name.startswith("python"):
                subprocess.run([sys.executable, "-c", PYTHON_STEPS, args.model, str(args.threads),
                                str(ROOT)], check=True, env=env, stdout=subprocess.DEVNULL)
            else:
                subprocess.run([args.bertlite, "guide", "--model", args.model, "--no-cache",
                                "--report", "", "--threads", str(args.threads)], check=True,
                               env=env, stdout=subprocess.DEVNULL, cwd=ROOT)
            times[name].append(time.perf_counter() - start)
            print(f"round {r + 1}: {name}: {times[name][-1]:.1f} s "
                  f"(load average {os.getloadavg()[0]:.1f})", flush=True)
    medians = {name: statistics.median(t) for name, t in times.items()}
    print(f"\n{'':40} median wall s   (min..max)")
    for name, t in times.items():
        print(f"{name:40} {medians[name]:10.1f}   ({min(t):.1f}..{max(t):.1f})")
    python, bertlite = medians
    print(f"\nbertlite guide is {medians[python] / medians[bertlite]:.2f}x faster "
          f"({args.threads} threads, model {Path(args.model).name})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
