"""Checks of the built book (``make test`` builds it first)."""

import re
from pathlib import Path

import pytest

HTML = Path(__file__).resolve().parent.parent / "_build" / "html"
#: Regenerated figures: page → element ids of its plotly figures.
FIGURES = {
    "book/generated/01_ct_images.html": ["figure-1", "cohort-parameters"],
    "book/generated/02_density_mapping.html": ["eq1", "figure-2"],
    "book/generated/03_homogenisation.html": ["laminate", "fields"],
    "book/generated/04_dataset.html": ["figure-4", "bmd-vs-modulus", "morphometry"],
}


@pytest.fixture(scope="module")
def pages():
    if not (HTML / "index.html").exists():
        pytest.fail(f"the book is not built: run `make book` first ({HTML} is missing)")
    return {name: (HTML / name).read_text(encoding="utf-8") for name in FIGURES}


def test_figures_are_in_the_pages(pages):
    for name, ids in FIGURES.items():
        for figure_id in ids:
            assert re.search(rf'<div id="{figure_id}" class="plotly-graph-div"', pages[name]), (name, figure_id)
            assert re.search(rf'Plotly\.newPlot\(\s*"{figure_id}"', pages[name]), (name, figure_id)


def test_plotly_is_shipped_once_and_offline(pages):
    assert (HTML / "_static" / "plotly.min.js").stat().st_size > 1_000_000
    for page in pages.values():
        assert re.search(r'<script src="[./]*_static/plotly\.min\.js', page)
        assert "cdn.plot.ly" not in page and "cdn.jsdelivr" not in page
        assert page.count("plotly.js v") == 0  # the library itself is not inlined


def test_figure_captions_name_the_papers_figures(pages):
    for number, page in ((1, "01_ct_images"), (2, "02_density_mapping"), (4, "04_dataset")):
        assert re.search(rf"Figure {number} \(paper(’|')s Figure {number}\)", pages[f"book/generated/{page}.html"])
