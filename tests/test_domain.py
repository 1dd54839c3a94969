"""The shipped ensembles say when an input's grey-value histogram is unlike their training inputs'.

Each ensemble's ``domain.json`` holds the ranges, over its training inputs, of the quantiles of
their density; a training input regenerated from the seed lies inside them, and the same input
with its histogram stretched about its mean (as a sharper reconstruction kernel or another
scanner would give) keeps its mean density yet is flagged.
"""

import json

import numpy as np
import pytest

from bonebook import config
from bonelib.learn import domain


def test_ranges_and_words():
    rows = [domain.density_quantiles(np.linspace(-100, 900, 1001)), domain.density_quantiles(np.linspace(0, 1000, 1001))]
    training = domain.ranges(rows)
    assert training["rho_p50"] == [400.0, 500.0] and training["rho_p01"] == [-90.0, 10.0]
    assert domain.outside({"rho_p50": 450.0, "rho_p99": 990.0}, training) == []
    (reason,) = domain.outside({"rho_p99": 1500.0, "m_x": 9.0}, training)  # a measure without a range is not judged
    assert reason == "99th percentile of ρ_HA 1,500 mg HA/cm³ outside the training range 890–990 mg HA/cm³"
    with pytest.raises(ValueError, match="no training inputs"):
        domain.ranges([])


def stretched(grey: np.ndarray, factor: float) -> np.ndarray:
    """Grey values (so their density too) with their spread about their mean scaled by ``factor``."""
    grey = grey.astype(np.float64)
    return grey.mean() + factor * (grey - grey.mean())


def test_the_2d_ensemble_knows_its_training_slices_histograms():
    from bonelib.slices import pretrained
    from bonelib.slices.dataset import plan_synthetic
    from bonelib.slices.label import density_map

    ensemble = pretrained.load_pretrained()
    assert set(ensemble.domain) == {"rho_p01", "rho_p50", "rho_p99"}
    task = plan_synthetic("paper", config.SEED)[0][0]
    volume, calibration = task.source.volume()
    grey = volume[40]  # a training slice, regenerated from the seed
    quantiles = domain.density_quantiles(density_map(grey, calibration))
    assert all(low <= quantiles[name] <= high for name, (low, high) in ensemble.domain.items())
    assert not [r for r in ensemble.check(grey[None], calibration)[0] if "percentile" in r]
    reasons = ensemble.check(stretched(grey, 2.0)[None], calibration)[0]
    assert any("percentile of ρ_HA" in r for r in reasons)
    assert not any(r.startswith("mean ρ_HA") for r in reasons)  # its mean density alone looks familiar


def test_the_3d_ensemble_knows_its_training_cubes_histograms():
    from bonelib.cubes import dataset as cube_dataset
    from bonelib.cubes.placement import place_cubes
    from bonelib.cubes.pretrained import load_pretrained
    from bonelib.imaging.density import to_vbmd

    ensemble = load_pretrained()
    assert set(ensemble.domain) == {"bv_tv_grey", "m_z", "rho_p01", "rho_p50", "rho_p99"}
    table = json.loads((config.artefacts("paper").models_3d / "ensemble.json").read_text())
    assert table["sources"] == ["real"]
    volume = cube_dataset.volumes(synthetic=0)[0]  # a shipped ROI, every one of whose specimens trained a network
    grey, calibration, bone = cube_dataset.scanned(volume)
    cube = next(c for c in place_cubes(bone, ensemble.side) if c.cancellous)
    quantiles = domain.density_quantiles(to_vbmd(cube.of(grey), calibration))
    assert all(low <= quantiles[name] <= high for name, (low, high) in ensemble.domain.items() if name in quantiles)
    assert not [r for r in ensemble.check(cube.of(grey)[None], calibration)[0] if "percentile" in r]
    assert any("percentile of ρ_HA" in r for r in ensemble.check(stretched(cube.of(grey), 2.0)[None], calibration)[0])
