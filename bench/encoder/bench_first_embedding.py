#!/usr/bin/env python3
"""Time from a cold start to the first embedding: the whole `bertlite embed` process on one
sentence (start, load the model folder, tokenize, one forward pass, write the .npy, exit), next to
the same in Python (interpreter start and imports included) with
  - sentence-transformers: SentenceTransformer(folder) and encode() of the sentence;
  - ONNX Runtime: import onnxruntime, numpy and the tokenizers library, an InferenceSession on
    the optimized ONNX graph that bench_encoder.py exports and fuses (made once, cached in
    .cache/bench_encoder/), Tokenizer.from_file(tokenizer.json) without its fixed padding,
    encode, run, mean-pool over the mask and L2-normalize (MiniLM's pooling).

Every run is a fresh process; the model files are in the page cache after the first (warm-up)
run of each variant, as they are for a user's second command. The warm-up runs also check that
the Python variants' embeddings equal bertlite fp32's (cosine > PARITY_COSINE; for mean-pooled
sentence-transformers folders such as MiniLM, the pooling the Python variants do). Variants
alternate, --repeats rounds, medians (and min..max) reported. Issue 14 asks that bertlite's be
<= sentence-transformers' and ONNX Runtime's.

  .venv/bin/python bench/encoder/bench_first_embedding.py --bertlite build/cli/bertlite \\
      [--model models/all-MiniLM-L6-v2] [--repeats 15] [--no-python] [--no-ort]

The int8 row also loads a folder written by `bertlite quantize` (weights stored in int8), made
once into a temporary folder. The ONNX Runtime row is left out, and the reason printed, when
onnxruntime is not installed (make bench-requirements) or the export fails.
"""
import argparse
import importlib.util
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import bench_encoder  # noqa: E402  (the ONNX export and its cache)

ROOT = Path(__file__).resolve().parents[2]
SENTENCE = "a visually stunning rumination on love"
TARGET_MS = 100.0
PARITY_COSINE = 0.9999  # the Python variants' embedding vs bertlite fp32's (both fp32)

# Each writes its embedding to the .npy named by an optional last argument (the warm-up run).
PYTHON_PEER = r'''
import sys
from sentence_transformers import SentenceTransformer
model = SentenceTransformer(sys.argv[1], device="cpu")
embedding = model.encode([sys.argv[2]])
if len(sys.argv) > 3:
    import numpy
    numpy.save(sys.argv[3], embedding)
'''

# ONNX Runtime as a lean Python service would run it: the tokenizers library rather than
# transformers' AutoTokenizer, whose import also imports torch (about 3 s here); the session
# with onnxruntime's defaults (ORT_ENABLE_ALL, one thread per core).
ORT_PEER = r'''
import sys
import numpy as np
import onnxruntime
from tokenizers import Tokenizer
session = onnxruntime.InferenceSession(sys.argv[1], providers=["CPUExecutionProvider"])
tokenizer = Tokenizer.from_file(sys.argv[2])
tokenizer.no_padding()  # MiniLM's tokenizer.json pads every input to 128 tokens
encoding = tokenizer.encode(sys.argv[3])
types = {i.name: np.int32 if i.type == "tensor(int32)" else np.int64 for i in session.get_inputs()}
mask = np.array([encoding.attention_mask])
feeds = {"input_ids": np.array([encoding.ids], dtype=types["input_ids"]),
         "attention_mask": mask.astype(types["attention_mask"])}
hidden = session.run(["last_hidden_state"], feeds)[0]
weights = mask[:, :, None].astype(np.float32)
embedding = (hidden * weights).sum(1) / np.maximum(weights.sum(1), 1e-9)
embedding /= np.maximum(np.linalg.norm(embedding, axis=1, keepdims=True), 1e-12)
if len(sys.argv) > 4:
    np.save(sys.argv[4], embedding)
'''


def wall_ms(command):
    start = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True)
    elapsed = 1000.0 * (time.perf_counter() - start)
    if done.returncode != 0:
        sys.exit(f"{' '.join(map(str, command))} failed:\n{done.stderr}")
    return elapsed


def onnx_model(args):
    """The optimized ONNX graph for the ONNX Runtime row, or (None, why not)."""
    if args.no_ort:
        return None, "--no-ort"
    if importlib.util.find_spec("onnxruntime") is None or importlib.util.find_spec("tokenizers") is None:
        return None, "onnxruntime or tokenizers is not installed (make bench-requirements)"
    if not (Path(args.model) / "tokenizer.json").is_file():
        return None, f"{args.model} has no tokenizer.json"
    try:
        return bench_encoder.optimized_onnx(Path(args.model)), ""
    except SystemExit as error:  # bench_encoder's run_process: the export worker failed
        return None, f"the ONNX export failed: {error}"


def mean_pooled(model):
    """Whether the folder is a sentence-transformers one with mean pooling (MiniLM's), the
    pooling the ONNX Runtime variant does and bertlite reads from the folder; only then are the
    embeddings compared."""
    config = Path(model) / "1_Pooling" / "config.json"
    return config.is_file() and bool(json.loads(config.read_text()).get("pooling_mode_mean_tokens"))


