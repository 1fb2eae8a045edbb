"""bench/serve/bench_serve.py - `bertlite serve` under load, next to offline `bertlite embed` and
the Python servers users run instead.

Starts each server on a loopback port, then for each client count (default 1, 8, 64) runs that
many asyncio clients for a fixed time; each client sends one SST-2 dev sentence per request on
its own keep-alive connection, waits for the answer, and sends the next. Prints throughput
(sentences/s), p50/p99 latency, errors and the server's RSS (after warm-up, after the load, and
after a few idle seconds), and the throughput of `bertlite embed` on the same sentences with the
same threads. The peers (--peers) run from a separate venv (--peer-python; see
bench/serve/README.md for how it is made): infinity-emb (its torch engine, POST /embeddings)
and st_server.py (FastAPI around sentence-transformers, POST /embed). The client is standard
library only; loopback only; bounded in time (about servers x clients x seconds in total).

  .venv/bin/python bench/serve/bench_serve.py --bertlite build/cli/bertlite --seconds 10
  .venv/bin/python bench/serve/bench_serve.py --peers infinity,st \\
      --peer-python .cache/venv-peers/bin/python
"""

import argparse
import asyncio
import json
import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def sentences(count):
    rows = (ROOT / "data" / "sst2" / "dev.tsv").read_text(encoding="utf-8").splitlines()
    return [row.split("\t")[0] for row in rows[:count]]


def rss_mb(pid):
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


async def client(host, port, route, texts, offset, deadline, latencies, errors):
    path, make_body = route
    reader, writer = await asyncio.open_connection(host, port)
    i = offset
    try:
        while time.monotonic() < deadline:
            body = json.dumps(make_body(texts[i % len(texts)])).encode()
            i += 1
            start = time.perf_counter()
            writer.write(b"POST " + path.encode() + b" HTTP/1.1\r\nHost: bench\r\n"
                         b"Content-Type: application/json\r\nContent-Length: " +
                         str(len(body)).encode() + b"\r\n\r\n" + body)
            status_line = await reader.readline()
            length = 0
            closing = False
            while True:
                line = await reader.readline()
                if line in (b"\r\n", b""):
                    break
                name, _, value = line.decode().partition(":")
                if name.lower() == "content-length":
                    length = int(value)
                elif name.lower() == "connection" and "close" in value.lower():
                    closing = True
            await reader.readexactly(length)
            if b" 200 " in status_line:
                latencies.append(time.perf_counter() - start)
            else:
                errors.append(status_line.decode().strip())
            if closing:  # keep-alive limit reached: a new connection
                writer.close()
                reader, writer = await asyncio.open_connection(host, port)
    finally:
        writer.close()


async def run_load(host, port, route, texts, clients, seconds):
    latencies, errors = [], []
    deadline = time.monotonic() + seconds
    start = time.monotonic()
    await asyncio.gather(*(client(host, port, route, texts, 997 * c, deadline, latencies, errors)
                           for c in range(clients)))
    elapsed = time.monotonic() - start
    return latencies, errors, elapsed


def free_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def wait_healthy(port, server, timeout=300):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise SystemExit(f"the server exited with {server.returncode} before it was ready")
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=2):
                return
        except OSError:
            time.sleep(0.5)
    raise SystemExit(f"no /health answer on port {port} in {timeout} s")


TEI_EMBED = ("/embed", lambda text: {"inputs": text, "normalize": True})
OPENAI_EMBEDDINGS = ("/embeddings", lambda text: {"model": "m", "input": [text]})


