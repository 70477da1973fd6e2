"""Render a report.html in headless Chromium and check that every chart drew: the page marks
each chart's figure data-drawn="yes" when its canvas holds pixels, and the body
data-charts-drawn="<n> of <total>". Optionally save a screenshot.

    python .ci/check_report.py REPORT_HTML [SCREENSHOT_PNG]"""

import pathlib
import re
import subprocess
import sys

CHROMIUM = ["chromium", "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
            "--virtual-time-budget=15000"]


def main(report: pathlib.Path, screenshot: pathlib.Path | None) -> None:
    url = report.resolve().as_uri()
    dom = subprocess.run(CHROMIUM + ["--dump-dom", url], capture_output=True, text=True, timeout=180, check=True).stdout
    total = re.search(r'data-charts-total="(\d+)"', dom)
    drawn = re.search(r'data-charts-drawn="([^"]*)"', dom)
    assert total and drawn, "the page did not run its script"
    figures = re.findall(r'<figure class="chart" id="fig-([a-z]+)" data-drawn="([^"]*)"', dom)
    not_drawn = [(f, d) for f, d in figures if d != "yes"]
    assert int(total.group(1)) > 0, "no charts"
    assert drawn.group(1) == f"{total.group(1)} of {total.group(1)}", (drawn.group(1), not_drawn)
    assert len(figures) == int(total.group(1)) and not not_drawn, not_drawn
    print(f"  {report}: {drawn.group(1)} charts drawn in headless Chromium ({', '.join(f for f, _ in figures)})")
    if screenshot:
        subprocess.run(CHROMIUM + ["--window-size=1280,2400", f"--screenshot={screenshot.resolve()}", url],
                       capture_output=True, timeout=180, check=True)
        print(f"  screenshot: {screenshot}")


if __name__ == "__main__":
    main(pathlib.Path(sys.argv[1]), pathlib.Path(sys.argv[2]) if len(sys.argv) > 2 else None)
