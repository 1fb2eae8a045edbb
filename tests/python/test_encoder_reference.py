"""tests/python/test_encoder_reference.py - bertlite against transformers on whole data sets.

tools/make_reference_model.py runs transformers (torch 2.13.0) and sentence-transformers over
all 872 SST-2 dev sentences and writes what they compute; the C++ checker
(tests/model/reference_check.cpp, built as encoder_reference_check) runs bertlite on the same
sentences and compares: the tokenizer's ids exactly, last_hidden_state and every pooled feature
within max |diff| 1e-4, and pooled features (and sentence-transformers' embedding) with cosine
>= 0.99999. Two models: the real default (all-MiniLM-L6-v2) and a DistilBERT-base-shaped
checkpoint that transformers writes with random weights (the walkthrough's own shape, whose
real weights cannot be fetched here).

The outputs are large (last_hidden_state for 20k tokens), so they are generated into .cache/
on demand, never committed. Run:
  BERTLITE_BUILD=build .venv/bin/python -m pytest -q tests/python/test_encoder_reference.py
"""

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
BUILD = Path(os.environ.get("BERTLITE_BUILD", ROOT / "build"))
CHECKER = BUILD / "tests" / "encoder_reference_check"
TOOL = ROOT / "tools" / "make_reference_model.py"
DEV = ROOT / "data" / "sst2" / "dev.tsv"
CACHE = ROOT / ".cache" / "reference"


def run_checker(model: Path, expected: Path, sentences: Path = DEV) -> str:
    result = subprocess.run([str(CHECKER), str(model), str(expected), str(sentences)],
                            capture_output=True, text=True)
    print(result.stdout, result.stderr)
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


def make_expected(out: Path, *model_args: str, sentences: Path = DEV) -> None:
    result = subprocess.run([sys.executable, str(TOOL), *model_args, "--expected",
                             str(sentences), str(out)], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr


def test_default_model_matches_transformers_and_sentence_transformers(tmp_path):
    expected = tmp_path / "minilm_dev.safetensors"
    make_expected(expected)
    out = run_checker(ROOT / "models" / "all-MiniLM-L6-v2", expected)
    assert "tokenizer mismatches: 0" in out
    assert "st_embedding" in out  # the sentence-transformers comparison ran
    assert "pooler_normalized" in out


def test_distilbert_base_shape_matches_transformers(tmp_path):
    model = CACHE / "distilbert-base"
    expected = tmp_path / "distilbert_base_dev.safetensors"
    make_expected(expected, str(model), "--shape", "distilbert-base")
    out = run_checker(model, expected)
    assert "tokenizer mismatches: 0" in out
    assert "mean_normalized" in out


def test_checker_fails_when_the_model_differs(tmp_path):
    # Expected outputs of one model against another model's weights (same shape, another seed)
    # must fail: the comparison can catch a wrong encoder.
    sentences = tmp_path / "few.tsv"
    sentences.write_text("".join(DEV.read_text(encoding="utf-8").splitlines(True)[:20]),
                         encoding="utf-8")
    expected = tmp_path / "few.safetensors"
    make_expected(expected, str(CACHE / "distilbert-base"), "--shape", "distilbert-base",
                  sentences=sentences)
    other = tmp_path / "other"
    result = subprocess.run([sys.executable, str(TOOL), str(other), "--shape", "distilbert-base",
                             "--seed", "1"], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    result = subprocess.run([str(CHECKER), str(other), str(expected), str(sentences)],
                            capture_output=True, text=True)
    assert result.returncode == 1, result.stdout
    assert "FAIL" in result.stdout
