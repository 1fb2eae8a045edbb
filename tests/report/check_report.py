#!/usr/bin/env python3
"""Open an HTML report in headless Chromium, check it, and save a full-page screenshot.

    check_report.py REPORT.html SCREENSHOT.png [--experiments N] [--finetune] [--width 1200]
                    [--tiles PX]

Fails (exit 1, one line per problem) when:
  - the page logs anything at warning or error level (console, CSP violations, exceptions);
  - the page makes any request other than for the report file itself, or a request fails;
  - a figure is missing: fig-flow, fig-shapes, fig-summary, and for each experiment fig-cv,
    fig-confusion and table-mistakes (elements carrying data-figure="KIND"); with
    --experiments N, exactly N of each per-experiment kind; with --finetune, one fig-loss;
  - a figure renders with zero width or height, or an SVG's text runs outside its drawing area;
  - an id is used twice, the page holds a <script>, or it scrolls sideways at --width pixels.

Standard library only. Chromium is driven over the DevTools protocol on a pipe
(--remote-debugging-pipe: JSON messages ending in NUL on file descriptors 3 and 4), so no port
is opened. The browser is $CHROMIUM, else chromium / chromium-browser / google-chrome on PATH
(Debian's `chromium` package; scripts/setup.sh installs it).
"""

import argparse
import base64
import fcntl
import json
import os
import pathlib
import queue
import shutil
import subprocess
import sys
import tempfile
import threading
import time

PAGE_KINDS = ["fig-flow", "fig-shapes", "fig-summary"]
EXPERIMENT_KINDS = ["fig-cv", "fig-confusion", "table-mistakes"]
TIMEOUT = 60.0  # seconds for any one step

# Measured in the page after load. Text is measured as the browser laid it out, so a label that
# does not fit its figure shows up without any font knowledge on our side.
MEASURE = r"""
(() => {
  const out = {figures: [], duplicates: [], overflowing: [], scripts: document.scripts.length,
               scrollWidth: document.documentElement.scrollWidth,
               clientWidth: document.documentElement.clientWidth,
               height: document.documentElement.scrollHeight};
  for (const el of document.querySelectorAll('[data-figure]')) {
    const r = el.getBoundingClientRect();
    out.figures.push({id: el.id, kind: el.dataset.figure, width: r.width, height: r.height});
  }
  const seen = new Map();
  for (const el of document.querySelectorAll('[id]')) seen.set(el.id, (seen.get(el.id) || 0) + 1);
  for (const [id, n] of seen) if (n > 1) out.duplicates.push(id);
  // Screen rectangles, so rotated labels are measured as drawn.
  for (const svg of document.querySelectorAll('svg.figure')) {
    const box = svg.getBoundingClientRect();
    for (const text of svg.querySelectorAll('text')) {
      const b = text.getBoundingClientRect();
      const slack = 1;  // anti-aliasing and rounding
      if (b.left < box.left - slack || b.top < box.top - slack ||
          b.right > box.right + slack || b.bottom > box.bottom + slack) {
        out.overflowing.push(svg.id + ': "' + text.textContent.slice(0, 60) + '" spans [' +
                             [b.left - box.left, b.top - box.top, b.right - box.left,
                              b.bottom - box.top].map(Math.round) +
                             '] in a figure of ' + Math.round(box.width) + ' x ' +
                             Math.round(box.height));
      }
    }
  }
  return JSON.stringify(out);
})()
"""


def find_browser():
    candidates = [os.environ.get("CHROMIUM")] + ["chromium", "chromium-browser", "google-chrome"]
    for name in candidates:
        if name and shutil.which(name):
            return shutil.which(name)
    return None


