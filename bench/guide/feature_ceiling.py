#!/usr/bin/env python3
"""How far frozen features of a model can take the walkthrough's logistic regression.

The walkthrough's target (issue 4) is 0.824 mean accuracy over 10 seeds on the first 2,000 SST-2
rows, 75/25, LogisticRegression(C=1): DistilBERT-base's [CLS] figure. This measures, with
transformers and scikit-learn alone (no bertlite), what the same protocol gives for the features
one can take from a model without training it:
  - each hidden state's [CLS] row and its mask-weighted mean (embeddings = layer 0), L2-normalized;
  - all hidden states' means concatenated, with and without their max over the tokens;
and then, beyond the notebook, all 6,920 training sentences -> the 872 dev sentences at several C,
trained on the sentences or, with --phrases, on every distinct non-neutral phrase of the SST
training trees (the GLUE SST-2 protocol; ../shared/data/sst/train.txt).

  .venv/bin/python bench/guide/feature_ceiling.py [--model models/all-MiniLM-L6-v2]
      [--phrases ../shared/data/sst/train.txt]
"""
import argparse
import re
import warnings
from pathlib import Path

import numpy as np
import torch
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import train_test_split
from transformers import AutoModel, AutoTokenizer

ROOT = Path(__file__).resolve().parents[2]
PTB_ESCAPES = {"-LRB-": "(", "-RRB-": ")", "\\/": "/", "\\*": "*"}


def read_tsv(path):
    rows = [line.rstrip("\n").split("\t") for line in open(path, encoding="utf-8") if line.strip()]
    return [r[0] for r in rows], np.array([int(r[1]) for r in rows])


def tree_phrases(path):
    """Every distinct phrase of PTB sentiment trees with label 0-1 (-> 0) or 3-4 (-> 1), lower-cased
    with PTB escapes undone, as the SST-2 files are."""
    phrases = {}
    for line in open(path, encoding="utf-8"):
        tokens = re.findall(r"\(|\)|[^\s()]+", line)
        stack = []  # per open node: [label, words]
        i = 0
        while i < len(tokens):
            if tokens[i] == "(":
                stack.append([int(tokens[i + 1]), []])
                i += 2
            elif tokens[i] == ")":
                label, words = stack.pop()
                if stack:
                    stack[-1][1].extend(words)
                text = " ".join(PTB_ESCAPES.get(w, w) for w in words).lower()
                if label != 2:
                    phrases.setdefault(text, int(label > 2))
                i += 1
            else:
                stack[-1][1].append(tokens[i])
                i += 1
    return list(phrases), np.array(list(phrases.values()))


def hidden_state_features(model, tokenizer, texts, batch_size=64):
    """Per text and hidden state: the [CLS] row, the masked mean and the masked max."""
    order = np.argsort([len(t) for t in texts], kind="stable")
    cls, mean, peak = [None] * len(texts), [None] * len(texts), [None] * len(texts)
    for start in range(0, len(texts), batch_size):
        rows = order[start:start + batch_size]
        batch = tokenizer([texts[r] for r in rows], padding=True, return_tensors="pt")
        with torch.inference_mode():
            states = torch.stack(model(**batch, output_hidden_states=True).hidden_states, 1)
        mask = batch["attention_mask"][:, None, :, None].float()  # [B, 1, T, 1]
        means = (states * mask).sum(2) / mask.sum(2)
        peaks = states.masked_fill(mask == 0, float("-inf")).max(2).values
        for k, r in enumerate(rows):
            cls[r], mean[r], peak[r] = states[k, :, 0].numpy(), means[k].numpy(), peaks[k].numpy()
    return np.stack(cls), np.stack(mean), np.stack(peak)  # each [N, layers + 1, H]


def l2(x):
    return x / np.linalg.norm(x, axis=-1, keepdims=True)


def walkthrough(features, labels, rows=2000, seeds=range(42, 52)):
    x, y = features[:rows], labels[:rows]
    scores = []
    for seed in seeds:
        train_x, test_x, train_y, test_y = train_test_split(x, y, random_state=seed)
        scores.append(LogisticRegression().fit(train_x, train_y).score(test_x, test_y))
    return np.mean(scores), np.std(scores)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", default=str(ROOT / "models" / "all-MiniLM-L6-v2"))
    parser.add_argument("--data", default=str(ROOT / "data" / "sst2"))
    parser.add_argument("--phrases", help="SST training trees (PTB format) for the GLUE protocol")
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    warnings.filterwarnings("ignore", category=ConvergenceWarning)

    tokenizer = AutoTokenizer.from_pretrained(args.model)
    model = AutoModel.from_pretrained(args.model).eval()
    texts, labels = read_tsv(Path(args.data) / "train.tsv")
    dev_texts, dev_labels = read_tsv(Path(args.data) / "dev.tsv")
    cls, mean, peak = hidden_state_features(model, tokenizer, texts)
    layers = mean.shape[1]

    print(f"{args.model}: the first 2,000 rows, 75/25, LogisticRegression(C=1), seeds 42..51")
    print(f"{'features':44s} accuracy (mean +/- std)")
    candidates = {f"hidden state {k} [CLS]": l2(cls[:, k]) for k in range(layers)}
    candidates.update({f"hidden state {k} mean": l2(mean[:, k]) for k in range(layers)})
    candidates["all hidden states' means, concatenated"] = np.concatenate(
        [l2(mean[:, k]) for k in range(layers)], 1)
    candidates["all hidden states' means and maxima"] = np.concatenate(
        [l2(mean[:, k]) for k in range(layers)] + [l2(peak[:, k]) for k in range(layers)], 1)
    for name, features in candidates.items():
        m, s = walkthrough(features, labels)
        print(f"{name:44s} {m:.3f} +/- {s:.3f}")

    print("\nall training sentences -> dev, last hidden state's mean (L2-normalized), by C")
    _, dev_mean, _ = hidden_state_features(model, tokenizer, dev_texts)
    sets = {"the 6,920 sentences": (l2(mean[:, -1]), labels)}
    if args.phrases:
        phrase_texts, phrase_labels = tree_phrases(args.phrases)
        _, phrase_mean, _ = hidden_state_features(model, tokenizer, phrase_texts)
        sets[f"the {len(phrase_texts):,} phrases"] = (l2(phrase_mean[:, -1]), phrase_labels)
    for name, (x, y) in sets.items():
        scores = [LogisticRegression(C=C, max_iter=1000).fit(x, y).score(l2(dev_mean[:, -1]),
                                                                          dev_labels)
                  for C in (1.0, 5.263, 10.0, 100.0)]
        print(f"  trained on {name}: C = 1, 5.263, 10, 100 -> " +
              ", ".join(f"{s:.3f}" for s in scores))


if __name__ == "__main__":
    main()
