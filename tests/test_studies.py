"""The studies of real bone the chapters show are verifiable: made by this code, samples recomputed.

``results/paper/real_bone`` and ``results/paper/cubes3d/fe`` are committed; the ci ones are
made by ``make test`` before the tests run. Each was made with the versions and settings of
this code (else the chapter would show another code's results), and a sample of each is
recomputed here from the shipped ROIs and must match.
"""

import json

import numpy as np
import pytest

from bonebook import config, studies
from bonelib.constants import VOXEL_SIZE_MM
from bonelib.imaging import scanner

SCALES = ("paper", "ci")


def study(folder, name: str, scale: str, settings: dict) -> dict:
    if not (folder / "study.json").exists():
        pytest.fail(f"{folder} holds no study: run `make reproduce SCALE={scale}` (make test makes ci)")
    record = json.loads((folder / "study.json").read_text())
    assert record["identity"] == studies.identity(name, scale, settings), "made by other code or settings than these"
    return record


@pytest.mark.parametrize("scale", SCALES)
def test_a_real_section_of_the_real_bone_study_recomputes(scale):
    from bonelib.slices.sections import section_rows

    folder = studies.real_bone_folder(scale)
    record = study(folder, "real_bone", scale, config.REAL_BONE[scale])
    roi = studies.chosen_rois(config.REAL_BONE[scale]["rois"])[0]
    assert roi.roi == record["rois"][0]
    sections = studies.read_table(folder / "sections.csv")
    stored = sections[(sections.source == "real, 82 µm") & (sections.specimen == roi.specimen)]
    rows = section_rows(*scanner.scan(roi.bone, roi.voxel_size_mm, seed=roi.roi), VOXEL_SIZE_MM,
                        config.REAL_BONE[scale]["sections"])
    assert len(rows) <= len(stored)
    for row, (_, kept) in zip(rows, stored.iterrows()):
        assert (row["orientation"], row["index"]) == (kept["orientation"], kept["index"])
        for name in ("E_eff", "vbmd", "bv_tv"):
            assert row[name] == pytest.approx(kept[name], rel=1e-9), name


@pytest.mark.parametrize("scale", SCALES)
def test_the_real_bone_study_holds_what_the_chapter_reads(scale):
    folder = studies.real_bone_folder(scale)
    record = study(folder, "real_bone", scale, config.REAL_BONE[scale])
    sections = studies.read_table(folder / "sections.csv")
    assert set(sections.source) == {"real, 82 µm", "real, 51 µm", "realistic, 82 µm", "paper-shaped, 82 µm"}
    assert (sections.E_eff > 0).all() and sections.bv_tv.between(0, 1).all()
    networks = studies.read_table(folder / "shipped_networks.csv")
    assert len(networks) == len(record["rois"]) * config.REAL_BONE[scale]["sections"]
    assert (networks.spread >= 0).all() and (networks.E_pred > 0).all()
    realism = json.loads((folder / "realism.json").read_text())
    assert realism["real_volumes"] == len(record["rois"])
    with np.load(folder / "panels.npz") as panels:
        assert panels["images"].shape == (4, record["side_px"], record["side_px"])


@pytest.mark.parametrize("scale", SCALES)
def test_the_3d_fe_study_verifies_the_solver_and_a_real_cube_recomputes(scale):
    from bonelib.cubes import placement as cubes
    folder = studies.cube_fe_folder(scale)
    settings = {"rois": config.REAL_BONE[scale]["rois"], "side": studies.CUBE_SIDE}
    record = study(folder, "cube_fe", scale, settings)
    checks = studies.read_table(folder / "verification.csv")
    assert len(checks) == 7 and (checks.relative_difference < 1e-9).all()
    moduli = studies.read_table(folder / "real_cubes.csv")
    assert len(moduli) == len(record["rois"]) and moduli.wraps.all()
    assert (moduli.E_z > moduli.E_x).mean() > 0.5  # the vertical plates and rods
    roi = studies.chosen_rois(settings["rois"])[0]
    bone = scanner.resample(roi.bone, roi.voxel_size_mm) >= 0.5
    percolation = studies.read_table(folder / "percolation.csv")
    mine = cubes.percolation_rows(bone, studies.CUBE_SIDE)
    theirs = percolation[percolation.roi == roi.roi]
    assert [r["cube_wraps"] for r in mine] == theirs.cube_wraps.tolist()
    assert [r["sections_wrap"] for r in mine] == pytest.approx(theirs.sections_wrap.tolist(), abs=1e-12)
    origin = cubes.central_wrapping_origin(mine, bone.shape, studies.CUBE_SIDE)
    values = cubes.cube_moduli(bone[tuple(slice(o, o + studies.CUBE_SIDE) for o in origin)], VOXEL_SIZE_MM)
    for name in ("E_x", "E_y", "E_z", "E_platens"):
        assert values[name] == pytest.approx(moduli[name].iloc[0], rel=1e-6), name