def cosine(a, b):
    a, b = a.astype(np.float64).ravel(), b.astype(np.float64).ravel()
    return float(a @ b / max(np.linalg.norm(a) * np.linalg.norm(b), 1e-30))


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bertlite", default=str(ROOT / "build/cli/bertlite"))
    parser.add_argument("--model", default=str(ROOT / "models/all-MiniLM-L6-v2"))
    parser.add_argument("--repeats", type=int, default=15)
    parser.add_argument("--no-python", action="store_true", help="skip sentence-transformers")
    parser.add_argument("--no-ort", action="store_true", help="skip ONNX Runtime")
    args = parser.parse_args()
    if args.repeats < 1:
        parser.error("--repeats must be >= 1")
    onnx_path, no_ort_reason = onnx_model(args)

    with tempfile.TemporaryDirectory(prefix="bertlite-first-") as tmp:
        tmp = Path(tmp)
        (tmp / "one.txt").write_text(SENTENCE + "\n", encoding="utf-8")
        quantized = tmp / "int8-folder"
        subprocess.run([args.bertlite, "quantize", "--model", args.model, "--precision", "int8",
                        "--out", str(quantized)], check=True, capture_output=True)

        def embed(model, *extra):
            return [args.bertlite, "embed", "--model", str(model), "--input", str(tmp / "one.txt"),
                    "--out", str(tmp / "one.npy"), *extra]

        variants = {
            "bertlite fp32": embed(args.model),
            "bertlite bf16": embed(args.model, "--precision", "bf16"),
            "bertlite int8 (quantized at load)": embed(args.model, "--precision", "int8"),
            "bertlite int8 (bertlite quantize folder)": embed(quantized),
        }
        # The Python variants' embedding files, written in the warm-up run only.
        outputs = {}
        if not args.no_python:
            variants["sentence-transformers fp32 (python)"] = [
                sys.executable, "-c", PYTHON_PEER, args.model, SENTENCE]
            outputs["sentence-transformers fp32 (python)"] = tmp / "sentence-transformers.npy"
        if onnx_path:
            variants["ONNX Runtime fp32 (python, optimized graph)"] = [
                sys.executable, "-c", ORT_PEER, str(onnx_path),
                str(Path(args.model) / "tokenizer.json"), SENTENCE]
            outputs["ONNX Runtime fp32 (python, optimized graph)"] = tmp / "onnxruntime.npy"
        times = {name: [] for name in variants}
        parity = {}
        check = mean_pooled(args.model)
        for name, command in variants.items():
            # Warm-up: files into the page cache; and each fp32 embedding for the check.
            wall_ms(command + ([str(outputs[name])] if name in outputs else []))
            if name == "bertlite fp32":
                reference = np.load(tmp / "one.npy")
            elif name in outputs and check:
                parity[name] = cosine(reference, np.load(outputs[name]))
        for name, value in parity.items():
            if not value > PARITY_COSINE:
                sys.exit(f"PARITY FAILURE: {name}'s embedding has cosine {value:.6f} with bertlite "
                         f"fp32's (need > {PARITY_COSINE})")
        for _ in range(args.repeats):
            for name, command in variants.items():
                times[name].append(wall_ms(command))

    print(f"time to the first embedding, whole process, one sentence; {args.model}; "
          f"medians of {args.repeats} alternating runs")
    print(f"{'variant':44} {'median ms':>10} {'min..max':>16}")
    for name, values in times.items():
        print(f"{name:44} {statistics.median(values):10.1f} "
              f"{min(values):7.1f}..{max(values):7.1f}")
    if no_ort_reason:
        print(f"(no ONNX Runtime row: {no_ort_reason})")
    if parity:
        print("parity (embedding vs bertlite fp32's): " + "; ".join(
            f"{name} cosine {value:.7f}" for name, value in parity.items()))
    elif len(variants) > 4:
        print(f"(embeddings not compared: {args.model} is not a mean-pooled sentence-transformers "
              f"folder, and the Python variants mean-pool)")
    fp32 = statistics.median(times["bertlite fp32"])
    verdict = "met" if fp32 < TARGET_MS else "not met"
    print(f"[{verdict}] bertlite fp32 first embedding {fp32:.1f} ms (target < {TARGET_MS:.0f} ms)")
    for name, peer in (("sentence-transformers fp32 (python)", "sentence-transformers'"),
                       ("ONNX Runtime fp32 (python, optimized graph)", "ONNX Runtime's")):
        if name in times:
            theirs = statistics.median(times[name])
            verdict = "met" if fp32 <= theirs else "not met"
            print(f"[{verdict}] issue 14: bertlite fp32 first embedding <= {peer}: {fp32:.1f} vs "
                  f"{theirs:.1f} ms (medians)")


if __name__ == "__main__":
    main()
