"""tests/python/test_package_sklearn.py - bertlite.FeatureExtractor as a scikit-learn estimator,
and examples/first_bert.py (the walkthrough's notebook on bertlite) run as a user runs it.

scikit-learn's check_estimator runs no check on an estimator whose input is not a 2-D numeric
array (tags.input_tags.two_d_array False: it warns "Can't test estimator ..." and returns), so
the test asserts that skip and then runs by hand the checks that do not feed numbers:
  run as they are: check_estimator_cloneable, check_estimator_tags_renamed,
    check_valid_tag_types, check_estimator_repr, check_no_attributes_set_in_init,
    check_do_not_raise_errors_in_init_or_set_params, check_mixin_order,
    check_parameters_default_constructible, check_get_params_invariance, check_set_params;
  redone on sentences (each builds random float matrices as X, which a text transformer
    rejects): fit returns self, fit idempotent, pickle round trip, pipeline consistency,
    sample order invariance, subset invariance, dict unchanged by transform, overwrite params;
  not applicable: the dtype / NaN / sparse / complex / empty-matrix / memmap / array-API /
    n_features_in_ / sample_weight / positive-only / n_iter checks, all about numeric matrices
    a text transformer never takes (n_features_in_ counts columns of a matrix; there is none).
Run:
  BERTLITE_BUILD=build .venv/bin/python -m pytest -q tests/python/test_package_sklearn.py
"""

import os
import pickle
import re
import subprocess
import sys
import warnings
from pathlib import Path

import numpy as np
import pytest

from batch_rounding import BATCH_ROUNDING

ROOT = Path(__file__).resolve().parents[2]
BUILD = Path(os.environ.get("BERTLITE_BUILD", ROOT / "build"))
CLI = BUILD / "cli" / "bertlite"
TRAIN = ROOT / "data" / "sst2" / "train.tsv"


def sst2(n):
    rows = [line.split("\t") for line in TRAIN.read_text(encoding="utf-8").splitlines()[:n]]
    return [r[0] for r in rows], np.array([int(r[1]) for r in rows])


@pytest.fixture(scope="module")
def FeatureExtractor(bertlite_package):
    return bertlite_package.FeatureExtractor


def test_check_estimator_skips_text_input_and_the_api_checks_pass(FeatureExtractor):
    from sklearn.utils import estimator_checks as ec

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        ec.check_estimator(FeatureExtractor())
    assert any("Can't test estimator FeatureExtractor" in str(w.message) for w in caught)

    name = "FeatureExtractor"
    ec.check_estimator_cloneable(name, FeatureExtractor())
    ec.check_estimator_tags_renamed(name, FeatureExtractor())
    ec.check_valid_tag_types(name, FeatureExtractor())
    ec.check_estimator_repr(name, FeatureExtractor())
    ec.check_no_attributes_set_in_init(name, FeatureExtractor())
    ec.check_do_not_raise_errors_in_init_or_set_params(name, FeatureExtractor())
    ec.check_mixin_order(name, FeatureExtractor())
    ec.check_parameters_default_constructible(name, FeatureExtractor())
    ec.check_get_params_invariance(name, FeatureExtractor())
    ec.check_set_params(name, FeatureExtractor())


def test_the_numeric_checks_redone_on_sentences(FeatureExtractor):
    from sklearn.base import clone
    from sklearn.pipeline import make_pipeline

    texts, _ = sst2(60)
    bert = FeatureExtractor(pooling="cls")
    params = bert.get_params()
    assert bert.fit(texts) is bert                                    # fit returns self
    assert bert.get_params() == params                                # fit overwrites nothing
    x = bert.transform(texts)
    assert x.shape == (60, 384) and x.dtype == np.float32
    np.testing.assert_array_equal(bert.fit(texts).transform(texts), x)  # idempotent
    state = dict(bert.__dict__)
    bert.transform(texts)
    assert bert.__dict__.keys() == state.keys()                       # dict unchanged
    order = np.random.default_rng(0).permutation(60)
    # Other batch-mates: the same to float rounding (bit for bit on AVX-512; batch_rounding.py).
    np.testing.assert_allclose(bert.transform([texts[i] for i in order]), x[order], rtol=0,
                               atol=BATCH_ROUNDING)
    np.testing.assert_allclose(bert.transform(texts[:7]), x[:7], rtol=0,
                               atol=BATCH_ROUNDING)   # subset invariance
    np.testing.assert_array_equal(bert.fit_transform(texts), x)
    np.testing.assert_array_equal(make_pipeline(clone(bert)).fit_transform(texts), x)
    again = pickle.loads(pickle.dumps(bert))
    np.testing.assert_array_equal(again.transform(texts), x)


