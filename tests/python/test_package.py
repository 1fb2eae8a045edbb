"""tests/python/test_package.py - the Python package (python/bertlite) as a user calls it.

Checked against the references a user would compare with: the CLI (`bertlite embed`, the same
library: rows equal), Hugging Face's tokenizers and transformers (ids and character offsets
exactly; features and last_hidden_state within 1e-4, the tolerance of the C++ reference check);
and what the bindings promise: no copy of the result, the GIL released (two Python threads
embed at the same time), Ctrl-C between batches, errors as typed Python exceptions. Then the
classifier files of `bertlite train` and `bertlite.finetune`, whose folder transformers scores.
The package is built and installed by the `bertlite_package` fixture (conftest.py). Run:
  BERTLITE_BUILD=build .venv/bin/python -m pytest -q tests/python/test_package.py
"""

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[2]
BUILD = Path(os.environ.get("BERTLITE_BUILD", ROOT / "build"))
CLI = BUILD / "cli" / "bertlite"
MODEL = ROOT / "models" / "all-MiniLM-L6-v2"
DEV = ROOT / "data" / "sst2" / "dev.tsv"

TEXTS = [
    "a visually stunning rumination on love",
    "Héllo, Wörld! It's naïve café-au-lait.",
    "北京欢迎你 and 東京",
    "emoji 🙂 and [MASK] and [SEP] inside",
    "  lots   of\tspace\n",
    "",
    "don't stop-believing... (really?!)",
]


def dev_sentences(n=None):
    lines = DEV.read_text(encoding="utf-8").splitlines()
    texts = [line.split("\t")[0] for line in lines]
    return texts[:n] if n else texts


@pytest.fixture(scope="module")
def bl(bertlite_package):
    return bertlite_package


@pytest.fixture(scope="module")
def encoder(bl):
    return bl.Encoder.from_pretrained("all-MiniLM-L6-v2")


# ---- the tokenizer


def test_tokenizer_matches_hugging_face_ids_and_character_offsets(bl):
    from tokenizers import Tokenizer as HfTokenizer

    ours = bl.Tokenizer.from_pretrained("all-MiniLM-L6-v2")
    theirs = HfTokenizer.from_file(str(MODEL / "tokenizer.json"))
    theirs.no_truncation()
    theirs.no_padding()
    for text in TEXTS:
        e, h = ours.encode(text), theirs.encode(text)
        assert e.ids == h.ids, text
        assert e.type_ids == h.type_ids
        assert e.attention_mask == h.attention_mask
        assert e.special_tokens_mask == h.special_tokens_mask
        assert e.offsets == list(h.offsets), text
        assert ours.tokens(e.ids) == h.tokens
        assert ours.decode(e.ids) == theirs.decode(h.ids)
    e, h = ours.encode(TEXTS[1], TEXTS[2]), theirs.encode(TEXTS[1], TEXTS[2])
    assert (e.ids, e.type_ids, e.offsets) == (h.ids, h.type_ids, list(h.offsets))
    batch = ours.encode_batch(TEXTS)
    assert [b.ids for b in batch] == [h.ids for h in theirs.encode_batch(TEXTS)]
    assert ours.token_to_id("[CLS]") == 101 and ours.token_to_id("no-such-token") is None
    assert ours.vocab_size == theirs.get_vocab_size()


def test_truncation_and_padded_arrays_match_transformers(bl):
    from transformers import AutoTokenizer

    ours = bl.Tokenizer.from_pretrained(str(MODEL))
    theirs = AutoTokenizer.from_pretrained(str(MODEL))
    arrays = ours.encode_batch(TEXTS, return_tensors="np")
    expected = theirs(TEXTS, padding=True, return_tensors="np")
    for key in ("input_ids", "token_type_ids", "attention_mask"):
        assert arrays[key].dtype == np.int64
        np.testing.assert_array_equal(arrays[key], expected[key])
    short = ours.encode(TEXTS[0], max_length=5)
    assert short.ids == theirs(TEXTS[0], max_length=5, truncation=True)["input_ids"]
    assert short.truncated == 4
    assert ours.encode(TEXTS[0], add_special_tokens=False).ids == theirs(
        TEXTS[0], add_special_tokens=False)["input_ids"]


# ---- the encoder


