"""tests/python/test_long_text.py - texts longer than the model, read in overlapping windows
(`--long-text window`), checked against a direct computation in numpy and transformers over the
windows' own embeddings, on the default model (all-MiniLM-L6-v2):

- `bertlite embed --long-text window` equals: Hugging Face's tokenizer on the whole text, the
  text's tokens cut into windows of max_length - 2 that overlap by --stride, [CLS]/[SEP] put
  around each, transformers' BertModel on each window, mean pooling and L2 normalization per
  window, then the windows' mean / max / token-weighted mean, normalized (1e-5);
- `bertlite predict --long-text window` (a classifier from `bertlite train`) gives each text the
  mean of its windows' probabilities, each window the classifier's probability on that window's
  features, with the byte range of the text each window read;
- a 10,000-word document embeds within bounded memory.
Run:
  BERTLITE_BUILD=build .venv/bin/python -m pytest -q tests/python/test_long_text.py
"""

import json
import os
import resource
import subprocess
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[2]
BUILD = Path(os.environ.get("BERTLITE_BUILD", ROOT / "build"))
BERTLITE = BUILD / "cli" / "bertlite"
MODEL = ROOT / "models" / "all-MiniLM-L6-v2"
MAX_LENGTH = 64
STRIDE = 16


def bertlite(*args, timeout=600):
    result = subprocess.run([str(BERTLITE), *map(str, args)], capture_output=True, text=True,
                            timeout=timeout)
    assert result.returncode == 0, result.stderr
    return result


def dev_sentences():
    lines = (ROOT / "data" / "sst2" / "dev.tsv").read_text(encoding="utf-8").splitlines()
    return [line.split("\t") for line in lines]


@pytest.fixture(scope="module")
def texts(tmp_path_factory):
    """Two documents of many sentences (one several windows long, one just over a window) and a
    sentence that fits in one."""
    rows = dev_sentences()
    long_doc = " ".join(text for text, _ in rows[:12])
    just_over = " ".join(text for text, _ in rows[20:24])
    return [long_doc, "a visually stunning rumination on love", just_over]


@pytest.fixture(scope="module")
def input_file(texts, tmp_path_factory):
    path = tmp_path_factory.mktemp("long") / "texts.txt"
    path.write_text("\n".join(texts) + "\n", encoding="utf-8")
    return path


def reference_windows(texts, folder=MODEL, max_length=MAX_LENGTH, stride=STRIDE):
    """Each text's windows as token id lists, built from Hugging Face's tokenizer alone."""
    from tokenizers import Tokenizer

    tokenizer = Tokenizer.from_file(str(folder / "tokenizer.json"))
    tokenizer.no_truncation()
    tokenizer.no_padding()
    width = max_length - 2
    out = []
    for text in texts:
        ids = tokenizer.encode(text).ids
        cls, content, sep = ids[0], ids[1:-1], ids[-1]
        if len(ids) <= max_length:
            out.append([ids])
            continue
        windows, begin = [], 0
        while True:
            end = min(begin + width, len(content))
            windows.append([cls, *content[begin:end], sep])
            if end == len(content):
                break
            begin += width - stride
        out.append(windows)
    return out


def window_embeddings(windows):
    """transformers' BertModel on each window, mean-pooled over its tokens, L2-normalized."""
    import torch
    from transformers import AutoModel

    torch.set_num_threads(2)
    model = AutoModel.from_pretrained(MODEL).eval()
    rows = []
    with torch.no_grad():
        for ids in windows:
            hidden = model(input_ids=torch.tensor([ids])).last_hidden_state[0].double().numpy()
            mean = hidden.mean(axis=0)
            rows.append(mean / np.linalg.norm(mean))
    return np.array(rows)


@pytest.fixture(scope="module")
def reference(texts):
    windows = reference_windows(texts)
    assert [len(w) for w in windows][1] == 1 and len(windows[0]) >= 4 and len(windows[2]) >= 2
    return windows, [window_embeddings(w) for w in windows]


@pytest.mark.parametrize("window_pooling", ["mean", "max", "weighted"])
def test_embed_windows_match_transformers(input_file, reference, window_pooling, tmp_path):
    out = tmp_path / "features.npy"
    result = bertlite("embed", "--model", MODEL, "--input", input_file, "--format", "text",
                      "--max-length", MAX_LENGTH, "--long-text", "window", "--stride", STRIDE,
                      "--window-pooling", window_pooling, "--out", out)
    assert "2 read in windows" in result.stdout
    got = np.load(out)
    windows, embeddings = reference
    for k, (ids, rows) in enumerate(zip(windows, embeddings)):
        if len(ids) == 1:
            want = rows[0]
        else:
            if window_pooling == "mean":
                want = rows.mean(axis=0)
            elif window_pooling == "max":
                want = rows.max(axis=0)
            else:
                weights = np.array([len(w) - 2 for w in ids], dtype=np.float64)
                want = (rows * weights[:, None]).sum(axis=0) / weights.sum()
            want = want / np.linalg.norm(want)
        np.testing.assert_allclose(got[k], want, atol=1e-5, err_msg=f"text {k}")


def test_truncate_is_the_first_window(input_file, reference, tmp_path):
    out = tmp_path / "features.npy"
    result = bertlite("embed", "--model", MODEL, "--input", input_file, "--format", "text",
                      "--max-length", MAX_LENGTH, "--out", out)
    assert "2 truncated" in result.stdout
    _, embeddings = reference
    np.testing.assert_allclose(np.load(out)[0], embeddings[0][0], atol=1e-5)


