"""tests/python/test_finetune_cli.py - `bertlite finetune` and `bertlite predict --model` as a
user runs them, on the default model (all-MiniLM-L6-v2) and small slices of SST-2:

- bad input is a one-line error before any training, and no output folder appears;
- the folder it writes loads in transformers' AutoModelForSequenceClassification with the same
  logits as `bertlite predict --model` (1e-4) on 100 dev sentences, with the pooler head and
  with the mean head (BERT and DistilBERT, through its module and trust_remote_code=True); a
  folder transformers writes loads in bertlite with the same logits;
- a run killed with SIGKILL mid-epoch and resumed with --resume ends with exactly the weights
  of a run that was never interrupted.
Run:
  BERTLITE_BUILD=build .venv/bin/python -m pytest -q tests/python/test_finetune_cli.py
"""

import json
import os
import signal
import subprocess
import time
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[2]
BUILD = Path(os.environ.get("BERTLITE_BUILD", ROOT / "build"))
BERTLITE = BUILD / "cli" / "bertlite"
MODEL = ROOT / "models" / "all-MiniLM-L6-v2"


def sst2_rows(split, count):
    lines = (ROOT / "data" / "sst2" / f"{split}.tsv").read_text(encoding="utf-8").splitlines()
    return lines[:count]


def write_rows(path, rows):
    path.write_text("\n".join(rows) + "\n", encoding="utf-8")
    return path


def bertlite(*args, timeout=600):
    return subprocess.run([str(BERTLITE), *map(str, args)], capture_output=True, text=True,
                          timeout=timeout)


def finetune_args(train, out, *extra):
    return ["finetune", "--model", MODEL, "--train", train, "--out", out, "--threads", "2",
            *extra]


# ---- Errors before training --------------------------------------------------------------------

def error_case(tmp_path, name):
    train = write_rows(tmp_path / "train.tsv", sst2_rows("train", 50))
    extra = []
    if name == "unknown eval label":
        rows = sst2_rows("dev", 5)
        rows[2] = rows[2].split("\t")[0] + "\tmaybe"
        extra = ["--eval", write_rows(tmp_path / "dev.tsv", rows)]
        expected = "dev.tsv:3: label 'maybe' is not one of the labels"
    elif name == "one class":
        train = write_rows(tmp_path / "train.tsv",
                           [r.split("\t")[0] + "\t1" for r in sst2_rows("train", 20)])
        expected = "a classifier needs at least two classes"
    elif name == "empty file":
        train = tmp_path / "train.tsv"
        train.write_text("", encoding="utf-8")
        expected = "train.tsv"
    elif name == "lr not a number":
        extra = ["--lr", "fast"]
        expected = "--lr"
    return finetune_args(train, tmp_path / "out", *extra), expected


@pytest.mark.parametrize("name", ["unknown eval label", "one class", "empty file",
                                  "lr not a number"])
def test_bad_input_is_a_one_line_error_before_training(tmp_path, name):
    args, expected = error_case(tmp_path, name)
    result = bertlite(*args, timeout=60)
    assert result.returncode != 0
    # One line; a command-line error may add CLI11's "Run with --help" hint.
    lines = [line for line in result.stderr.strip().splitlines()
             if not line.startswith("Run with --help")]
    assert len(lines) == 1, result.stderr
    assert expected in lines[0], lines[0]
    assert "epoch" not in result.stdout  # nothing was trained
    assert not (tmp_path / "out").exists()


# ---- Hugging Face folders, both ways ------------------------------------------------------------

def bertlite_logits(folder, sentences, tmp_path):
    texts = write_rows(tmp_path / "sentences.txt", sentences)
    result = bertlite("predict", "--model", folder, "--input", texts, "--json", "--threads", "2")
    assert result.returncode == 0, result.stderr
    rows = [json.loads(line) for line in result.stdout.splitlines()]
    assert [r["text"] for r in rows] == sentences
    return np.array([r["logits"] for r in rows]), [r["label"] for r in rows]


def transformers_logits(folder, sentences, trust_remote_code=False):
    import torch
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(folder)
    model = AutoModelForSequenceClassification.from_pretrained(
        folder, trust_remote_code=trust_remote_code).eval()
    with torch.no_grad():
        batch = tokenizer(sentences, padding=True, truncation=True, max_length=512,
                          return_tensors="pt")
        logits = model(**batch).logits.numpy()
    return logits, model.config


# The pooler head is transformers' own BertForSequenceClassification; the mean head (the default
# for sentence-transformers models) comes with its module, loaded with trust_remote_code=True.
@pytest.mark.parametrize("head,architecture", [
    ("pooler", "BertForSequenceClassification"),
    ("mean", "BertMeanPoolingForSequenceClassification")])
