#!/usr/bin/env python3
"""The browser checker must be able to fail: small pages, each with one fault, must be rejected
with a message naming it, and a clean page must pass. Standard library only; runs Chromium once
per page (about a second each).

    check_report_selftest.py
"""

import os
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import check_report  # noqa: E402

FIGURES = "".join(
    f'<svg class="figure" id="{kind}-x" data-figure="{kind}" viewBox="0 0 200 40" width="200" '
    f'height="40"><text x="4" y="20">{kind}</text></svg>'
    for kind in check_report.PAGE_KINDS + check_report.EXPERIMENT_KINDS)


def page(body, head="", csp=True):
    policy = ('<meta http-equiv="Content-Security-Policy" content="default-src \'none\'; '
              'style-src \'unsafe-inline\'; img-src data:">') if csp else ""
    return (f'<!DOCTYPE html><html><head><meta charset="utf-8">{policy}'
            f'<link rel="icon" href="data:,">{head}</head><body>{body}</body></html>')


CASES = [
    # (name, html, a fragment the problems must contain; None = must pass)
    ("clean", page(FIGURES), None),
    ("missing figure", page(FIGURES.replace('data-figure="fig-cv"', 'data-figure="other"')),
     "no fig-cv figure"),
    ("empty figure", page(FIGURES.replace('width="200" height="40"><text x="4" y="20">fig-flow',
                                          'width="0" height="0"><text x="4" y="20">fig-flow')),
     "fig-flow-x: rendered 0"),
    ("text overflow", page(FIGURES.replace('x="4" y="20">fig-shapes',
                                           'x="120" y="20">fig-shapes fig-shapes')),
     "text outside its figure: fig-shapes-x"),
    ("duplicate id", page(FIGURES + '<p id="fig-cv-x">again</p>'), "id used more than once"),
    ("external image", page(FIGURES + '<img src="http://127.0.0.1:9/x.png" alt="">'),
     "Content Security Policy"),
    # Port 9 on this machine: refused at once, so nothing leaves it and nothing waits.
    ("request without a policy", page(FIGURES + '<img src="http://127.0.0.1:9/x.png" alt="">',
                                      csp=False), "request: http://127.0.0.1:9/x.png"),
    ("console error", page(FIGURES + "<script>console.error('boom')</script>", csp=False),
     "console.error: boom"),
    ("exception", page(FIGURES + "<script>null.x</script>", csp=False), "exception: TypeError"),
    ("script element", page(FIGURES + "<script>1</script>", csp=False), "1 <script> elements"),
    ("sideways scroll", page(FIGURES + '<div style="width:3000px">wide</div>'),
     "scrolls sideways at 1200 px"),
]


def main():
    failures = 0
    with tempfile.TemporaryDirectory(prefix="check_report_selftest_") as tmp:
        for name, html, expected in CASES:
            path = os.path.join(tmp, "page.html")
            with open(path, "w") as out:
                out.write(html)
            problems = check_report.check(path, os.path.join(tmp, "page.png"), None, 1200)
            if expected is None:
                ok = not problems and os.path.getsize(os.path.join(tmp, "page.png")) > 0
            else:
                ok = any(expected in p for p in problems)
            failures += not ok
            print(f"{'ok  ' if ok else 'FAIL'} {name}: {problems or 'no problems'}")
    print(f"{len(CASES) - failures} passed, {failures} failed")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