def test_error_names_the_line(input_file, tmp_path):
    result = subprocess.run([str(BERTLITE), "embed", "--model", str(MODEL), "--input",
                             str(input_file), "--format", "text", "--max-length", str(MAX_LENGTH),
                             "--long-text", "error", "--out", str(tmp_path / "f.npy")],
                            capture_output=True, text=True)
    assert result.returncode != 0
    assert result.stderr.count("\n") == 1
    assert "texts.txt:1: " in result.stderr and "--long-text" in result.stderr
    assert not (tmp_path / "f.npy").exists()


def test_predict_averages_window_probabilities(input_file, texts, reference, tmp_path):
    train = tmp_path / "train.tsv"
    rows = (ROOT / "data" / "sst2" / "train.tsv").read_text(encoding="utf-8").splitlines()[:300]
    train.write_text("\n".join(rows) + "\n", encoding="utf-8")
    classifier = tmp_path / "clf.json"
    bertlite("train", "--model", MODEL, "--train", train, "--pooling", "mean", "--normalize",
             "--grid", "1", "--max-length", MAX_LENGTH, "--long-text", "window", "--stride",
             STRIDE, "--no-cache", "--out", classifier)
    saved = json.loads(classifier.read_text())
    assert saved["training"]["long_text"] == "window"
    coef, intercept = np.array(saved["coef"][0]), saved["intercept"][0]
    positive = saved["label_names"][1]

    # No --long-text: predict reads long texts as the classifier was trained.
    result = bertlite("predict", "--classifier", classifier, "--input", input_file, "--format",
                      "text", "--json")
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    windows, embeddings = reference
    for k, (line, ids, rows) in enumerate(zip(lines, windows, embeddings)):
        p_windows = 1 / (1 + np.exp(-(rows @ coef + intercept)))
        np.testing.assert_allclose(line["probabilities"][positive], p_windows.mean(), atol=1e-5,
                                   err_msg=f"text {k}")
        if len(ids) == 1:
            assert "windows" not in line
            continue
        assert len(line["windows"]) == len(ids)
        for w, window in enumerate(line["windows"]):
            assert window["tokens"] == len(ids[w]) - 2
            np.testing.assert_allclose(window["probabilities"][positive], p_windows[w],
                                       atol=1e-5)
            begin, end = window["bytes"]
            assert 0 <= begin < end <= len(texts[k].encode("utf-8"))
        assert line["windows"][0]["bytes"][0] == 0
        assert line["windows"][-1]["bytes"][1] == len(texts[k].encode("utf-8"))


def test_fine_tuned_model_averages_window_probabilities(tmp_path):
    """`predict --model DIR --long-text window` on a sequence-classification folder (one that
    transformers wrote, with a seeded random head) against transformers on each window."""
    import torch
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    torch.manual_seed(0)
    torch.set_num_threads(2)
    model = AutoModelForSequenceClassification.from_pretrained(
        MODEL, num_labels=2, id2label={0: "bad", 1: "good"}, label2id={"bad": 0, "good": 1})
    folder = tmp_path / "classifier"
    model.save_pretrained(folder)
    AutoTokenizer.from_pretrained(MODEL).save_pretrained(folder)
    model.eval()

    rows = dev_sentences()
    texts = [" ".join(text for text, _ in rows[:60]), "a visually stunning rumination on love"]
    path = tmp_path / "texts.txt"
    path.write_text("\n".join(texts) + "\n", encoding="utf-8")
    config = json.loads((folder / "tokenizer_config.json").read_text())
    max_length = min(int(config.get("model_max_length", 512)), model.config.max_position_embeddings)
    windows = reference_windows(texts, folder, max_length, (max_length - 2) // 4)
    assert len(windows[0]) >= 2 and len(windows[1]) == 1

    result = bertlite("predict", "--model", folder, "--input", path, "--format", "text",
                      "--long-text", "window", "--json")
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    for k, (line, ids) in enumerate(zip(lines, windows)):
        with torch.no_grad():
            p = np.array([torch.softmax(model(input_ids=torch.tensor([w])).logits[0].double(), 0)
                          .numpy() for w in ids])
        np.testing.assert_allclose(line["probabilities"]["good"], p[:, 1].mean(), atol=1e-5,
                                   err_msg=f"text {k}")
        if len(ids) > 1:
            assert [w["tokens"] for w in line["windows"]] == [len(w) - 2 for w in ids]
            np.testing.assert_allclose([w["probabilities"]["good"] for w in line["windows"]],
                                       p[:, 1], atol=1e-5)


def test_ten_thousand_words_in_bounded_memory(tmp_path):
    rows = dev_sentences()
    words = []
    while len(words) < 10_000:
        for text, _ in rows:
            words.extend(text.split())
    document = tmp_path / "document.txt"
    document.write_text(" ".join(words[:10_000]) + "\n", encoding="utf-8")
    out = tmp_path / "document.npy"
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    result = bertlite("embed", "--model", MODEL, "--input", document, "--format", "text",
                      "--long-text", "window", "--threads", "2", "--out", out)
    peak_kib = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    assert "1 read in windows" in result.stdout
    features = np.load(out)
    assert features.shape == (1, 384) and np.isfinite(features).all()
    assert abs(np.linalg.norm(features[0]) - 1) < 1e-5
    # The peak of any child so far; when this is the largest, it is bertlite's: the model's
    # 87 MiB of weights, one batch of activations, the document's tokens.
    if peak_kib > before:
        assert peak_kib < 600 * 1024, f"peak RSS {peak_kib / 1024:.0f} MiB"
