#!/usr/bin/env python3
"""tests/cli/crash_safety_test.py - SIGKILL at any moment never leaves a truncated file at a final
path (issue 17). For `embed`, `train`, `quantize`, `convert` and the feature cache that `train`
(like `guide`) writes, each command is killed at several moments spread over its measured run
time, and also the moment its temporary output appears (so the kill lands in the write), and:

- with a previous output at the final path: afterwards the final path holds exactly the previous
  bytes, or (a kill that landed after the rename) exactly a clean run's bytes;
- with none: the final path is absent, or complete and valid (a .npy with the size its header
  declares, JSON that parses, a safetensors file whose offsets reach its end) and equal to a
  clean run's output;
- a following complete run succeeds and gives a clean run's output.

What the code does (src/util/file.cpp, src/io/convert.cpp, src/model/feature_cache.cpp), and so
what is asserted:

- files are written to `TARGET.tmp.PID` beside the target and renamed over it when complete. A
  SIGKILL before the rename leaves that temporary file behind; the next write of the same target
  removes the ones whose process is gone and that are over a minute old (util/file.h). The
  test ages the leftovers by two minutes and asserts that the next complete run removed them.
- `quantize` and `convert` fill a staging folder `.NAME.partial.PID` beside the new folder and
  rename it into place; `--out` must not exist. A SIGKILL leaves the staging folder; the next
  run to the same `--out` removes abandoned ones under the same rule, which is asserted the same
  way.
- a cache entry is KEY.npy then KEY.json, each written atomically; an entry is only read when its
  .json exists and agrees with the .npy. After a kill the cache may hold a .npy without its .json
  (and temporary files); every file at a final name must be complete and equal to a clean run's,
  entries of other inputs stay byte for byte, and a torn entry (a truncated .npy or .json, which
  a rename makes impossible after SIGKILL but a power cut is not) is recomputed, never used.

Standard library only; the model is the tiny BERT fixture (tests/data/encoder/bert_tiny) and,
for quantize and convert, a wider copy of it built here (86 MB of weights) so that they run long
enough to be killed in the middle. Inputs are sentences made from the fixture's vocabulary.

  BERTLITE=build/cli/bertlite python3 tests/cli/crash_safety_test.py
"""

import array
import ast
import json
import os
import random
import shutil
import signal
import struct
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
BERTLITE = os.environ.get("BERTLITE", str(ROOT / "build" / "cli" / "bertlite"))
if os.sep in BERTLITE:  # the commands run in temporary folders: a relative path would not resolve
    BERTLITE = os.path.abspath(BERTLITE)
FIXTURE = ROOT / "tests" / "data" / "encoder" / "bert_tiny"

# Kill moments as fractions of a clean run's wall time (1.0 and later often land after the exit).
FRACTIONS = [0.05, 0.25, 0.5, 0.7, 0.85, 0.95, 1.0]
KILLS = {"total": 0, "mid-run": 0}


# ---- Inputs -------------------------------------------------------------------------------------

def write_sentences(path, count, seed=17):
    """`count` labelled sentences (sentence<TAB>0|1) made of the tiny model's words."""
    words = [w for w in (FIXTURE / "vocab.txt").read_text().split("\n")
             if w and not w.startswith("[") and not w.startswith("##")]
    rng = random.Random(seed)
    with open(path, "w") as out:
        for i in range(count):
            text = " ".join(rng.choice(words) for _ in range(rng.randint(5, 40)))
            out.write(f"{text}\t{i % 2}\n")