def cli_embed(tmp_path, *args):
    out = tmp_path / "features.npy"
    result = subprocess.run([str(CLI), "embed", "--input", str(DEV), "--out", str(out),
                             "--threads", "2", *args], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    return np.load(out)


@pytest.mark.parametrize("args,kwargs", [
    ((), {}),
    (("--pooling", "cls", "--no-normalize"), {"pooling": "cls", "normalize": False}),
    (("--precision", "int8", "--max-length", "16"), {"precision": "int8", "max_length": 16}),
])
def test_embed_equals_the_cli(bl, encoder, tmp_path, args, kwargs):
    expected = cli_embed(tmp_path, *args)
    bl.set_threads(2)
    try:
        got = encoder.embed(dev_sentences(), **kwargs)
    finally:
        bl.set_threads(0)
    assert got.shape == expected.shape == (872, 384)
    # The same library, options and threads: the same bits.
    np.testing.assert_array_equal(got, expected)


def test_embed_and_last_hidden_state_match_transformers(bl, encoder):
    import torch
    from transformers import AutoModel, AutoTokenizer

    texts = dev_sentences(40) + TEXTS
    tokenizer = AutoTokenizer.from_pretrained(str(MODEL))
    model = AutoModel.from_pretrained(str(MODEL)).eval()
    batch = tokenizer(texts, padding=True, return_tensors="pt")
    with torch.no_grad():
        hidden = model(**batch).last_hidden_state.numpy()
    mask = batch["attention_mask"].numpy().astype(bool)

    ours = encoder.last_hidden_state(texts)
    assert ours.shape == hidden.shape and ours.dtype == np.float32
    assert np.abs(ours[mask] - hidden[mask]).max() < 1e-4
    assert not ours[~mask].any()  # positions past a text's end are 0

    # sentence-transformers' all-MiniLM-L6-v2: mean over real tokens, then L2 (its folder's
    # default, so embed's too).
    weights = mask[..., None].astype(np.float32)
    mean = (hidden * weights).sum(1) / weights.sum(1)
    expected = mean / np.linalg.norm(mean, axis=1, keepdims=True)
    got = encoder.embed(texts)
    assert np.abs(got - expected).max() < 1e-4
    cls = encoder.embed(texts, pooling="cls", normalize=False)
    assert np.abs(cls - hidden[:, 0]).max() < 1e-4


def test_embed_returns_the_library_buffer_without_a_copy(encoder):
    x = encoder.embed(["one", "two", "three"])
    assert x.dtype == np.float32 and x.shape == (3, 384)
    assert x.flags.c_contiguous and x.flags.writeable
    # numpy did not allocate it: the array views the library's own vector.
    assert not x.flags.owndata
    del x  # the capsule frees the vector with the array; nothing else holds it


def test_encoder_properties(encoder):
    assert encoder.hidden_size == 384 and encoder.layers == 6 and encoder.max_length == 512
    assert encoder.pooling == "mean" and encoder.normalize
    assert encoder.precision == "fp32" and encoder.architecture == "bert"
    assert Path(encoder.folder).resolve() == MODEL.resolve()
    assert encoder.tokenizer.encode("hi").ids == [101, 7632, 102]
    assert encoder.embed([]).shape == (0, 384)


def test_two_python_threads_embed_at_the_same_time(bl, encoder):
    texts = dev_sentences(300)
    bl.set_threads(1)  # one core each: two threads can only overlap if the GIL is free
    try:
        expected = encoder.embed(texts)
        start = time.perf_counter()
        encoder.embed(texts)
        one = time.perf_counter() - start

        spans, results = {}, {}

        def work(k):
            t0 = time.perf_counter()
            results[k] = encoder.embed(texts)
            spans[k] = (t0, time.perf_counter())

        threads = [threading.Thread(target=work, args=(k,)) for k in range(2)]
        start = time.perf_counter()
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        both = time.perf_counter() - start
    finally:
        bl.set_threads(0)
    for k in range(2):
        np.testing.assert_array_equal(results[k], expected)
    overlap = min(spans[0][1], spans[1][1]) - max(spans[0][0], spans[1][0])
    shorter = min(end - begin for begin, end in spans.values())
    print(f"one call {one:.2f} s; two threads at once {both:.2f} s; overlap {overlap:.2f} s")
    # Had either call held the GIL, the other could not have started until it returned.
    assert overlap > 0.5 * shorter


def test_ctrl_c_interrupts_a_long_embed(bertlite_package):
    script = (
        "import signal, sys, bertlite\n"
        # Python only handles SIGINT if it was not ignored when it started (a job run in the
        # background of a shell is started with SIGINT ignored): handle it in any case.
        "signal.signal(signal.SIGINT, signal.default_int_handler)\n"
        "e = bertlite.Encoder.from_pretrained('all-MiniLM-L6-v2')\n"
        "texts = [l.split('\\t')[0] for l in open(sys.argv[1], encoding='utf-8')] * 50\n"
        "print('ready', flush=True)\n"
        "try:\n"
        "    e.embed(texts, batch_tokens=512)\n"
        "except KeyboardInterrupt:\n"
        "    print('interrupted', flush=True)\n"
        "    sys.exit(3)\n"
        "print('finished', flush=True)\n")
    child = subprocess.Popen([sys.executable, "-c", script, str(DEV)], stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True)
    try:
        assert child.stdout.readline().strip() == "ready"
        time.sleep(1.0)
        sent = time.perf_counter()
        child.send_signal(signal.SIGINT)
        out, err = child.communicate(timeout=120)
        latency = time.perf_counter() - sent
    finally:
        child.kill()
    assert child.returncode == 3, out + err
    assert "interrupted" in out
    print(f"KeyboardInterrupt {latency:.2f} s after SIGINT (43,600 sentences queued)")
    assert latency < 10


def test_errors_are_python_exceptions_with_the_library_message(bl, encoder, tmp_path):
    with pytest.raises(FileNotFoundError) as missing:
        bl.Encoder.from_pretrained(str(tmp_path / "no-such-model"))
    assert isinstance(missing.value, bl.ModelNotFoundError)
    assert isinstance(missing.value, bl.Error) and isinstance(missing.value, OSError)
    assert "no-such-model" in str(missing.value)

    with pytest.raises(ValueError, match="pooling 'max' is not one of: cls, mean, pooler"):
        encoder.embed(["a"], pooling="max")
    with pytest.raises(bl.InvalidArgument, match="text 2: .* tokens, more than the limit of 8"):
        encoder.embed(["short", "a sentence that is far too long for eight tokens"],
                      max_length=8, long_text="error")
    with pytest.raises(bl.InvalidArgument, match="precision"):
        encoder.embed(["a"], precision="fp64")
    with pytest.raises(ValueError, match="more than the model's 512 positions"):
        encoder.embed(["a"], max_length=513)

    (tmp_path / "tokenizer.json").write_text("{not json", encoding="utf-8")
    with pytest.raises(bl.ParseError) as bad:
        bl.Tokenizer.from_file(str(tmp_path / "tokenizer.json"))
    assert "tokenizer.json" in str(bad.value) and isinstance(bad.value, ValueError)
    with pytest.raises(bl.IoError):
        bl.Tokenizer.from_file(str(tmp_path / "missing.json"))

    with pytest.raises(TypeError, match="not a single str"):
        encoder.embed("a sentence")
    with pytest.raises(TypeError, match=r"texts\[1\] is int"):
        encoder.embed(["a", 3])


def test_a_bertlite_train_classifier_predicts_on_embed_features(bl, encoder, tmp_path):
    train = tmp_path / "train.tsv"
    train.write_text("".join(DEV.read_text(encoding="utf-8").splitlines(True)[:200]),
                     encoding="utf-8")
    saved = tmp_path / "sst2.classifier.json"
    result = subprocess.run([str(CLI), "train", "--train", str(train), "--out", str(saved),
                             "--grid", "1", "--split", "0", "--no-cache"],
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    clf = bl.Classifier.load(str(saved))
    assert clf.n_features == 384 and len(clf.labels) == 2 and list(clf.classes) == [0, 1]
    texts = dev_sentences()[200:260]
    x = encoder.embed(texts, **clf.embed_options)
    p = clf.predict_proba(x)
    assert p.shape == (60, 2) and p.dtype == np.float64
    np.testing.assert_allclose(p.sum(1), 1.0, rtol=1e-12)
    np.testing.assert_array_equal(clf.predict(x), p.argmax(1))
    # Binary logistic regression: p(class 1) = sigmoid(x . coef + intercept), from the file.
    import json
    data = json.loads(saved.read_text())
    z = x.astype(np.float64) @ np.array(data["coef"][0]) + data["intercept"][0]
    np.testing.assert_allclose(p[:, 1], 1 / (1 + np.exp(-z)), rtol=1e-9)
    with pytest.raises(bl.ParseError, match='bad.json: field "version" is missing'):
        (tmp_path / "bad.json").write_text('{"format": "bertlite-classifier"}')
        bl.Classifier.load(str(tmp_path / "bad.json"))


def test_finetune_writes_a_folder_transformers_scores_the_same(bl, tmp_path):
    import torch
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    rows = [line.split("\t") for line in DEV.read_text(encoding="utf-8").splitlines()]
    texts, labels = [r[0] for r in rows], [int(r[1]) for r in rows]
    out = tmp_path / "tuned"
    summary = bl.finetune("all-MiniLM-L6-v2", texts[:96], labels[:96], str(out),
                          label_names=["negative", "positive"], eval_texts=texts[96:160],
                          eval_labels=labels[96:160], epochs=1, max_length=64)
    assert summary["best_epoch"] == 1 and summary["steps"] > 0
    accuracy = summary["epochs"][0]["eval_accuracy"]
    assert 0 <= accuracy <= 1
    # The folder is Hugging Face's: transformers (the mean head through its own module) loads
    # it and classifies the evaluation texts as bertlite's evaluation did.
    tokenizer = AutoTokenizer.from_pretrained(str(out))
    model = AutoModelForSequenceClassification.from_pretrained(
        str(out), trust_remote_code=True).eval()
    with torch.no_grad():
        logits = model(**tokenizer(texts[96:160], padding=True, return_tensors="pt")).logits
    theirs = (logits.argmax(1).numpy() == np.array(labels[96:160])).mean()
    assert abs(theirs - accuracy) < 1e-9
    assert model.config.id2label == {0: "negative", 1: "positive"}
    with pytest.raises(ValueError, match="3 texts but 2 labels"):
        bl.finetune("all-MiniLM-L6-v2", ["a", "b", "c"], [0, 1], str(tmp_path / "x"))
