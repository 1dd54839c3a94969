"""The 3D route's dataset, laws, network and evaluation (bonelib.cubes: dataset, baselines,
network, evaluate, pretrained) and ``bonelib predict --route 3d``."""

from __future__ import annotations

import csv
import math
from pathlib import Path

import numpy as np
import pytest

from bonelib.cubes import dataset as cube_dataset
from bonelib.cubes import evaluate as cube_evaluation
from bonelib.cubes import network as cnn3d
from bonelib.cubes import pretrained as pretrained3d
from bonelib.imaging.scanner import CALIBRATION, Scanner, resample, scan
from bonelib.learn.layers import symmetric_images
from bonelib.morphometry.volume import gradient_fabric

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "results" / "paper" / "cubes3d"


def lattice(side: int = 20, period: int = 5, width: int = 2) -> np.ndarray:
    """Rods along all three axes, one per period: cubic symmetry, wraps along every axis."""
    index = np.arange(side) % period < width
    return (index[:, None, None] & index[None, :, None]) | (index[:, None, None] & index[None, None, :]) | (
        index[None, :, None] & index[None, None, :])


def test_gradient_fabric_of_plates_and_of_isotropic_bone():
    plates = np.zeros((20, 20, 20))
    plates[:, :, ::4] = 1
    np.testing.assert_allclose(np.diag(gradient_fabric(plates)), [1.5, 1.5, 0.0], atol=1e-12)
    fabric = gradient_fabric(lattice())
    assert np.trace(fabric) == pytest.approx(3.0)
    np.testing.assert_allclose(np.diag(fabric), 1.0, atol=1e-12)  # cubic symmetry: isotropic along the axes
    off = fabric[~np.eye(3, dtype=bool)]
    np.testing.assert_allclose(off, off[0], atol=1e-12)
    turned = gradient_fabric(np.transpose(plates, (2, 0, 1)))
    np.testing.assert_allclose(np.diag(turned), [0.0, 1.5, 1.5], atol=1e-12)
    with pytest.raises(ValueError, match="3D"):
        gradient_fabric(np.zeros((4, 4)))


def test_bv_tv_from_the_grey_cube_is_the_bone_fraction():
    """The scanner conserves bone mass, so BV/TV from density recovers the micro-CT's."""
    micro = np.random.default_rng(1).random((80, 80, 80)) < 0.2
    grey, calibration = scan(micro, 0.0513, seed=3)
    measures = cube_dataset.grey_measures(calibration.slope * grey + calibration.intercept)
    fraction = resample(micro, 0.0513)
    assert measures["bv_tv_grey"] == pytest.approx(float(fraction.mean()), abs=0.005)
    assert measures["m_x"] + measures["m_y"] + measures["m_z"] == pytest.approx(3.0)
    scanner = Scanner()
    for fraction, expected in ((0.0, 0.0), (1.0, 1.0), (0.25, 0.25)):
        rho = np.full((8, 8, 8), scanner.marrow_density + fraction * (scanner.tissue_density - scanner.marrow_density))
        assert cube_dataset.grey_measures(rho)["bv_tv_grey"] == pytest.approx(expected, abs=1e-12)


def test_a_cubic_lattice_is_labelled_with_equal_axial_moduli_and_plates_are_flagged():
    row = cube_dataset.label_cube(lattice())
    assert row["wraps"]
    assert row["E_x"] == pytest.approx(row["E_y"], rel=1e-9) and row["E_z"] == pytest.approx(row["E_x"], rel=1e-9)
    assert 0 < row["E_z"] < 10_000 * row["bv_tv"]  # below the Voigt bound
    plates = np.zeros((20, 20, 20), bool)
    plates[:, :, ::5] = True  # wrap along axes 0 and 1, not across the plates
    flagged = cube_dataset.label_cube(plates)
    assert not flagged["wraps"] and math.isnan(flagged["E_z"]) and math.isnan(flagged["C_33"])


