#!/usr/bin/env python3
"""make_learn_goldens.py - scikit-learn's answers for the learn layer's parity tests, and a
side-by-side check on any feature matrix.

(a) With no --features: builds small deterministic feature matrices and writes, with what
scikit-learn (and numpy) make of them, the goldens tests/learn/*_test.cpp compare against:

  tests/data/learn/binary_x.npy   float32 [400, 32], labels {0, 1} (55/45), classes overlap
  tests/data/learn/multi_x.npy    float32 [450, 24], labels {3, 7, 11} (50/30/20)
  tests/data/learn/goldens.json   everything else (layout below)

  The data: y drawn first; x = z A + mu_y + offset with z ~ N(0, I), A a random mixing matrix
  with singular values from 0.3 to 3 (correlated, unequally scaled features), class means a few
  units apart so the classes overlap (Bayes accuracy well below 100%): C then changes both the
  coefficients and the held-out predictions. Only numpy's legacy RandomState is used, whose
  streams numpy keeps fixed across versions.

  goldens.json:
    versions                          sklearn, numpy, scipy used
    datasets.<name>                   {x: file, y, train, test}: train/test rows are
                                      train_test_split(arange(n), random_state=0)
    fits[]                            LogisticRegression(C, max_iter, tol, fit_intercept,
                                      class_weight) on the train rows: classes, coef,
                                      intercept, n_iter, objective, and on the test rows
                                      proba (predict_proba) and predict
    permutations[]                    RandomState(seed).permutation(n): whole for small n,
                                      else head, tail and a checksum sum(i * p[i]) mod 2^61-1
    train_test_splits[]               train_test_split(arange(n), test_size, random_state)
    stratified_kfold[]                StratifiedKFold(k).split: the test fold of every row
    cross_val_score[], dummy_cv[]     cross_val_score(LogisticRegression(...)) / DummyClassifier
    grid_search[]                     GridSearchCV(LogisticRegression(...), {"C": grid}): per
                                      point mean/std/rank, best index and C, refit coef, test score
    grids                             np.linspace(0.0001, 100, 20), np.logspace(-4, 4, 17)
    roc_auc[], classification[]       roc_auc_score; precision_recall_fscore_support, confusion
    pca[]                             PCA(k) on a data set: mean, components, explained variance
                                      (ratio), transform of the first rows

  Why two kinds of solver settings. Parity of *coefficients* is only meaningful at a point both
  solvers reach: the minimizer. The "tight" fits (max_iter=10000, tol=1e-8) converge in both
  scipy's L-BFGS-B and bertlite's L-BFGS, so the tests require coefficients within 1e-3
  relative (max |a - b| / max |b|) and equal predictions on every test row; a wrong objective,
  gradient, penalty scaling or intercept handling fails that by orders of magnitude. At
  scikit-learn's defaults (max_iter=100, tol=1e-4) the solvers stop at different points near
  the minimizer (L-BFGS iterates are not bit-reproducible across implementations), so parity
  there is only as close as tol allows; the "default" fits are a well-conditioned case where
  both converge well within 100 iterations, and the tests allow for that tolerance. The grid
  search and cross-validation goldens use the tight settings too, so fold accuracies must match
  exactly (one borderline row would otherwise flip).

  scikit-learn is given the float32 features as float64 (the same values): with float32 input
  it computes per-row losses in float32 (its objective is then noisy at ~1e-7), while bertlite
  solves in float64 over float32 features, which is what float64 input to scikit-learn does.

  Files are written atomically; the output is deterministic (rerunning with the same versions
  gives byte-identical files).

(b) With --features X.npy --labels labels.txt (any matrix bertlite writes, one label per line):
  runs the walkthrough's steps with scikit-learn and prints them - split (--seed), a
  LogisticRegression (--C, --max-iter, --tol) fitted on the training rows with its test
  accuracy and iteration count, the majority baseline's and the classifier's 5-fold CV on the
  training rows, optionally a grid search (--grid walkthrough|log|C1,C2,...), and PCA's
  explained variance. With --classifier FILE (a bertlite classifier file trained on the same
  training rows with the same options) it also compares coefficients, intercepts, test
  predictions and probabilities with scikit-learn's, and exits 1 when the coefficients differ by
  more than --rtol (relative) or any test prediction differs. --json OUT writes the printed
  numbers as JSON.

Usage:
  .venv/bin/python tools/make_learn_goldens.py [--out DIR]
  .venv/bin/python tools/make_learn_goldens.py --features X.npy --labels labels.txt [options]
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
import tempfile
import warnings
from pathlib import Path

import numpy as np
import scipy
import sklearn
from sklearn.decomposition import PCA
from sklearn.dummy import DummyClassifier
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import confusion_matrix, precision_recall_fscore_support, roc_auc_score
from sklearn.model_selection import (GridSearchCV, StratifiedKFold, cross_val_score,
                                     train_test_split)

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_OUT = ROOT / "tests" / "data" / "learn"

TIGHT = {"max_iter": 10000, "tol": 1e-8}
DEFAULT = {"max_iter": 100, "tol": 1e-4}
WALKTHROUGH_GRID = np.linspace(0.0001, 100, 20)
LOG_GRID = np.logspace(-4, 4, 17)
CHECKSUM_MOD = 2**61 - 1
WHOLE_PERMUTATION_MAX = 100


# ---------------------------------------------------------------------------------------------
# Data
# ---------------------------------------------------------------------------------------------


def make_dataset(seed: int, n: int, d: int, labels: list[int], proportions: list[float],
                 separation: float) -> tuple[np.ndarray, np.ndarray]:
    rs = np.random.RandomState(seed)
    y = np.asarray(labels)[rs.choice(len(labels), size=n, p=proportions)]
    q, _ = np.linalg.qr(rs.standard_normal((d, d)))
    mixing = q * np.linspace(0.3, 3.0, d)  # correlated columns of unequal scale
    z = rs.standard_normal((n, d))
    means = rs.standard_normal((len(labels), d))
    means *= separation / np.linalg.norm(means, axis=1, keepdims=True)
    offset = rs.uniform(-1.0, 1.0, d)
    class_index = np.searchsorted(np.asarray(labels), y)
    x = z @ mixing + means[class_index] + offset
    return x.astype(np.float32), y.astype(np.int64)


def datasets() -> dict[str, tuple[np.ndarray, np.ndarray]]:
    return {
        "binary": make_dataset(11, 400, 32, [0, 1], [0.55, 0.45], 2.0),
        "multi": make_dataset(12, 450, 24, [3, 7, 11], [0.5, 0.3, 0.2], 2.5),
    }


# ---------------------------------------------------------------------------------------------
# scikit-learn's answers
# ---------------------------------------------------------------------------------------------


def objective(model: LogisticRegression, x: np.ndarray, y: np.ndarray) -> float:
    """scikit-learn's lbfgs objective at the fitted coefficients (unweighted)."""
    z = x @ model.coef_.T + model.intercept_
    n = len(y)
    if len(model.classes_) == 2:
        t = (y == model.classes_[1]).astype(np.float64)
        loss = np.logaddexp(0, z[:, 0]) - t * z[:, 0]
    else:
        idx = np.searchsorted(model.classes_, y)
        loss = np.logaddexp.reduce(z, axis=1) - z[np.arange(n), idx]
    return float(loss.mean() + (model.coef_**2).sum() / (2 * model.C * n))