def test_finetuned_folder_loads_in_transformers_with_the_same_logits(tmp_path, head,
                                                                     architecture):
    train = write_rows(tmp_path / "train.tsv", sst2_rows("train", 300))
    out = tmp_path / "tuned"
    result = bertlite(*finetune_args(train, out, "--epochs", "1", "--batch-tokens", "1024",
                                     "--head", head))
    assert result.returncode == 0, result.stderr
    assert "fine-tuned 1 epochs" in result.stdout
    config = json.loads((out / "config.json").read_text())
    assert config["architectures"] == [architecture]
    assert (out / "modeling_bertlite.py").exists() == (head == "mean")
    assert config["id2label"] == {"0": "0", "1": "1"} and config["num_labels"] == 2
    assert not (out / "modules.json").exists()  # not a sentence-transformers encoder any more
    metrics = json.loads((out / "training.json").read_text())
    assert metrics["examples"] == 300 and metrics["steps"] > 0
    assert metrics["train_tokens"] < metrics["trainer_padded_tokens"]

    sentences = [r.split("\t")[0] for r in sst2_rows("dev", 100)]
    ours, labels = bertlite_logits(out, sentences, tmp_path)
    theirs, hf_config = transformers_logits(out, sentences, trust_remote_code=head == "mean")
    assert np.abs(ours - theirs).max() < 1e-4
    assert labels == [hf_config.id2label[int(i)] for i in theirs.argmax(axis=1)]


def test_folder_written_by_transformers_loads_in_bertlite(tmp_path):
    import torch
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    torch.manual_seed(0)
    model = AutoModelForSequenceClassification.from_pretrained(
        MODEL, num_labels=3, id2label={0: "bad", 1: "meh", 2: "good"},
        label2id={"bad": 0, "meh": 1, "good": 2})
    folder = tmp_path / "hf"
    model.save_pretrained(folder)
    AutoTokenizer.from_pretrained(MODEL).save_pretrained(folder)

    sentences = [r.split("\t")[0] for r in sst2_rows("dev", 40)]
    ours, labels = bertlite_logits(folder, sentences, tmp_path)
    theirs, _ = transformers_logits(folder, sentences)
    assert np.abs(ours - theirs).max() < 1e-4
    assert set(labels) <= {"bad", "meh", "good"}


# ---- Kill and resume ----------------------------------------------------------------------------

def read_weights(folder):
    from safetensors.numpy import load_file

    return load_file(str(folder / "model.safetensors"))


def test_killed_run_resumes_to_the_same_weights(tmp_path):
    train = write_rows(tmp_path / "train.tsv", sst2_rows("train", 400))
    dev = write_rows(tmp_path / "dev.tsv", sst2_rows("dev", 50))
    common = ["--eval", dev, "--epochs", "2", "--batch-tokens", "512", "--save-every", "3",
              "--seed", "7"]

    straight = tmp_path / "straight"
    result = bertlite(*finetune_args(train, straight, *common))
    assert result.returncode == 0, result.stderr

    killed = tmp_path / "killed"
    checkpoint = tmp_path / "killed.checkpoint"
    state_file = checkpoint / "state.json"
    process = subprocess.Popen([str(BERTLITE), *map(str, finetune_args(train, killed, *common))],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    # Wait for a mid-epoch checkpoint of the first epoch past its third save, then kill.
    deadline = time.monotonic() + 300
    state = {}
    while time.monotonic() < deadline and process.poll() is None:
        try:
            state = json.loads(state_file.read_text())
        except (OSError, ValueError):
            state = {}
        if state.get("step", 0) >= 9:
            break
        time.sleep(0.05)
    process.send_signal(signal.SIGKILL)
    process.wait()
    assert state.get("step", 0) >= 9, "the run ended before it could be killed"
    assert not killed.exists()

    result = bertlite(*finetune_args(train, killed, *common, "--resume", checkpoint))
    assert result.returncode == 0, result.stderr
    assert "resumed from" in result.stdout
    assert not checkpoint.exists()  # removed after a successful run

    a, b = read_weights(straight), read_weights(killed)
    assert a.keys() == b.keys()
    for name in a:
        assert np.array_equal(a[name], b[name]), name
    history = lambda folder: json.loads((folder / "training.json").read_text())  # noqa: E731
    assert history(straight)["step_losses"] == history(killed)["step_losses"]
    assert ([e["eval_accuracy"] for e in history(straight)["epochs"]] ==
            [e["eval_accuracy"] for e in history(killed)["epochs"]])


def test_distilbert_mean_head_folder_loads_in_transformers(tmp_path):
    """A small random DistilBERT (transformers writes it, with MiniLM's tokenizer), fine-tuned by
    bertlite with the mean head: transformers loads the folder through its module."""
    import torch
    from transformers import AutoTokenizer, DistilBertConfig, DistilBertModel

    torch.manual_seed(0)
    tokenizer = AutoTokenizer.from_pretrained(MODEL)
    config = DistilBertConfig(vocab_size=tokenizer.vocab_size, dim=48, hidden_dim=96, n_layers=2,
                              n_heads=4, max_position_embeddings=128)
    source = tmp_path / "distilbert"
    DistilBertModel(config).save_pretrained(source)
    tokenizer.save_pretrained(source)

    train = write_rows(tmp_path / "train.tsv", sst2_rows("train", 60))
    out = tmp_path / "tuned"
    result = bertlite("finetune", "--model", source, "--train", train, "--out", out,
                      "--epochs", "1", "--head", "mean", "--threads", "2")
    assert result.returncode == 0, result.stderr
    config = json.loads((out / "config.json").read_text())
    assert config["architectures"] == ["DistilBertMeanPoolingForSequenceClassification"]

    sentences = [r.split("\t")[0] for r in sst2_rows("dev", 30)]
    ours, _ = bertlite_logits(out, sentences, tmp_path)
    theirs, _ = transformers_logits(out, sentences, trust_remote_code=True)
    assert np.abs(ours - theirs).max() < 1e-4
