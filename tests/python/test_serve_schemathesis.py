"""tests/python/test_serve_schemathesis.py - schemathesis (PyPI) against a running
`bertlite serve`, from the server's own GET /openapi.json: generated requests, valid and
invalid, for every operation for a bounded time, with a fixed seed. Passes when no response is
a 5xx and every response's status, content type and body conform to the document; afterwards
the server still serves and its /metrics count no 5xx.
Run:
  BERTLITE_BUILD=build .venv/bin/python -m pytest -q tests/python/test_serve_schemathesis.py
"""

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from test_serve import MODEL, Server, bertlite, sst2

SCHEMATHESIS = Path(sys.executable).parent / "schemathesis"


@pytest.mark.skipif(not SCHEMATHESIS.exists() and shutil.which("schemathesis") is None,
                    reason="schemathesis is not installed (requirements.txt)")
def test_schemathesis_finds_no_server_error_and_no_schema_mismatch(tmp_path):
    train = tmp_path / "train.tsv"
    train.write_text("\n".join(sst2("train", 120)) + "\n", encoding="utf-8")
    classifier = tmp_path / "classifier.json"
    bertlite("train", "--model", MODEL, "--train", train, "--split", "0", "--grid", "1",
             "--folds", "2", "--no-cache", "--threads", "2", "--out", classifier)
    server = Server("--model", MODEL, "--classifier", classifier)
    try:
        command = [str(SCHEMATHESIS if SCHEMATHESIS.exists() else "schemathesis"), "run",
                   server.url + "/openapi.json", "--max-time", "25", "--seed", "1",
                   "--workers", "2", "--no-color", "--checks",
                   "not_a_server_error,status_code_conformance,content_type_conformance,"
                   "response_schema_conformance"]
        result = subprocess.run(command, capture_output=True, text=True, timeout=180,
                                cwd=tmp_path)
        assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
        status, _, vectors = server.post("/embed", {"inputs": "still serving"})
        assert status == 200 and len(vectors[0]) == 384
        metrics = server.request("GET", "/metrics")[2].decode()
        # 503 only from /health while the model loaded (Server() polls it); no other 5xx.
        errors = re.findall(r'route="([^"]*)",status="(5\d\d)"', metrics)
        assert set(errors) <= {("/health", "503")}, errors
        assert re.search(r'route="/predict",status="200"\} [1-9]', metrics)
    finally:
        assert server.stop() == 0