def fit_entry(name: str, x: np.ndarray, y: np.ndarray, train, test, C: float, settings: dict,
              fit_intercept: bool = True, class_weight=None, kind: str = "tight") -> dict:
    model = LogisticRegression(C=C, fit_intercept=fit_intercept, class_weight=class_weight,
                               **settings)
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)  # the goldens must be converged fits
        model.fit(x[train].astype(np.float64), y[train])
    xt = x[test].astype(np.float64)
    return {
        "dataset": name, "kind": kind, "C": C, "max_iter": settings["max_iter"],
        "tol": settings["tol"], "fit_intercept": fit_intercept,
        "class_weight": class_weight or "none",
        "classes": model.classes_.tolist(),
        "coef": model.coef_.tolist(), "intercept": np.atleast_1d(model.intercept_).tolist(),
        "n_iter": int(model.n_iter_[0]),
        "objective": objective(model, x[train].astype(np.float64), y[train])
        if class_weight is None else None,
        "proba": model.predict_proba(xt).tolist(),
        "predict": model.predict(xt).tolist(),
    }


def permutation_entry(seed: int, n: int) -> dict:
    p = np.random.RandomState(seed).permutation(n)
    entry = {"seed": seed, "n": n}
    if n <= WHOLE_PERMUTATION_MAX:
        entry["perm"] = p.tolist()
    else:
        entry["head"] = p[:50].tolist()
        entry["tail"] = p[-50:].tolist()
        checksum = 0
        for i, v in enumerate(p.tolist()):
            checksum = (checksum + i * v) % CHECKSUM_MOD
        entry["checksum"] = checksum
    return entry


