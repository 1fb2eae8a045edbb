"""tests/python/test_attention.py - `bertlite attention`: the attention probabilities of one
sentence in every layer and head equal transformers' `output_attentions=True` (eager attention),
on the default model (BERT) and a DistilBERT fixture transformers wrote with random weights.
Run:
  BERTLITE_BUILD=build .venv/bin/python -m pytest -q tests/python/test_attention.py
"""

import os
import subprocess
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[2]
BUILD = Path(os.environ.get("BERTLITE_BUILD", ROOT / "build"))
BERTLITE = BUILD / "cli" / "bertlite"
MODELS = {
    "all-MiniLM-L6-v2": ROOT / "models" / "all-MiniLM-L6-v2",
    "distilbert_tiny": ROOT / "tests" / "data" / "encoder" / "distilbert_tiny",
}
SENTENCES = ["a visually stunning rumination on love",
             "it 's a charming and often affecting journey ."]


@pytest.mark.parametrize("name", sorted(MODELS))
@pytest.mark.parametrize("sentence", SENTENCES)
def test_attention_equals_transformers(name, sentence, tmp_path):
    import torch
    from transformers import AutoModel, AutoTokenizer

    folder = MODELS[name]
    out = tmp_path / "attention.npy"
    result = subprocess.run([str(BERTLITE), "attention", "--model", str(folder), sentence,
                             "--out", str(out)], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    model = AutoModel.from_pretrained(folder, attn_implementation="eager").eval()
    tokenizer = AutoTokenizer.from_pretrained(folder)
    inputs = tokenizer(sentence, return_tensors="pt")
    with torch.no_grad():
        attentions = model(**inputs, output_attentions=True).attentions
    want = np.stack([a[0].numpy() for a in attentions])  # [layers, heads, T, T]
    got = np.load(out).reshape(want.shape)
    assert f"{want.shape[2]} tokens, {want.shape[0]} layers x {want.shape[1]} heads" in result.stdout
    np.testing.assert_allclose(got.sum(axis=-1), 1.0, atol=1e-6)
    np.testing.assert_allclose(got, want, atol=2e-6)
