"""examples/first_bert.py - "A visual guide to using BERT for the first time", the notebook,
with bertlite in the encoder's place: pandas reads SST-2, bertlite turns the sentences into
features, scikit-learn splits, fits and scores. The same steps and figures as `bertlite guide`
([1] to [7]); run it as

    .venv/bin/pip install .          # once: the bertlite package (numpy, scikit-learn, pandas)
    .venv/bin/python examples/first_bert.py [path/to/train.tsv]

The notebook's encoder step (tokenize, pad, run DistilBERT, keep the [CLS] row of
last_hidden_state) is one call here, bertlite.FeatureExtractor.transform; the tokenizer is shown
separately, as the notebook shows it. bertlite never pads: it runs the real tokens only.
"""

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.dummy import DummyClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GridSearchCV, cross_val_score, train_test_split
from sklearn.pipeline import Pipeline

import bertlite

HERE = Path(__file__).resolve().parent


def default_data() -> Path:
    # The project's bundled copy, else the shared one beside the checkout.
    for candidate in (HERE.parent / "data" / "sst2" / "train.tsv",
                      HERE.parent.parent / "shared" / "data" / "sst2" / "train.tsv"):
        if candidate.exists():
            return candidate
    sys.exit("SST-2 not found: pass the path of train.tsv (sentence<TAB>label)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("train", nargs="?", type=Path, default=None, help="SST-2 train.tsv")
    parser.add_argument("--model", default=bertlite.default_model, help="model name or folder")
    parser.add_argument("--rows", type=int, default=2000, help="the notebook's subset")
    parser.add_argument("--seed", type=int, default=42)
    args = parser.parse_args()
    path = args.train or default_data()

    # 1. Read the data: a sentence and a 0/1 label per row, no header.
    df = pd.read_csv(path, delimiter="\t", header=None)
    batch_1 = df[: args.rows]
    counts = batch_1[1].value_counts()
    print(f"[1] read {path}: {len(df):,} rows x {df.shape[1]} columns (sentence, label)")
    print(f"    the first {len(batch_1):,} rows: {counts.get(1, 0):,} positive, "
          f"{counts.get(0, 0):,} negative")

    # 2. Tokenize, as the notebook shows it: one example, then the padded id matrix.
    bert = bertlite.FeatureExtractor(args.model)
    tokenizer = bert.encoder().tokenizer
    example = tokenizer.encode("a visually stunning rumination on love")
    print("[2] tokenize (adds [CLS] and [SEP]):")
    print("    " + "  ".join(tokenizer.tokens(example.ids)))
    print("    " + "  ".join(str(i) for i in example.ids))
    padded = tokenizer.encode_batch(batch_1[0], return_tensors="np")
    shape = padded["input_ids"].shape
    print(f"    padded to the longest sentence: input_ids {shape}, attention_mask "
          f"{padded['attention_mask'].shape}")
    print(f"    {int(padded['attention_mask'].sum()):,} of those {shape[0] * shape[1]:,} cells "
          "are real tokens")

    # 3. The encoder: one feature row per sentence (the model's own pooling: mean, L2 for
    # all-MiniLM-L6-v2; FeatureExtractor(pooling="cls") keeps the notebook's [CLS] row).
    start = time.perf_counter()
    features = bert.transform(batch_1[0])
    seconds = time.perf_counter() - start
    labels = batch_1[1].to_numpy()
    print(f"[3] features: {features.shape} {features.dtype} ({seconds:.2f} s)")

    # 4-6. Split, fit, score, and the baseline.
    train_features, test_features, train_labels, test_labels = train_test_split(
        features, labels, test_size=0.25, random_state=args.seed)
    print(f"[4] train_test_split(features, labels, test_size=0.25, random_state={args.seed}): "
          f"train {train_features.shape}, test {test_features.shape}")
    lr_clf = LogisticRegression()
    lr_clf.fit(train_features, train_labels)
    accuracy = lr_clf.score(test_features, test_labels)
    print(f"[5] LogisticRegression(C=1).fit(train) -> accuracy on the test rows: {accuracy:.3f}")
    scores = cross_val_score(DummyClassifier(), train_features, train_labels)
    print(f"[6] baseline, the most frequent class (DummyClassifier, 5-fold CV): "
          f"{scores.mean():.3f} (+/- {scores.std() * 2:.2f})")

    # 7. The notebook's grid search over C.
    search = GridSearchCV(LogisticRegression(), {"C": np.linspace(0.0001, 100, 20)}, cv=5)
    search.fit(train_features, train_labels)
    refit = search.score(test_features, test_labels)
    print(f"[7] grid search over C (walkthrough, 20 values, 5-fold CV): best C = "
          f"{search.best_params_['C']:.4g}, CV accuracy {search.best_score_:.3f}")
    print(f"    refit on all {len(train_labels):,} training rows -> accuracy on the "
          f"{len(test_labels):,} test rows: {refit:.3f}")

    # The same classifier as one scikit-learn Pipeline on the sentences themselves.
    train_texts, test_texts = train_test_split(
        batch_1[0], test_size=0.25, random_state=args.seed)
    model = Pipeline([("bert", bert), ("clf", LogisticRegression())])
    model.fit(train_texts, train_labels)
    print(f"    as Pipeline([bert, LogisticRegression()]) on the sentences: accuracy "
          f"{model.score(test_texts, test_labels):.3f}")


if __name__ == "__main__":
    main()