def split_entry(seed: int, n: int, test_size: float) -> dict:
    train, test = train_test_split(np.arange(n), test_size=test_size, random_state=seed)
    entry = {"seed": seed, "n": n, "test_size": test_size, "n_train": len(train),
             "n_test": len(test)}
    if n <= WHOLE_PERMUTATION_MAX:
        return {**entry, "train": train.tolist(), "test": test.tolist()}
    # Large splits: the test rows whole (they pick the rows), the train rows by checksum.
    return {**entry, "test": test.tolist(), "train_head": train[:50].tolist(),
            "train_checksum": sum(i * v for i, v in enumerate(train.tolist())) % CHECKSUM_MOD}


def kfold_entry(name: str, y: np.ndarray, k: int = 5) -> dict:
    folds = np.empty(len(y), dtype=np.int64)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # a class smaller than k: still folds
        for f, (_, test) in enumerate(StratifiedKFold(n_splits=k).split(np.zeros(len(y)), y)):
            folds[test] = f
    return {"name": name, "k": k, "y": y.tolist(), "folds": folds.tolist()}


def kfold_cases() -> list[dict]:
    rs = np.random.RandomState(5)
    walkthrough = np.array([1] * 1041 + [0] * 959)
    rs.shuffle(walkthrough)
    return [
        kfold_entry("balanced 10", np.array([0, 1] * 5)),
        kfold_entry("three classes, unsorted first appearance", rs.choice([9, 2, 5], 23,
                                                                          p=[0.2, 0.5, 0.3])),
        kfold_entry("a class smaller than k", np.array([1] * 40 + [0] * 3 + [2] * 20)[
            rs.permutation(63)]),
        kfold_entry("imbalanced 101", (rs.uniform(size=101) < 0.15).astype(np.int64)),
        kfold_entry("walkthrough 1041/959", walkthrough),
        kfold_entry("k=3, 7 rows", np.array([4, 4, 1, 4, 1, 1, 4]), k=3),
    ]


def cv_entry(name, x, y, train, C) -> dict:
    scores = cross_val_score(LogisticRegression(C=C, **TIGHT), x[train].astype(np.float64),
                             y[train], cv=5)
    return {"dataset": name, "C": C, **TIGHT, "scores": scores.tolist(),
            "mean": float(scores.mean()), "std": float(scores.std())}


def dummy_entry(name, x, y, train) -> dict:
    scores = cross_val_score(DummyClassifier(), x[train], y[train], cv=5)
    return {"dataset": name, "scores": scores.tolist(), "mean": float(scores.mean()),
            "std": float(scores.std())}


def grid_entry(name, x, y, train, test, grid_name, grid) -> dict:
    search = GridSearchCV(LogisticRegression(**TIGHT), {"C": list(grid)}, cv=5)
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        search.fit(x[train].astype(np.float64), y[train])
    r = search.cv_results_
    best = search.best_estimator_
    return {
        "dataset": name, "grid": grid_name, **TIGHT, "C": list(map(float, grid)),
        "mean": r["mean_test_score"].tolist(), "std": r["std_test_score"].tolist(),
        "rank": r["rank_test_score"].tolist(),
        "fold_scores": [r[f"split{f}_test_score"].tolist() for f in range(5)],
        "best_index": int(search.best_index_), "best_C": float(search.best_params_["C"]),
        "refit_coef": best.coef_.tolist(), "refit_intercept": best.intercept_.tolist(),
        "test_score": float(search.score(x[test].astype(np.float64), y[test])),
    }