def test_a_cube_turned_to_another_axis_is_labelled_by_the_modulus_along_that_axis():
    """axis_views: the turned cube's own FE modulus and fabric along axis 0 are E_<axis> and m_<axis>."""
    index = np.arange(12) % 4
    rods = [index < w for w in (1, 2, 3)]  # thin, medium and thick rods: E_x, E_y, E_z all differ
    bone = ((rods[0][:, None, None] & rods[1][None, :, None]) | (rods[0][:, None, None] & rods[2][None, None, :])
            | (rods[1][None, :, None] & rods[2][None, None, :]))
    bone[:, :, 0] |= np.arange(12)[:, None] % 3 == 0  # and plates across one face, so that no two axes match
    grey = np.where(bone, 2000, 0).astype(np.int16)[None]
    rows = [cube_dataset.label_cube(bone) | cube_dataset.grey_measures(bone * 1000.0)]
    assert len({round(rows[0][f"E_{a}"], 6) for a in "xyz"}) == 3
    cubes, modulus, bv_tv, m = cube_evaluation.axis_views(grey, rows, np.array([0]), ("z", "y", "x"))
    for turned, expected, fabric in zip(cubes, modulus, m):
        label = cube_dataset.label_cube(turned > 1000)
        assert label["E_z"] == pytest.approx(expected, rel=1e-9)
        assert cube_dataset.grey_measures(turned * 0.5)["m_z"] == pytest.approx(fabric, rel=1e-9)
    np.testing.assert_array_equal(bv_tv, rows[0]["bv_tv_grey"])
    with pytest.raises(ValueError, match="axes"):
        cube_evaluation.axis_views(grey, rows, np.array([0]), ("w",))


@pytest.mark.skipif(not (RESULTS / "cubes.csv").exists(), reason="no committed 3D results")
@pytest.mark.parametrize("kind", ["tiles", "between", "beside"])
def test_a_committed_cube_label_is_recomputed_from_the_code(kind):
    """The first real ROI's cubes (its tiles, or the cubes between or beside them): grey measures
    and, for one wrapping cube, the whole FE label."""
    table = RESULTS / cube_dataset.STORED[kind][1]
    if not table.exists():
        pytest.skip("no committed 3D labels")
    with open(table, newline="") as handle:
        stored = [r for r in csv.DictReader(handle)]
    volume = next(v for v in cube_dataset.volumes(real=1, synthetic=0))
    rows = [r for r in stored if r["volume"] == volume.name]
    micro, voxel_size_mm = volume.micro_ct()
    grey, calibration = scan(micro, voxel_size_mm, seed=volume.seed)
    bone = resample(micro, voxel_size_mm) >= 0.5
    from bonelib.cubes.placement import place_cubes

    cubes = place_cubes(bone, cube_dataset.SIDE, kind)
    assert len(cubes) == len(rows)
    for cube, row in zip(cubes, rows):
        measures = cube_dataset.grey_measures(calibration.slope * cube.of(grey) + calibration.intercept)
        assert float(row["vbmd"]) == pytest.approx(measures["vbmd"], rel=1e-9)
        assert float(row["bv_tv"]) == pytest.approx(cube.bv_tv, rel=1e-12)
    row, cube = next((r, c) for r, c in zip(rows, cubes) if r["wraps"] == "True")
    label = cube_dataset.label_cube(cube.of(bone))
    for key in ("E_x", "E_y", "E_z", "C_12", "C_44", "tb_th"):
        assert float(row[key]) == pytest.approx(label[key], rel=1e-6)


def test_the_3d_network_is_exactly_invariant_to_the_symmetries_of_its_label():
    model = cnn3d.cube_model(side=16, seed=0)
    cube = np.random.default_rng(0).random((1, 16, 16, 16, 1)).astype(np.float32) * 0.3
    reference = cnn3d.predict_modulus(model, cube)
    for image in symmetric_images(cube)[1:]:
        np.testing.assert_allclose(cnn3d.predict_modulus(model, np.ascontiguousarray(image)), reference, rtol=1e-5)
    assert len(symmetric_images(cube)) == 16


