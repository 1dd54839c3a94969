"""The shipped networks: an ensemble of the improved CNN's cross-validation folds.

Each fold's network was trained on the donors of the other folds. The ensemble predicts the
mean of their predictions and gives their spread (standard deviation) as the uncertainty,
and checks each slice against what the networks were trained on (:meth:`SliceEnsemble.check`).

Files (``bonelib/data/models`` for the paper-scale ensemble): one ``<run>.npz`` per
network with its weights in float16 (halving the package; predictions change by less than
the networks' own error, and the stored predictions are made with these very weights) and
``ensemble.json`` with each network's settings and the training range.

Examples
--------
>>> from bonelib import synth
>>> from bonelib.imaging import scanner
>>> from bonelib.slices import pretrained
>>> ensemble = pretrained.load_pretrained()                     # doctest: +SKIP
>>> grey = synth.plan(n_donors=1)[0].scan(n_slices=2).volume   # doctest: +SKIP
>>> ensemble.predict(grey, scanner.CALIBRATION)                  # doctest: +SKIP
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from numpy.typing import ArrayLike, NDArray

from bonelib._files import write_json
from bonelib.constants import VOXEL_SIZE_MM
from bonelib.imaging.density import Calibration
from bonelib.learn import domain
from bonelib.learn.conformal import RelativeInterval
from bonelib.learn.ensemble import Ensemble
from bonelib.learn.weights import load_weights, read_index, save_weights

#: Where the paper-scale ensemble ships.
PACKAGED = Path(__file__).resolve().parents[1] / "data" / "models"


def save(models: dict, folder: str | Path, training_range: dict, **extra) -> Path:
    """Write Keras improved networks (name → model) as float16 weights and ``ensemble.json``.

    Parameters
    ----------
    models : dict
        Run name → trained :func:`bonelib.slices.network.improved_model`.
    folder : path
        Output folder (created).
    training_range : dict
        ``vbmd`` (mg HA/cm³) and ``bv_tv`` (-) → [low, high] of the training samples.
    **extra
        Further entries of ``ensemble.json`` (provenance).
    """
    from bonelib.slices import network as cnn
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    networks = {}
    for name, model in models.items():
        norm = model.get_layer("standardise").get_config()
        networks[name] = {"kind": cnn.input_kind(model), "input_shape": list(model.input_shape[1:]),
                          "mean": float(np.squeeze(norm["mean"])), "variance": float(np.squeeze(norm["variance"]))}
        save_weights(model, folder / f"{name}.npz")
    write_json(folder / "ensemble.json", {"networks": networks, "training_range": training_range, **extra})
    return folder


class SliceEnsemble(Ensemble):
    """Improved CNNs whose mean is the prediction and whose spread is the uncertainty
    (:class:`bonelib.learn.ensemble.Ensemble`): ``models`` by run name, ``training_range`` of
    ``vbmd`` (mg HA/cm³) and ``bv_tv`` (-), None when unknown (a single model of
    ``bonelib train``: then only percolation is checked)."""

    def resized(self, shape: tuple[int, int]) -> SliceEnsemble:
        """The same networks rebuilt for periodic images of another size (rows, cols)
        (:func:`bonelib.slices.network.with_input_shape`: the improved network is fully convolutional)."""
        from bonelib.slices import network as cnn
        models = {name: cnn.with_input_shape(model, (*shape, 1)) for name, model in self.models.items()}
        return SliceEnsemble(models, self.training_range, self.info, domain=self.domain)

    def inputs(self, grey: ArrayLike, calibration: Calibration) -> NDArray:
        """The networks' input of grey slices (N, 182, 182) (they all take the same kind)."""
        from bonelib.slices import network as cnn
        kinds = {cnn.input_kind(m) for m in self.models.values()}
        return cnn.inputs(grey, calibration, kinds.pop())

    def predict_inputs(self, images: NDArray) -> tuple[NDArray, NDArray]:
        """Mean and spread (s.d. over the networks) of E_eff (MPa) of ready inputs (:meth:`inputs`)."""
        from bonelib.slices import network as cnn
        return self.combine(np.stack([cnn.predict(model, images) for model in self.models.values()]))

    def predict(self, grey: ArrayLike, calibration: Calibration) -> tuple[NDArray, NDArray]:
        """Mean and spread of E_eff (MPa) of grey slices (N, 182, 182)."""
        return self.predict_inputs(self.inputs(grey, calibration))

    def check(self, grey: ArrayLike, calibration: Calibration,
              voxel_size_mm: float = VOXEL_SIZE_MM) -> list[list[str]]:
        """Why each slice lies outside what the networks were trained on (an empty list: it does not).

        A slice is flagged when its mean ρ_HA or its BV/TV (as the FE model sees them), or (with
        the ensemble's :attr:`domain`) a quantile of its density histogram, lies outside the
        range of the training slices, or when its bone does not wrap around the periodic cell in
        both directions: the FE label is then set by the marrow, a regime the synthetic training
        data never shows.
        """
        from bonelib.learn.domain import density_quantiles
        from bonelib.morphometry.planar import section_measures
        from bonelib.slices.label import density_map

        reasons = []
        for image in np.asarray(grey)[..., 0] if np.ndim(grey) == 4 else np.asarray(grey):
            rho = density_map(image, calibration)
            measures = section_measures(rho, voxel_size_mm)
            found = self.unlike_training({"vbmd": float(rho.mean()), "bv_tv": measures["bv_tv"],
                                          **density_quantiles(rho)})
            open_axes = [axis for axis in ("x", "y") if not measures[f"percolates_{axis}"]]
            if open_axes:
                found.append(f"bone does not wrap around the cell along {', '.join(open_axes)} (there the FE "
                             "modulus is the marrow's)")
            reasons.append(found)
        return reasons


def load_pretrained(folder: str | Path | None = None) -> SliceEnsemble:
    """The shipped ensemble (default: the paper-scale one in ``bonelib/data/models``).

    Parameters
    ----------
    folder : path, optional
        A folder written by :func:`save`.
    """
    from bonelib.slices import network as cnn
    folder = Path(folder) if folder is not None else PACKAGED
    info = read_index(folder, "make reproduce SCALE=paper")
    models = {}
    for name, settings in info.pop("networks").items():
        model = cnn.improved_model(tuple(settings["input_shape"]), mean=settings["mean"],
                                   variance=settings["variance"], kind=settings["kind"])
        models[name] = load_weights(model, folder / f"{name}.npz")
    return SliceEnsemble(models, info.pop("training_range"), info, RelativeInterval.read(folder), domain.read(folder))