def roc_cases(fits: list[dict], data) -> list[dict]:
    fit = next(f for f in fits if f["dataset"] == "binary" and f["kind"] == "tight")
    y_test = data["binary"]["y"][data["binary"]["test"]]
    rs = np.random.RandomState(8)
    tied_y = rs.randint(0, 2, 60)
    tied_scores = np.round(rs.uniform(size=60), 1)  # many ties between classes
    return [
        {"name": "binary test proba", "y": y_test.tolist(),
         "scores": np.asarray(fit["proba"])[:, 1].tolist()},
        {"name": "ties", "y": tied_y.tolist(), "scores": tied_scores.tolist()},
        {"name": "labels -1/+1, all tied", "y": [-1, 1, 1, -1, 1], "scores": [0.5] * 5},
        {"name": "perfect", "y": [0, 0, 1, 1], "scores": [0.1, 0.2, 0.8, 0.9]},
        {"name": "reversed", "y": [0, 0, 1, 1], "scores": [0.9, 0.8, 0.2, 0.1]},
    ]


def classification_cases(fits: list[dict], data) -> list[dict]:
    fit = next(f for f in fits if f["dataset"] == "multi" and f["kind"] == "tight")
    y_test = data["multi"]["y"][data["multi"]["test"]]
    rs = np.random.RandomState(9)
    return [
        {"name": "multi test", "y_true": y_test.tolist(), "y_pred": fit["predict"]},
        # Label 4 only predicted, label 2 never predicted: zero divisions.
        {"name": "zero division", "y_true": [1, 1, 2, 2, 3, 3, 3],
         "y_pred": [1, 4, 1, 1, 3, 3, 4]},
        {"name": "random 3-class", "y_true": rs.randint(0, 3, 50).tolist(),
         "y_pred": rs.randint(0, 3, 50).tolist()},
    ]


def with_classification(case: dict) -> dict:
    yt, yp = np.asarray(case["y_true"]), np.asarray(case["y_pred"])
    labels = np.unique(np.concatenate([yt, yp]))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # zero_division warnings
        p, r, f, s = precision_recall_fscore_support(yt, yp, labels=labels)
        mp, mr, mf, _ = precision_recall_fscore_support(yt, yp, average="macro")
    return {**case, "labels": labels.tolist(), "precision": p.tolist(), "recall": r.tolist(),
            "f1": f.tolist(), "support": s.tolist(), "macro_precision": float(mp),
            "macro_recall": float(mr), "macro_f1": float(mf),
            "accuracy": float((yt == yp).mean()),
            "confusion": confusion_matrix(yt, yp, labels=labels).tolist()}


def pca_x() -> np.ndarray:
    """A wider matrix for PCA, made of numpy's legacy random_sample so the C++ test can rebuild
    it exactly: x[i, j] = float32(u_ij) * float32(1 / sqrt(1 + j)), multiplied in float32."""
    u = np.random.RandomState(7).random_sample((300, 384)).astype(np.float32)
    scale = (1.0 / np.sqrt(1.0 + np.arange(384))).astype(np.float32)
    return u * scale


def pca_entry(name: str, x: np.ndarray, k: int) -> dict:
    pca = PCA(n_components=k).fit(x.astype(np.float64))
    return {"dataset": name, "k": k, "mean": pca.mean_.tolist(),
            "components": pca.components_.tolist(),
            "explained_variance": pca.explained_variance_.tolist(),
            "explained_variance_ratio": pca.explained_variance_ratio_.tolist(),
            "transform_head": pca.transform(x[:10].astype(np.float64)).tolist()}


