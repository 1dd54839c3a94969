"""Every model's out-of-sample predictions side by side, and their metrics (paper section 3).

Works on the result tables of a reproduction (:mod:`bonelib.learn.tables`): the per-sample
table and the predictions table, whose rows are ``(index, model_name, scheme_name, fold,
E_pred)`` — the prediction (MPa) of sample ``index`` by a model trained without it. Two
evaluations are summarised:

- ``"random"``: the paper's random split, one test set;
- ``"donor-cv"``: donor-level cross-validation; every sample is predicted once, by the
  fold that holds its donor out. Metrics are pooled over all samples, with intervals that
  resample donors, and given per fold as mean ± s.d.

The baselines are fitted on each evaluation's training and validation samples and predict
its test samples, like the networks.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from bonelib import reference
from bonelib._files import write_json
from bonelib.learn import metrics
from bonelib.learn.folds import TEST, fold_split
from bonelib.learn.laws import ZyssetCurnierLaw
from bonelib.learn.tables import PREDICTION_COLUMNS, append_predictions
from bonelib.slices.baselines import LinearCorrection

#: The evaluations, in the order of the tables.
EVALUATIONS = ("random", "donor-cv")
#: Coarsening factors of the coarse-FE baseline and their model names.
COARSE = {2: "coarse FE 2 × 2", 4: "coarse FE 4 × 4"}
#: Metrics of the per-fold summary.
FOLD_METRICS = ("r2", "slope", "mae", "rpe50", "rpe95")


def partitions(table: dict[str, NDArray], val_donors: int, seed: int = 0) -> list[tuple[str, int, NDArray]]:
    """Every evaluation's partition of the samples: ``(scheme_name, fold, codes)`` with codes
    0 train, 1 validation, 2 test; fold −1 for the random split."""
    fold_of = dict(zip(table["donor"].tolist(), table["fold"].tolist()))
    folds = range(max(fold_of.values()) + 1)
    return [("random", -1, np.asarray(table["split_random"]))] + [
        ("donor-cv", f, fold_split(table["donor"], fold_of, f, val_donors, seed)) for f in folds]


def baseline_predictions(table: dict[str, NDArray], coarse: dict[str, NDArray] | None, val_donors: int,
                         seed: int = 0) -> dict[str, NDArray]:
    """Rows of the predictions table for the baselines, fitted on each partition's non-test samples.

    Parameters
    ----------
    table : dict
        Per-sample table.
    coarse : dict, optional
        Coarse-FE table (columns ``E_coarse_2``, ``E_coarse_4`` in MPa, in the order of
        ``table``); None leaves the coarse-FE baselines out.
    val_donors : int
        Validation donors of each fold (they are fitted on like training donors).
    seed : int
        Seed of the folds' validation donors.
    """
    fabric = np.stack([table["fabric_1"], table["fabric_2"]], axis=1)
    E = table["E_eff"]
    rows: dict[str, list] = {name: [] for name in PREDICTION_COLUMNS}
    for scheme, fold, codes in partitions(table, val_donors, seed):
        fit, test = codes != TEST, codes == TEST
        predicted = {
            "vBMD regression": LinearCorrection().fit(table["vbmd"][fit], E[fit]).predict(table["vbmd"][test]),
            "BV/TV–fabric power law": ZyssetCurnierLaw().fit(table["bv_tv"][fit], E[fit], fabric[fit]).predict(
                table["bv_tv"][test], fabric[test]),
        }
        for factor, name in COARSE.items():
            if coarse is not None:
                x = coarse[f"E_coarse_{factor}"]
                predicted[name] = LinearCorrection().fit(x[fit], E[fit]).predict(x[test])
        for name, values in predicted.items():
            append_predictions(rows, np.flatnonzero(test), name, scheme, fold, values)
    return {key: np.asarray(value) for key, value in rows.items()}


def summarise(table: dict[str, NDArray], predictions: dict[str, NDArray], n_resamples: int = 1000,
              seed: int = 0) -> dict:
    """Metrics of every model and evaluation from the two tables.

    Returns
    -------
    dict
        ``evaluation → model → {"pooled": metrics.report, "folds": {metric: {"mean", "sd",
        "values"}}}`` (``"folds"`` for the cross-validation only). The pooled intervals of the
        cross-validation resample donors; those of the random split resample samples.
    """
    E, donors = table["E_eff"], table["donor"]
    summary: dict[str, dict] = {}
    for scheme in EVALUATIONS:
        chosen = predictions["scheme_name"] == scheme
        for model in dict.fromkeys(predictions["model_name"][chosen].tolist()):
            rows = chosen & (predictions["model_name"] == model)
            index, predicted = predictions["index"][rows], predictions["E_pred"][rows]
            groups = donors[index] if scheme == "donor-cv" else None
            entry = {"pooled": metrics.report(predicted, E[index], n_resamples=n_resamples, seed=seed, groups=groups)}
            if scheme == "donor-cv":
                folds = predictions["fold"][rows]
                values = {name: [metrics.METRICS[name](predicted[folds == f], E[index][folds == f])
                                 for f in np.unique(folds)] for name in FOLD_METRICS}
                entry["folds"] = {name: {"mean": float(np.mean(v)), "sd": float(np.std(v, ddof=1)) if len(v) > 1 else 0.0,
                                         "values": [float(x) for x in v]} for name, v in values.items()}
            summary.setdefault(scheme, {})[model] = entry
    return summary


def calibration(predicted: NDArray, spread: NDArray, reference_moduli: NDArray, donors: NDArray,
                n_resamples: int = 1000, seed: int = 0) -> dict:
    """How well an ensemble's spread measures its error, on samples none of its networks saw.

    Returns the metrics of the ensemble mean (intervals resampling donors) and ``within_2sd``:
    the share of samples whose FE modulus lies within ± 2 spreads of the prediction (about
    0.95 for a calibrated Gaussian uncertainty).
    """
    inside = np.abs(np.asarray(reference_moduli) - predicted) <= 2 * np.asarray(spread)
    return {**metrics.report(predicted, reference_moduli, n_resamples=n_resamples, seed=seed, groups=donors),
            "within_2sd": float(inside.mean()), "donors": len(set(np.asarray(donors).tolist()))}


def write_metrics(path: str | Path, scale: str, summary: dict, **extra) -> dict:
    """Write a summary with the paper's reported figures (for comparison only) as JSON, atomically."""
    results = {"scale": scale, "evaluations": summary,
               "paper": {**reference.CNN_METRICS, "vbmd_r2": reference.VBMD_R2,
                         "test_samples": reference.SPLIT_COUNTS["test"]}, **extra}
    write_json(path, results)
    return results