def test_the_cubes_between_the_tiles_are_mostly_new_bone():
    from bonelib.cubes.placement import between_origins, tile_origins

    shape, side = (124, 130, 118), 50
    tiles, between = tile_origins(shape, side), between_origins(shape, side)
    assert len(tiles) == 8 and len(between) == 7 and not set(tiles) & set(between)

    def shared(a, b):  # voxels two cubes share, as a share of one cube
        return np.prod([max(0, side - abs(x - y)) for x, y in zip(a, b)]) / side**3

    assert all(0 <= o and o + side <= n for origin in between for o, n in zip(origin, shape))
    assert max(shared(a, b) for a in between for b in tiles) == 0.25  # a quarter at most
    assert sorted(sum(shared(a, b) > 0 for b in tiles) for a in between) == [4] * 6 + [8]
    assert between_origins((124, 124, 60), side) == [(37, 37, 5)]  # one tile thick: one cube between
    assert between_origins((60, 60, 60), side) == []


def test_tiles_between_and_beside_make_every_position_of_the_half_side_lattice():
    from bonelib.cubes.placement import beside_origins, between_origins, tile_origins

    shape, side = (124, 124, 124), 50
    positions = [tile_origins(shape, side), between_origins(shape, side), beside_origins(shape, side)]
    every = [origin for kind in positions for origin in kind]
    assert [len(kind) for kind in positions] == [8, 7, 12] and len(set(every)) == 27 == 3 ** 3
    tiles = positions[0]

    def shared(a, b):
        return np.prod([max(0, side - abs(x - y)) for x, y in zip(a, b)]) / side**3

    # a cube beside the tiles shares half of itself with each of two tiles
    assert all(sorted(shared(a, b) for b in tiles)[-2:] == [0.5, 0.5] for a in positions[2])


def fake_dataset(side: int = 16, specimens: str = "AB"):
    """Grey cubes whose E_z grows with their density: 3 cubes of each real specimen and 4 synthetic."""
    rng = np.random.default_rng(2)
    rows, grey = [], []
    sources = [("real", specimen) for specimen in specimens for _ in range(3)] + [("synthetic", "R01")] * 4
    for k, (source, specimen) in enumerate(sources):
        fraction = 0.1 + 0.03 * k
        rho = np.where(rng.random((side,) * 3) < fraction, 1050.0, -20.0)
        grey.append(np.round((rho - CALIBRATION.intercept) / CALIBRATION.slope).astype(np.int16))
        rows.append({"volume": f"{source}-{specimen}-{k}", "cube": 0, "source": source, "specimen": specimen,
                     "wraps": True, "cancellous": True, "E_z": 5000 * fraction**2, "bv_tv_grey": fraction,
                     "m_z": 1.0 + 0.01 * k, "vbmd": float(rho.mean())})
    return np.stack(grey), rows


def test_leave_specimens_out_never_trains_on_a_held_out_specimen_and_resumes(tmp_path, monkeypatch):
    grey, rows = fake_dataset()
    seen = []
    original = cube_evaluation.fold_predictions

    def spy(grey_, rows_, held_out, *args):
        made = original(grey_, rows_, held_out, *args)
        seen.append((set(held_out), {rows_[i]["specimen"] for i in made[0]}))
        return made

    monkeypatch.setattr(cube_evaluation, "fold_predictions", spy)
    cube_evaluation.leave_specimens_out(tmp_path, grey, rows, n_folds=2, epochs=1, sources=("real",), progress=False,
                                        val_specimens=0)
    assert sorted(s for held, _ in seen for s in held) == ["A", "B"]
    assert all(held == predicted for held, predicted in seen)
    predictions, metrics = cube_evaluation.read_predictions(tmp_path)
    assert len(predictions["index"]) == 6 * len(cube_evaluation.MODELS)  # the long table: a row per cube and model
    law = cube_evaluation.held_out(predictions, rows, "power_law")
    assert sorted(law["volume"]) == sorted(r["volume"] for r in rows[:6])
    assert set(cube_evaluation.MODELS) <= set(metrics) and metrics["specimens"] == 2
    np.testing.assert_allclose(law["E_pred"], law["E_z"], rtol=1e-6)  # E_z is an exact power law
    cube_evaluation.leave_specimens_out(tmp_path, grey, rows, n_folds=2, epochs=1, sources=("real",), progress=False,
                                        val_specimens=0)
    assert len(seen) == 2  # resumed: no fold retrained
    ensemble = pretrained3d.load_pretrained(tmp_path / "models")
    moduli, spread = ensemble.predict(grey[:2], CALIBRATION)
    assert moduli.shape == spread.shape == (2,) and np.all(moduli > 0) and np.all(spread >= 0)
    dense = np.full((1, 16, 16, 16), 2000, np.int16)  # 700 mg HA/cm³, far above the training range
    assert any("mean ρ_HA" in reason for reason in ensemble.check(dense, CALIBRATION)[0])
    assert not any("mean ρ_HA" in reason for reason in ensemble.check(grey[:1], CALIBRATION)[0])


