"""Predictions of every model on a test split, side by side (paper section 3).

Gathers the FE reference, the CNNs' predictions (from their run folders) and the
baselines' (fitted on the training split) for one split scheme, and the metrics of each.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from bonelib import metrics, reference
from bonelib._files import write_json
from bonelib.baselines import DensityRegression, FabricPowerLaw
from bonelib.dataset import load


@dataclass
class Comparison:
    """FE moduli of a test split and each model's predictions of them (MPa).

    Attributes
    ----------
    scheme : str
        Split scheme (``"donor"`` or ``"random"``).
    reference : numpy.ndarray
        (N,) FE effective moduli of the test samples (MPa).
    predictions : dict of str to numpy.ndarray
        Model name → (N,) predicted moduli (MPa).
    """

    scheme: str
    reference: NDArray
    predictions: dict[str, NDArray] = field(default_factory=dict)

    def reports(self, n_resamples: int = 1000) -> dict[str, dict]:
        """Every model's metrics with bootstrap intervals (:func:`bonelib.metrics.report`)."""
        return {name: metrics.report(p, self.reference, n_resamples=n_resamples, scheme=self.scheme)
                for name, p in self.predictions.items()}


def baselines(data: str | Path, scheme: str) -> Comparison:
    """The density-only regression and the BV/TV–fabric power law, fitted on the training split.

    Parameters
    ----------
    data : path
        Dataset store.
    scheme : {"donor", "random"}
        Split scheme.
    """
    training, test = (load(data, split, scheme, images=False) for split in ("train", "test"))
    density = DensityRegression().fit(training.vbmd, training.E_eff)
    power = FabricPowerLaw().fit(training.bv_tv, training.fabric, training.E_eff)
    return Comparison(scheme, test.E_eff, {
        "vBMD regression": density.predict(test.vbmd),
        "BV/TV–fabric power law": power.predict(test.bv_tv, test.fabric),
    })


def cnn_predictions(run: str | Path, data: str | Path, scheme: str) -> NDArray:
    """Test-split predictions (MPa) of the best model saved in a run folder of :func:`bonelib.training.train`."""
    import keras

    from bonelib import cnn

    model_file = Path(run) / "model.keras"
    if not model_file.exists():
        raise FileNotFoundError(f"{run}: no model.keras (train it first)")
    test = load(data, "test", scheme)
    return cnn.predict(keras.saving.load_model(model_file), cnn.inputs(test.images, test.calibration))


def compare(data: str | Path, scheme: str, runs: dict[str, str | Path]) -> Comparison:
    """The baselines and the CNNs of ``runs`` (name → run folder) on one test split."""
    comparison = baselines(data, scheme)
    for name, run in runs.items():
        comparison.predictions[name] = cnn_predictions(run, data, scheme)
    return comparison


def write_results(path: str | Path, scale: str, comparisons: list[Comparison], n_resamples: int = 1000) -> dict:
    """Write the metrics of every model and split to a JSON file (atomically) and return them.

    The file holds ``scale``, ``models`` (scheme → model → :func:`bonelib.metrics.report`)
    and ``paper`` (the paper's reported figures, for comparison only).
    """
    results = {
        "scale": scale,
        "models": {c.scheme: c.reports(n_resamples) for c in comparisons},
        "paper": {**reference.CNN_METRICS, "vbmd_r2": reference.VBMD_R2, "test_samples": reference.SPLIT_COUNTS["test"]},
    }
    write_json(path, results)
    return results


#: Columns of :func:`table_rows`, with the digits of each metric.
COLUMNS = {"r2": ("R²", 3), "slope": ("slope", 3), "mae": ("MAE (MPa)", 0), "rpe50": ("RPE50", 3),
           "rpe95": ("RPE95", 3)}


def _cell(entry: dict, digits: int) -> str:
    return f"{entry['value']:.{digits}f} [{entry['low']:.{digits}f}, {entry['high']:.{digits}f}]"


def table_rows(results: dict) -> tuple[list[str], list[list[str]]]:
    """Header and rows of the results table (value [95 % interval]), the paper's figures last."""
    header = ["model", "scheme (test samples)", *(title for title, _ in COLUMNS.values())]
    rows = []
    for scheme, models in results["models"].items():
        for name, report in models.items():
            rows.append([name, f"{scheme} ({report['n']})", *(_cell(report[k], d) for k, (_, d) in COLUMNS.items())])
    paper = results["paper"]
    rows.append(["paper's CNN (Lu et al. 2023)", f"random ({paper['test_samples']})",
                 *(f"{paper[k]:.2f}" if k in paper else "–" for k in COLUMNS)])
    rows.append(["paper's vBMD regression", "all samples", f"{paper['vbmd_r2']:.2f}", *("–" for _ in list(COLUMNS)[1:])])
    return header, rows
