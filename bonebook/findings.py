"""The book's findings, read from the result files: what the introduction opens with.

Every number here comes from ``results/<scale>/``; the paper's numbers
(:mod:`bonelib.reference`) are the comparison row only.
"""

from __future__ import annotations

import csv
import json
from dataclasses import dataclass

from bonebook import config
from bonelib.slices import evaluate as evaluation

#: The metrics of the headline table, in its column order.
METRICS = ("r2", "slope", "rpe50", "rpe95")


@dataclass(frozen=True)
class Finding:
    """One row of the headline table: who, tested how, and the pooled metrics.

    ``values`` maps each of :data:`METRICS` to its value; ``intervals`` to its bootstrap
    95 % interval (low, high), empty for the paper's row; ``epochs``: the epochs a network
    here trained (the most of its runs)."""

    who: str
    test: str
    values: dict[str, float]
    intervals: dict[str, tuple[float, float]]
    epochs: int | None = None


def _pooled(entry: dict) -> tuple[dict[str, float], dict[str, tuple[float, float]]]:
    return ({m: entry[m]["value"] for m in METRICS}, {m: (entry[m]["low"], entry[m]["high"]) for m in METRICS})


def headline(scale: str) -> list[Finding]:
    """The paper, its network on its own protocol, the improved network donor-level, and the 3D
    network on real specimens it never saw."""
    snapshot = config.artefacts(scale).snapshot
    summary = json.loads((snapshot / "metrics.json").read_text())
    runs = config.artefacts(scale).shipped_runs()
    labels = evaluation.run_labels(runs)

    def epochs(model: str, scheme: str) -> int | None:
        return max((r["epochs_run"] for r in runs if r["model"] == model and r["scheme"] == scheme), default=None)

    paper = summary["paper"]
    random, donor = summary["evaluations"]["random"], summary["evaluations"]["donor-cv"]
    rows = [Finding("The paper (results section)", f"{paper['test_samples']} test slices, random split",
                    {m: paper[m] for m in METRICS}, {})]
    theirs = random["paper's CNN"]["pooled"]
    rows.append(Finding(labels.get(("paper's CNN", "random"), "paper's CNN"),
                        f"{theirs['n']} test slices, the paper's random split", *_pooled(theirs),
                        epochs("paper", "random")))
    improved = donor["improved CNN"]["pooled"]
    rows.append(Finding(labels.get(("improved CNN", "donor-cv"), "improved CNN"),
                        f"{improved['n']:,} slices, each by a network that never saw its donor", *_pooled(improved),
                        epochs("improved", "donor-cv")))
    cubes = snapshot / "cubes3d" / "metrics.json"
    if cubes.exists():
        metrics = json.loads(cubes.read_text())
        network = metrics["cnn3d"]
        rows.append(Finding("3D CNN on cubes of real L1 bone",
                            f"{network['n']} cubes of {metrics['specimens']} specimens, each by a network that "
                            "never saw its specimen", *_pooled(network)))
    return rows


def real_sections(scale: str) -> dict[str, float]:
    """What the 2D route meets on real bone: of the real transverse sections at 82 µm, how many
    have bone that wraps across the periodic cell, and the median FE and shipped-network moduli."""
    folder = config.artefacts(scale).snapshot / "real_bone"
    with open(folder / "sections.csv", newline="") as handle:
        real = [r for r in csv.DictReader(handle) if r["source"] == "real, 82 µm" and r["orientation"] == "transverse"]
    with open(folder / "shipped_networks.csv", newline="") as handle:
        shipped = list(csv.DictReader(handle))

    def median(values: list[float]) -> float:
        values = sorted(values)
        middle = len(values) // 2
        return values[middle] if len(values) % 2 else 0.5 * (values[middle - 1] + values[middle])

    return {"sections": len(real),
            "wrapping": sum(r["percolates_x"] == "True" and r["percolates_y"] == "True" for r in real),
            "spanning": sum(r["percolates_x"] == "True" or r["percolates_y"] == "True" for r in real),
            "median_fe_mpa": median([float(r["E_eff"]) for r in real]),
            "largest_fe_mpa": max(float(r["E_eff"]) for r in real),
            "network_sections": len(shipped),
            "flagged": sum(bool(r["warnings"]) for r in shipped),
            "median_network_mpa": median([float(r["E_pred"]) for r in shipped])}