def goldens() -> tuple[dict, dict[str, np.ndarray]]:
    arrays = {}
    data = {}
    for name, (x, y) in datasets().items():
        train, test = train_test_split(np.arange(len(y)), random_state=0)
        arrays[f"{name}_x.npy"] = x
        data[name] = {"x": x, "y": y, "train": train, "test": test}

    fits = []
    for name in data:
        d = data[name]
        for C in (0.01, 1.0, 100.0):
            fits.append(fit_entry(name, d["x"], d["y"], d["train"], d["test"], C, TIGHT))
        fits.append(fit_entry(name, d["x"], d["y"], d["train"], d["test"], 0.5, TIGHT,
                              class_weight="balanced"))
        fits.append(fit_entry(name, d["x"], d["y"], d["train"], d["test"], 1.0, TIGHT,
                              fit_intercept=False))
        fits.append(fit_entry(name, d["x"], d["y"], d["train"], d["test"], 1.0, DEFAULT,
                              kind="default"))
    permutations = [permutation_entry(seed, n)
                    for seed in (0, 1, 42, 2019, 2**32 - 1)
                    for n in (0, 1, 2, 3, 10, 100, 2000)]
    permutations += [permutation_entry(seed, n) for seed in (0, 42) for n in (6920, 67349)]
    splits = [split_entry(seed, n, ts) for seed in (0, 42, 12345) for n in (4, 10, 99)
              for ts in (0.25, 0.2, 0.5)]
    splits += [split_entry(seed, 2000, 0.25) for seed in (0, 42)]

    doc = {
        "versions": {"sklearn": sklearn.__version__, "numpy": np.__version__,
                     "scipy": scipy.__version__},
        "datasets": {name: {"x": f"{name}_x.npy", "y": d["y"].tolist(),
                            "train": d["train"].tolist(), "test": d["test"].tolist()}
                     for name, d in data.items()},
        "fits": fits,
        "permutation_checksum_modulus": CHECKSUM_MOD,
        "permutations": permutations,
        "train_test_splits": splits,
        "stratified_kfold": kfold_cases(),
        "cross_val_score": [cv_entry(name, d["x"], d["y"], d["train"], 1.0)
                            for name, d in data.items()],
        "dummy_cv": [dummy_entry(name, d["x"], d["y"], d["train"]) for name, d in data.items()],
        "grid_search": [
            grid_entry("binary", data["binary"]["x"], data["binary"]["y"],
                       data["binary"]["train"], data["binary"]["test"], "walkthrough",
                       WALKTHROUGH_GRID),
            grid_entry("multi", data["multi"]["x"], data["multi"]["y"], data["multi"]["train"],
                       data["multi"]["test"], "log", LOG_GRID),
        ],
        "grids": {"walkthrough": WALKTHROUGH_GRID.tolist(), "log": LOG_GRID.tolist()},
        "pca": [pca_entry("binary", data["binary"]["x"], 2),
                pca_entry("multi", data["multi"]["x"], 3),
                pca_entry("random_sample_300x384", pca_x(), 2)],
    }
    doc["roc_auc"] = [
        {**c, "auc": float(roc_auc_score(c["y"], c["scores"]))} for c in roc_cases(fits, data)
        if len(set(c["y"])) == 2
    ]
    doc["classification"] = [with_classification(c) for c in classification_cases(fits, data)]
    return doc, arrays


# ---------------------------------------------------------------------------------------------
# Writing
# ---------------------------------------------------------------------------------------------


def write_atomic(path: Path, content: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix="." + path.name + ".")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(content)
        os.replace(tmp, path)
    except BaseException:
        os.unlink(tmp)
        raise


def npy_bytes(array: np.ndarray) -> bytes:
    import io
    buffer = io.BytesIO()
    np.save(buffer, np.ascontiguousarray(array), allow_pickle=False)
    return buffer.getvalue()


def write_goldens(out: Path) -> None:
    doc, arrays = goldens()
    for name, array in arrays.items():
        write_atomic(out / name, npy_bytes(array))
    # repr-exact floats (json writes the shortest round-trip form), one entry per line.
    text = json.dumps(doc, separators=(",", ":"))
    write_atomic(out / "goldens.json", (text + "\n").encode())
    sizes = {p.name: p.stat().st_size for p in sorted(out.iterdir())}
    print(f"wrote {out}: " + ", ".join(f"{k} {v / 1024:.0f} KB" for k, v in sizes.items()))


# ---------------------------------------------------------------------------------------------
# (b) Any feature matrix
# ---------------------------------------------------------------------------------------------


