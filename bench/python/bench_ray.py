"""bench/python/bench_ray.py - bertlite.ray on one machine: SST-2 train (6,920 sentences) embedded
by (a) 1 Ray actor x 2 threads, (b) 2 Ray actors x 1 thread, and (c) `Encoder.embed` with 2
threads in the driver, no Ray; sentences/s, median of --repeats runs, and the ratios.

Runs are interleaved (a, b, c, a, b, c, ...) so a neighbour's load hits all alike. A Ray run is
the whole pipeline a user runs: read_tsv -> embed_dataset -> write_parquet into a temporary
folder, with the actors' start and model load included (Ray itself is started once, before).
The driver run is the embed call alone (the encoder loaded before). Run:
  .venv/bin/python bench/python/bench_ray.py [--repeats 3] [--cpus 2]
"""

import argparse
import os
import shutil
import statistics
import tempfile
import time
from pathlib import Path

import bertlite
from bench_common import cpu_name

ROOT = Path(__file__).resolve().parents[2]
MODEL = "all-MiniLM-L6-v2"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--data", type=Path, default=ROOT / "data" / "sst2" / "train.tsv")
    parser.add_argument("--cpus", type=int, default=2, help="CPUs given to Ray and the driver")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--batch-size", type=int, default=256)
    args = parser.parse_args()

    import ray

    from bertlite.ray import embed_dataset, read_tsv, write_parquet

    texts = [line.split("\t")[0] for line in args.data.read_text(encoding="utf-8").splitlines()]
    n = len(texts)
    cpus = args.cpus
    tmp = Path(tempfile.mkdtemp(prefix="bench_ray_"))
    ray.init(num_cpus=cpus, include_dashboard=False, log_to_driver=False,
             _temp_dir=str(tmp / "ray"))
    ray.data.DataContext.get_current().enable_progress_bars = False

    encoder = bertlite.Encoder.from_pretrained(MODEL)

    def run_ray(actors: int, threads: int, run: int) -> float:
        out = tmp / f"out-{actors}x{threads}-{run}"
        start = time.perf_counter()
        ds = embed_dataset(read_tsv(args.data), MODEL, actors=actors, threads=threads,
                           batch_size=args.batch_size)
        write_parquet(ds, out)
        seconds = time.perf_counter() - start
        import pyarrow.parquet as pq

        assert pq.read_table(out).num_rows == n
        return seconds

    def run_driver() -> float:
        bertlite.set_threads(cpus)
        start = time.perf_counter()
        features = encoder.embed(texts)
        seconds = time.perf_counter() - start
        assert features.shape[0] == n
        return seconds

    configs = {
        f"(a) Ray, 1 actor x {cpus} threads": lambda r: run_ray(1, cpus, r),
        f"(b) Ray, {cpus} actors x 1 thread": lambda r: run_ray(cpus, 1, r),
        f"(c) Encoder.embed, {cpus} threads, no Ray": lambda r: run_driver(),
    }
    times = {name: [] for name in configs}
    load = os.getloadavg()[0]
    for run in range(args.repeats):
        for name, fn in configs.items():
            seconds = fn(run)
            times[name].append(seconds)
            print(f"  run {run + 1} {name}: {seconds:.2f} s ({n / seconds:.0f} sentences/s)",
                  flush=True)
    ray.shutdown()
    shutil.rmtree(tmp, ignore_errors=True)

    rates = {name: n / statistics.median(ts) for name, ts in times.items()}
    a, b, c = rates.values()
    print(f"\n{n} sentences, {MODEL}, {cpu_name()}, {os.cpu_count()} CPUs; "
          f"load average before {load:.2f}, after {os.getloadavg()[0]:.2f}")
    for name, rate in rates.items():
        print(f"{name}: {rate:.0f} sentences/s (median of {args.repeats})")
    print(f"(b)/(a) {b / a:.2f}   (a)/(c) {a / c:.2f}   (b)/(c) {b / c:.2f}")


if __name__ == "__main__":
    main()
