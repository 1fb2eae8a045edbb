"""tests/python/batch_rounding.py - "the same whatever its batch", to float rounding.

oneDNN 2.x's AVX2 sgemm (gemm:jit) picks its K blocking and thread split by the GEMM's row
count, so on AVX2-only CPUs the same sentence rounds differently in batches of different sizes:
within 2e-6 after the whole encoder (measured up to 1.2e-7 on a Zen 1). On AVX-512 (brgemm) the
vectors are the same bits. A real batching bug (rows or masks mixed across sequences) is orders
of magnitude larger. See docs/serve.md and tests/test_support.h's kBatchRounding.
"""

import numpy as np

BATCH_ROUNDING = 2e-6


def close(a, b, atol=BATCH_ROUNDING):
    """Whether two JSON-like values (numbers, lists, dicts, strings) or arrays are equal, floats
    within `atol`."""
    if isinstance(a, np.ndarray) or isinstance(b, np.ndarray):
        a, b = np.asarray(a), np.asarray(b)
        return a.shape == b.shape and bool(np.allclose(a, b, rtol=0, atol=atol))
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(close(a[k], b[k], atol) for k in a)
    if isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)):
        return len(a) == len(b) and all(close(x, y, atol) for x, y in zip(a, b))
    if isinstance(a, float) or isinstance(b, float):
        return isinstance(a, (int, float)) and isinstance(b, (int, float)) and abs(a - b) <= atol
    return a == b
