"""bench/serve/bench_serve.py - `bertlite serve` under load, next to offline `bertlite embed`.

Starts `bertlite serve` on a free loopback port, then for each client count (default 1, 8, 64)
runs that many asyncio clients for a fixed time; each client sends one SST-2 dev sentence per
POST /embed on its own keep-alive connection, waits for the answer, and sends the next. Prints
throughput (sentences/s), p50/p99 latency, errors and the server's RSS, and the throughput of
`bertlite embed` on the same sentences with the same threads. Standard library only; loopback
only; bounded in time (about clients x seconds in total).

  .venv/bin/python bench/serve/bench_serve.py --bertlite build/cli/bertlite --seconds 10
"""

import argparse
import asyncio
import json
import re
import signal
import subprocess
import tempfile
import time
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


async def client(host, port, texts, offset, deadline, latencies, errors):
    reader, writer = await asyncio.open_connection(host, port)
    i = offset
    try:
        while time.monotonic() < deadline:
            body = json.dumps({"inputs": texts[i % len(texts)]}).encode()
            i += 1
            start = time.perf_counter()
            writer.write(b"POST /embed HTTP/1.1\r\nHost: bench\r\nContent-Type: application/json"
                         b"\r\nContent-Length: " + str(len(body)).encode() + b"\r\n\r\n" + body)
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


async def run_load(host, port, texts, clients, seconds):
    latencies, errors = [], []
    deadline = time.monotonic() + seconds
    start = time.monotonic()
    await asyncio.gather(*(client(host, port, texts, 997 * c, deadline, latencies, errors)
                           for c in range(clients)))
    elapsed = time.monotonic() - start
    return latencies, errors, elapsed


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--bertlite", default=str(ROOT / "build" / "cli" / "bertlite"))
    parser.add_argument("--model", default=str(ROOT / "models" / "all-MiniLM-L6-v2"))
    parser.add_argument("--clients", default="1,8,64")
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--sentences", type=int, default=872)
    parser.add_argument("--threads", type=int, default=2)
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

    server = subprocess.Popen([args.bertlite, "serve", "--model", args.model, "--port", "0",
                               "--threads", str(args.threads)], stdout=subprocess.PIPE, text=True)
    try:
        match = re.search(r"http://([\d.]+):(\d+)", server.stdout.readline())
        host, port = match.group(1), int(match.group(2))
        assert "ready" in server.stdout.readline()
        print(f"offline bertlite embed: {offline:.0f} sentences/s ({len(texts)} SST-2 dev "
              f"sentences, loading excluded), threads {args.threads}")
        print(f"{'clients':>7} {'sent/s':>8} {'p50 ms':>8} {'p99 ms':>8} {'errors':>6} "
              f"{'RSS MB':>7}")
        for clients in map(int, args.clients.split(",")):
            latencies, errors, elapsed = asyncio.run(
                run_load(host, port, texts, clients, args.seconds))
            latencies.sort()
            p = lambda q: 1000 * latencies[min(len(latencies) - 1, int(q * len(latencies)))]
            print(f"{clients:>7} {len(latencies) / elapsed:>8.0f} {p(0.5):>8.2f} "
                  f"{p(0.99):>8.2f} {len(errors):>6} {rss_mb(server.pid):>7.0f}")
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=30)


if __name__ == "__main__":
    main()