def test_inputs_a_user_passes(FeatureExtractor):
    import pandas as pd

    texts, _ = sst2(5)
    bert = FeatureExtractor()
    x = bert.transform(texts)
    for same in (tuple(texts), np.array(texts), np.array(texts, dtype=object),
                 pd.Series(texts), pd.DataFrame({"sentence": texts}),
                 np.array(texts, dtype=object)[:, None]):
        np.testing.assert_array_equal(bert.transform(same), x)
    with pytest.raises(TypeError, match="not a single str"):
        bert.transform("one sentence")
    with pytest.raises(TypeError, match=r"X\[1\] is int"):
        bert.transform(["a", 1])
    with pytest.raises(ValueError, match="2 columns"):
        bert.transform(pd.DataFrame({"a": texts, "b": texts}))
    assert list(bert.get_feature_names_out()[:2]) == ["bert0", "bert1"]


def test_pipeline_with_logistic_regression_pickles_by_model_name(FeatureExtractor, tmp_path):
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import Pipeline

    texts, labels = sst2(400)
    model = Pipeline([("bert", FeatureExtractor("all-MiniLM-L6-v2")),
                      ("clf", LogisticRegression())])
    model.fit(texts[:300], labels[:300])
    accuracy = model.score(texts[300:], labels[300:])
    assert accuracy > 0.6  # 300 training rows; the majority class is 0.52
    blob = pickle.dumps(model)
    assert len(blob) < 20_000  # the parameters and the classifier, never the weights
    again = pickle.loads(blob)
    np.testing.assert_array_equal(again.predict_proba(texts[300:]),
                                  model.predict_proba(texts[300:]))
    # set_params reaches the encoder: another model folder (the same files) is loaded.
    model.set_params(bert__model=str(ROOT / "models" / "all-MiniLM-L6-v2"))
    assert model.score(texts[300:], labels[300:]) == accuracy
    assert model.named_steps["bert"].encoder().name.endswith("all-MiniLM-L6-v2")


def test_first_bert_example_has_the_guides_figures(bertlite_package, tmp_path):
    result = subprocess.run([sys.executable, str(ROOT / "examples" / "first_bert.py")],
                            capture_output=True, text=True, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    out = result.stdout
    print(out)
    # The shapes `bertlite guide` prints for the same data.
    assert "6,920 rows x 2 columns" in out
    assert "the first 2,000 rows: 1,041 positive, 959 negative" in out
    assert "101  1037  17453  14726  19379  12758  2006  2293  102" in out
    assert "input_ids (2000, 59), attention_mask (2000, 59)" in out
    assert "47,646 of those 118,000 cells are real tokens" in out
    assert "[3] features: (2000, 384) float32" in out
    assert "train (1500, 384), test (500, 384)" in out
    # [5] from the CLI's features of the same rows through scikit-learn: the same figure.
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import train_test_split

    subset = tmp_path / "first_2000.tsv"
    subset.write_text("".join(TRAIN.read_text(encoding="utf-8").splitlines(True)[:2000]),
                      encoding="utf-8")
    features = tmp_path / "features.npy"
    cli = subprocess.run([str(CLI), "embed", "--input", str(subset), "--out", str(features)],
                         capture_output=True, text=True)
    assert cli.returncode == 0, cli.stderr
    _, labels = sst2(2000)
    x_train, x_test, y_train, y_test = train_test_split(
        np.load(features), labels, test_size=0.25, random_state=42)
    expected = LogisticRegression().fit(x_train, y_train).score(x_test, y_test)
    accuracy = float(re.search(r"\[5\] .* accuracy on the test rows: ([0-9.]+)", out).group(1))
    assert accuracy == round(expected, 3)
    pipeline = float(re.search(r"as Pipeline.* accuracy ([0-9.]+)", out).group(1))
    assert pipeline == accuracy
    assert "[6] baseline, the most frequent class (DummyClassifier, 5-fold CV): 0.525" in out