def test_a_validation_specimen_chooses_the_epoch_and_is_neither_learnt_nor_scored(tmp_path, monkeypatch):
    from bonelib.learn.folds import donor_folds

    grey, rows = fake_dataset(specimens="ABC")
    trained = []
    original = cnn3d.train

    def spy(inputs, modulus, **kwargs):
        trained.append((len(inputs), len(kwargs["validation"][0])))
        return original(inputs, modulus, **kwargs)

    monkeypatch.setattr(cnn3d, "train", spy)
    cube_evaluation.leave_specimens_out(tmp_path, grey, rows, n_folds=3, epochs=2, sources=("real",), progress=False,
                                        widths=(4, 4, 8))
    info = pretrained3d.load_pretrained(tmp_path / "models").info
    fold_of = donor_folds(list("ABC"), 3, seed=0)  # the 2D route's folds, a specimen being a donor
    assert info["folds"] == [[s for s in "ABC" if fold_of[s] == k] for k in range(3)]
    for held, checked in zip(info["folds"], info["validation"]):
        assert len(checked) == 1 and not set(held) & set(checked)
    assert trained == [(3, 3)] * 3  # one specimen learnt, one validates, one held out
    predictions, _ = cube_evaluation.read_predictions(tmp_path)
    scored = cube_evaluation.held_out(predictions, rows, "cnn3d")
    assert sorted(scored["specimen"]) == sorted("AAABBBCCC")  # each cube scored once, by the fold that held it out
    with open(tmp_path / "folds" / "fold0-history.csv", newline="") as handle:
        history = list(csv.DictReader(handle))
    assert [row["epoch"] for row in history] == ["0", "1"] and all(float(row["val_loss"]) > 0 for row in history)
    with pytest.raises(ValueError, match="val_donors"):
        cube_evaluation.leave_specimens_out(tmp_path / "too-many", grey, rows, n_folds=3, val_specimens=2)


def test_cubes_between_tiles_train_only_the_folds_that_hold_their_specimen_in(tmp_path, monkeypatch):
    grey, rows = fake_dataset()
    marks = {"A": 101, "B": 202}  # each cube between tiles is one grey value, that of its specimen
    between = (np.stack([np.full(grey.shape[1:], marks[s], np.int16) for s in "AABB"]),
               [rows[0] | {"specimen": s, "volume": f"real-{s}-9", "cube": k} for k, s in enumerate("AABB")])
    trained = []
    original = cnn3d.train

    def spy(inputs, modulus, **kwargs):
        trained.append(inputs)
        return original(inputs, modulus, **kwargs)

    monkeypatch.setattr(cnn3d, "train", spy)
    options = {"n_folds": 2, "epochs": 1, "sources": ("real",), "progress": False, "val_specimens": 0}
    cube_evaluation.leave_specimens_out(tmp_path, grey, rows, extra={"between": between}, **options)
    predictions, _ = cube_evaluation.read_predictions(tmp_path)
    scored = cube_evaluation.held_out(predictions, rows, "cnn3d")["volume"]
    assert sorted(scored) == sorted(r["volume"] for r in rows[:6])  # tiles only
    folds = pretrained3d.load_pretrained(tmp_path / "models").info["folds"]
    marked_inputs = {s: cnn3d.cube_inputs(np.full((1, *grey.shape[1:]), value, np.int16), CALIBRATION)[0]
                     for s, value in marks.items()}
    for (held_out,), inputs in zip(folds, trained):
        marked = {s for s, mark in marked_inputs.items() for cube in inputs if np.array_equal(cube, mark)}
        kept = "B" if held_out == "A" else "A"
        assert marked == {kept} and len(inputs) == 3 + 2  # the other specimen's 3 tiles and its 2 cubes between
    cube_evaluation.leave_specimens_out(tmp_path, grey, rows, **options)
    assert len(trained) == 4 and [len(x) for x in trained[2:]] == [3, 3]  # other settings: trained again