@pytest.mark.parametrize("scale", SCALES)
def test_the_density_reading_study_recomputes_and_reading_in_g_adds_bone(scale):
    from bonelib.fe import homogenise
    from bonelib.imaging.density import ASH_INTERCEPT_READINGS, material_maps
    from bonelib.slices.dataset import plan_synthetic
    from bonelib.slices.label import density_map

    folder = studies.density_reading_folder(scale)
    study(folder, "density_reading", scale, config.DENSITY_READING[scale])
    rows = studies.read_table(folder / "slices.csv")
    settings = config.DENSITY_READING[scale]
    assert (rows["source"] == "synthetic").sum() == settings["vertebrae"] * settings["slices"]
    assert (rows["source"] == "real, 82 µm").sum() == settings["rois"]
    # a larger intercept: every pixel denser, so at least as much bone and a stiffer slice
    assert (rows["bone_fraction_g"] >= rows["bone_fraction_mg"]).all()
    assert (rows["E_eff_g"] >= rows["E_eff_mg"] * (1 - 1e-9)).all()
    row = rows[rows["source"] == "synthetic"].iloc[-1]
    task = next(t for t in plan_synthetic(scale, config.SEED)[0] if t.source.key == row["specimen"])
    volume, calibration = task.source.volume()
    rho_ha = density_map(volume[int(row["index"])], calibration)
    for unit, intercept in ASH_INTERCEPT_READINGS.items():
        E, nu = material_maps(rho_ha, intercept=intercept)
        key = unit.split("/")[0]
        assert homogenise(E, nu, VOXEL_SIZE_MM).E_eff == pytest.approx(row[f"E_eff_{key}"], rel=1e-9)


@pytest.mark.parametrize("scale", SCALES)
def test_the_own_scan_study_ran_both_routes_and_its_fe_recomputes(scale):
    from bonelib.cubes.placement import cube_materials
    from bonelib.fe import homogenise_3d
    from bonelib.imaging.density import Calibration

    folder = studies.own_scan_folder(scale)
    record = study(folder, "own_scan", scale, config.OWN_SCAN[scale])
    slices, cubes = studies.read_table(folder / "slices.csv"), studies.read_table(folder / "cubes.csv")
    roi = studies.chosen_rois(1)[0]
    grey, _ = scanner.scan(roi.bone, roi.voxel_size_mm, seed=roi.roi)
    assert len(slices) == len(grey) and record["info"]["voxel_size_mm"] == pytest.approx(VOXEL_SIZE_MM)
    assert record["info"]["shape"] == list(grey.shape)
    assert (cubes["E_z_network"] > 0).all() and (cubes["spread"] >= 0).all()
    with_fe = cubes.dropna(subset=["E_z_periodic"])
    assert 1 <= len(with_fe) <= config.OWN_SCAN[scale]["cubes"] and with_fe["wraps"].all()  # FE where bone wraps
    assert (with_fe["E_frictionless"] <= with_fe["E_bonded"] * (1 + 1e-9)).all()
    first = with_fe.iloc[0]
    side = json.loads((config.artefacts(scale).models_3d / "ensemble.json").read_text())["side"]
    cube = np.round(grey).astype(np.int16)[first["z"]:first["z"] + side, first["y"]:first["y"] + side,
                                            first["x"]:first["x"] + side]
    E = homogenise_3d(*cube_materials(cube, Calibration(*record["calibration"])), VOXEL_SIZE_MM).E
    assert E[2] == pytest.approx(first["E_z_periodic"], rel=1e-9)
    # each cube's interval holds its prediction; the whole volume's E_z lies between its bounds
    assert (cubes["low"] < cubes["E_z_network"]).all() and (cubes["E_z_network"] < cubes["high"]).all()
    volume = record["volume"]
    assert volume["reuss"] <= volume["E_z"] <= volume["voigt"] and record["level"] == 0.9
    if config.OWN_SCAN[scale].get("whole", True):
        assert 0 < record["whole"]["E_platens_axis0"] <= record["whole"]["E_bonded_platens_axis0"] * (1 + 1e-9)
    assert "records no voxel size" in record["refusal"] and "--voxel-size-mm" in record["refusal"]
    assert any("resampled from 51.3 µm" in note for note in record["micro_ct"]["grid"])
    assert any("point spread" in note for note in record["micro_ct"]["grid"])