class Browser:
    """A headless Chromium and one page, spoken to over the DevTools pipe."""

    def __init__(self, executable, width, height, profile):
        to_browser_read, self.to_browser = os.pipe()
        self.from_browser, from_browser_write = os.pipe()
        # The child's ends, moved above 4 so that putting them on 3 and 4 cannot clobber them.
        to_browser_read = self._above_four(to_browser_read)
        from_browser_write = self._above_four(from_browser_write)
        flags = [
            "--headless", "--remote-debugging-pipe", f"--user-data-dir={profile}",
            "--no-first-run", "--no-default-browser-check", "--disable-gpu",
            "--disable-extensions", "--disable-background-networking", "--disable-sync",
            "--disable-component-update", "--disable-default-apps", "--mute-audio",
            "--hide-scrollbars", "--force-device-scale-factor=1", f"--window-size={width},{height}",
        ]
        if os.geteuid() == 0:
            flags.append("--no-sandbox")  # Chromium's sandbox refuses to run as root
        # bash (dash takes one-digit descriptors only) moves the pipe ends to 3 and 4, where
        # Chromium expects them.
        command = 'exec "$0" "$@" 3<&{} 4>&{} {}<&- {}>&-'.format(
            to_browser_read, from_browser_write, to_browser_read, from_browser_write)
        self.log = tempfile.TemporaryFile()
        self.process = subprocess.Popen(
            ["bash", "-c", command, executable, *flags, "about:blank"],
            pass_fds=(to_browser_read, from_browser_write), stdin=subprocess.DEVNULL,
            stdout=self.log, stderr=self.log)
        os.close(to_browser_read)
        os.close(from_browser_write)
        self.next_id = 0
        self.messages = queue.Queue()
        self.events = []  # (method, params) of every event, in order
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    @staticmethod
    def _above_four(fd):
        high = fcntl.fcntl(fd, fcntl.F_DUPFD_CLOEXEC, 10)
        os.close(fd)
        return high

    def _read(self):
        buffer = b""
        while True:
            chunk = os.read(self.from_browser, 1 << 16)
            if not chunk:
                self.messages.put(None)
                return
            buffer += chunk
            while b"\0" in buffer:
                message, buffer = buffer.split(b"\0", 1)
                self.messages.put(json.loads(message))

    def _next_message(self, deadline):
        try:
            message = self.messages.get(timeout=max(0.0, deadline - time.monotonic()))
        except queue.Empty:
            raise RuntimeError("timed out waiting for Chromium") from None
        if message is None:
            raise RuntimeError("Chromium closed the DevTools pipe:\n" + self.stderr())
        if "method" in message:
            self.events.append((message["method"], message.get("params", {})))
        return message

    def call(self, method, params=None, session=None):
        self.next_id += 1
        request = {"id": self.next_id, "method": method, "params": params or {}}
        if session:
            request["sessionId"] = session
        try:
            os.write(self.to_browser, json.dumps(request).encode() + b"\0")
        except BrokenPipeError:
            self.process.wait(timeout=TIMEOUT)
            raise RuntimeError("Chromium exited:\n" + self.stderr()) from None
        deadline = time.monotonic() + TIMEOUT
        while True:
            message = self._next_message(deadline)
            if message.get("id") == self.next_id:
                if "error" in message:
                    raise RuntimeError(f"{method}: {message['error']}")
                return message.get("result", {})

    def wait_for(self, method, since, timeout=TIMEOUT):
        """Waits for an event `method` among the events from index `since` on (so that one
        from an earlier page, such as about:blank's load, does not count)."""
        deadline = time.monotonic() + timeout
        while not any(m == method for m, _ in self.events[since:]):
            self._next_message(deadline)

    def stderr(self):
        self.log.seek(0)
        return self.log.read().decode(errors="replace")

    def close(self):
        try:
            self.call("Browser.close")
        except Exception:
            pass
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        os.close(self.to_browser)


def problems_in_events(events, page_url):
    problems = []
    urls = {}  # request id -> url
    for method, p in events:
        if method == "Runtime.consoleAPICalled" and p.get("type") in ("error", "warning", "assert"):
            text = " ".join(str(a.get("value", a.get("description", ""))) for a in p.get("args", []))
            problems.append(f"console.{p['type']}: {text}")
        elif method == "Runtime.exceptionThrown":
            details = p.get("exceptionDetails", {})
            problems.append("exception: " + details.get("exception", {}).get(
                "description", details.get("text", "")))
        elif method == "Log.entryAdded" and p["entry"].get("level") in ("error", "warning"):
            entry = p["entry"]
            problems.append(f"{entry['level']} ({entry.get('source')}): {entry.get('text')} "
                            f"{entry.get('url', '')}".rstrip())
        elif method == "Network.requestWillBeSent":
            url = p["request"]["url"]
            urls[p.get("requestId")] = url
            if url != page_url and not url.startswith("data:"):
                problems.append(f"request: {url}")
        elif method == "Network.loadingFailed":
            reason = p.get("blockedReason") or p.get("errorText") or "unknown reason"
            problems.append(f"failed request: {urls.get(p.get('requestId'), '?')} ({reason})")
    return problems