@pytest.mark.parametrize("folder", [RESULTS, RESULTS.parent / "cubes3d-tiles", RESULTS.parent / "cubes3d-narrow",
                                    RESULTS.parent / "cubes3d-nobn", RESULTS.parent / "cubes3d-fit",
                                    RESULTS.parent / "cubes3d-hand"],
                         ids=["committed", "tiles-alone", "narrower-network", "no-batch-norm", "every-kind-keras-fit",
                              "own-loop"])
def test_the_committed_3d_metrics_are_those_of_the_committed_predictions(folder):
    if not (folder / "metrics.json").exists():
        pytest.skip("no committed 3D results")
    predictions, metrics = cube_evaluation.read_predictions(folder)
    recomputed = cube_evaluation.summarise(predictions, cube_dataset.typed_rows(RESULTS / "cubes.csv"))
    for model in cube_evaluation.MODELS:
        for name in ("r2", "slope", "rpe50", "rpe95"):
            assert recomputed[model][name]["value"] == pytest.approx(metrics[model][name]["value"], rel=1e-12)
    assert recomputed["specimens"] == metrics["specimens"] == 10


@pytest.mark.skipif(not (pretrained3d.PACKAGED / "ensemble.json").exists(), reason="no shipped 3D ensemble")
def test_a_committed_held_out_prediction_is_recomputed_from_the_shipped_fold_network():
    """A cube of a shipped ROI, regenerated from its seed, through its fold's law and network."""
    from bonelib.cubes.placement import tile_origins
    from bonelib.learn.laws import ZyssetCurnierLaw

    predictions, _ = cube_evaluation.read_predictions(RESULTS)
    ensemble = pretrained3d.load_pretrained()
    shipped = {v.name: v for v in cube_dataset.volumes(synthetic=0)}
    rows = cube_dataset.typed_rows(RESULTS / "cubes.csv")
    held = {model: cube_evaluation.held_out(predictions, rows, model) for model in cube_evaluation.MODELS}
    k = next(k for k, name in enumerate(held["cnn3d"]["volume"]) if name in shipped)
    row = {"volume": held["cnn3d"]["volume"][k], "fold": held["cnn3d"]["fold"][k], "cube": held["cnn3d"]["cube"][k],
           **{model: held[model]["E_pred"][k] for model in cube_evaluation.MODELS}}
    volume = shipped[row["volume"]]
    fold = f"fold{int(row['fold'])}"
    assert volume.specimen in ensemble.info["folds"][int(row["fold"])]  # held out from that fold's training
    micro, voxel_size_mm = volume.micro_ct()
    grey, calibration = scan(micro, voxel_size_mm, seed=volume.seed)
    origin = tile_origins(grey.shape, ensemble.side)[int(row["cube"])]
    cube = grey[tuple(slice(o, o + ensemble.side) for o in origin)]
    measures = cube_dataset.grey_measures(calibration.slope * cube + calibration.intercept)
    law = ZyssetCurnierLaw(**ensemble.info["laws"][fold]).predict([measures["bv_tv_grey"]], [measures["m_z"]])
    assert law[0] == pytest.approx(row[ensemble.info["base"]], rel=1e-9)
    ratio = cnn3d.predict_modulus(ensemble.models[fold], cnn3d.cube_inputs(cube[None], calibration))
    assert law[0] * ratio[0] == pytest.approx(row["cnn3d"], rel=0.02)  # float16 weights shipped


@pytest.mark.skipif(not (RESULTS / "metrics.json").exists(), reason="no committed 3D results")
def test_the_readme_3d_table_is_the_committed_metrics():
    from bonebook import reproduce_3d

    assert reproduce_3d.table("paper") in (ROOT / "README.md").read_text(encoding="utf-8")


