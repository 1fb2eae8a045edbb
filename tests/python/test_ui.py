"""tests/python/test_ui.py - `bertlite ui` as a new user opens it: the page in headless Chromium
(Debian's chromium over the DevTools pipe, tests/report/check_report.py's driver), a sentence
typed into the box, Explain clicked, and the DOM read back:

- the tokens shown equal `bertlite tokenize --json`'s, with their ids;
- the label and probability shown equal `bertlite predict --json`'s;
- the attention matrices (one per layer and head) and the feature strip are drawn;
- no console message, no exception, no request but to the server itself;
- screenshots at desktop (1200 px) and phone (390 px) width, neither scrolling sideways (saved
  in $BERTLITE_UI_SCREENSHOTS when set, for eyes);
- the JSON routes refuse bad requests with 422 and the server stops on SIGTERM with status 0.
Run:
  BERTLITE_BUILD=build .venv/bin/python -m pytest -q tests/python/test_ui.py
"""

import base64
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
BUILD = Path(os.environ.get("BERTLITE_BUILD", ROOT / "build"))
BERTLITE = BUILD / "cli" / "bertlite"
MODEL = ROOT / "models" / "all-MiniLM-L6-v2"
sys.path.insert(0, str(ROOT / "tests" / "report"))
import check_report  # noqa: E402  (the DevTools-pipe driver)

SENTENCE = "a visually stunning rumination on love, though the ending drags"


