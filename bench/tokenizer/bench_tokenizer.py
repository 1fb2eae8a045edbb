#!/usr/bin/env python3
"""bench/tokenizer/bench_tokenizer.py - bertlite's tokenizer next to Hugging Face tokenizers.

In one run, on the same corpus file, times:
  - Hugging Face `tokenizers` (the Rust fast tokenizer, through its Python binding):
    Tokenizer.from_file(tokenizer.json) with no_truncation()/no_padding(), encode_batch;
  - bertlite: build/bench/bench_tokenizer, Tokenizer::encode_batch, special tokens on,
    no truncation, no padding;
each on 1 thread and on all threads. Every configuration runs in its own process, because
Hugging Face fixes its thread count (RAYON_NUM_THREADS) when its thread pool starts. Each process
encodes the corpus once to warm up, then --repeat timed times; the configurations are
interleaved over --rounds rounds (in a rotating order) so that load from other processes on a
shared machine falls on all of them alike, and every rate quoted is the median of all timed
repetitions of that configuration. Process CPU time is recorded beside wall time: on a loaded
machine it leaves out the time a process waited for a core.

In the first round, the ids of every text are compared between all configurations (token
counts and ids, text by text); any difference fails the run with the first differing text.

Corpora: "english" = every SST-2 train+dev sentence (data/sst2/*.tsv), repeated to --mb MB;
"multilingual" (optional, on by default when the machine has them) = translated messages from
the gettext catalogs under /usr/share/locale for a fixed list of 20 languages (Latin with
accents, Cyrillic, Greek, Arabic, Hebrew, Devanagari, Thai, CJK, Hangul), repeated likewise.
Its contents depend on the packages installed, so compare its numbers only within one run.

Usage: bench_tokenizer.py --bertlite build/bench/bench_tokenizer [--json] [--mb 4] ...
See bench/README.md.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import struct
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
DEFAULT_MODEL = ROOT / "models" / "all-MiniLM-L6-v2"

# The targets the tokenizer issue sets, checked on the English corpus.
TARGET_RATIO_1T = 2.0  # bertlite at least 2x Hugging Face tokenizers on one thread
TARGET_MBS_1T = 100.0  # bertlite at least 100 MB/s on one thread

# Languages of the multilingual corpus (gettext locale folder names), a spread of scripts.
LANGUAGES = [
    "de", "fr", "es", "pt_BR", "it", "pl", "cs", "tr", "vi", "ru", "uk", "el",
    "ar", "he", "hi", "th", "ja", "zh_CN", "zh_TW", "ko",
]
MULTILINGUAL_BYTES_PER_LANGUAGE = 40_000  # keeps one catalog-rich language from dominating


# ---------------------------------------------------------------------------------------------
# Corpus files. Both implementations read the same file with the same rule: split on "\n",
# drop a trailing "\r", drop the empty piece after a final newline.

def read_texts(path: Path) -> list[str]:
    lines = path.read_bytes().decode("utf-8").split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    return [line[:-1] if line.endswith("\r") else line for line in lines]


def sst2_sentences() -> list[str]:
    sentences = []
    for name in ("train.tsv", "dev.tsv"):
        # train.tsv has no newline after its last row: splitlines keeps it.
        for row in (ROOT / "data" / "sst2" / name).read_text(encoding="utf-8").splitlines():
            if row:
                sentences.append(row.split("\t", 1)[0])
    if not sentences:
        raise SystemExit("bench_tokenizer: no sentences in data/sst2/*.tsv")
    return sentences


def mo_translations(path: Path) -> list[str]:
    """The translated strings of a gettext .mo catalog (plural forms split), [] if unreadable."""
    data = path.read_bytes()
    if len(data) < 20:
        return []
    for order in ("<", ">"):
        magic, _, count, originals, translations = struct.unpack(order + "5I", data[:20])
        if magic == 0x950412DE:
            break
    else:
        return []
    out = []
    for i in range(count):
        (original_length,) = struct.unpack(order + "I", data[originals + 8 * i:][:4])
        if original_length == 0:
            continue  # the catalog's header (msgid ""), not a message
        length, offset = struct.unpack(order + "2I", data[translations + 8 * i:][:8])
        try:
            text = data[offset:offset + length].decode("utf-8")
        except UnicodeDecodeError:
            return []  # a catalog in a legacy charset: skip it whole
        out.extend(text.split("\0"))
    return out


def multilingual_texts(locale_dir: Path) -> tuple[list[str], list[str]]:
    """Deduplicated, sorted translations per language, capped per language; and the languages."""
    texts, used = [], []
    for lang in LANGUAGES:
        folder = locale_dir / lang / "LC_MESSAGES"
        if not folder.is_dir():
            continue
        seen = set()
        for mo in sorted(folder.glob("*.mo")):
            for text in mo_translations(mo):
                # One text per line: fold line breaks and tabs into spaces.
                text = " ".join(text.split())
                if len(text) >= 16:
                    seen.add(text)
        taken, size = [], 0
        for text in sorted(seen):
            if size >= MULTILINGUAL_BYTES_PER_LANGUAGE:
                break
            taken.append(text)
            size += len(text.encode("utf-8"))
        if taken:
            texts.extend(taken)
            used.append(lang)
    return texts, used


def write_corpus(path: Path, unique: list[str], megabytes: float) -> dict:
    """Writes `unique` repeated (whole copies) to at least `megabytes` MB of text."""
    unique_bytes = sum(len(t.encode("utf-8")) for t in unique)
    copies = max(1, -(-int(megabytes * 1e6) // unique_bytes))
    texts = unique * copies
    path.write_bytes(("\n".join(texts) + "\n").encode("utf-8"))
    all_bytes = unique_bytes * copies
    ascii_bytes = sum(len(t) for t in unique if t.isascii()) * copies
    return {"path": str(path), "unique_texts": len(unique), "copies": copies,
            "texts": len(texts), "bytes": all_bytes,
            "non_ascii_text_share": round(1 - ascii_bytes / all_bytes, 3)}


# ---------------------------------------------------------------------------------------------
# The Hugging Face worker: run as a subprocess of this script with the thread variables set.

def hf_worker(args: argparse.Namespace) -> None:
    from tokenizers import Tokenizer  # imported here: after RAYON_NUM_THREADS is in the env

    tokenizer = Tokenizer.from_file(str(args.tokenizer_json))
    tokenizer.no_truncation()
    tokenizer.no_padding()
    texts = read_texts(args.corpus)  # not timed, like bertlite's file read
    nbytes = sum(len(t.encode("utf-8")) for t in texts)
    tokens = sum(len(e) for e in tokenizer.encode_batch(texts, add_special_tokens=True))
    seconds, cpu_seconds, last = [], [], None
    for _ in range(args.repeat):
        last = None  # free the previous result before the clock starts, as bertlite does
        cpu_start = time.process_time()  # every thread of the process, as bertlite's
        start = time.perf_counter()
        result = tokenizer.encode_batch(texts, add_special_tokens=True)
        stop = time.perf_counter()
        cpu_seconds.append(time.process_time() - cpu_start)
        seconds.append(stop - start)
        if sum(len(e) for e in result) != tokens:
            raise SystemExit("bench_tokenizer: Hugging Face's repetitions disagree")
        last = result
    if args.ids_out:
        import numpy as np

        lengths = np.array([len(e) for e in last], dtype="<u4")
        ids = np.fromiter((i for e in last for i in e.ids), dtype="<i4", count=int(lengths.sum()))
        with open(args.ids_out, "wb") as f:
            f.write(struct.pack("<q", len(last)))
            f.write(lengths.tobytes())
            f.write(ids.tobytes())
    mid = statistics.median(seconds)
    print(json.dumps({"impl": "hf-tokenizers", "threads": args.threads, "bytes": nbytes,
                      "texts": len(texts), "tokens": tokens, "seconds": seconds,
                      "cpu_seconds": cpu_seconds, "median": mid, "mb_per_s": nbytes / mid / 1e6,
                      "tokens_per_s": tokens / mid}))


# ---------------------------------------------------------------------------------------------
# The driver.

def available_threads() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()


def run_config(impl: str, threads: int, corpus: Path, args, ids_out: Path | None) -> dict:
    env = dict(os.environ)
    if impl == "bertlite":
        cmd = [str(args.bertlite), "--model", str(args.model), "--corpus", str(corpus),
               "--threads", str(threads), "--repeat", str(args.repeat)]
    else:
        # One thread: TOKENIZERS_PARALLELISM=false makes encode_batch a plain loop on the
        # calling thread, as bertlite's is; more: rayon's pool with exactly `threads` workers.
        env["RAYON_NUM_THREADS"] = str(threads)
        env["TOKENIZERS_PARALLELISM"] = "false" if threads == 1 else "true"
        cmd = [sys.executable, str(Path(__file__).resolve()), "--hf-worker",
               "--tokenizer-json", str(args.model / "tokenizer.json"), "--corpus", str(corpus),
               "--threads", str(threads), "--repeat", str(args.repeat)]
    if ids_out:
        cmd += ["--ids-out", str(ids_out)]
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True)
    if proc.returncode != 0:
        raise SystemExit(f"bench_tokenizer: {impl} ({threads} threads) failed "
                         f"(exit {proc.returncode}):\n{proc.stderr.strip()}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def read_ids(path: Path):
    import numpy as np

    data = path.read_bytes()
    (count,) = struct.unpack("<q", data[:8])
    lengths = np.frombuffer(data, dtype="<u4", count=count, offset=8)
    ids = np.frombuffer(data, dtype="<i4", offset=8 + 4 * count)
    if ids.size != int(lengths.sum()):
        raise SystemExit(f"bench_tokenizer: {path} is truncated")
    return lengths, ids


def check_parity(corpus_name: str, corpus: Path, dumps: dict) -> None:
    """Fails loudly unless every configuration produced the same ids for every text."""
    import numpy as np

    reference_key = ("hf-tokenizers", 1)
    ref_lengths, ref_ids = read_ids(dumps[reference_key])
    for key, path in dumps.items():
        if key == reference_key:
            continue
        lengths, ids = read_ids(path)
        if lengths.size != ref_lengths.size:
            raise SystemExit(f"bench_tokenizer: PARITY FAILURE on {corpus_name}: {key} encoded "
                             f"{lengths.size} texts, {reference_key} {ref_lengths.size}")
        if np.array_equal(lengths, ref_lengths) and np.array_equal(ids, ref_ids):
            continue
        ref_starts = np.concatenate(([0], np.cumsum(ref_lengths, dtype=np.int64)))
        starts = np.concatenate(([0], np.cumsum(lengths, dtype=np.int64)))
        for i in range(ref_lengths.size):
            a = ref_ids[ref_starts[i]:ref_starts[i + 1]]
            b = ids[starts[i]:starts[i + 1]]
            if not np.array_equal(a, b):
                text = read_texts(corpus)[i]
                raise SystemExit(
                    f"bench_tokenizer: PARITY FAILURE on {corpus_name}, text {i}: {text!r}\n"
                    f"  {reference_key}: {len(a)} tokens {a.tolist()}\n"
                    f"  {key}: {len(b)} tokens {b.tolist()}")
    names = ", ".join(f"{impl} {threads}t" for impl, threads in dumps)
    print(f"[{corpus_name}] parity: same ids for all {ref_lengths.size} texts "
          f"({int(ref_lengths.sum())} tokens) from {names}", file=sys.stderr)


def bench_corpus(corpus_name: str, corpus: Path, thread_counts: list[int], args) -> dict:
    configs = [(impl, t) for t in thread_counts for impl in ("hf-tokenizers", "bertlite")]
    runs = {c: [] for c in configs}
    dumps = {}
    with tempfile.TemporaryDirectory(prefix="bench_ids_") as tmp:
        for round_index in range(args.rounds):
            shift = round_index % len(configs)
            for impl, threads in configs[shift:] + configs[:shift]:
                ids_out = None
                if round_index == 0:
                    ids_out = Path(tmp) / f"{impl}-{threads}.ids"
                    dumps[(impl, threads)] = ids_out
                result = run_config(impl, threads, corpus, args, ids_out)
                if result["threads"] != threads:  # bertlite caps a request at the cores it has
                    print(f"bench_tokenizer: warning: {impl} ran {result['threads']} threads, "
                          f"not {threads}", file=sys.stderr)
                runs[(impl, threads)].append(result)
                print(f"[{corpus_name}] round {round_index + 1}/{args.rounds} {impl:13s} "
                      f"{threads}t: median {result['mb_per_s']:7.1f} MB/s", file=sys.stderr)
            if round_index == 0:
                check_parity(corpus_name, corpus, dumps)

    rows = []
    first = runs[configs[0]][0]
    for (impl, threads), results in runs.items():
        for r in results:  # every process saw the same corpus and made the same tokens
            if (r["bytes"], r["texts"], r["tokens"]) != (first["bytes"], first["texts"],
                                                         first["tokens"]):
                raise SystemExit(f"bench_tokenizer: PARITY FAILURE on {corpus_name}: {impl} "
                                 f"{threads}t reports bytes/texts/tokens {r['bytes']}/"
                                 f"{r['texts']}/{r['tokens']}, expected {first['bytes']}/"
                                 f"{first['texts']}/{first['tokens']}")
        seconds = [s for r in results for s in r["seconds"]]
        cpu_seconds = [s for r in results for s in r["cpu_seconds"]]
        mid = statistics.median(seconds)
        cpu_mid = statistics.median(cpu_seconds)
        rows.append({"impl": impl, "threads": threads, "median_s": mid,
                     "min_s": min(seconds), "max_s": max(seconds),
                     "mb_per_s": first["bytes"] / mid / 1e6,
                     "tokens_per_s": first["tokens"] / mid,
                     "median_cpu_s": cpu_mid,
                     "mb_per_cpu_s": first["bytes"] / cpu_mid / 1e6,
                     "seconds": seconds, "cpu_seconds": cpu_seconds})
    ratios, cpu_ratios = {}, {}
    for t in thread_counts:
        hf = next(r for r in rows if r["impl"] == "hf-tokenizers" and r["threads"] == t)
        bl = next(r for r in rows if r["impl"] == "bertlite" and r["threads"] == t)
        ratios[str(t)] = hf["median_s"] / bl["median_s"]
        cpu_ratios[str(t)] = hf["median_cpu_s"] / bl["median_cpu_s"]
    return {"bytes": first["bytes"], "texts": first["texts"], "tokens": first["tokens"],
            "rows": rows, "bertlite_over_hf": ratios, "bertlite_over_hf_cpu": cpu_ratios}


def print_table(name: str, info: dict, result: dict) -> None:
    print(f"\n{name}: {result['bytes'] / 1e6:.2f} MB, {result['texts']} texts "
          f"({info['unique_texts']} unique x {info['copies']}), {result['tokens']} tokens, "
          f"non-ASCII share of text {info['non_ascii_text_share']:.0%}"
          + (f", languages: {' '.join(info['languages'])}" if "languages" in info else ""))
    header = (f"{'implementation':15s} {'threads':>7s} {'MB/s':>8s} {'(min..max)':>13s} "
              f"{'Mtokens/s':>10s} {'median s':>9s} {'bertlite/HF':>12s} "
              f"{'MB/CPU-s':>9s} {'by CPU':>7s}")
    print(header)
    print("-" * len(header))
    for row in result["rows"]:
        ratio = cpu_ratio = ""
        if row["impl"] == "bertlite":
            ratio = f"{result['bertlite_over_hf'][str(row['threads'])]:.2f}x"
            cpu_ratio = f"{result['bertlite_over_hf_cpu'][str(row['threads'])]:.2f}x"
        spread = (f"{result['bytes'] / row['max_s'] / 1e6:.1f}.."
                  f"{result['bytes'] / row['min_s'] / 1e6:.1f}")
        print(f"{row['impl']:15s} {row['threads']:7d} {row['mb_per_s']:8.1f} {spread:>13s} "
              f"{row['tokens_per_s'] / 1e6:10.2f} {row['median_s']:9.4f} {ratio:>12s} "
              f"{row['mb_per_cpu_s']:9.1f} {cpu_ratio:>7s}")


def check_targets(result: dict) -> list[tuple[str, bool]]:
    bl1 = next(r for r in result["rows"] if r["impl"] == "bertlite" and r["threads"] == 1)
    ratio = result["bertlite_over_hf"]["1"]
    cpu_ratio = result["bertlite_over_hf_cpu"]["1"]
    return [
        (f"bertlite / HF tokenizers on 1 thread = {ratio:.2f}x ({cpu_ratio:.2f}x by CPU time) "
         f"(target >= {TARGET_RATIO_1T:g}x)", ratio >= TARGET_RATIO_1T),
        (f"bertlite on 1 thread = {bl1['mb_per_s']:.1f} MB/s ({bl1['mb_per_cpu_s']:.1f} MB per "
         f"CPU-second) (target >= {TARGET_MBS_1T:g} MB/s)", bl1["mb_per_s"] >= TARGET_MBS_1T),
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--bertlite", type=Path, default=ROOT / "build/bench/bench_tokenizer",
                        help="the bench_tokenizer executable (default: %(default)s)")
    parser.add_argument("--model", type=Path, default=DEFAULT_MODEL,
                        help="model folder with tokenizer.json (default: %(default)s)")
    parser.add_argument("--mb", type=float, default=4.0,
                        help="corpus size in MB (10^6 bytes of text) (default: %(default)s)")
    parser.add_argument("--repeat", type=int, default=5,
                        help="timed repetitions per process, after one warm-up (default: 5)")
    parser.add_argument("--rounds", type=int, default=3,
                        help="interleaved rounds of every configuration (default: 3)")
    parser.add_argument("--threads", type=int, default=0,
                        help="the 'all threads' count (default: the cores this process may use)")
    parser.add_argument("--no-multilingual", dest="multilingual", action="store_false",
                        help="only the English corpus")
    parser.add_argument("--locale-dir", type=Path, default=Path("/usr/share/locale"),
                        help="gettext catalogs for the multilingual corpus (default: %(default)s)")
    parser.add_argument("--keep-corpus", type=Path,
                        help="write the corpus files to this folder instead of a temporary one")
    parser.add_argument("--json", action="store_true",
                        help="print one JSON document instead of the tables")
    parser.add_argument("--json-out", type=Path,
                        help="also write that JSON document to this file")
    parser.add_argument("--check-targets", action="store_true",
                        help="exit 3 if bertlite misses a target on the English corpus")
    # Internal: the Hugging Face worker process.
    parser.add_argument("--hf-worker", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--tokenizer-json", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--corpus", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--ids-out", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()

    if args.hf_worker:
        hf_worker(args)
        return
    if args.repeat < 1 or args.rounds < 1 or args.mb <= 0:
        parser.error("--repeat and --rounds must be >= 1 and --mb > 0")
    if not args.bertlite.is_file():
        parser.error(f"{args.bertlite} is not built (cmake --build BUILD --target bench_tokenizer)")
    if not (args.model / "tokenizer.json").is_file():
        parser.error(f"{args.model} has no tokenizer.json")
    args.bertlite = args.bertlite.resolve()
    all_threads = args.threads or available_threads()
    thread_counts = [1] if all_threads == 1 else [1, all_threads]

    with tempfile.TemporaryDirectory(prefix="bench_corpus_") as tmp:
        folder = args.keep_corpus or Path(tmp)
        folder.mkdir(parents=True, exist_ok=True)
        corpora = {"english": write_corpus(folder / "english.txt", sst2_sentences(), args.mb)}
        if args.multilingual:
            texts, languages = multilingual_texts(args.locale_dir)
            if len(languages) >= 5:
                corpora["multilingual"] = write_corpus(folder / "multilingual.txt", texts, args.mb)
                corpora["multilingual"]["languages"] = languages
            else:
                print(f"bench_tokenizer: only {len(languages)} languages under "
                      f"{args.locale_dir}; skipping the multilingual corpus", file=sys.stderr)
        results = {name: bench_corpus(name, Path(info["path"]), thread_counts, args)
                   for name, info in corpora.items()}

    from tokenizers import __version__ as hf_version

    targets = check_targets(results["english"])
    for name, info in corpora.items():
        if not args.keep_corpus:
            del info["path"]  # the temporary folder is gone
        results[name]["corpus"] = info
    report = {"model": str(args.model), "hf_tokenizers_version": hf_version,
              "repeat": args.repeat, "rounds": args.rounds, "threads": thread_counts,
              "corpora": results, "targets": [{"target": t, "met": ok} for t, ok in targets]}
    if args.json_out:
        args.json_out.write_text(json.dumps(report, indent=1) + "\n")
    if args.json:
        print(json.dumps(report, indent=1))
    else:
        print(f"model {args.model}; Hugging Face tokenizers {hf_version}; medians of "
              f"{args.rounds} rounds x {args.repeat} repetitions per configuration; "
              f"MB = 10^6 bytes of UTF-8 text; bertlite/HF = HF time / bertlite time;\n"
              f"MB/CPU-s and 'by CPU' use process CPU time (all threads), which leaves out "
              f"time spent waiting for a core on a loaded machine")
        for name in corpora:
            print_table(name, corpora[name], results[name])
        print("\ntargets (english):")
        for text, ok in targets:
            print(f"  [{'met' if ok else 'MISSED'}] {text}")
    if args.check_targets and not all(ok for _, ok in targets):
        sys.exit(3)


if __name__ == "__main__":
    main()
