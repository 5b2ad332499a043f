"""Screenshot the notebook's inline report (docs/screenshots/notebook-report.png).

Grades a buggy ex1 from the test corpus (1/n where Bessel's 1/(n-1) belongs) with
``backprop_grader.check`` in the real sandbox, puts the HTML report on a page styled like a
JupyterLab output cell, and photographs it with Debian's headless Chromium through
Playwright (the same browser the end-to-end tests use; nothing is downloaded).

    .venv/bin/python scripts/notebook_screenshot.py [--dark] [--out PATH]
"""

from __future__ import annotations

import argparse
import importlib.util
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
BUGGY = REPO / "tests" / "corpus" / "makemore4" / "ex1" / "bug_bessel_n.py"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--no-first-run"]

PAGE = """<!doctype html><meta charset="utf-8">
<body style="margin: 0; padding: 16px 20px; background: {bg}; color: {fg};
             font-family: system-ui, sans-serif">
<div style="{mono}; font-size: 13px; opacity: .6; margin-bottom: 6px">[7]:</div>
<pre style="{mono}; font-size: 13px; margin: 0 0 10px; padding: 8px;
            background: {cell}; border-radius: 3px">check(backward, "makemore4/ex1")</pre>
<div id="out" style="display: inline-block; padding-right: 8px">{report}</div>
</body>"""
MONO = "font-family: ui-monospace, 'DejaVu Sans Mono', monospace"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dark", action="store_true", help="JupyterLab dark colours")
    parser.add_argument("--out", type=Path,
                        default=REPO / "docs" / "screenshots" / "notebook-report.png")
    args = parser.parse_args()

    from playwright.sync_api import sync_playwright

    from backprop_grader import check

    spec = importlib.util.spec_from_file_location("bug_bessel_n", BUGGY)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    report = check(module.backward, "makemore4/ex1", display=False)
    colours = dict(bg="#111", fg="#ddd", cell="#1e1e1e") if args.dark else \
        dict(bg="#fff", fg="#000", cell="#f5f5f5")
    page_html = PAGE.format(report=report._repr_html_(), mono=MONO, **colours)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "report.html"
        path.write_text(page_html, encoding="utf-8")
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            page = browser.new_page(viewport={"width": 1100, "height": 900},
                                    device_scale_factor=1)
            page.goto(path.as_uri())
            args.out.parent.mkdir(parents=True, exist_ok=True)
            page.screenshot(path=str(args.out), full_page=True)
            browser.close()
    print(f"wrote {args.out} ({report.score:g}/{report.max_score:g})", file=sys.stderr)


if __name__ == "__main__":
    main()