def test_the_rows_of_a_built_dataset_read_alone_match_the_full_load(tmp_path):
    import json

    grey, rows = fake_dataset()
    names = ["v0", "v1"]
    for folder in ("volumes", "between"):
        (tmp_path / folder).mkdir()
        for name, part in zip(names, (slice(0, 4), slice(4, None))):
            np.savez_compressed(tmp_path / folder / f"{name}.npz", grey=grey[part], rows=np.array(json.dumps(rows[part])))
    (tmp_path / "parameters.json").write_text(json.dumps({"volumes": names, "between": names[::-1]}))
    loaded, loaded_rows = cube_dataset.load(tmp_path)
    np.testing.assert_array_equal(loaded, grey)
    assert cube_dataset.load_rows(tmp_path) == loaded_rows == rows
    assert cube_dataset.load_rows(tmp_path, "between") == rows[4:] + rows[:4]
    (tmp_path / "parameters.json").write_text(json.dumps({"volumes": names, "between": []}))
    with pytest.raises(ValueError, match="between"):
        cube_dataset.load_rows(tmp_path, "between")
    with pytest.raises(ValueError, match="kind"):
        cube_dataset.load_rows(tmp_path, "corners")


def test_the_network_widths_are_recorded_loaded_and_retrain_the_folds_when_changed(tmp_path):
    grey, rows = fake_dataset()
    options = {"n_folds": 2, "epochs": 1, "sources": ("real",), "progress": False, "val_specimens": 0}
    cube_evaluation.leave_specimens_out(tmp_path, grey, rows, widths=(4, 4, 8), **options)
    ensemble = pretrained3d.load_pretrained(tmp_path / "models")
    filters = [layer.filters for layer in ensemble.models["fold0"].layers if hasattr(layer, "filters")]
    assert ensemble.info["widths"] == [4, 4, 8] and filters == [4, 4, 4, 4, 8, 8]
    trained_at = (tmp_path / "models" / "fold0.npz").stat().st_mtime_ns
    cube_evaluation.leave_specimens_out(tmp_path, grey, rows, **options)  # the default widths: trained again
    assert (tmp_path / "models" / "fold0.npz").stat().st_mtime_ns != trained_at
    assert pretrained3d.load_pretrained(tmp_path / "models").info["widths"] == list(cnn3d.WIDTHS)
    with pytest.raises(ValueError, match="widths"):
        cnn3d.cube_model(16, widths=(8, 16))


def test_networks_of_another_architecture_are_retrained_and_refused(tmp_path):
    import json

    grey, rows = fake_dataset()
    options = {"n_folds": 2, "epochs": 1, "sources": ("real",), "progress": False, "val_specimens": 0,
               "widths": (4, 4, 8)}
    cube_evaluation.leave_specimens_out(tmp_path, grey, rows, **options)
    with open(tmp_path / "folds" / "fold0-history.csv", newline="") as handle:
        history = list(csv.DictReader(handle))
    assert [row["epoch"] for row in history] == ["0"] and float(history[0]["loss"]) > 0
    ensemble = pretrained3d.load_pretrained(tmp_path / "models")
    assert ensemble.info["architecture"] == cnn3d.ARCHITECTURE
    assert sum("BatchNormalization" in type(layer).__name__ for layer in ensemble.models["fold0"].layers) == 6
    index = tmp_path / "models" / "ensemble.json"
    index.write_text(json.dumps({k: v for k, v in json.loads(index.read_text()).items() if k != "architecture"}))
    with pytest.raises(ValueError, match="architecture 1"):  # an index of before the field: version 1
        pretrained3d.load_pretrained(tmp_path / "models")
    settings = tmp_path / "settings.json"
    settings.write_text(json.dumps(json.loads(settings.read_text()) | {"architecture": 1}))
    trained_at = (tmp_path / "models" / "fold0.npz").stat().st_mtime_ns
    cube_evaluation.leave_specimens_out(tmp_path, grey, rows, **options)  # folds of version 1: trained again
    assert (tmp_path / "models" / "fold0.npz").stat().st_mtime_ns != trained_at
    assert pretrained3d.load_pretrained(tmp_path / "models").info["architecture"] == cnn3d.ARCHITECTURE


