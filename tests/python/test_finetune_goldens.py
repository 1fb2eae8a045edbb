"""tests/python/test_finetune_goldens.py - the committed fine-tuning goldens are what the
generator makes.

tests/data/finetune/ is written by tools/make_finetune_goldens.py from PyTorch and transformers;
tests/train/sequence_classifier_test.cpp checks bertlite's trainer against it. Regenerating into
a temporary folder must give the same files: config.json, the tensor names and the weights of
model.safetensors exactly (they come from torch's random generator, not from arithmetic), and
within 1e-5 what PyTorch computed - losses, logits, gradient norms and learning rates (relative
to the largest magnitude in their list), and each gradient and final weight (of its tensor's L2
norm) - so a torch or transformers upgrade that changes an answer fails here until the goldens
are regenerated on purpose. 1e-5 and not tighter: the goldens' own float32 rounding is 9e-7
relative (golden.json's float32_vs_float64_max_rel), and torch's kernels differ by CPU: an AVX2
Zen 1 regenerates a logit near zero (-0.0171193) 2.8e-7 away from an AVX-512 Zen 4's.

Two kinds of numbers are not compared: the float32-vs-float64 diagnostics (rounding noise by
definition), and the parameters golden.json lists in zero_grad (the attention key biases, whose
exact gradient is 0): their float32 gradient is rounding noise, which AdamW then turns into
full-size steps, so their gradients are only required to stay noise-sized and their final
weights are not compared. Takes about 10 s. Run:
  .venv/bin/python -m pytest -q tests/python/test_finetune_goldens.py
"""

import json
import math
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

ROOT = Path(__file__).resolve().parents[2]
GENERATOR = ROOT / "tools" / "make_finetune_goldens.py"
COMMITTED = ROOT / "tests" / "data" / "finetune"
FOLDERS = ["bert_cls", "bert_cls_legacy", "distilbert_cls"]

TOLERANCE = 1e-5
NOISE_KEYS = {"float32_vs_float64_max_rel", "zero_grad_float32_max_rel_to_total",
              "adamw_float32_vs_float64_max_loss_diff"}


def largest_magnitude(value):
    """The largest |x| of the numbers in a (nested) list, or of a number; 0 for anything else."""
    if isinstance(value, bool):
        return 0.0
    if isinstance(value, (int, float)):
        return abs(value)
    if isinstance(value, list):
        return max((largest_magnitude(v) for v in value), default=0.0)
    return 0.0


def differences(a, b, path="$", scale=0.0):
    """Paths where two JSON values differ (floats within TOLERANCE, relative to the larger of
    themselves and `scale`, the largest magnitude of the list they sit in)."""
    if isinstance(a, float) or isinstance(b, float):
        if isinstance(a, (int, float)) and isinstance(b, (int, float)) and \
                abs(a - b) <= TOLERANCE * max(abs(a), abs(b), scale, 1e-7):
            return []
        return [f"{path}: {a!r} != {b!r}"]
    if type(a) is not type(b):
        return [f"{path}: {type(a).__name__} != {type(b).__name__}"]
    if isinstance(a, dict):
        if a.keys() != b.keys():
            return [f"{path}: keys {sorted(a.keys() ^ b.keys())} differ"]
        return [d for k in a if k not in NOISE_KEYS for d in differences(a[k], b[k], f"{path}.{k}")]
    if isinstance(a, list):
        if len(a) != len(b):
            return [f"{path}: length {len(a)} != {len(b)}"]
        scale = max(scale, largest_magnitude(b))
        return [d for i, (x, y) in enumerate(zip(a, b))
                for d in differences(x, y, f"{path}[{i}]", scale)]
    return [] if a == b else [f"{path}: {a!r} != {b!r}"]


@pytest.fixture(scope="module")
def regenerated(tmp_path_factory):
    out = tmp_path_factory.mktemp("finetune")
    result = subprocess.run([sys.executable, str(GENERATOR), "--out", str(out)],
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    return out


HINT = (f"; if the change is intended, run {sys.executable} "
        f"{GENERATOR.relative_to(ROOT)} and commit the result")


@pytest.mark.parametrize("name", FOLDERS)
def test_regenerated_goldens_match(regenerated, name):
    new, old = regenerated / name, COMMITTED / name
    assert sorted(p.name for p in new.iterdir()) == sorted(p.name for p in old.iterdir())
    assert (new / "config.json").read_text() == (old / "config.json").read_text(), \
        f"{name}/config.json differs" + HINT

    new_weights, old_weights = load_file(str(new / "model.safetensors")), \
        load_file(str(old / "model.safetensors"))
    assert new_weights.keys() == old_weights.keys()
    for key in old_weights:
        assert torch.equal(new_weights[key], old_weights[key]), \
            f"{name}/model.safetensors: {key} differs" + HINT

    new_doc = json.loads((new / "golden.json").read_text())
    old_doc = json.loads((old / "golden.json").read_text())
    found = differences(new_doc, old_doc)
    assert not found, f"{name}/golden.json differs{HINT}:\n" + "\n".join(found[:20])

    new_t, old_t = load_file(str(new / "golden.safetensors")), \
        load_file(str(old / "golden.safetensors"))
    assert new_t.keys() == old_t.keys()
    zero_grad = set(old_doc["zero_grad"])
    total = math.sqrt(sum(old_t["grad." + n].double().square().sum().item()
                          for n in old_doc["file_names"]))
    for key, want in old_t.items():
        kind, param = key.split(".", 1)
        error = (new_t[key].double() - want.double()).norm().item()
        if param in zero_grad:
            if kind == "grad":  # rounding noise on both sides
                assert new_t[key].norm().item() <= TOLERANCE * total, f"{name}: {key}"
            continue
        assert error <= TOLERANCE * want.double().norm().item(), \
            f"{name}/golden.safetensors: {key} differs by {error:.3g}" + HINT