#: Columns of :func:`table_rows`, with the digits of each metric.
COLUMNS = {"r2": ("R²", 3), "slope": ("slope", 3), "mae": ("MAE (MPa)", 0), "rpe50": ("RPE50", 3),
           "rpe95": ("RPE95", 3)}


def _cell(entry: dict, digits: int) -> str:
    return f"{entry['value']:.{digits}f} [{entry['low']:.{digits}f}, {entry['high']:.{digits}f}]"


def run_labels(runs: Iterable[dict]) -> dict[tuple[str, str], str]:
    """Model names with the epochs their runs took (``improved CNN (20 epochs)``), per model
    and evaluation scheme, from the runs' records (``model``, ``scheme``, ``epochs_run``: the
    ``metrics.json`` of :func:`bonelib.slices.train.fit`).

    The paper's network is labelled with the paper's epochs beside its own, so that a network
    not trained to them says so wherever it appears.

    >>> run_labels([{"model": "paper", "scheme": "random", "epochs_run": 44}])
    {("paper's CNN", 'random'): "paper's CNN (44 of the paper's 200 epochs)"}
    """
    from bonelib.reference import EPOCHS

    runs = list(runs)
    labels = {}
    for model, name in (("paper", "paper's CNN"), ("improved", "improved CNN")):
        for scheme in sorted({r["scheme"] for r in runs if r["model"] == model}):
            epochs = sorted({r["epochs_run"] for r in runs if r["model"] == model and r["scheme"] == scheme})
            span = f"{epochs[0]}{'–' + str(epochs[-1]) if len(epochs) > 1 else ''}"
            labels[name, scheme] = f"{name} ({span} of the paper's {EPOCHS} epochs)" if model == "paper" else \
                f"{name} ({span} epochs)"
    return labels


def table_rows(results: dict, labels: dict[str, str] | None = None) -> tuple[list[str], list[list[str]]]:
    """Header and rows of the results table (pooled value [95 % interval]), the paper's figures last.

    ``labels`` renames models in the first column (e.g. to add the epochs a network ran), keyed
    by ``(model, scheme)`` or by model.
    """
    labels = labels or {}
    header = ["model", "evaluation (test samples)", *(title for title, _ in COLUMNS.values())]
    rows = []
    for scheme, models in results["evaluations"].items():
        for name, entry in models.items():
            report = entry["pooled"]
            rows.append([labels.get((name, scheme), labels.get(name, name)), f"{scheme} ({report['n']})",
                         *(_cell(report[k], d) for k, (_, d) in COLUMNS.items())])
    paper = results["paper"]
    rows.append(["paper's CNN (Lu et al. 2023)", f"random ({paper['test_samples']})",
                 *(f"{paper[k]:.2f}" if k in paper else "–" for k in COLUMNS)])
    rows.append(["paper's vBMD regression", "all samples", f"{paper['vbmd_r2']:.2f}", *("–" for _ in list(COLUMNS)[1:])])
    return header, rows