@pytest.mark.parametrize("recorded", [{"label_version": "other"}, {}])
def test_a_cube_folder_labelled_by_another_label_version_is_refused(tmp_path, recorded):
    import json

    (tmp_path / "parameters.json").write_text(json.dumps({"side": 50, **recorded}))
    selection = cube_dataset.volumes(real=1, synthetic=0)
    with pytest.raises(ValueError, match="cube label version"):
        cube_dataset.build(tmp_path, selection, workers=1, progress=False)
    assert not (tmp_path / "volumes").exists()
    assert json.loads((tmp_path / "parameters.json").read_text()) == {"side": 50, **recorded}


def test_the_shipped_3d_ensemble_says_why_a_cube_is_unlike_its_training_cubes():
    from bonelib.cubes.pretrained import load_pretrained
    from bonelib.imaging.density import Calibration

    ensemble = load_pretrained()
    assert {"bv_tv_grey", "m_z"} <= set(ensemble.domain)
    k, i, j = np.indices((50, 50, 50)) % 6 < 2
    layered = np.where((k & i) | (k & j), 1050, -20).astype(np.int16)  # horizontal struts only: no load path along z
    reasons = ensemble.check(layered[None], Calibration(1.0, 0.0))[0]
    assert any("does not wrap around the cube along z" in r for r in reasons)
    assert any("fabric along z" in r for r in reasons)


def test_the_shipped_3d_domain_is_that_of_the_training_cubes():
    import json

    import pandas as pd

    from bonebook import config, studies
    from bonebook.reproduce_3d import learnt_from
    from bonelib.cubes.dataset import STORED

    folder = config.artefacts("paper").snapshot / "cubes3d"
    tables = [studies.read_table(folder / STORED[kind][1]) for kind in learnt_from("paper")]
    learnt = pd.concat([t[cube_evaluation.usable(t.to_dict("records")) & (t.source == "real")] for t in tables])
    scored = cube_evaluation.read_predictions(folder)[0]["model_name"] == "cnn3d"
    assert len(learnt) > scored.sum()  # the cubes between (beside) tiles too
    domain = json.loads((config.artefacts("paper").models_3d / "domain.json").read_text())
    assert {name: domain[name] for name in ("bv_tv_grey", "m_z")} == {
        name: [learnt[name].min(), learnt[name].max()] for name in ("bv_tv_grey", "m_z")}


@pytest.mark.skipif(not (RESULTS / "cubes.csv").exists(), reason="no committed 3D results")
def test_a_labelled_volume_is_regenerated_from_its_seed_and_its_table_written_again_byte_for_byte(tmp_path):
    """The build need not solve a committed label again: the grey cubes come back from the seed,
    the rows from the table, and the table they make is the committed one."""
    import json

    from bonelib._files import write_csv

    volume = cube_dataset.volumes(real=1, synthetic=0)[0]
    committed = (RESULTS / "cubes.csv").read_text().splitlines()
    rows = [row for row in cube_dataset.typed_rows(RESULTS / "cubes.csv") if row["volume"] == volume.name]
    (tmp_path / "volumes").mkdir()
    path = cube_dataset.write_volume(volume, tmp_path / "volumes", labelled=rows)
    grey, stored = cube_dataset.load_volume(path)
    assert json.dumps(stored) == json.dumps(rows)  # (NaN moduli where the bone does not wrap)
    assert grey.shape == (len(rows), cube_dataset.SIDE, cube_dataset.SIDE, cube_dataset.SIDE)
    write_csv(tmp_path / "cubes.csv", stored)
    written = (tmp_path / "cubes.csv").read_text().splitlines()
    assert written[0] == committed[0] and set(written[1:]) <= set(committed[1:])
    wrong = [dict(row, vbmd=row["vbmd"] + 1.0) for row in rows]
    with pytest.raises(ValueError, match="another density"):
        cube_dataset.write_volume(volume, tmp_path, labelled=wrong)
    with pytest.raises(ValueError, match="not all its tiles"):
        cube_dataset.write_volume(volume, tmp_path, labelled=rows[:-1])
    assert not (tmp_path / f"{volume.name}.npz").exists()
