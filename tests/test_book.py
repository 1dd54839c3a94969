"""Checks of the built book (``make test`` builds it first)."""

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
#: The two books ``make test`` builds: from the committed paper-scale results, and from a fresh ci run.
BOOKS = {scale: ROOT / "_build" / f"html-{scale}" for scale in ("paper", "ci")}
#: Regenerated figures: page → element ids of its plotly figures.
FIGURES = {
    "book/generated/01_ct_images.html": ["figure-1", "cohort-parameters"],
    "book/generated/02_density_mapping.html": ["eq1", "figure-2"],
    "book/generated/03_homogenisation.html": ["laminate", "fields"],
    "book/generated/04_dataset.html": ["figure-4", "vbmd-vs-modulus", "morphometry"],
    "book/generated/05_cnn.html": ["figure-3", "figure-5", "improved-architecture", "figure-6"],
    "book/generated/06_predictive_power.html": ["figure-7", "figure-8", "figure-9", "models-cumulative",
                                                "networks-out-of-fold", "split-comparison"],
    "book/generated/07_speed.html": ["speed-scaling", "solver-scaling"],
    "book/generated/08_real_bone.html": ["real-vs-synthetic", "real-sections-modulus"],
    "book/generated/09_beyond_2d.html": ["percolation-sections-vs-cubes", "real-cube-stress", "cube-dataset",
                                         "cube-parity"],
}
#: Pages without figures whose tables a reader needs, by page.
TABLES = {"book/generated/10_own_scan.html": ["own-scan-info", "own-scan-2d", "own-scan-3d", "own-scan-whole"],
          "book/generated/06_predictive_power.html": ["interval-coverage"],
          "book/generated/09_beyond_2d.html": ["cube-interval-coverage"],
          "book/generated/07_speed.html": ["speed-table", "solver-scaling-table"],
          "book/generated/02_density_mapping.html": ["eq1-intercept"],
          "book/generated/03_homogenisation.html": ["verification", "symmetries", "bounds", "refinement"]}
#: The paper's figures regenerated, by page.
PAPER_FIGURES = {"01_ct_images": [1], "02_density_mapping": [2], "04_dataset": [4], "05_cnn": [3, 5, 6],
                 "06_predictive_power": [7, 8, 9]}


@pytest.fixture(scope="module", params=sorted(BOOKS))
def book(request):
    html = BOOKS[request.param]
    if not (html / "index.html").exists():
        pytest.fail(f"the {request.param} book is not built: run `make book SCALE={request.param}` ({html} is missing)")
    return request.param, html


@pytest.fixture(scope="module")
def pages(book):
    return {name: (book[1] / name).read_text(encoding="utf-8") for name in FIGURES}


def test_figures_are_in_the_pages(pages):
    for name, ids in FIGURES.items():
        for figure_id in ids:
            assert re.search(rf'<div id="{figure_id}" class="plotly-graph-div"', pages[name]), (name, figure_id)
            assert re.search(rf'Plotly\.newPlot\(\s*"{figure_id}"', pages[name]), (name, figure_id)


def test_plotly_is_shipped_once_and_offline(book, pages):
    assert (book[1] / "_static" / "plotly.min.js").stat().st_size > 1_000_000
    for page in pages.values():
        assert re.search(r'<script src="[./]*_static/plotly\.min\.js', page)
        assert "cdn.plot.ly" not in page and "cdn.jsdelivr" not in page
        assert page.count("plotly.js v") == 0  # the library itself is not inlined


def test_figure_captions_name_the_papers_figures(pages):
    assert sorted(n for numbers in PAPER_FIGURES.values() for n in numbers) == list(range(1, 10))
    for page, numbers in PAPER_FIGURES.items():
        for number in numbers:
            assert re.search(rf"Figure {number} \(paper(’|')s Figure {number}\)", pages[f"book/generated/{page}.html"])


def test_results_table_is_generated_from_the_metrics(book):
    """The intro's table holds every model's metrics as written to metrics.json, and the paper's."""
    import html
    import json

    from bonelib.slices import evaluate as evaluation
    scale, root = book
    page = (root / "book" / "generated" / "intro.html").read_text(encoding="utf-8")
    match = re.search(r'<table id="results-table".*?</table>', page, re.DOTALL)
    assert match, "the results table is missing from the introduction"
    prefix = "95 % bootstrap interval "  # an interval shows on hover: value [low, high] once joined again
    cells = [html.unescape(re.sub(r"<.*?>", "", text)).strip()
             + (" " + html.unescape(title)[len(prefix):] if title else "")
             for title, text in re.findall(r'<td(?: title="([^"]*)")?>(.*?)</td>', match.group(0), re.DOTALL)]
    results = json.loads((ROOT / "results" / scale / "metrics.json").read_text())
    rows = evaluation.table_rows(results)[1]
    assert [c for row in rows for c in row[1:]] == [c for i, c in enumerate(cells) if i % len(rows[0])]
    names = {cells[i] for i in range(0, len(cells), len(rows[0]))}
    assert any(n.startswith("improved CNN (") for n in names) and any(n.startswith("paper's CNN (") for n in names)
    assert {"vBMD regression", "BV/TV–fabric power law", "coarse FE 2 × 2", "coarse FE 4 × 4"} <= names
    improved = results["evaluations"]["donor-cv"]["improved CNN"]["pooled"]
    assert f"{improved['r2']['value']:.3f}" in " ".join(cells)
    assert re.search(r'<p id="provenance">Results made .* from commit [0-9a-f]{10}', page)