def start_server(name, args, port):
    """The command line, environment and route of one server under test."""
    env = dict(os.environ, OMP_NUM_THREADS=str(args.threads))
    if name == "bertlite":
        command = [args.bertlite, "serve", "--model", args.model, "--port", str(port),
                   "--threads", str(args.threads)]
        route = TEI_EMBED
    elif name == "infinity":
        # Telemetry off and no hub: the model is the same local folder.
        env.update(HF_HUB_OFFLINE="1", INFINITY_ANONYMOUS_USAGE_STATS="0", DO_NOT_TRACK="1")
        command = [args.peer_python, "-m", "infinity_emb.cli", "v2", "--model-id", args.model,
                   "--engine", "torch", "--device", "cpu", "--host", "127.0.0.1", "--port",
                   str(port)]
        route = OPENAI_EMBEDDINGS
    elif name == "st":
        env.update(HF_HUB_OFFLINE="1")
        command = [args.peer_python, str(Path(__file__).with_name("st_server.py")), "--model",
                   args.model, "--port", str(port), "--threads", str(args.threads)]
        route = TEI_EMBED
    else:
        raise SystemExit(f"--peers: unknown server {name!r} (infinity, st)")
    server = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL)
    return server, route


def measure(name, args, texts):
    port = free_port()
    server, route = start_server(name, args, port)
    rows = []
    try:
        wait_healthy(port, server)
        asyncio.run(run_load("127.0.0.1", port, route, texts, 4, 2))  # warm-up
        baseline = rss_mb(server.pid)
        for clients in map(int, args.clients.split(",")):
            latencies, errors, elapsed = asyncio.run(
                run_load("127.0.0.1", port, route, texts, clients, args.seconds))
            latencies.sort()
            p = lambda q: 1000 * latencies[min(len(latencies) - 1, int(q * len(latencies)))]
            rows.append(f"{name:>9} {clients:>7} {len(latencies) / elapsed:>8.0f} "
                        f"{p(0.5):>8.2f} {p(0.99):>8.2f} {len(errors):>6} "
                        f"{rss_mb(server.pid):>7.0f}")
            print(rows[-1], flush=True)
        after_load = rss_mb(server.pid)
        time.sleep(args.idle)
        print(f"{name:>9} RSS MB: {baseline:.0f} after warm-up, {after_load:.0f} after the load, "
              f"{rss_mb(server.pid):.0f} after {args.idle:g} s idle", flush=True)
    finally:
        server.send_signal(signal.SIGTERM)
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            server.kill()
    return rows


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--bertlite", default=str(ROOT / "build" / "cli" / "bertlite"))
    parser.add_argument("--model", default=str(ROOT / "models" / "all-MiniLM-L6-v2"))
    parser.add_argument("--clients", default="1,8,64")
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--idle", type=float, default=3, help="seconds idle before the last RSS")
    parser.add_argument("--sentences", type=int, default=872)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--peers", default="", help="comma-separated: infinity, st")
    parser.add_argument("--peer-python", default=str(ROOT / ".cache" / "venv-peers" / "bin" /
                                                     "python"))
    args = parser.parse_args()
    texts = sentences(args.sentences)

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "dev.txt"
        path.write_text("\n".join(texts) + "\n", encoding="utf-8")
        result = subprocess.run([args.bertlite, "embed", "--model", args.model, "--input",
                                 path, "--format", "text", "--out", Path(tmp) / "x.npy",
                                 "--normalize", "--threads", str(args.threads)],
                                check=True, capture_output=True, text=True)
        # Its own timing of the embedding itself (model loading excluded).
        seconds = float(re.search(r", ([\d.]+) s, ", result.stdout).group(1))
        offline = len(texts) / seconds
    print(f"offline bertlite embed: {offline:.0f} sentences/s ({len(texts)} SST-2 dev "
          f"sentences, loading excluded), threads {args.threads}")
    print(f"{'server':>9} {'clients':>7} {'sent/s':>8} {'p50 ms':>8} {'p99 ms':>8} "
          f"{'errors':>6} {'RSS MB':>7}", flush=True)
    names = ["bertlite"] + [n for n in args.peers.split(",") if n]
    for name in names:
        measure(name, args, texts)


if __name__ == "__main__":
    sys.exit(main())
