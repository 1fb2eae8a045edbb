"""tests/python/test_convert.py - `bertlite convert` turns a pytorch_model.bin folder into a
safetensors folder that transformers and bertlite both load to the same results.

The pytorch_model.bin is written here by torch.save from a committed fixture's weights, as
transformers' save_pretrained(safe_serialization=False) does. Run:
  BERTLITE_BUILD=build .venv/bin/python -m pytest -q tests/python/test_convert.py
"""

import os
import shutil
import subprocess
from pathlib import Path

import numpy as np
import torch
from safetensors.torch import load_file
from transformers import AutoModel

ROOT = Path(__file__).resolve().parents[2]
BUILD = Path(os.environ.get("BERTLITE_BUILD", ROOT / "build"))
BERTLITE = BUILD / "cli" / "bertlite"
FIXTURES = ROOT / "tests" / "data" / "encoder"
SENTENCES = ["Good", "The movie was fun!", "it is not a good film, and the actors were bad."]


def bin_folder(fixture: str, out: Path, dtype=torch.float32) -> Path:
    out.mkdir()
    for name in ("config.json", "vocab.txt", "tokenizer_config.json"):
        shutil.copy(FIXTURES / fixture / name, out / name)
    state = {k: v.to(dtype) for k, v in load_file(FIXTURES / fixture / "model.safetensors").items()}
    torch.save(state, out / "pytorch_model.bin")
    return out


def bertlite(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([str(BERTLITE), *args], capture_output=True, text=True)


def embed(model: Path, tmp: Path, name: str) -> np.ndarray:
    sentences = tmp / "sentences.txt"
    sentences.write_text("\n".join(SENTENCES) + "\n", encoding="utf-8")
    result = bertlite("embed", "--model", str(model), "--input", str(sentences), "--out",
                      str(tmp / f"{name}.npy"))
    assert result.returncode == 0, result.stderr
    return np.load(tmp / f"{name}.npy")


def hidden_states(folder: Path) -> torch.Tensor:
    model = AutoModel.from_pretrained(folder).eval()
    ids = torch.tensor([[2, 15, 49, 24, 66, 7, 3]])
    with torch.no_grad():
        return model(input_ids=ids).last_hidden_state


def test_convert_bin_to_safetensors(tmp_path):
    for fixture in ("bert_tiny", "distilbert_tiny_prefixed"):
        source = bin_folder(fixture, tmp_path / f"{fixture}_bin")
        out = tmp_path / f"{fixture}_converted"
        result = bertlite("convert", "--model", str(source), "--out", str(out))
        assert result.returncode == 0, result.stderr
        assert "pytorch_model.bin" in result.stdout
        assert sorted(p.name for p in out.iterdir()) == [
            "config.json", "model.safetensors", "tokenizer_config.json", "vocab.txt"]
        assert not list(tmp_path.glob(".*.partial.*"))  # no staging folder left
        # Same tensors, bit for bit, and transformers reads the new folder.
        assert load_file(out / "model.safetensors").keys() == load_file(
            FIXTURES / fixture / "model.safetensors").keys()
        torch.testing.assert_close(hidden_states(out), hidden_states(FIXTURES / fixture),
                                   rtol=0, atol=0)
        # bertlite gives identical features from the .bin, the converted and the original folder.
        from_bin = embed(source, tmp_path, f"{fixture}_bin")
        np.testing.assert_array_equal(from_bin, embed(out, tmp_path, f"{fixture}_converted"))
        np.testing.assert_array_equal(from_bin, embed(FIXTURES / fixture, tmp_path, fixture))


def test_convert_keeps_half_precision(tmp_path):
    source = bin_folder("bert_tiny", tmp_path / "half_bin", dtype=torch.float16)
    out = tmp_path / "half_converted"
    assert bertlite("convert", "--model", str(source), "--out", str(out)).returncode == 0
    converted = load_file(out / "model.safetensors")
    original = torch.load(source / "pytorch_model.bin")
    assert all(converted[k].dtype == torch.float16 for k in converted)
    for name, tensor in original.items():
        assert torch.equal(converted[name], tensor), name


def test_convert_refuses_an_existing_folder_and_leaves_nothing(tmp_path):
    source = bin_folder("bert_tiny", tmp_path / "bin")
    out = tmp_path / "exists"
    out.mkdir()
    result = bertlite("convert", "--model", str(source), "--out", str(out))
    assert result.returncode == 1
    assert result.stderr.strip() == f"bertlite: error: {out}: already exists; give a new folder to write"
    assert list(out.iterdir()) == []