def read_labels(path: Path) -> np.ndarray:
    labels = [line.rstrip("\r\n") for line in path.read_text(encoding="utf-8").splitlines()]
    labels = [l for l in labels if l != ""]
    try:
        return np.asarray([int(l) for l in labels], dtype=np.int64)
    except ValueError:
        return np.asarray(labels)


def parse_grid(text: str) -> np.ndarray:
    if text == "walkthrough":
        return WALKTHROUGH_GRID
    if text == "log":
        return LOG_GRID
    return np.asarray([float(v) for v in text.split(",")])


def relative(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.max(np.abs(a - b)) / max(np.max(np.abs(b)), 1e-300))


def compare_features(args) -> int:
    x = np.load(args.features)
    if x.ndim != 2:
        raise SystemExit(f"{args.features}: expected a 2-D matrix, got shape {x.shape}")
    y = read_labels(args.labels)
    if len(y) != len(x):
        raise SystemExit(f"{args.labels}: {len(y)} labels for {len(x)} rows")
    x64 = x.astype(np.float64)
    report = {"rows": int(x.shape[0]), "features": int(x.shape[1]),
              "classes": np.unique(y).tolist()}
    print(f"features {x.shape[0]} x {x.shape[1]} ({x.dtype}), classes {report['classes']}")

    train, test = train_test_split(np.arange(len(y)), test_size=args.test_size,
                                   random_state=args.seed)
    report["split"] = {"seed": args.seed, "train": len(train), "test": len(test),
                       "test_rows_head": test[:10].tolist()}
    print(f"split (random_state={args.seed}): {len(train)} train, {len(test)} test; "
          f"first test rows {test[:10].tolist()}")

    dummy = cross_val_score(DummyClassifier(), x[train], y[train], cv=5)
    report["majority_cv"] = {"mean": float(dummy.mean()), "std": float(dummy.std())}
    print(f"majority baseline, 5-fold CV on train: {dummy.mean():.4f} (+/- {dummy.std():.4f})")

    model = LogisticRegression(C=args.C, max_iter=args.max_iter, tol=args.tol)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", ConvergenceWarning)
        model.fit(x64[train], y[train])
    converged = not any(issubclass(w.category, ConvergenceWarning) for w in caught)
    test_accuracy = float(model.score(x64[test], y[test]))
    report["logistic_regression"] = {
        "C": args.C, "max_iter": args.max_iter, "tol": args.tol,
        "n_iter": int(model.n_iter_[0]), "converged": converged,
        "train_accuracy": float(model.score(x64[train], y[train])),
        "test_accuracy": test_accuracy,
    }
    print(f"LogisticRegression(C={args.C}, max_iter={args.max_iter}, tol={args.tol}): "
          f"{model.n_iter_[0]} iterations{'' if converged else ' (not converged)'}, "
          f"test accuracy {test_accuracy:.4f}")
    # What float32 input (the walkthrough's) changes: scikit-learn then works partly in float32.
    model32 = LogisticRegression(C=args.C, max_iter=args.max_iter, tol=args.tol)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        model32.fit(x[train], y[train])
    report["float32_input"] = {
        "n_iter": int(model32.n_iter_[0]),
        "coef_relative_difference": relative(model32.coef_, model.coef_),
        "test_accuracy": float(model32.score(x[test], y[test])),
    }
    print(f"  same fit on float32 input: {model32.n_iter_[0]} iterations, coefficients differ "
          f"by {report['float32_input']['coef_relative_difference']:.2e} (relative), test "
          f"accuracy {report['float32_input']['test_accuracy']:.4f}")

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        cv = cross_val_score(LogisticRegression(C=args.C, max_iter=args.max_iter, tol=args.tol),
                             x64[train], y[train], cv=5)
    report["cv"] = {"scores": cv.tolist(), "mean": float(cv.mean()), "std": float(cv.std())}
    print(f"5-fold CV on train: {cv.mean():.4f} (+/- {cv.std():.4f})")

    if args.grid:
        grid = parse_grid(args.grid)
        search = GridSearchCV(LogisticRegression(max_iter=args.max_iter, tol=args.tol),
                              {"C": list(grid)}, cv=5)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            search.fit(x64[train], y[train])
        r = search.cv_results_
        report["grid_search"] = {
            "C": list(map(float, grid)), "mean": r["mean_test_score"].tolist(),
            "std": r["std_test_score"].tolist(), "best_C": float(search.best_params_["C"]),
            "best_score": float(search.best_score_),
            "test_accuracy": float(search.score(x64[test], y[test])),
        }
        print("grid search:")
        for c, m, s in zip(grid, r["mean_test_score"], r["std_test_score"]):
            print(f"  C={c:<12.6g} {m:.4f} (+/- {s:.4f})")
        print(f"  best C {search.best_params_['C']:.6g}: CV {search.best_score_:.4f}, "
              f"test {report['grid_search']['test_accuracy']:.4f}")

    pca = PCA(n_components=2).fit(x64)
    report["pca_explained_variance_ratio"] = pca.explained_variance_ratio_.tolist()
    print(f"PCA: explained variance ratio {pca.explained_variance_ratio_.round(4).tolist()}")

    status = 0
    if args.classifier:
        saved = json.loads(Path(args.classifier).read_text())
        coef = np.asarray(saved["coef"], dtype=np.float64)
        intercept = np.asarray(saved["intercept"], dtype=np.float64)
        classes = np.asarray(saved["classes"])
        if coef.shape != model.coef_.shape:
            print(f"{args.classifier}: coef shape {coef.shape}, scikit-learn's "
                  f"{model.coef_.shape}")
            return 1
        coef_diff = relative(coef, model.coef_)
        intercept_diff = float(np.max(np.abs(intercept - model.intercept_)))
        scores = x64[test] @ coef.T + intercept
        if len(classes) == 2:
            predicted = classes[(scores[:, 0] > 0).astype(int)]
            proba = 1 / (1 + np.exp(-scores[:, 0]))
            proba_diff = float(np.max(np.abs(proba - model.predict_proba(x64[test])[:, 1])))
        else:
            predicted = classes[np.argmax(scores, axis=1)]
            e = np.exp(scores - scores.max(axis=1, keepdims=True))
            proba_diff = float(np.max(np.abs(e / e.sum(axis=1, keepdims=True)
                                             - model.predict_proba(x64[test]))))
        sk_predicted = model.predict(x64[test])
        # Labels may be text in labels.txt and class indices in the file.
        if sk_predicted.dtype.kind not in "iu":
            sk_predicted = np.searchsorted(model.classes_, sk_predicted)
        differing = int(np.sum(predicted != sk_predicted))
        report["comparison"] = {"coef_relative_difference": coef_diff,
                                "intercept_max_abs_difference": intercept_diff,
                                "proba_max_abs_difference": proba_diff,
                                "differing_test_predictions": differing}
        print(f"bertlite classifier {args.classifier}: coefficients differ by {coef_diff:.2e} "
              f"(relative), intercepts by {intercept_diff:.2e}, probabilities by "
              f"{proba_diff:.2e}; {differing} of {len(test)} test predictions differ")
        if coef_diff > args.rtol or differing:
            status = 1
    if args.json:
        write_atomic(Path(args.json), (json.dumps(report, indent=1) + "\n").encode())
    return status


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT,
                        help="goldens folder (default tests/data/learn)")
    parser.add_argument("--features", type=Path, help="feature matrix .npy (mode b)")
    parser.add_argument("--labels", type=Path, help="labels, one per line (mode b)")
    parser.add_argument("--seed", type=int, default=42, help="train_test_split random_state")
    parser.add_argument("--test-size", type=float, default=0.25)
    parser.add_argument("--C", type=float, default=1.0)
    parser.add_argument("--max-iter", type=int, default=100)
    parser.add_argument("--tol", type=float, default=1e-4)
    parser.add_argument("--grid", help="walkthrough, log, or C1,C2,...")
    parser.add_argument("--classifier", help="bertlite classifier file to compare")
    parser.add_argument("--rtol", type=float, default=1e-3,
                        help="allowed relative coefficient difference with --classifier")
    parser.add_argument("--json", help="write the numbers as JSON here")
    args = parser.parse_args()
    if args.features or args.labels:
        if not (args.features and args.labels):
            parser.error("--features and --labels go together")
        return compare_features(args)
    write_goldens(args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