def cost(scale: str) -> dict[str, float]:
    """What a label and a prediction of one 182 × 182 px slice cost, and how well the cheapest
    FE stand-in does: seconds per slice of the FE label and of each network (the speed step),
    the median seconds of the 2 × 2 coarse FE model and its donor-level pooled metrics."""
    snapshot = config.artefacts(scale).snapshot
    speed = json.loads((snapshot / "speed.json").read_text())
    at = speed["size"].index(182.0)
    with open(snapshot / "coarse.csv", newline="") as handle:
        coarse = sorted(float(r["seconds_2"]) for r in csv.DictReader(handle))
    pooled = json.loads((snapshot / "metrics.json").read_text())["evaluations"]["donor-cv"]["coarse FE 2 × 2"]["pooled"]
    return ({"fe_seconds": speed["FE"][at]}
            | {f"{name} seconds": values[at] for name, values in speed.items() if name not in ("size", "FE")}
            | {"coarse_seconds": coarse[len(coarse) // 2]}
            | {f"coarse_{m}": pooled[m]["value"] for m in METRICS})


def cube_power_law(scale: str) -> dict[str, float]:
    """The BV/TV power law's pooled metrics on the 3D route's held-out real cubes (its baseline)."""
    metrics = json.loads((config.artefacts(scale).snapshot / "cubes3d" / "metrics.json").read_text())
    return {m: metrics["power_law"][m]["value"] for m in METRICS}


def modulus_range(scale: str) -> tuple[float, float]:
    """Smallest and largest FE modulus E_z (MPa) of the held-out real cubes of the 3D route."""
    from bonelib.cubes import evaluate as cube_evaluation
    from bonelib.cubes.dataset import typed_rows

    folder = config.artefacts(scale).snapshot / "cubes3d"
    predictions, _ = cube_evaluation.read_predictions(folder)
    moduli = cube_evaluation.held_out(predictions, typed_rows(folder / "cubes.csv"), "cnn3d")["E_z"]
    return float(moduli.min()), float(moduli.max())


#: The levels at which the book calls a model a stand-in for the FE it learnt from, the same for
#: both routes. They are the book's own (the paper sets none): the moduli's scale kept (R², slope)
#: and the typical and the worst-but-rare error small against the spread between bones.
STAND_IN_LEVELS = {"r2": 0.95, "slope": 0.05, "rpe50": 0.05, "rpe95": 0.15}


def stand_in_checks(pooled: dict) -> list[tuple[str, bool, str]]:
    """Each of :data:`STAND_IN_LEVELS` as (level in words, reached, measured value as written).

    ``pooled`` maps each of :data:`METRICS` to ``{"value": ...}`` (a metrics file's entry).

    >>> entry = {"r2": {"value": 0.984}, "slope": {"value": 0.93}, "rpe50": {"value": 0.041},
    ...          "rpe95": {"value": 0.2}}
    >>> [reached for _, reached, _ in stand_in_checks(entry)]
    [True, False, True, False]
    """
    levels = STAND_IN_LEVELS
    value = {m: pooled[m]["value"] for m in METRICS}
    return [(f"R² ≥ {levels['r2']:.2f}", value["r2"] >= levels["r2"], f"{value['r2']:.3f}"),
            (f"slope within {1 - levels['slope']:.2f}–{1 + levels['slope']:.2f}",
             abs(value["slope"] - 1) <= levels["slope"], f"{value['slope']:.3f}"),
            (f"RPE50 ≤ {levels['rpe50']:.2f}", value["rpe50"] <= levels["rpe50"], f"{value['rpe50']:.3f}"),
            (f"RPE95 ≤ {levels['rpe95']:.2f}", value["rpe95"] <= levels["rpe95"], f"{value['rpe95']:.3f}")]


def better(metric: str, ours: float, theirs: float) -> bool:
    """Whether ``ours`` is at least as good as ``theirs``: higher R², slope nearer 1, lower RPE.

    >>> better("r2", 0.95, 0.91), better("slope", 0.85, 0.79), better("rpe95", 0.293, 0.28)
    (True, True, False)
    """
    if metric == "r2":
        return ours >= theirs
    if metric == "slope":
        return abs(ours - 1) <= abs(theirs - 1)
    return ours <= theirs


def scale_counts(scale: str) -> dict[str, int]:
    """How much data stands behind a scale's results: the 2D dataset's ``slices`` and ``donors``
    (``samples.csv``), and the 3D dataset's tiles (``cubes3d/cubes.csv``): ``real_cubes`` of
    ``real_rois`` from ``specimens``, ``labelled`` of them (bone that wraps, in the cancellous
    range), and ``synthetic_cubes`` of ``synthetic_vertebrae``."""
    from bonelib.cubes.dataset import typed_rows
    from bonelib.cubes.evaluate import usable

    snapshot = config.artefacts(scale).snapshot
    with open(snapshot / "samples.csv", newline="") as handle:
        donors = [row["donor"] for row in csv.DictReader(handle)]
    cubes = typed_rows(snapshot / "cubes3d" / "cubes.csv")
    real = [row for row in cubes if row["source"] == "real"]
    return {"slices": len(donors), "donors": len(set(donors)), "real_cubes": len(real),
            "real_rois": len({row["volume"] for row in real}), "specimens": len({row["specimen"] for row in real}),
            "labelled": int(usable(real).sum()), "synthetic_cubes": len(cubes) - len(real),
            "synthetic_vertebrae": len({row["volume"] for row in cubes if row["source"] == "synthetic"})}


def scale_sentence(scale: str, shows: str = "") -> str:
    """What a page shows: the committed paper-scale snapshot, or a small run of the whole
    pipeline, with the data behind each route; ``shows`` says what this page itself shows."""
    c = scale_counts(scale)
    data = (f"2D: {c['slices']:,} slices of {c['donors']} synthetic donors; 3D: {c['real_cubes']:,} cubes of "
            f"{c['real_rois']} real ROIs of {c['specimens']} specimens ({c['labelled']:,} with an FE label) and "
            f"{c['synthetic_cubes']:,} of {c['synthetic_vertebrae']} synthetic vertebrae")
    page = f" This page shows {shows}." if shows else ""
    if scale == "paper":
        return f"Paper scale: the full-size results ({data}).{page}"
    return (f"{scale} scale: a small run of the whole pipeline, made to test that it works ({data}); its numbers "
            f"are not the paper-scale results.{page}")