@pytest.mark.parametrize("scale", SCALES)
def test_the_solver_scaling_study_ran_every_solver_and_its_smallest_cube_recomputes(scale):
    from bonelib import data
    from bonelib.fe import compression_test, tissue_maps
    from bonelib.fe.solvers import available

    folder = studies.solver_scaling_folder(scale)
    record = study(folder, "solver_scaling", scale, config.SOLVER_SCALING[scale])
    runs = studies.read_table(folder / "runs.csv")
    assert set(available(3)) - {"cholmod"} <= set(runs["solver"])  # every solver but the optional extra ran
    assert set(runs["solver"]) | set(record["absent"]) == set(config.SOLVER_SCALING[scale])
    solved = runs.dropna(subset=["seconds"])
    assert (solved["dofs"] > 0).all() and (solved["peak_gb"] > 0).all()
    for size, same in solved.groupby("size"):  # every solver found the same modulus
        assert np.ptp(same["E"]) <= 1e-6 * same["E"].max(), size
    for solver in ("mg", "superlu"):  # more unknowns, more memory
        grown = solved[solved.solver == solver].sort_values("size")
        assert grown["dofs"].is_monotonic_increasing
    smallest = solved.sort_values("size").iloc[0]
    roi = next(data.fda_l1_rois())
    start = [(n - int(smallest["size"])) // 2 for n in roi.bone.shape]
    bone = roi.bone[tuple(slice(o, o + int(smallest["size"])) for o in start)]
    result = compression_test(*tissue_maps(bone), platens="bonded")
    assert result.E_apparent == pytest.approx(smallest["E"], rel=1e-6) and result.dofs == smallest["dofs"]


@pytest.mark.parametrize("scale", SCALES)
def test_the_slice_fe_study_is_exact_where_exact_results_exist_and_recomputes(scale):
    import pandas as pd

    from bonelib import synth
    from bonelib.fe import homogenise
    from bonelib.fe.analytic import laminate
    from bonelib.imaging.density import MARROW_MODULUS, MARROW_POISSON, material_maps
    from bonelib.slices.label import density_map

    folder = studies.slice_fe_folder(scale)
    record = study(folder, "slice_fe", scale, config.SLICE_FE[scale])
    assert record["homogeneous_error"] < 1e-10
    laminates = pd.read_csv(folder / "laminates.csv")
    assert len(laminates) == config.SLICE_FE[scale]["layers"] - 1 and laminates.error.max() < 1e-7
    # along the layers the laminate is the Voigt average, across them the Reuss one: C₁₁ grows with bone
    assert np.all(np.diff(laminates.C11_fe) > 0) and np.all(np.diff(laminates.C22_fe) > 0)
    row = laminates.iloc[6]
    layers, bone_rows = config.SLICE_FE[scale]["layers"], round(row.fraction * config.SLICE_FE[scale]["layers"])
    layer = (np.arange(layers) < bone_rows)[:, None] * np.ones((layers, 6), bool)
    assert row.C11 == pytest.approx(laminate([12_000.0, MARROW_MODULUS], [0.3, MARROW_POISSON],
                                             [bone_rows, layers - bone_rows])[0, 0], rel=1e-12)
    fe = homogenise(np.where(layer, 12_000.0, MARROW_MODULUS), np.where(layer, 0.3, MARROW_POISSON)).C
    assert fe[1, 1] == pytest.approx(row.C22_fe, rel=1e-9)

    symmetries = pd.read_csv(folder / "symmetries.csv")
    np.testing.assert_allclose(symmetries.E_eff, symmetries.E_eff[0], rtol=1e-9)
    grey = synth.well_connected(synth.plan(n_donors=35, seed=config.SEED)).scan(n_slices=8).volume[4]
    E, nu = material_maps(density_map(grey, scanner.CALIBRATION))
    assert homogenise(E, nu).E_eff == pytest.approx(symmetries.E_eff[0], rel=1e-9)  # the slice, from the seed

    bounds = pd.read_csv(folder / "bounds.csv").set_index("estimate")
    for entry in ("C11", "C22", "C33"):
        assert bounds.loc["Reuss", entry] <= bounds.loc["FE", entry] <= bounds.loc["Voigt", entry]
    refinement = pd.read_csv(folder / "refinement.csv")
    # a displacement FE model is too stiff and softens as it is refined, by less at each step,
    # on the slice of every vertebra, from the best- to the worst-connected
    slices = refinement.groupby(["donor", "level"], sort=False)
    assert slices.ngroups == config.SLICE_FE[scale]["refinement_slices"]
    perforation = slices.vertical_perforation.first().to_numpy()
    assert np.all(np.diff(perforation) >= 0)
    for _, one in slices:
        assert one.elements_per_pixel_side.tolist() == [1, 2, 4]
        steps = -np.diff(one.E_eff.to_numpy())
        assert np.all(steps > 0) and steps[1] < steps[0]
    # the first is the example slice, recomputed from the seed (cropped as the study crops it)
    side = refinement.side_px[0]
    crop = tuple(slice((n - side) // 2, (n - side) // 2 + side) for n in E.shape)
    assert homogenise(E[crop], nu[crop]).E_eff == pytest.approx(refinement.E_eff[0], rel=1e-9)
    fields = np.load(folder / "fields.npz")
    assert fields["von_mises"].shape == grey.shape and fields["von_mises"].min() >= 0
    assert fields["strain_energy_density"].min() >= 0
