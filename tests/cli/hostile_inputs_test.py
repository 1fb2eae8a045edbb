#!/usr/bin/env python3
"""tests/cli/hostile_inputs_test.py - every file bertlite reads may come from a stranger. One
row per hostile input: the command run as a user would, and what must come out of it:

- a non-zero exit and exactly one line on stderr, `bertlite: error: ...`, naming the file and
  the field, line or byte that is wrong (the row's `expect` fragments);
- nothing left behind: no output file and no temporary file in the output folder;
- no more memory than the clean run (plus a small slack): sizes a file claims are checked
  against the file before anything is allocated for them.

Rows that are not errors (a BOM, CRLF line ends, a 1 MB line, --threads 0) must succeed and give
what the clean input gives. Standard library only; the model is the tiny BERT fixture
transformers wrote (tests/data/encoder/bert_tiny), copied and damaged per row.

  BERTLITE=build/cli/bertlite python3 tests/cli/hostile_inputs_test.py
"""

import json
import os
import shutil
import stat
import struct
import subprocess
import sys
import tempfile
import threading
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
BERTLITE = os.environ.get("BERTLITE", str(ROOT / "build" / "cli" / "bertlite"))
if os.sep in BERTLITE:  # the commands run in temporary folders: a relative path would not resolve
    BERTLITE = os.path.abspath(BERTLITE)
FIXTURE = ROOT / "tests" / "data" / "encoder" / "bert_tiny"
SENTENCES = "a good film\tgood\nawful , just awful\tbad\nfun\tgood\ndull\tbad\n"


# ---- Building damaged inputs --------------------------------------------------------------------

def read_safetensors(path):
    data = path.read_bytes()
    n = struct.unpack("<Q", data[:8])[0]
    return json.loads(data[8:8 + n]), data[8 + n:]


def write_safetensors(path, header, payload, header_bytes=None):
    raw = header_bytes if header_bytes is not None else json.dumps(header).encode()
    path.write_bytes(struct.pack("<Q", len(raw)) + raw + payload)


def edit_header(change):
    """A model whose safetensors header `change(header)` edits (the data stays as it was)."""
    def make(model):
        path = model / "model.safetensors"
        header, payload = read_safetensors(path)
        change(header)
        write_safetensors(path, header, payload)
    return make


