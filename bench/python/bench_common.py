"""bench/python/bench_common.py - what the Python benchmarks share: the CPU's name for their
reports (figures are only comparable with the CPU named)."""

import re
import subprocess


def cpu_name() -> str:
    out = subprocess.run(["lscpu"], capture_output=True, text=True).stdout
    match = re.search(r"Model name:\s*(.+)", out)
    return match.group(1).strip() if match else "unknown CPU"
