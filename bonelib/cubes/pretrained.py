"""The shipped 3D networks: an ensemble of the leave-specimens-out folds' networks.

Each fold's network was trained on the specimens of the other folds, as the correction of its
fold's density–fabric law (:class:`bonelib.learn.laws.ZyssetCurnierLaw`). The ensemble predicts
the geometric mean of their E_z and gives their spread as the uncertainty, and checks each cube
against what the networks were trained on (:meth:`CubeEnsemble.check`).

Files (``bonelib/data/models3d`` for the paper-scale ensemble): one ``<fold>.npz`` per network
(:func:`bonelib.learn.weights.save_weights`) and ``ensemble.json`` (:func:`write_index`).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from numpy.typing import ArrayLike, NDArray

from bonelib.cubes import network
from bonelib.learn import domain
from bonelib.learn.conformal import RelativeInterval
from bonelib.learn.ensemble import Ensemble

#: Where the paper-scale 3D ensemble ships.
PACKAGED = Path(__file__).resolve().parents[1] / "data" / "models3d"


def write_index(folder: str | Path, names: list[str], side: int, training_range: dict, **extra) -> Path:
    """Write ``ensemble.json``: the networks (``<name>.npz`` in ``folder``, written by
    :func:`bonelib.learn.weights.save_weights`; their ``widths`` among ``extra``), the cube side (voxels),
    the ``training_range`` (``vbmd`` in mg HA/cm³ → [low, high] of the training cubes), the
    :data:`~bonelib.cubes.network.ARCHITECTURE` of :func:`~bonelib.cubes.network.cube_model` that built them and ``extra``."""
    from bonelib._files import write_json

    write_json(Path(folder) / "ensemble.json", {"networks": names, "side": side, "training_range": training_range,
                                                "architecture": network.ARCHITECTURE, **extra})
    return Path(folder) / "ensemble.json"


class CubeEnsemble(Ensemble):
    """3D networks whose geometric mean is the prediction and whose spread is the uncertainty
    (:class:`bonelib.learn.ensemble.Ensemble`): ``models`` of :func:`~bonelib.cubes.network.cube_model` by name, each the
    correction of its fold's law, ``training_range`` of ``vbmd`` (mg HA/cm³)."""

    @property
    def side(self) -> int:
        """Side of the cubes the networks take (voxels of 82 µm)."""
        return int(self.info["side"])

    def predict(self, grey: ArrayLike, calibration) -> tuple[NDArray, NDArray]:
        """E_z (MPa) of grey cubes (N, s, s, s) and the spread: the s.d. of the networks' E_z.

        Each network corrects its fold's law (``info["laws"]``: the fields of
        :class:`bonelib.learn.laws.ZyssetCurnierLaw`), read from the same grey cube."""
        from bonelib.cubes.dataset import grey_measures
        from bonelib.imaging.density import to_vbmd
        from bonelib.learn.laws import ZyssetCurnierLaw

        inputs = network.cube_inputs(grey, calibration)
        measures = [grey_measures(to_vbmd(cube, calibration)) for cube in np.asarray(grey)]
        bv_tv, m_z = (np.array([m[key] for m in measures]) for key in ("bv_tv_grey", "m_z"))
        # A cube with (almost) no bone lies far outside the training range (check() says so);
        # the floor keeps its law finite.
        bv_tv, m_z = np.maximum(bv_tv, 1e-3), np.maximum(m_z, 1e-3)
        each = np.stack([ZyssetCurnierLaw(**self.info["laws"][name]).predict(bv_tv, m_z) * network.predict_modulus(model, inputs)
                         for name, model in self.models.items()])
        return self.combine(each, geometric=True)

    def check(self, grey: ArrayLike, calibration) -> list[list[str]]:
        """Why each cube lies outside what the networks were trained on (empty: it does not).

        A cube is flagged when its mean ρ_HA, or (with the ensemble's :attr:`domain`, the ranges of
        its training cubes) its BV/TV, its fabric along z or a quantile of its density histogram,
        lies outside the training range, and when its bone, as the FE model sees it, does not wrap
        around the cube along every axis: the networks learnt only cubes whose bone does (their
        FE labels keep no marrow)."""
        from bonelib.cubes.dataset import grey_measures
        from bonelib.cubes.placement import cube_materials
        from bonelib.fe.homogenise_3d import elements_of
        from bonelib.imaging.density import to_vbmd
        from bonelib.learn.domain import density_quantiles

        reasons = []
        for cube in np.asarray(grey):
            rho = to_vbmd(cube, calibration)
            found = self.unlike_training(grey_measures(rho) | density_quantiles(rho))
            try:
                wraps = elements_of(cube_materials(cube, calibration)[0], "drop")[1]
                if not wraps.all():
                    found.append("bone does not wrap around the cube along "
                                 + ", ".join(axis for axis, w in zip("xyz", wraps) if not w)
                                 + " (the networks learnt only cubes whose bone does)")
            except ValueError:
                found.append("no bone in the cube")
            reasons.append(found)
        return reasons


def load_pretrained(folder: str | Path | None = None) -> CubeEnsemble:
    """The 3D ensemble that :func:`bonelib.cubes.evaluate.leave_specimens_out` writes
    (default: the shipped one, ``bonelib/data/models3d``)."""
    from bonelib.learn.weights import load_weights, read_index

    folder = Path(folder) if folder is not None else PACKAGED
    info = read_index(folder, "python -m bonebook.reproduce_3d --scale paper")
    version = info.get("architecture", 1)
    if version != network.ARCHITECTURE:
        raise ValueError(f"{folder} holds networks of architecture {version}, this bonelib builds "
                         f"version {network.ARCHITECTURE}: train them again (python -m bonebook.reproduce_3d)")
    widths = info.get("widths", network.WIDTHS)
    models = {name: load_weights(network.cube_model(info["side"], widths=widths), folder / f"{name}.npz")
              for name in info.pop("networks")}
    return CubeEnsemble(models, info.pop("training_range"), info, RelativeInterval.read(folder), domain.read(folder))