def truncate_weights(length):
    def make(model):
        path = model / "model.safetensors"
        data = path.read_bytes()
        n = struct.unpack("<Q", data[:8])[0]
        cut = {"3 bytes": 3, "8 bytes": 8, "mid-header": 8 + n // 2,
               "mid-data": 8 + n + (len(data) - 8 - n) // 2}[length]
        path.write_bytes(data[:cut])
    return make


def first_tensor(header):
    return next(k for k in header if k != "__metadata__")


def set_field(field, value):
    def change(header):
        header[first_tensor(header)][field] = value
    return change


def past_the_end(header):
    name = first_tensor(header)
    begin, end = header[name]["data_offsets"]
    header[name]["data_offsets"] = [begin + 10**9, end + 10**9]


def overlapping(header):
    names = [k for k in header if k != "__metadata__"]
    a, b = sorted(names, key=lambda k: header[k]["data_offsets"][0])[:2]
    size = header[b]["data_offsets"][1] - header[b]["data_offsets"][0]
    header[b]["data_offsets"] = [header[a]["data_offsets"][0], header[a]["data_offsets"][0] + size]


def remove_tensor(name):
    def change(header):
        del header[name]
    return change


def misshape(name):
    def change(header):
        header[name]["shape"] = list(reversed(header[name]["shape"]))
        if header[name]["shape"] == list(reversed(header[name]["shape"])):
            header[name]["shape"] = [1, *header[name]["shape"]]
    return change


TORCH_FIXTURES = ROOT / "tests" / "data" / "io"


def torch_weights(fixture, damage):
    """The model with its safetensors removed and a damaged torch.save file (a fixture of
    tests/data/io) as pytorch_model.bin instead."""
    def make(model):
        (model / "model.safetensors").unlink()
        data = (TORCH_FIXTURES / fixture).read_bytes()
        (model / "pytorch_model.bin").write_bytes(damage(data))
    return make


def garble_pickle(data):
    # The zip's data.pkl entry (stored, uncompressed) overwritten past its first two bytes.
    start = data.index(b"data.pkl") + len(b"data.pkl")
    start = data.index(b"\x80\x02", start)  # the pickle's PROTO opcode
    return data[:start + 2] + b"\xff" * 40 + data[start + 42:]


def edit_config(change):
    def make(model):
        path = model / "config.json"
        config = json.loads(path.read_text())
        change(config)
        path.write_text(json.dumps(config))
    return make


def write_file(name, content):
    def make(model):
        path = model / name
        path.write_bytes(content if isinstance(content, bytes) else content.encode())
    return make


def config_set(key, value):
    def change(config):
        if value is None:
            del config[key]
        else:
            config[key] = value
    return change


# ---- The table ----------------------------------------------------------------------------------
# (name, damage to the model folder or None, the data file's bytes or None, extra arguments,
#  fragments the error must contain). {model} and {data} in fragments are the paths.

WEIGHTS = "model.safetensors"
TORCH = "pytorch_model.bin"
MODEL_ROWS = [
    ("safetensors truncated at 3 bytes", truncate_weights("3 bytes"), [WEIGHTS]),
    ("safetensors truncated at 8 bytes", truncate_weights("8 bytes"), [WEIGHTS]),
    ("safetensors truncated mid-header", truncate_weights("mid-header"), [WEIGHTS]),
    ("safetensors truncated mid-data", truncate_weights("mid-data"), [WEIGHTS]),
    ("safetensors header length past the end",
     lambda m: (m / WEIGHTS).write_bytes(struct.pack("<Q", 10**12) + b"{}"), [WEIGHTS]),
    ("safetensors data_offsets past the end", edit_header(past_the_end), [WEIGHTS, "offset"]),
    ("safetensors data_offsets overlapping", edit_header(overlapping), [WEIGHTS]),
    ("safetensors unknown dtype", edit_header(set_field("dtype", "F7")), [WEIGHTS, "F7"]),
    ("safetensors shape disagrees with bytes", edit_header(set_field("shape", [7])), [WEIGHTS]),
    ("safetensors element count overflows 64 bits",
     edit_header(set_field("shape", [2**40, 2**40])), [WEIGHTS]),
    ("safetensors header not JSON",
     lambda m: write_safetensors(m / WEIGHTS, None, b"", header_bytes=b"{not json"), [WEIGHTS]),
    ("a tensor missing", edit_header(remove_tensor("encoder.layer.0.attention.self.query.weight")),
     ["encoder.layer.0.attention.self.query.weight"]),
    ("a tensor mis-shaped",
     edit_header(misshape("encoder.layer.0.intermediate.dense.weight")),
     ["encoder.layer.0.intermediate.dense.weight"]),
    ("pytorch_model.bin truncated (zip)",
     torch_weights("torch_zip.bin", lambda d: d[:len(d) // 2]), [TORCH, "truncated"]),
    ("pytorch_model.bin truncated (legacy pickle)",
     torch_weights("torch_legacy.bin", lambda d: d[:len(d) // 2]), [TORCH, "past the end"]),
    ("pytorch_model.bin pickle corrupted", torch_weights("torch_zip.bin", garble_pickle),
     [TORCH, "data.pkl", "opcode"]),
    ("pytorch_model.bin not a checkpoint",
     torch_weights("torch_zip.bin", lambda d: b"\0" * len(d)), [TORCH, "not a PyTorch"]),
    ("config.json invalid", write_file("config.json", "{\"hidden_size\": 48,"), ["config.json"]),
    ("config.json without hidden_size", edit_config(config_set("hidden_size", None)),
     ["config.json", "hidden_size"]),
    ("config.json heads do not divide hidden", edit_config(config_set("num_attention_heads", 5)),
     ["config.json", "num_attention_heads"]),
    ("config.json negative size", edit_config(config_set("intermediate_size", -100)),
     ["config.json", "intermediate_size"]),
    ("config.json 100,000 layers", edit_config(config_set("num_hidden_layers", 100000)),
     ["num_hidden_layers"]),
    # Sizes that would need terabytes if the model were allocated from the config before the
    # checkpoint's shapes are checked: the peak-memory check catches that.
    ("config.json vocab_size 10^9", edit_config(config_set("vocab_size", 10**9)),
     [WEIGHTS, "word_embeddings", "1000000000"]),
    ("config.json intermediate_size 10^8", edit_config(config_set("intermediate_size", 10**8)),
     [WEIGHTS, "intermediate.dense.weight", "100000000"]),
    ("config.json max_position_embeddings 10^9",
     edit_config(config_set("max_position_embeddings", 10**9)),
     [WEIGHTS, "position_embeddings", "1000000000"]),
    ("config.json unknown model_type", edit_config(config_set("model_type", "gpt9")),
     ["config.json", "gpt9"]),
    ("vocab.txt empty", write_file("vocab.txt", ""), ["vocab.txt"]),
    ("vocab.txt binary", write_file("vocab.txt", bytes(range(256)) * 4), ["vocab.txt"]),
    ("vocab.txt without [UNK]", lambda m: (m / "vocab.txt").write_text(
        "".join(t + "\n" for t in (m / "vocab.txt").read_text().split("\n")
                if t and t != "[UNK]")), ["[UNK]"]),
    ("a directory where config.json should be",
     lambda m: ((m / "config.json").unlink(), (m / "config.json").mkdir()),
     ["config.json", "is a directory"]),
]

DATA_ROWS = [
    ("data file empty", b"", ["data.tsv"]),
    ("data file only newlines", b"\n\n\n\n", ["data.tsv"]),
    ("data file with invalid UTF-8", b"a good film\n\xff\xfe bad bytes\n", ["data.tsv:2"]),
    ("data file with a NUL", b"a good film\nnul \x00 inside\n", ["data.tsv:2", "NUL"]),
]

TRAIN_ROWS = [
    ("train rows too few for 5-fold CV", b"a good film\t1\nawful\tbad\nfun\t1\n", ["--folds"]),
    ("train column missing", b"a good film\nawful\n", []),
    ("train one class only", b"a good film\t1\nfun\t1\ngreat\t1\n", ["two classes"]),
]

FLAG_ROWS = [
    ("--threads -1", ["--threads", "-1"], ["threads"]),
    ("--threads 100000", ["--threads", "100000"], ["threads"]),
    ("--max-length 100000", ["--max-length", "100000"], ["max length", "100000"]),
    ("--batch-tokens 0", ["--batch-tokens", "0"], ["--batch-tokens", "positive"]),
    ("--long-text bogus", ["--long-text", "bogus"], ["--long-text"]),
]


class Result:
    """What a finished command gave: exit code, output, and its peak resident memory."""

    def __init__(self, returncode, stdout, stderr, peak_rss_mb):
        self.returncode, self.stdout, self.stderr = returncode, stdout, stderr
        self.peak_rss_mb = peak_rss_mb


def run(args, cwd):
    # os.wait4 instead of subprocess.run: its rusage is this one child's peak memory (getrusage's
    # RUSAGE_CHILDREN would be the largest of every child so far).
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        process = subprocess.Popen([BERTLITE, *map(str, args)], stdout=out, stderr=err, cwd=cwd)
        timer = threading.Timer(120, process.kill)
        timer.start()
        try:
            _, status, usage = os.wait4(process.pid, 0)
        finally:
            timer.cancel()
        process.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        return Result(process.returncode, out.read().decode(errors="replace"),
                      err.read().decode(errors="replace"), usage.ru_maxrss / 1024)


def leftovers(folder, keep):
    return sorted(p.name for p in folder.iterdir() if p.name not in keep)


# A claimed size is checked against the file before anything is allocated for it, so a hostile
# input costs no more memory than the clean run: the clean run's peak, plus slack for the
# allocator and for reading the (small) damaged file itself.
MEMORY_SLACK_MB = 64
clean_peak_rss_mb = None


def check_error(name, result, fragments, out_dir, keep, failures):
    problems = []
    if result.returncode == 0:
        problems.append("exit code 0")
    if result.peak_rss_mb > clean_peak_rss_mb + MEMORY_SLACK_MB:
        problems.append(f"peak memory {result.peak_rss_mb:.0f} MB, the clean run's "
                        f"{clean_peak_rss_mb:.0f} MB + {MEMORY_SLACK_MB}")
    lines = result.stderr.rstrip("\n").split("\n")
    if len(lines) != 1 or not lines[0].startswith("bertlite: error: "):
        problems.append(f"stderr is not one 'bertlite: error:' line: {result.stderr!r}")
    for fragment in fragments:
        if fragment is not None and fragment not in result.stderr:
            problems.append(f"message lacks {fragment!r}: {result.stderr.strip()!r}")
    left = leftovers(out_dir, keep)
    if left:
        problems.append(f"left behind: {left}")
    if problems:
        failures.append(f"{name}: " + "; ".join(problems))
    else:
        print(f"ok   {name}: {lines[0][len('bertlite: error: '):][:110]}")


def main():
    failures = []
    with tempfile.TemporaryDirectory(prefix="hostile_") as tmp:
        tmp = Path(tmp)
        data = tmp / "data.tsv"
        data.write_text(SENTENCES)
        clean_out = tmp / "clean.npy"
        clean = run(["embed", "--model", FIXTURE, "--input", data, "--out", clean_out], tmp)
        assert clean.returncode == 0, clean.stderr
        global clean_peak_rss_mb
        clean_peak_rss_mb = clean.peak_rss_mb
        print(f"clean run: peak memory {clean_peak_rss_mb:.0f} MB")
        clean_features = clean_out.read_bytes()

        for name, damage, fragments in MODEL_ROWS:
            case = tmp / "case"
            shutil.rmtree(case, ignore_errors=True)
            shutil.copytree(FIXTURE, case / "model")
            damage(case / "model")
            shutil.copy(data, case / "data.tsv")
            keep = {"model", "data.tsv"}
            result = run(["embed", "--model", case / "model", "--input", case / "data.tsv",
                          "--out", case / "out.npy"], case)
            check_error(name, result, fragments, case, keep, failures)

        for name, content, fragments in DATA_ROWS:
            case = tmp / "case"
            shutil.rmtree(case, ignore_errors=True)
            case.mkdir()
            (case / "data.tsv").write_bytes(content)
            result = run(["embed", "--model", FIXTURE, "--input", case / "data.tsv", "--out",
                          case / "out.npy"], case)
            check_error(name, result, fragments, case, {"data.tsv"}, failures)

        for name, content, fragments in TRAIN_ROWS:
            case = tmp / "case"
            shutil.rmtree(case, ignore_errors=True)
            case.mkdir()
            (case / "data.tsv").write_bytes(content)
            result = run(["train", "--model", FIXTURE, "--train", case / "data.tsv", "--grid", "1",
                          "--no-cache", "--out", case / "clf.json"], case)
            check_error(name, result, ["data.tsv", *fragments], case, {"data.tsv"}, failures)

        for name, flags, fragments in FLAG_ROWS:
            case = tmp / "case"
            shutil.rmtree(case, ignore_errors=True)
            case.mkdir()
            result = run(["embed", "--model", FIXTURE, "--input", data, "--out", case / "out.npy",
                          *flags], case)
            check_error(name, result, fragments, case, set(), failures)

        # An output folder that cannot be written, and a directory given as the input.
        case = tmp / "case"
        shutil.rmtree(case, ignore_errors=True)
        case.mkdir()
        locked = case / "locked"
        locked.mkdir()
        locked.chmod(stat.S_IRUSR | stat.S_IXUSR)
        result = run(["embed", "--model", FIXTURE, "--input", data, "--out", locked / "out.npy"],
                     case)
        if os.geteuid() != 0:  # root writes anywhere
            check_error("unwritable --out", result, ["out.npy"], locked, set(), failures)
        locked.chmod(stat.S_IRWXU)
        result = run(["embed", "--model", FIXTURE, "--input", case, "--out", tmp / "dir.npy"], case)
        check_error("a directory as --input", result, [str(case), "is a directory"], case,
                    {"locked"}, failures)

        # Not errors: each gives the clean file's features.
        for name, content, extra in [
                ("a BOM", b"\xef\xbb\xbf" + SENTENCES.encode(), []),
                ("CRLF line ends", SENTENCES.replace("\n", "\r\n").encode(), []),
                ("--threads 0 (all cores)", SENTENCES.encode(), ["--threads", "0"])]:
            path = tmp / "variant.tsv"
            path.write_bytes(content)
            out = tmp / "variant.npy"
            result = run(["embed", "--model", FIXTURE, "--input", path, "--out", out, *extra], tmp)
            if result.returncode != 0 or out.read_bytes() != clean_features:
                failures.append(f"{name}: not the clean file's features ({result.stderr.strip()})")
            else:
                print(f"ok   {name}: the clean file's features")
        path = tmp / "long.txt"
        path.write_text("good " * 200_000 + "\n")  # a 1 MB line: cut to the model's length
        result = run(["embed", "--model", FIXTURE, "--input", path, "--format", "text", "--out",
                      tmp / "long.npy"], tmp)
        if result.returncode != 0 or "1 truncated" not in result.stdout:
            failures.append(f"a 1 MB line: {result.returncode} {result.stdout} {result.stderr}")
        else:
            print("ok   a 1 MB line: truncated and counted")

    for failure in failures:
        print("FAIL " + failure)
    print(f"{'FAILED' if failures else 'passed'}: {len(failures)} of the rows failed")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
