#!/usr/bin/env python3
"""Writes the small weight-file fixtures that tests/io/*_test.cpp read, from the reference
implementations (safetensors, torch.save), plus tests/data/io/expected.json with the float32
values each tensor must load as.

Run with the project's venv (torch 2.13.0, safetensors, numpy):
    .venv/bin/python tools/make_io_fixtures.py

Expected values are float32 bit patterns (so NaN, -0.0 and infinities compare exactly), taken
from torch's own .float() conversion of each stored tensor, row-major. Tensors of other dtypes
are listed with dtype and shape only. torch.save output embeds a random serialization id (and
the legacy format memory addresses), so regenerating changes the .bin bytes but not the values.
"""

import json
import pathlib
import shutil
import zipfile

import numpy as np
import torch
from safetensors.torch import save_file

OUT = pathlib.Path(__file__).resolve().parent.parent / "tests" / "data" / "io"

DTYPE_NAMES = {
    torch.float32: "F32",
    torch.float16: "F16",
    torch.bfloat16: "BF16",
    torch.int64: "I64",
}


def describe(tensor):
    entry = {"dtype": DTYPE_NAMES[tensor.dtype], "shape": list(tensor.shape)}
    if tensor.dtype.is_floating_point:
        values = tensor.detach().float().contiguous().reshape(-1).numpy()
        entry["bits"] = values.view(np.uint32).tolist()
    return entry


def base_tensors(dtype):
    """The tensors every safetensors fixture holds, in `dtype`."""
    g = torch.Generator().manual_seed(1234)
    specials = torch.tensor(
        [0.0, -0.0, float("inf"), float("-inf"), float("nan"), 1e-6, 65504.0, 3.0e-5, 1e-40,
         -2.5],
        dtype=torch.float32)
    return {
        "embeddings.weight": torch.randn(5, 4, generator=g).to(dtype),
        "layer.0.bias": torch.randn(4, generator=g).to(dtype),
        "scalar": torch.tensor(1.5).to(dtype),
        "empty": torch.zeros(0, 3, dtype=dtype),
        "specials": specials.to(dtype),
        "position_ids": torch.arange(6, dtype=torch.int64).reshape(1, 6),
    }


def torch_state_dict():
    """A state dict exercising what torch.save does with views: a transpose and row/column
    views sharing one storage, a storage offset, a tied (repeated) tensor, three float dtypes."""
    g = torch.Generator().manual_seed(99)
    w32 = torch.randn(3, 4, generator=g)
    wbf16 = torch.randn(2, 3, generator=g).to(torch.bfloat16)
    return {
        "w32": w32,
        "w16": torch.randn(4, generator=g).to(torch.float16),
        "wbf16": wbf16,
        "w32_t": w32.t(),
        "row": w32[1],
        "col": w32[:, 2],
        "bf16_t": wbf16.t(),
        "tied": w32,
        "scalar": torch.tensor(2.5),
        "empty": torch.zeros(0, 2),
        "i64": torch.arange(5, dtype=torch.int64),
    }


def rewrite_as_zip64(source, target):
    """Copies a torch.save zip through Python's zipfile with every ZIP64 structure forced on
    (its limit patched to 0): an independent writer, unaligned data, ZIP64 end records."""
    saved = zipfile.ZIP64_LIMIT
    zipfile.ZIP64_LIMIT = 0
    try:
        with zipfile.ZipFile(source) as src, zipfile.ZipFile(target, "w", zipfile.ZIP_STORED) as dst:
            for info in src.infolist():
                dst.writestr(info.filename, src.read(info.filename))
    finally:
        zipfile.ZIP64_LIMIT = saved


def write_default_model_summary():
    """minilm.json: every tensor of the default model (all-MiniLM-L6-v2, installed by set-up,
    not committed) as safetensors' own reader sees it: dtype, shape, the first 4 values' bits
    and the float64 sum."""
    from safetensors.numpy import load_file

    weights = OUT.parent.parent.parent / "models" / "all-MiniLM-L6-v2" / "model.safetensors"
    tensors = load_file(weights)
    names = {np.dtype("float32"): "F32", np.dtype("int64"): "I64"}
    summary = {}
    for name, array in sorted(tensors.items()):
        entry = {"dtype": names[array.dtype], "shape": list(array.shape)}
        if array.dtype == np.float32:
            entry["head_bits"] = array.reshape(-1)[:4].view(np.uint32).tolist()
            entry["sum"] = float(array.astype(np.float64).sum())
        summary[name] = entry
    lines = [f"{json.dumps(k)}: {json.dumps(v, sort_keys=True)}" for k, v in summary.items()]
    (OUT / "minilm.json").write_text("{\n" + ",\n".join(lines) + "\n}\n")


