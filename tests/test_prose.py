"""No number in a chapter's prose is typed by hand where a result file holds it.

A chapter's prose (its text outside code cells, inline code, maths and citations) may state the
paper's numbers and the code's constants; a number that a result file of ``results/paper``
holds must come from that file (glued by a cell), so that the text cannot drift from the
results. A number counts as a result when it has at least three significant digits and equals a
value of a result file at the digits it is written with, and as a constant when it also appears
in the library's source (the paper's numbers, settings and tissue constants live there).
"""

import csv
import json
import math
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
CHAPTERS = sorted((ROOT / "notebooks").glob("*.md"))
#: Result files read for values (large per-sample tables hold too many values to tell anything).
LARGEST_TABLE_BYTES = 200_000
NUMBER = re.compile(r"(?<![\w.,])(\d{1,3}(?:,\d{3})+|\d+)(\.\d+)?(?![\w]|\.\d)")


def prose(chapter: Path) -> str:
    """The text a reader reads as written: no code cells, front matter, inline code, maths, citations or links."""
    text = chapter.read_text(encoding="utf-8")
    for pattern in (r"```.*?```", r"\A---.*?---", r"\{cite:[pt]\}`[^`]*`", r"`[^`]*`", r"\$[^$]*\$", r"\]\([^)]*\)"):
        text = re.sub(pattern, " ", text, flags=re.DOTALL)
    return text


def significant(written: str) -> int:
    return len(written.replace(",", "").replace(".", "").lstrip("0"))


def written_numbers(text: str) -> list[str]:
    """Numbers of at least three significant digits with a decimal point (a year, a count or a
    size in pixels is not a result)."""
    return [m.group(0) for m in NUMBER.finditer(text) if m.group(2) and significant(m.group(0)) >= 3]


def result_values() -> list[float]:
    values: list[float] = []

    def walk(item) -> None:
        if isinstance(item, dict):
            for value in item.values():
                walk(value)
        elif isinstance(item, list):
            for value in item:
                walk(value)
        elif isinstance(item, (int, float)) and not isinstance(item, bool) and math.isfinite(item):
            values.append(float(item))

    for path in sorted((ROOT / "results" / "paper").rglob("*")):
        if path.suffix == ".json":
            walk(json.loads(path.read_text()))
        elif path.suffix == ".csv" and path.stat().st_size <= LARGEST_TABLE_BYTES:
            with open(path, newline="") as handle:
                for row in csv.reader(handle):
                    for cell in row:
                        try:
                            values.append(float(cell))
                        except ValueError:
                            pass
    return [v for v in values if math.isfinite(v)]


@pytest.fixture(scope="module")
def results():
    if not (ROOT / "results" / "paper" / "metrics.json").exists():
        pytest.skip("no committed paper-scale results")
    values = result_values()
    return {round(v, digits) for v in values for digits in range(1, 5)}


@pytest.fixture(scope="module")
def constants() -> str:
    return "\n".join(path.read_text(encoding="utf-8") for path in sorted((ROOT / "bonelib").rglob("*.py")))


def hand_typed(chapter: Path, results: set[float], constants: str) -> list[str]:
    found = []
    for written in written_numbers(prose(chapter)):
        value = float(written.replace(",", ""))
        if round(value, len(written.split(".")[1])) in results and written.replace(",", "") not in constants:
            found.append(written)
    return found


def test_the_detector_finds_a_typed_result_and_spares_constants(results, constants, tmp_path):
    chapter = tmp_path / "chapter.md"
    chapter.write_text("The 3D network reached an RPE50 of 0.104 (`0.104` in code is fine), R² 0.982.\n"
                       "```{code-cell} ipython3\nprint(0.104)\n```\n"
                       "Eq. 1 reads 0.877 ρ_HA, and 2 × 2 Gauss points, 10,896 slices, in 2023.\n", encoding="utf-8")
    assert hand_typed(chapter, results, constants) == ["0.104", "0.982"]


@pytest.mark.parametrize("chapter", CHAPTERS, ids=[c.stem for c in CHAPTERS])
def test_no_result_is_typed_by_hand_in_a_chapters_prose(chapter, results, constants):
    assert not hand_typed(chapter, results, constants), "glue these from the result files"