def build_wide_model(dst, hidden=384, intermediate=1536, heads=6, layers=12):
    """The tiny fixture's architecture and files with wider, deeper weights (a repeating
    pattern of small numbers): big enough that quantize and convert take a while."""
    data = (FIXTURE / "model.safetensors").read_bytes()
    n = struct.unpack("<Q", data[:8])[0]
    header = json.loads(data[8:8 + n])
    header.pop("__metadata__", None)
    dims = {48: hidden, 100: intermediate}
    rng = random.Random(17)
    tile = array.array("f", [rng.gauss(0, 0.02) for _ in range(4096)]).tobytes()
    tensors = []
    for name, info in sorted(header.items()):
        if name.startswith("encoder.layer."):
            if name.startswith("encoder.layer.0."):
                rest = name.split(".", 3)[3]
                tensors += [(f"encoder.layer.{i}.{rest}", info) for i in range(layers)]
        else:
            tensors.append((name, info))
    out, offset = {}, 0
    for name, info in tensors:
        shape = [dims.get(d, d) for d in info["shape"]]
        size = 4
        for d in shape:
            size *= d
        out[name] = {"dtype": "F32", "shape": shape, "data_offsets": [offset, offset + size]}
        offset += size
    raw = json.dumps(out).encode()
    raw += b" " * (-len(raw) % 8)
    dst.mkdir(parents=True)
    with open(dst / "model.safetensors", "wb") as f:
        f.write(struct.pack("<Q", len(raw)) + raw)
        for name, info in out.items():
            size = info["data_offsets"][1] - info["data_offsets"][0]
            f.write((tile * (size // len(tile) + 1))[:size])
    config = json.loads((FIXTURE / "config.json").read_text())
    config.update(hidden_size=hidden, intermediate_size=intermediate, num_attention_heads=heads,
                  num_hidden_layers=layers)
    (dst / "config.json").write_text(json.dumps(config, indent=2))
    for name in ("vocab.txt", "tokenizer_config.json"):
        shutil.copy(FIXTURE / name, dst / name)


# ---- Checking outputs ---------------------------------------------------------------------------

def npy_complete(path):
    """Whether a float32 .npy holds exactly the bytes its header declares."""
    data = Path(path).read_bytes()
    if data[:6] != b"\x93NUMPY":
        return False
    if data[6] == 1:
        n, start = struct.unpack("<H", data[8:10])[0], 10
    else:
        n, start = struct.unpack("<I", data[8:12])[0], 12
    header = ast.literal_eval(data[start:start + n].decode("latin-1"))
    count = 1
    for d in header["shape"]:
        count *= d
    return header["descr"] == "<f4" and len(data) == start + n + 4 * count


def safetensors_complete(path):
    data = Path(path).read_bytes()
    n = struct.unpack("<Q", data[:8])[0]
    header = json.loads(data[8:8 + n])
    ends = [v["data_offsets"][1] for k, v in header.items() if k != "__metadata__"]
    return len(data) == 8 + n + max(ends, default=0)


def json_complete(path):
    json.loads(Path(path).read_text())
    return True


def valid(validate, path):
    try:
        return validate(path)
    except (ValueError, KeyError, SyntaxError, struct.error):  # truncated or not the format
        return False


def folder_files(folder):
    folder = Path(folder)
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*"))
            if p.is_file()}


def temp_files(target):
    return sorted(p.name for p in Path(target).parent.glob(Path(target).name + ".tmp.*"))


def age(paths, seconds=120):
    """Makes `paths` look `seconds` old: leftovers are only removed once over a minute old."""
    then = time.time() - seconds
    for p in paths:
        os.utime(p, (then, then))


# ---- Running and killing ------------------------------------------------------------------------

def run(args, env, cwd):
    return subprocess.run([BERTLITE, *map(str, args)], capture_output=True, text=True, env=env,
                          cwd=cwd, timeout=120)


def timed_run(args, env, cwd):
    start = time.monotonic()
    result = run(args, env, cwd)
    if result.returncode != 0:
        raise RuntimeError(f"bertlite {' '.join(map(str, args))}: {result.stderr.strip()}")
    return time.monotonic() - start


def kill_run(args, env, cwd, delay, trigger=None):
    """Starts bertlite and SIGKILLs it `delay` seconds later or, with `trigger(pid)`, as soon as
    the trigger holds after `delay` (or when it exits). True when the kill landed mid-run."""
    proc = subprocess.Popen([BERTLITE, *map(str, args)], stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, env=env, cwd=cwd)
    time.sleep(delay)
    if trigger is not None:
        deadline = time.monotonic() + 30
        while proc.poll() is None and not trigger(proc.pid) and time.monotonic() < deadline:
            pass  # a busy wait: the write being waited for lasts a millisecond or less
    proc.kill()  # a no-op once poll() has reaped it
    proc.wait(timeout=60)
    landed = proc.returncode == -signal.SIGKILL
    KILLS["total"] += 1
    KILLS["mid-run"] += landed
    return landed


def schedule(seconds, triggers):
    """(delay, trigger, label) per kill: the fractions of a run, then each trigger."""
    kills = [(f * seconds, None, f"{f:.2f}T") for f in FRACTIONS]
    return kills + [(0.3 * seconds, t, label) for label, t in triggers]


# ---- Cases --------------------------------------------------------------------------------------

def file_case(name, command, small, big, validate, work, env):
    """A command writing one file, killed with the previous output in place and with none.
    `command(input, out)` is its argument list."""
    ref = work / ("ref_" + name)
    # The faster of two clean runs: the first may pay for a cold page cache.
    seconds = min(timed_run(command(big, ref), env, work) for _ in range(2))
    new = ref.read_bytes()
    final = work / ("out_" + name)
    timed_run(command(small, final), env, work)
    previous = final.read_bytes()
    problems, landed, replaced, in_write = [], 0, 0, 0
    if previous == new:
        problems.append("the previous output equals the new one: the check would be blind")
    triggers = [("temp file", lambda pid: os.path.exists(f"{final}.tmp.{pid}"))]
    for delay, trigger, label in schedule(seconds, triggers):  # a previous output
        final.write_bytes(previous)
        before = len(temp_files(final))
        landed += kill_run(command(big, final), env, work, delay, trigger)
        in_write += len(temp_files(final)) > before
        now = final.read_bytes() if final.exists() else None
        if now == new:
            replaced += 1
        elif now != previous:
            problems.append(f"kill at {label}: the final path holds "
                            f"{'nothing' if now is None else f'{len(now)} other bytes'}")
    absent = 0
    for delay, trigger, label in schedule(seconds, triggers):  # no previous output
        final.unlink(missing_ok=True)
        before = len(temp_files(final))
        landed += kill_run(command(big, final), env, work, delay, trigger)
        in_write += len(temp_files(final)) > before
        if not final.exists():
            absent += 1
        elif not valid(validate, final) or final.read_bytes() != new:
            problems.append(f"kill at {label} (none before): the final path is not complete")
    left = temp_files(final)
    age(final.parent / name for name in left)
    final.unlink(missing_ok=True)
    timed_run(command(big, final), env, work)
    if final.read_bytes() != new:
        problems.append("a complete run after the kills differs from a clean run")
    if temp_files(final):
        problems.append(f"the complete run left the killed runs' {temp_files(final)}")
    total = 2 * len(schedule(seconds, triggers))
    return problems, (f"run {seconds:.2f} s; {landed}/{total} kills mid-run, {in_write} inside "
                      f"the write; previous kept or replaced whole ({replaced}x); none: absent "
                      f"{absent}x, else complete; {len(left)} {final.name}.tmp.* left, removed by the next run")


def folder_case(name, command, previous_command, work, env):
    """A command writing a new folder (quantize, convert): killed with --out already there (it
    must stay byte for byte) and with none (absent or complete; the next run clears the
    staging folder)."""
    ref = work / ("ref_" + name)
    seconds = timed_run(command(ref), env, work)
    shutil.rmtree(ref)
    seconds = min(seconds, timed_run(command(ref), env, work))
    new = folder_files(ref)
    final = work / ("out_" + name)

    def staging(pid):
        return work / f".{final.name}.partial.{pid}"

    def stagings():
        return sorted(work.glob(f".{final.name}.partial.*"))
    timed_run(previous_command(final), env, work)
    previous = folder_files(final)
    problems, landed = [], 0
    if previous == new:
        problems.append("the previous folder equals the new one: the check would be blind")
    result = run(command(final), env, work)
    if result.returncode == 0 or "already exists" not in result.stderr:
        problems.append(f"an existing --out was not refused: {result.stderr.strip()!r}")
    triggers = [("staging folder", lambda pid: staging(pid).exists()),
                ("weights in staging", lambda pid: (staging(pid) / "model.safetensors").exists()),
                ("config in staging", lambda pid: (staging(pid) / "config.json").exists())]
    for delay, trigger, label in schedule(seconds, triggers[:1]):  # a previous output
        landed += kill_run(command(final), env, work, delay, trigger)
        if folder_files(final) != previous:
            problems.append(f"kill at {label}: the previous folder changed")
    shutil.rmtree(final)
    absent, staged = 0, 0
    for delay, trigger, label in schedule(seconds, triggers):  # no previous output
        before = len(stagings())
        landed += kill_run(command(final), env, work, delay, trigger)
        staged += len(stagings()) > before
        if not final.exists():
            absent += 1
            continue
        weights = final / "model.safetensors"
        if not valid(safetensors_complete, weights) or folder_files(final) != new:
            problems.append(f"kill at {label} (none before): the folder is not complete")
        shutil.rmtree(final)
    left = stagings()
    age(left)
    timed_run(command(final), env, work)
    if folder_files(final) != new:
        problems.append("a complete run after the kills differs from a clean run")
    if stagings():
        problems.append(f"the complete run left {[p.name for p in stagings()]} behind")
    total = len(schedule(seconds, triggers[:1])) + len(schedule(seconds, triggers))
    return problems, (f"run {seconds:.2f} s; {landed}/{total} kills mid-run; previous folder "
                      f"kept; none: absent {absent}x, else complete; staging folder there after "
                      f"{staged} kills ({len(left)} left, removed by the next run)")


def cache_files(folder):
    return {p.name: p.read_bytes() for p in sorted(Path(folder).glob("*"))
            if p.is_file() and ".tmp." not in p.name}


def cache_case(work, small, big):
    """`train` with the feature cache: killed while it computes and stores entries, in a cache
    that already holds another input's entries."""
    def command(data, cache, out):
        env = dict(os.environ, BERTLITE_CACHE=str(cache))
        return ["train", "--model", FIXTURE, "--train", data, "--grid", "1", "--threads", "1",
                "--out", out], env

    args, env = command(big, work / "ref_cache", work / "ref_clf.json")
    seconds = timed_run(args, env, work)
    shutil.rmtree(work / "ref_cache")
    seconds = min(seconds, timed_run(args, env, work))
    ref_clf = (work / "ref_clf.json").read_bytes()
    ref_entries = cache_files(work / "ref_cache" / "features")
    args, env = command(small, work / "prev_cache", work / "prev_clf.json")
    timed_run(args, env, work)
    prev_entries = cache_files(work / "prev_cache" / "features")
    problems, landed, temps, orphans, in_write = [], 0, 0, 0, 0
    if len(ref_entries) < 2 or set(ref_entries) & set(prev_entries):
        problems.append(f"unexpected cache entries: {sorted(ref_entries)} {sorted(prev_entries)}")
    cache = work / "cache"
    folder = cache / "features"
    args, env = command(big, cache, work / "clf.json")

    def npy_temp(pid):
        return any(n.endswith(f".npy.tmp.{pid}") for n in os.listdir(folder))

    def npy_without_json(pid):
        names = set(os.listdir(folder))
        return any(n.endswith(".npy") and n[:-4] + ".json" not in names for n in names)

    def json_temp(pid):
        return any(n.endswith(f".json.tmp.{pid}") for n in os.listdir(folder))

    triggers = [("npy temp file", npy_temp), (".npy without .json", npy_without_json),
                ("json temp file", json_temp)]
    for delay, trigger, label in schedule(seconds, triggers):
        shutil.rmtree(cache, ignore_errors=True)
        shutil.copytree(work / "prev_cache", cache)
        landed += kill_run(args, env, work, delay, trigger)
        temp = sum(".tmp." in n for n in os.listdir(folder))
        temps += temp
        in_write += temp > 0
        entries = cache_files(folder)
        for entry, content in entries.items():
            expected = ref_entries.get(entry, prev_entries.get(entry))
            if content != expected:
                problems.append(f"kill at {label}: {entry} is not a clean run's ({len(content)} "
                                f"bytes)")
            if entry.endswith(".json") and entry[:-5] + ".npy" not in entries:
                problems.append(f"kill at {label}: {entry} without its .npy")
            if entry.endswith(".npy") and entry[:-4] + ".json" not in entries:
                orphans += 1
        if any(entries.get(k) != v for k, v in prev_entries.items()):
            problems.append(f"kill at {label}: another input's entries changed")
        result = run(args, env, work)
        if result.returncode != 0 or (work / "clf.json").read_bytes() != ref_clf:
            problems.append(f"kill at {label}: the next run does not give a clean run's "
                            f"classifier ({result.stderr.strip()})")
        if cache_files(folder) != {**prev_entries, **ref_entries}:
            problems.append(f"kill at {label}: the next run's cache is not a clean run's")

    # Torn entries (a truncated .npy or .json under its final name) are recomputed, not used.
    for entry in sorted(ref_entries):
        shutil.rmtree(cache, ignore_errors=True)
        shutil.copytree(work / "ref_cache", cache)
        path = folder / entry
        path.write_bytes(ref_entries[entry][:len(ref_entries[entry]) // 2])
        result = run(args, env, work)
        if result.returncode != 0 or (work / "clf.json").read_bytes() != ref_clf:
            problems.append(f"{entry} cut in half: the run does not give a clean run's classifier "
                            f"({result.stderr.strip()})")
        elif cache_files(folder) != ref_entries:
            problems.append(f"{entry} cut in half: not rewritten whole")
    total = len(schedule(seconds, triggers))
    return problems, (f"run {seconds:.2f} s; {landed}/{total} kills mid-run, {in_write} inside a "
                      f"write; entries complete, "
                      f"others kept, next run clean; {orphans} .npy without .json and {temps} "
                      f"temp files left; {len(ref_entries)} torn entries recomputed")


def main():
    failures = []
    start = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="crash_safety_") as tmp:
        work = Path(tmp)
        env = dict(os.environ, BERTLITE_CACHE=str(work / "unused_cache"))
        small, big = work / "small.tsv", work / "big.tsv"
        write_sentences(small, 60)
        write_sentences(big, 2000)
        wide = work / "wide_model"
        build_wide_model(wide)

        def embed(data, out):
            return ["embed", "--model", FIXTURE, "--input", data, "--out", out, "--threads", "1"]

        def embed_st(data, out):
            return embed(data, out) + ["--pooling", "mean"]

        def train(data, out):
            return ["train", "--model", FIXTURE, "--train", data, "--grid", "1", "--no-cache",
                    "--threads", "1", "--out", out]

        cases = [
            ("embed -> .npy", lambda: file_case("features.npy", embed, small, big, npy_complete,
                                                 work, env)),
            ("embed -> .safetensors",
             lambda: file_case("features.safetensors", embed_st, small, big, safetensors_complete,
                               work, env)),
            ("train -> classifier JSON",
             lambda: file_case("clf.json", train, small, big, json_complete, work, env)),
            ("quantize -> model folder",
             lambda: folder_case("int8", lambda out: ["quantize", "--model", wide, "--out", out],
                                 lambda out: ["quantize", "--model", wide, "--out", out,
                                              "--precision", "bf16"], work, env)),
            ("convert -> model folder",
             lambda: folder_case("converted", lambda out: ["convert", "--model", wide, "--out", out],
                                 lambda out: ["convert", "--model", FIXTURE, "--out", out],
                                 work, env)),
            ("train -> feature cache", lambda: cache_case(work, small, big)),
        ]
        for name, case in cases:
            try:
                problems, summary = case()
            except Exception as e:  # a clean run that failed, or a file that would not parse
                problems, summary = [f"{type(e).__name__}: {e}"], ""
            if problems:
                failures.append(f"{name}: " + "; ".join(problems))
            else:
                print(f"ok   {name}: {summary}")

    for failure in failures:
        print("FAIL " + failure)
    print(f"{'FAILED' if failures else 'passed'}: {len(failures)} of the cases failed; "
          f"{KILLS['mid-run']} of {KILLS['total']} kills landed mid-run; "
          f"{time.monotonic() - start:.1f} s")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