def check(report, screenshot, experiments, width, tiles=0, finetune=False):
    executable = find_browser()
    if not executable:
        return ["no Chromium found: install Debian's chromium package (scripts/setup.sh) or "
                "set CHROMIUM"]
    page_url = pathlib.Path(report).resolve().as_uri()  # percent-encoded, as Chromium reports it
    problems = []
    with tempfile.TemporaryDirectory(prefix="check_report_") as profile:
        browser = Browser(executable, width, 900, profile)
        try:
            target = browser.call("Target.createTarget", {"url": "about:blank"})["targetId"]
            session = browser.call("Target.attachToTarget",
                                   {"targetId": target, "flatten": True})["sessionId"]
            for domain in ("Page", "Runtime", "Log", "Network"):
                browser.call(f"{domain}.enable", session=session)
            browser.call("Emulation.setDeviceMetricsOverride",
                         {"width": width, "height": 900, "deviceScaleFactor": 1, "mobile": False},
                         session=session)
            start = len(browser.events)
            navigation = browser.call("Page.navigate", {"url": page_url}, session=session)
            if navigation.get("errorText"):
                return [f"cannot open {page_url}: {navigation['errorText']}"]
            browser.wait_for("Page.loadEventFired", since=start)
            # Two animation frames: layout and paint have happened.
            browser.call("Runtime.evaluate", {
                "expression": "new Promise(r => requestAnimationFrame(() => "
                              "requestAnimationFrame(r)))",
                "awaitPromise": True}, session=session)
            measured = json.loads(browser.call(
                "Runtime.evaluate", {"expression": MEASURE, "returnByValue": True},
                session=session)["result"]["value"])

            # The whole page, at the test width.
            height = int(measured["height"])
            browser.call("Emulation.setDeviceMetricsOverride",
                         {"width": width, "height": height, "deviceScaleFactor": 1,
                          "mobile": False}, session=session)
            shot = browser.call("Page.captureScreenshot",
                                {"format": "png", "captureBeyondViewport": True},
                                session=session)
            with open(screenshot, "wb") as out:
                out.write(base64.b64decode(shot["data"]))
            # Optionally the page again in slices, for eyes and image viewers that shrink
            # very tall pictures.
            for k, top in enumerate(range(0, height, tiles) if tiles else []):
                clip = {"x": 0, "y": top, "width": width,
                        "height": min(tiles, height - top), "scale": 1}
                tile = browser.call("Page.captureScreenshot",
                                    {"format": "png", "clip": clip,
                                     "captureBeyondViewport": True}, session=session)
                name = "{}-{:02d}.png".format(os.path.splitext(screenshot)[0], k + 1)
                with open(name, "wb") as out:
                    out.write(base64.b64decode(tile["data"]))
            # Anything logged late (after load) counts too.
            browser.call("Runtime.evaluate", {"expression": "1"}, session=session)
            problems += problems_in_events(browser.events[start:], page_url)
        finally:
            browser.close()

    by_kind = {}
    for figure in measured["figures"]:
        by_kind.setdefault(figure["kind"], []).append(figure)
        if not (figure["width"] > 0 and figure["height"] > 0):
            problems.append(f"{figure['id']}: rendered {figure['width']} x {figure['height']}")
    for kind in PAGE_KINDS + EXPERIMENT_KINDS:
        if kind not in by_kind:
            problems.append(f"no {kind} figure")
    if experiments is not None:
        for kind in EXPERIMENT_KINDS:
            found = len(by_kind.get(kind, []))
            if found != experiments:
                problems.append(f"{found} {kind} figures, expected {experiments}")
    if finetune and len(by_kind.get("fig-loss", [])) != 1:
        problems.append(f"{len(by_kind.get('fig-loss', []))} fig-loss figures, expected 1")
    problems += [f"id used more than once: {i}" for i in measured["duplicates"]]
    problems += [f"text outside its figure: {t}" for t in measured["overflowing"]]
    if measured["scripts"]:
        problems.append(f"{measured['scripts']} <script> elements")
    if measured["scrollWidth"] > measured["clientWidth"]:
        problems.append(f"scrolls sideways at {width} px: content is {measured['scrollWidth']} px")
    summary = ", ".join(f"{k} x{len(v)}" for k, v in sorted(by_kind.items()))
    print(f"check_report: {report}: {summary}; page {width} x {measured['height']} px; "
          f"screenshot {screenshot}")
    return problems


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("report")
    parser.add_argument("screenshot")
    parser.add_argument("--experiments", type=int, help="experiment sections expected")
    parser.add_argument("--finetune", action="store_true",
                        help="the report has a fine-tuning section (fig-loss)")
    parser.add_argument("--width", type=int, default=1200, help="viewport width in CSS pixels")
    parser.add_argument("--tiles", type=int, default=0, metavar="PX",
                        help="also save the page in slices PX tall: SCREENSHOT-01.png, ...")
    args = parser.parse_args()
    if not os.path.isfile(args.report):
        print(f"check_report: {args.report}: no such file", file=sys.stderr)
        return 1
    try:
        problems = check(args.report, args.screenshot, args.experiments, args.width, args.tiles,
                         args.finetune)
    except RuntimeError as e:
        problems = [str(e)]
    for problem in problems:
        print(f"check_report: FAIL {problem}", file=sys.stderr)
    if problems:
        return 1
    print("check_report: OK")
    return 0


if __name__ == "__main__":
    sys.exit(main())
