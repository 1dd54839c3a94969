"""The realistic cohort: rod–plate bone along the superior–inferior axis, and its acceptance logic."""

import numpy as np
import pytest
from scipy import ndimage

from bonelib import synth
from bonelib.morphometry import volume as morphometry3d
from bonelib.morphometry.connectivity import percolation
from bonelib.slices import dataset
from bonelib.slices.label import label
from bonelib.synth import realism
from bonelib.synth.realistic import RodPlate, rod_plate_bone

SHAPE = (60, 60, 60)


def bone(seed=0, **parameters):
    return rod_plate_bone(RodPlate(**parameters), SHAPE, 0.0513, np.random.default_rng(seed))


def test_generation_is_deterministic_for_a_seed():
    np.testing.assert_array_equal(bone(3), bone(3))
    assert not np.array_equal(bone(3), bone(4))


def test_trabeculae_run_superior_inferior():
    d = morphometry3d.describe(bone(0), 0.0513)
    assert d["principal_axis"] == 0 and d["da"] > 1.05
    assert 0.03 < d["bv_tv"] < 0.3


def test_vertical_rods_alone_carry_nothing_across_a_transverse_plane():
    rods = bone(1, plate_fraction=0.0, horizontal_loss=1.0)
    labels, _ = ndimage.label(rods)
    spanning = set(np.unique(labels[0])) & set(np.unique(labels[-1])) - {0}
    assert spanning  # rods run from the bottom face to the top face …
    assert not percolation(rods[30]).any()  # … and a transverse section cuts them into dots


def test_more_plates_and_thicker_rods_make_more_bone():
    fractions = [bone(2, plate_fraction=p).mean() for p in (0.0, 0.3, 0.6)]
    assert fractions[0] < fractions[1] < fractions[2]
    assert bone(2, vertical_rod_mm=0.2).mean() > bone(2, vertical_rod_mm=0.1).mean()


def test_plan_is_deterministic_and_extends():
    assert synth.realistic_plan(4, seed=1) == synth.realistic_plan(4, seed=1)
    assert synth.realistic_plan(4, seed=1)[:6] == synth.realistic_plan(2, seed=1)
    ages = [s.age for s in synth.realistic_plan(20)]
    assert 65 <= min(ages) and max(ages) <= 90
    with pytest.raises(ValueError):
        synth.realistic_plan(0)


def test_a_realistic_dataset_builds_through_the_same_pipeline(tmp_path):
    tiny = dataset.Scale(n_donors=3, samples=6, test_donors=1, val_donors=1)
    with pytest.raises(ValueError, match="cohort"):
        dataset.build(tmp_path / "x.zarr", scale=tiny, cohort="imaginary", scheduler="synchronous", progress=False)
    store = dataset.build(tmp_path / "r.zarr", scale=dataset.Scale(n_donors=2, samples=6, test_donors=1, val_donors=0),
                          cohort="realistic", scheduler="synchronous", progress=False)
    samples = dataset.load(store)
    assert samples.images.shape == (6, 182, 182, 1) and set(samples.donor) == {"R01", "R02"}
    assert samples.E_eff[0] == label(samples.images[0, ..., 0], samples.calibration).E_eff
    assert np.median(samples.E_eff) < 1.0  # rod–plate sections hold no in-plane load path: the marrow floor


def test_compare_accepts_a_match_and_rejects_a_shift():
    rng = np.random.default_rng(0)

    def measures(scale=1.0, percolating=0.0):
        cubes = [{k: scale * v for k, v in zip(realism.MEASURES_3D, rng.uniform(0.9, 1.1, 6))} for _ in range(20)]
        rows = [{"bv_tv": scale * 0.07, "euler_per_mm2": scale * 0.4, "largest_cluster": scale * 0.15,
                 "percolates": float(rng.random() < percolating)} for _ in range(40)]
        return {"3d": cubes, "2d": rows}

    real = measures()
    assert all(row["passes"] for row in realism.compare(real, measures()))
    shifted = realism.compare(real, measures(scale=1.3))
    assert not any(row["passes"] for row in shifted if row["measure"] != "section percolation rate")
    percolating = realism.compare(real, measures(percolating=0.5))
    assert not next(r for r in percolating if r["measure"] == "section percolation rate")["passes"]
