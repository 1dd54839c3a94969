"""Scans at any voxel size: the voxel size required, resampled to 82 µm, micro-CT blurred, said."""

from __future__ import annotations

import json

import numpy as np
import pytest

from bonelib.cli import main
from bonelib.imaging import grid


def test_a_scan_without_voxel_size_is_refused_and_a_given_one_wins():
    with pytest.raises(grid.VoxelSizeError, match="records no voxel size.*--voxel-size-mm"):
        grid.voxel_size(None, None, "core/")
    assert grid.voxel_size(0.082, 0.0195, "core/") == 0.0195
    for wrong in (0.0, -0.082, float("nan"), 82.0):
        with pytest.raises(grid.VoxelSizeError):
            grid.voxel_size(None, wrong, "core/")


def test_the_networks_grid_is_left_alone():
    density = np.random.default_rng(0).normal(200, 50, (10, 12, 14))
    same, notes = grid.to_network_grid(density, 0.0815)
    assert same is density and notes == []


def test_resampling_conserves_bone_mineral_and_blurs_micro_ct_only():
    rng = np.random.default_rng(1)
    density = np.where(rng.random((84, 84, 84)) < 0.2, 1050.0, -20.0)  # 84 voxels of 19.5 µm: 20 of 82 µm
    hr_pqct, notes = grid.to_network_grid(density, 0.0195, modality="hr-pqct")
    assert hr_pqct.shape == (19, 19, 19) and len(notes) == 1 and "19.5 µm to 82 µm" in notes[0]
    # mineral (density × volume) is conserved over what whole 82 µm voxels cover (19 × 82 = 1558 µm of 1638)
    share = np.clip(19 * 0.082 / 0.0195 - np.arange(84), 0, 1)  # of each 19.5 µm voxel, along an axis
    covered = np.einsum("kij,k,i,j->", density, share, share, share) * 0.0195 ** 3
    assert hr_pqct.sum(dtype=float) * 0.082 ** 3 == pytest.approx(covered, rel=1e-5)
    micro, notes = grid.to_network_grid(density, 0.0195)  # auto: micro-CT
    assert len(notes) == 2 and "point spread" in notes[1]
    assert micro.mean() == pytest.approx(hr_pqct.mean(), rel=1e-3)  # the blur moves no mineral
    assert micro.std() < hr_pqct.std()  # but smooths it
    with pytest.raises(ValueError, match="modality"):
        grid.to_network_grid(density, 0.0195, modality="dexa")


@pytest.fixture
def tiny_ensemble_3d(tmp_path):
    from bonelib.cubes import network as cnn3d
    from bonelib.cubes import pretrained as pretrained3d
    from bonelib.learn.weights import save_weights

    folder = tmp_path / "ensemble3d"
    folder.mkdir()
    save_weights(cnn3d.cube_model(side=16, seed=0), folder / "fold0.npz")
    law = {"fabric": True, "E0": 9000.0, "k": 2.0, "l": 1.0}
    pretrained3d.write_index(folder, ["fold0"], 16, {"vbmd": [50.0, 400.0]}, laws={"fold0": law})
    return folder


def test_predict_refuses_a_stack_without_voxel_size(tmp_path, capsys, tiny_ensemble_3d):
    np.save(tmp_path / "core.npy", np.zeros((40, 40, 40), np.int16))
    assert main(["predict", str(tmp_path / "core.npy"), "--calibration", "1,0", "--route", "3d",
                 "--model", str(tiny_ensemble_3d)]) == 2
    assert "records no voxel size" in capsys.readouterr().err


def test_predict_resamples_a_micro_ct_stack_and_says_so(tmp_path, capsys, tiny_ensemble_3d):
    rng = np.random.default_rng(2)
    density = np.where(rng.random((140, 70, 70)) < 0.25, 1050, -20).astype(np.int16)  # 2.7 × 1.4 × 1.4 mm
    np.save(tmp_path / "core.npy", density)
    assert main(["predict", str(tmp_path / "core.npy"), "--calibration", "1,0", "--route", "3d", "--voxel-size-mm",
                 "0.0195", "--model", str(tiny_ensemble_3d), "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["voxel_size_mm"] == 0.0195 and len(report["grid"]) == 2
    assert len(report["E_z"]) == 2  # 33 × 16 × 16 voxels of 82 µm: two cubes of 16³ along z


def test_predict_refuses_a_volume_smaller_than_a_cube_in_mm(tmp_path, capsys, tiny_ensemble_3d):
    np.save(tmp_path / "core.npy", np.full((60, 60, 60), 300, np.int16))  # 1.2 mm at 19.5 µm
    assert main(["predict", str(tmp_path / "core.npy"), "--calibration", "1,0", "--route", "3d", "--voxel-size-mm",
                 "0.0195", "--model", str(tiny_ensemble_3d)]) == 2
    error = capsys.readouterr().err
    assert "smaller than one cube" in error and "1.1 × 1.1 × 1.1 mm" in error and "1.3 mm (16³" in error


def test_a_dataset_of_scans_needs_their_voxel_size(tmp_path):
    from bonelib.imaging.density import Calibration
    from bonelib.slices.dataset.sources import scan_sources

    scans = tmp_path / "scans"
    scans.mkdir()
    np.save(scans / "D1-L1.npy", np.zeros((4, 400, 400), np.int16))
    with pytest.raises(grid.VoxelSizeError, match="D1-L1.npy"):
        scan_sources(scans, Calibration(1.0, 0.0))
    source = scan_sources(scans, Calibration(1.0, 0.0), voxel_size_mm=0.041)[0]
    assert source.voxel_size_mm == 0.041 and source.n_slices == 2  # 4 slices of 41 µm: 2 of 82 µm
    with pytest.raises(ValueError, match="182 × 182 px of 82 µm"):
        scan_sources(scans, Calibration(1.0, 0.0), voxel_size_mm=0.0195)


def test_a_scan_coarser_than_the_networks_grid_is_flagged_in_every_prediction(tmp_path, capsys, tiny_ensemble_3d):
    rng = np.random.default_rng(3)
    np.save(tmp_path / "ct.npy", np.where(rng.random((8, 8, 8)) < 0.3, 1050, -20).astype(np.int16))  # 8 × 0.3 mm
    assert main(["predict", str(tmp_path / "ct.npy"), "--calibration", "1,0", "--route", "3d", "--voxel-size-mm",
                 "0.3", "--model", str(tiny_ensemble_3d), "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["warnings"] and all(any("coarser than the 82 µm" in r for r in found) for found in report["warnings"])
    assert grid.coarser_than_network(0.0835) is None  # within the grid's tolerance
