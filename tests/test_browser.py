"""The built book in a real headless browser: plotly figures drawn, no JavaScript errors."""

import os
import shutil
import subprocess

import pytest

from tests.test_book import BOOKS, FIGURES

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--enable-logging=stderr", "--v=0", "--virtual-time-budget=15000", "--dump-dom"]

if CHROMIUM is None:
    # CI installs Debian's chromium (.ci/run); elsewhere the check is skipped, loudly.
    pytestmark = pytest.mark.skipif(not os.environ.get("CI"), reason="chromium not installed")


@pytest.mark.parametrize("scale", sorted(BOOKS))
@pytest.mark.parametrize("page", sorted(FIGURES))
def test_figures_render_offline_without_errors(scale, page, tmp_path):
    assert CHROMIUM is not None, "chromium is required in CI (apt-get install chromium)"
    result = subprocess.run([CHROMIUM, *FLAGS, f"--user-data-dir={tmp_path}", (BOOKS[scale] / page).as_uri()],
                            capture_output=True, text=True, timeout=120)
    dom, log = result.stdout, result.stderr
    errors = [line for line in log.splitlines() if "CONSOLE" in line and ("Uncaught" in line or "Error" in line)]
    assert not errors, errors
    for figure_id in FIGURES[page]:
        start = dom.index(f'id="{figure_id}"')
        # plotly draws each figure into <svg class="main-svg"> elements inside its div
        assert 'class="main-svg"' in dom[start:start + 20000], f"{page}: figure {figure_id} was not drawn"