def run(*args):
    result = subprocess.run([str(a) for a in args], capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr
    return result.stdout


@pytest.fixture(scope="module")
def classifier(tmp_path_factory):
    folder = tmp_path_factory.mktemp("ui")
    train = folder / "train.tsv"
    rows = (ROOT / "data" / "sst2" / "train.tsv").read_text(encoding="utf-8").splitlines()[:400]
    train.write_text("\n".join(rows) + "\n", encoding="utf-8")
    path = folder / "sst2.classifier.json"
    run(BERTLITE, "train", "--model", MODEL, "--train", train, "--pooling", "mean",
        "--normalize", "--grid", "1", "--no-cache", "--out", path)
    return path


@pytest.fixture(scope="module")
def server(classifier):
    process = subprocess.Popen([str(BERTLITE), "ui", "--classifier", str(classifier), "--port",
                                "0", "--threads", "2"], stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True)
    line = process.stdout.readline()
    assert line.startswith("bertlite ui: open http://127.0.0.1:"), line + process.stderr.read()
    url = line.split()[3]
    yield process, url
    if process.poll() is None:
        process.kill()
        process.wait()


def post(url, body):
    request = urllib.request.Request(url, data=body.encode(), method="POST",
                                     headers={"Content-Type": "application/json"})
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    try:
        with opener.open(request, timeout=60) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


def evaluate(browser, session, expression):
    result = browser.call("Runtime.evaluate", {"expression": expression, "returnByValue": True,
                                               "awaitPromise": True}, session=session)
    if "exceptionDetails" in result:
        raise AssertionError(f"{expression}: {result['exceptionDetails']}")
    return result["result"].get("value")


def wait_until(browser, session, expression, timeout=60):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if evaluate(browser, session, expression):
            return
        time.sleep(0.1)
    status = evaluate(browser, session, "document.getElementById('status').textContent")
    raise AssertionError(f"timed out waiting for {expression}: status {status!r}")


def open_page(browser, url, width, mobile):
    target = browser.call("Target.createTarget", {"url": "about:blank"})["targetId"]
    session = browser.call("Target.attachToTarget", {"targetId": target, "flatten": True})[
        "sessionId"]
    for domain in ("Page", "Runtime", "Log", "Network"):
        browser.call(f"{domain}.enable", session=session)
    browser.call("Emulation.setDeviceMetricsOverride",
                 {"width": width, "height": 900, "deviceScaleFactor": 1, "mobile": mobile},
                 session=session)
    start = len(browser.events)
    browser.call("Page.navigate", {"url": url}, session=session)
    browser.wait_for("Page.loadEventFired", since=start)
    return session, start


def screenshot(browser, session, width, path):
    height = evaluate(browser, session, "document.documentElement.scrollHeight")
    browser.call("Emulation.setDeviceMetricsOverride",
                 {"width": width, "height": height, "deviceScaleFactor": 1,
                  "mobile": width < 600}, session=session)
    shot = browser.call("Page.captureScreenshot", {"format": "png", "captureBeyondViewport": True},
                        session=session)
    path.write_bytes(base64.b64decode(shot["data"]))
    return height


def test_page_shows_what_the_cli_computes(server, classifier, tmp_path):
    executable = check_report.find_browser()
    assert executable, "no Chromium: scripts/setup.sh installs Debian's chromium"
    _, url = server
    tokens = json.loads(run(BERTLITE, "tokenize", "--model", MODEL, "--json", SENTENCE))
    predicted = json.loads(run(BERTLITE, "predict", "--classifier", classifier, "--json",
                               SENTENCE))
    shots = Path(os.environ.get("BERTLITE_UI_SCREENSHOTS", tmp_path))
    shots.mkdir(parents=True, exist_ok=True)

    for width in (1200, 390):
        with tempfile.TemporaryDirectory(prefix="test_ui_") as profile:
            browser = check_report.Browser(executable, width, 900, profile)
            try:
                session, start = open_page(browser, url, width, mobile=width < 600)
                wait_until(browser, session,
                           "document.getElementById('status').textContent === 'ready'")
                evaluate(browser, session,
                         f"document.getElementById('text').value = {json.dumps(SENTENCE)};"
                         "document.getElementById('explain').click(); true")
                wait_until(browser, session,
                           "document.getElementById('status').textContent === 'done'")
                shown = evaluate(browser, session, """JSON.stringify({
                    pieces: [...document.querySelectorAll('#tokens .token .piece')]
                              .map(e => e.textContent),
                    ids: [...document.querySelectorAll('#tokens .token .id')]
                           .map(e => +e.textContent),
                    label: document.getElementById('label').textContent,
                    probability: document.getElementById('probability').textContent,
                    thumbs: document.querySelectorAll('#thumbs canvas').length,
                    words: document.querySelectorAll('#words span').length,
                    stripWidth: document.getElementById('strip').width,
                    scrollWidth: document.documentElement.scrollWidth,
                    clientWidth: document.documentElement.clientWidth})""")
                shown = json.loads(shown)
                height = screenshot(browser, session, width, shots / f"ui-{width}.png")
                evaluate(browser, session, "1")  # anything logged late counts too
                problems = check_report.problems_in_events(browser.events[start:], url)
            finally:
                browser.close()
        # Requests to the server's own routes are the page working; anything else is not.
        problems = [p for p in problems if not p.startswith(f"request: {url}api/")]
        assert problems == [], problems
        assert shown["pieces"] == tokens["tokens"]
        assert shown["ids"] == tokens["ids"]
        assert shown["label"] == predicted["label"]
        assert shown["probability"] == f"{predicted['probability']:.4f}"
        assert shown["thumbs"] == 6 * 12  # MiniLM: 6 layers x 12 heads
        assert shown["words"] == len(tokens["tokens"]) - 2
        assert shown["stripWidth"] > 100
        assert shown["scrollWidth"] <= shown["clientWidth"], f"scrolls sideways at {width} px"
        assert height > 600


def test_explain_route_matches_predict_and_refuses_bad_requests(server, classifier):
    _, url = server
    status, answer = post(url + "api/explain",
                          json.dumps({"text": SENTENCE, "classifier": classifier.name}))
    assert status == 200
    predicted = json.loads(run(BERTLITE, "predict", "--classifier", classifier, "--json",
                               SENTENCE))
    assert answer["label"] == predicted["label"]
    # `predict` runs its last layer on [CLS] rows only, whose GEMM rounds by row count on AVX2
    # (measured 7e-8 on a Zen 1; equal on AVX-512): 1e-6, as test_serve.py's /predict check.
    assert abs(answer["probability"] - predicted["probability"]) < 1e-6
    assert len(answer["attentions"]) == 6 and len(answer["attentions"][0]) == 12
    for body in ["not json", "[]", '{"text": 3}', '{"text": ""}',
                 '{"text": "x", "classifier": "../../etc/passwd"}',
                 '{"text": "x", "model": "/tmp"}', '{"text": "x", "pooling": "max"}']:
        status, answer = post(url + "api/explain", body)
        assert status == 422, body
        assert answer["error"], body
    status, _ = post(url + "api/explain", json.dumps({"text": "fine"}))
    assert status == 200  # still serving


def test_a_fine_tuned_folder_classifies_with_its_own_head(tmp_path):
    """`bertlite ui --fine-tuned DIR`: the page's classifier list names the folder, and its
    probabilities are `bertlite predict --model DIR`'s."""
    import torch
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    torch.manual_seed(0)
    model = AutoModelForSequenceClassification.from_pretrained(
        MODEL, num_labels=2, id2label={0: "bad", 1: "good"}, label2id={"bad": 0, "good": 1})
    folder = tmp_path / "fine-tuned"
    model.save_pretrained(folder)
    AutoTokenizer.from_pretrained(MODEL).save_pretrained(folder)
    process = subprocess.Popen([str(BERTLITE), "ui", "--fine-tuned", str(folder), "--port", "0"],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        line = process.stdout.readline()
        assert line.startswith("bertlite ui: open "), line + process.stderr.read()
        url = line.split()[3]
        opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
        with opener.open(url + "api/models", timeout=60) as response:
            listed = json.loads(response.read())
        assert listed["classifiers"] == [{"name": str(folder), "model": str(folder),
                                          "fine_tuned": True, "labels": ["bad", "good"],
                                          "pooling": "cls"}]  # no sentence-transformers files
        status, answer = post(url + "api/explain",
                              json.dumps({"text": SENTENCE, "classifier": str(folder)}))
        assert status == 200, answer
        predicted = json.loads(run(BERTLITE, "predict", "--model", folder, "--json", SENTENCE))
        assert answer["label"] == predicted["label"]
        for label in ("bad", "good"):
            assert abs(answer["probabilities"][label] - predicted["probabilities"][label]) < 1e-6
        assert len(answer["importance"]) == len(answer["tokens"])
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=20) == 0
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


def test_stops_on_sigterm(server):
    process, _ = server
    process.send_signal(signal.SIGTERM)
    assert process.wait(timeout=20) == 0