def main():
    if OUT.exists():
        shutil.rmtree(OUT)
    OUT.mkdir(parents=True)
    expected = {}

    for name, dtype in [("f32", torch.float32), ("f16", torch.float16), ("bf16", torch.bfloat16)]:
        tensors = base_tensors(dtype)
        save_file(tensors, OUT / f"{name}.safetensors", metadata={"format": "pt"})
        expected[f"{name}.safetensors"] = {k: describe(v) for k, v in tensors.items()}

    # Sharded safetensors with the index transformers writes.
    tensors = base_tensors(torch.float32)
    shards = {
        "model-00001-of-00002.safetensors": ["embeddings.weight", "scalar", "position_ids"],
        "model-00002-of-00002.safetensors": ["layer.0.bias", "specials", "empty"],
    }
    sharded = OUT / "sharded"
    sharded.mkdir()
    weight_map = {}
    for file, names in shards.items():
        save_file({k: tensors[k] for k in names}, sharded / file, metadata={"format": "pt"})
        weight_map.update({k: file for k in names})
    total = sum(t.numel() * t.element_size() for t in tensors.values())
    (sharded / "model.safetensors.index.json").write_text(
        json.dumps({"metadata": {"total_size": total}, "weight_map": weight_map}, indent=2) + "\n")
    expected["sharded"] = {k: describe(v) for k, v in tensors.items()}

    # What write_safetensors must reproduce byte for byte; safetensors_test.cpp builds the same
    # tensors from the same formulas.
    reference = {
        "f32": torch.arange(6, dtype=torch.float32).reshape(2, 3) * 0.5,
        "f16": (torch.arange(3, dtype=torch.float32) + 0.25).to(torch.float16),
        "bf16": (torch.arange(2, dtype=torch.float32) - 1.5).to(torch.bfloat16),
        "i64": torch.tensor([-1, 7], dtype=torch.int64),
        "u8": torch.tensor([1, 2, 255], dtype=torch.uint8),
        "f64": torch.tensor([3.25], dtype=torch.float64),
        "a \u00e9\n\"name": torch.tensor([1.0]),
        "empty": torch.zeros(0),
    }
    save_file(reference, OUT / "writer_reference.safetensors", metadata={"format": "pt"})

    # torch.save, zip format (the default since PyTorch 1.6).
    state = torch_state_dict()
    torch.save(state, OUT / "torch_zip.bin")
    expected["torch_zip.bin"] = {k: describe(v) for k, v in state.items()}

    # The same through an independent zip writer with ZIP64 records.
    rewrite_as_zip64(OUT / "torch_zip.bin", OUT / "torch_zip64.bin")
    reloaded = torch.load(OUT / "torch_zip64.bin", weights_only=True)
    assert all(torch.equal(reloaded[k], v) for k, v in state.items())

    # The legacy (pre-1.6) format.
    torch.save(state, OUT / "torch_legacy.bin", _use_new_zipfile_serialization=False)

    # A module's state dict with parameters kept: OrderedDict, _metadata via BUILD,
    # _rebuild_parameter.
    torch.manual_seed(5)
    linear = torch.nn.Linear(3, 2)
    params = linear.state_dict(keep_vars=True)
    torch.save(params, OUT / "torch_params.bin")
    expected["torch_params.bin"] = {k: describe(v) for k, v in params.items()}

    # Sharded pytorch_model.bin with its index.
    torch_sharded = OUT / "torch_sharded"
    torch_sharded.mkdir()
    split = {
        "pytorch_model-00001-of-00002.bin": ["w32", "w32_t", "w16"],
        "pytorch_model-00002-of-00002.bin": ["wbf16", "scalar"],
    }
    weight_map = {}
    for file, names in split.items():
        torch.save({k: state[k] for k in names}, torch_sharded / file)
        weight_map.update({k: file for k in names})
    (torch_sharded / "pytorch_model.bin.index.json").write_text(
        json.dumps({"metadata": {"total_size": 0}, "weight_map": weight_map}, indent=2) + "\n")

    write_default_model_summary()

    (OUT / "expected.json").write_text(json.dumps(expected, indent=1, sort_keys=True) + "\n")
    for path in sorted(OUT.rglob("*")):
        if path.is_file():
            print(f"{path.stat().st_size:6d}  {path.relative_to(OUT)}")


if __name__ == "__main__":
    main()