def test_no_page_shows_the_parameters_and_figure_code_is_folded(book, pages):
    """The reader sees no papermill plumbing; code that only draws a figure is folded (hide-input)."""
    intro = (book[1] / "book" / "generated" / "intro.html").read_text(encoding="utf-8")
    for name, page in {**pages, "intro": intro}.items():
        assert "tag_parameters" not in page and "tag_injected-parameters" not in page, name
        assert not re.search(r"scale\s*=\s*(&quot;|&#34;|\")", page), name
    for name, page in pages.items():
        assert "tag_hide-input" in page, f"{name}: no folded figure code"


def test_the_3d_held_out_table_is_in_its_page(pages):
    page = pages["book/generated/09_beyond_2d.html"]
    assert re.search(r'<table id="cube-held-out"', page)
    assert "3D CNN" in page and "Zysset–Curnier fabric law" in page


def chapter_tables(source: str) -> list[str]:
    """The element ids of the tables a chapter's source draws with ``bonebook.viz.table``."""
    ids = []
    for match in re.finditer(r"(?<![\w.])table\(", source):
        depth, end = 0, match.end() - 1
        while True:
            depth += {"(": 1, ")": -1}.get(source[end], 0)
            if depth == 0:
                break
            end += 1
        named = re.findall(r',\s*"([a-z0-9-]+)"\s*(?:,|\))', source[match.start():end + 1])
        assert named, f"a table without an id: {source[match.start():end + 1][:80]}"
        ids.append(named[-1])
    return ids


def test_chapter_tables_finds_each_table_wherever_it_is_drawn():
    source = 'if ok:\n    table(["a"], rows, "first",\n          caption=f"x {y(1)}")\nz = 1\ntable(h, r, "second")\n'
    assert chapter_tables(source) == ["first", "second"]


def test_every_table_of_a_chapter_is_in_its_page(book):
    """Every table a chapter draws is in its built page, also where it is not a cell's last expression
    (chapter 6's baselines and coarse-FE cost, chapter 8's shipped networks on real sections)."""
    chapters = sorted((ROOT / "notebooks").glob("*.md"))
    expected = {chapter.stem: chapter_tables(chapter.read_text(encoding="utf-8")) for chapter in chapters}
    assert {"acceptance", "coarse-cost"} <= set(expected["06_predictive_power"])
    assert "real-sections-cnn" in expected["08_real_bone"]
    for stem, ids in expected.items():
        page = (book[1] / "book" / "generated" / f"{stem}.html").read_text(encoding="utf-8")
        for table_id in ids:
            assert f'<table id="{table_id}"' in page, (book[0], stem, table_id)


def _text(page: str) -> str:
    """What a reader reads on a page: its HTML without scripts, styles and tags."""
    import html

    page = re.sub(r"<(script|style)\b.*?</\1>", " ", page, flags=re.DOTALL)
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", page)).split())


def test_no_page_speaks_of_how_the_work_was_organised(book):
    for path in sorted((book[1] / "book" / "generated").glob("*.html")):
        words = re.findall(r"\b(?:issues?|sessions?|tracker|TODO)\b", _text(path.read_text(encoding="utf-8")),
                           flags=re.IGNORECASE)
        assert not words, f"{path.name}: {words}"


def test_every_page_states_its_scale_before_anything_else(book):
    """A reader who lands on any page learns first which results it shows, and how many data."""
    scale = book[0]
    for path in sorted((book[1] / "book" / "generated").glob("*.html")):
        html = path.read_text(encoding="utf-8")
        match = re.search(r'<p id="scale-note"[^>]*>(.*?)</p>', html, flags=re.DOTALL)
        assert match, f"{path.name}: no scale note"
        note = _text(match.group(1))
        assert note.startswith("Paper scale" if scale == "paper" else f"{scale} scale"), (path.name, note)
        assert re.search(r"[\d,]+ slices of \d+ synthetic donors", note), (path.name, note)
        title = html.index("<h1", html.index('<article class="bd-article"'))
        sections = html.find("<h2", title)  # after the title, before the page's first section
        assert title < html.index('id="scale-note"') and (sections < 0 or html.index('id="scale-note"') < sections), \
            path.name


def test_the_introduction_opens_with_its_findings(book):
    intro = (book[1] / "book" / "generated" / "intro.html").read_text(encoding="utf-8")
    text = _text(intro)
    assert text.index("Findings") < text.index("All results")
    for table_id in ("headline-table", "figure-index", "results-table"):
        assert f'id="{table_id}"' in intro, table_id
    assert "paper's network, on the paper's protocol" in text.replace("\u2019", "'")


def test_the_own_scan_and_density_reading_tables_are_drawn(book):
    for page, ids in TABLES.items():
        html = (book[1] / page).read_text(encoding="utf-8")
        for table_id in ids:
            assert f'id="{table_id}"' in html, (page, table_id)
