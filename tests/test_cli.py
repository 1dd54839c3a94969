import json
import subprocess
import sys

import numpy as np
import pytest

from bonelib.cli import main


def test_help_lists_commands():
    result = subprocess.run([sys.executable, "-m", "bonelib.cli", "--help"], capture_output=True, text=True)
    assert result.returncode == 0
    for command in ("info", "synth", "voi"):
        assert command in result.stdout


def test_synth_then_voi_then_info(tmp_path, capsys):
    body = tmp_path / "body.npz"
    assert main(["synth", "--donor", "2", "--level", "L1", "--slices", "4", "--out", str(body)]) == 0
    voi = tmp_path / "voi.npz"
    assert main(["voi", str(body), "--out", str(voi)]) == 0
    capsys.readouterr()
    assert main(["info", str(voi), "--json"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["shape"] == [4, 182, 182]
    assert summary["voxel_size_mm"] == 0.082
    assert sorted(p.name for p in tmp_path.iterdir()) == ["body.npz", "voi.npz"]


def test_errors_exit_2_and_write_nothing(tmp_path, capsys):
    np.save(tmp_path / "small.npy", np.zeros((3, 50, 50)))
    assert main(["voi", str(tmp_path / "small.npy"), "--voxel-size-mm", "0.082", "--out", str(tmp_path / "out.npz")]) == 2
    assert "error" in capsys.readouterr().err
    assert main(["info", str(tmp_path / "missing.tif")]) == 2
    assert main(["synth", "--level", "C3", "--out", str(tmp_path / "x.npz")]) == 2
    assert sorted(p.name for p in tmp_path.iterdir()) == ["small.npy"]


def test_homogenise_matches_the_library(tmp_path, capsys):
    from bonelib.imaging.density import Calibration
    from bonelib.slices.label import label

    rng = np.random.default_rng(0)
    stack = rng.integers(400, 3000, size=(2, 12, 14)).astype(np.int16)
    np.save(tmp_path / "stack.npy", stack)
    assert main(["homogenise", str(tmp_path / "stack.npy"), "--voxel-size-mm", "0.082", "--calibration", "0.5,-300", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert [row["slice"] for row in report["slices"]] == [0, 1]
    expected = label(stack[1], Calibration(0.5, -300.0))
    assert report["slices"][1]["E_eff"] == expected.E_eff
    np.testing.assert_allclose(report["slices"][1]["C"], expected.C)
    assert main(["homogenise", str(tmp_path / "stack.npy"), "--voxel-size-mm", "0.082", "--calibration", "0.5,-300"]) == 0
    table = capsys.readouterr().out
    assert "E_eff MPa" in table and "2 slice(s)" in table


def test_homogenise_a_cube_matches_the_library(tmp_path, capsys):
    from bonelib.cubes.placement import cube_materials
    from bonelib.fe import homogenise_3d
    from bonelib.imaging.density import Calibration

    k, i, j = np.indices((20, 20, 20)) % 5 < 2
    bone = (k & i) | (k & j) | (i & j)  # struts 2 voxels thick along x, y and z, every 5 voxels
    calibration = Calibration(0.5, -300.0)
    grey = calibration.grey_of(np.where(bone, 1100.0, 0.0)).round().astype(np.int16)
    np.save(tmp_path / "cube.npy", grey)
    arguments = ["homogenise", str(tmp_path / "cube.npy"), "--voxel-size-mm", "0.082", "--cube", "--calibration",
                 f"{calibration.slope},{calibration.intercept}"]
    assert main([*arguments, "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    expected = homogenise_3d(*cube_materials(grey, calibration), 0.082)
    # the iterative backend (no CHOLMOD) stops at a residual of 1e-10: its near-zero entries differ
    np.testing.assert_allclose(report["C"], expected.C, rtol=1e-9, atol=1e-9 * np.abs(expected.C).max())
    assert report["wraps"] == [True, True, True] and 0 < report["E_platens_axis0"] <= report["E_bonded_platens_axis0"]
    np.testing.assert_allclose(report["E"], report["E"][0], rtol=1e-9)  # the lattice is cubic
    assert main(arguments) == 0
    assert "E_x, E_y, E_z" in capsys.readouterr().out
    assert main(["homogenise", str(tmp_path / "cube.npy"), "--voxel-size-mm", "0.082", "--cube", "--calibration", "1,-5000"]) == 2  # all marrow
    assert "no bone" in capsys.readouterr().err


def test_homogenise_needs_a_calibration(tmp_path, capsys):
    np.save(tmp_path / "image.npy", np.ones((8, 8)))
    assert main(["homogenise", str(tmp_path / "image.npy"), "--voxel-size-mm", "0.082"]) == 2
    assert "--calibration" in capsys.readouterr().err


def test_predict_with_a_saved_model(tmp_path, capsys):
    keras = __import__("pytest").importorskip("keras")
    from bonelib.slices import network as cnn
    model = cnn.improved_model(mean=300.0, variance=1e4)
    model.save(tmp_path / "model.keras")
    rng = np.random.default_rng(0)
    np.save(tmp_path / "two.npy", rng.integers(600, 3000, (2, 182, 182)).astype(np.int16))
    assert main(["predict", str(tmp_path / "two.npy"), "--voxel-size-mm", "0.082", "--model", str(tmp_path), "--calibration", "0.5,-300",
                 "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert len(report["E_eff"]) == 2 and all(value > 0 for value in report["E_eff"])
    np.save(tmp_path / "big.npy", rng.integers(600, 3000, (200, 210)).astype(np.int16))
    assert main(["predict", str(tmp_path / "big.npy"), "--voxel-size-mm", "0.082", "--model", str(tmp_path), "--calibration", "0.5,-300"]) == 2
    assert "--crop" in capsys.readouterr().err
    assert main(["predict", str(tmp_path / "big.npy"), "--voxel-size-mm", "0.082", "--model", str(tmp_path), "--calibration", "0.5,-300",
                 "--crop"]) == 0
    capsys.readouterr()
    np.save(tmp_path / "wide.npy", rng.integers(600, 3000, (190, 400)).astype(np.int16))
    assert main(["predict", str(tmp_path / "wide.npy"), "--voxel-size-mm", "0.082", "--model", str(tmp_path), "--calibration", "0.5,-300",
                 "--tile", "--json"]) == 0
    tiled = json.loads(capsys.readouterr().out)
    assert tiled["origin"] == [[0, 4, 18], [0, 4, 200]] and len(tiled["E_eff"]) == 2
    assert main(["predict", str(tmp_path / "two.npy"), "--voxel-size-mm", "0.082", "--model", str(tmp_path / "none"), "--calibration", "1,0"]) == 2
    assert "no trained model" in capsys.readouterr().err
    del keras


def test_synth_realistic_writes_its_voi(tmp_path, capsys):
    out = tmp_path / "realistic.npz"
    assert main(["synth", "--cohort", "realistic", "--donor", "2", "--slices", "3", "--out", str(out)]) == 0
    assert "realistic cohort" in capsys.readouterr().out
    with np.load(out) as archive:
        assert archive["volume"].shape == (3, 182, 182) and archive["volume"].dtype == np.int16
        assert float(archive["voxel_size_mm"]) == 0.082


def test_the_command_line_starts_without_the_heavy_libraries():
    """`bonelib --help` imports neither SciPy nor TensorFlow: the parser needs only bonelib.constants."""
    code = "import sys, bonelib.cli; bonelib.cli.build_parser(); print(sorted({'scipy', 'tensorflow', 'zarr'} & set(sys.modules)))"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "[]"


def test_predict_with_an_ensemble_prints_spread_and_warnings(tmp_path, capsys):
    from bonelib.slices import network as cnn
    from bonelib.slices import pretrained
    models = {f"improved-fold{i}": cnn.improved_model(mean=1.0, variance=4.0, seed=i) for i in range(2)}
    pretrained.save(models, tmp_path / "ensemble", {"vbmd": [300.0, 900.0], "bv_tv": [0.3, 0.8]})
    bone = np.zeros((2, 182, 182), np.int16)
    bone[1, :, 60:120] = bone[1, 60:120, :] = 2800  # 1100 mg HA/cm³ through the calibration: a wrapping cross
    np.save(tmp_path / "two.npy", bone)
    assert main(["predict", str(tmp_path / "two.npy"), "--voxel-size-mm", "0.082", "--model", str(tmp_path / "ensemble"),
                 "--calibration", "0.5,-300", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["networks"] == 2 and len(report["spread"]) == 2 and all(s >= 0 for s in report["spread"])
    assert any("does not wrap" in w for w in report["warnings"][0]) and report["warnings"][1] == []
    assert main(["predict", str(tmp_path / "two.npy"), "--voxel-size-mm", "0.082", "--model", str(tmp_path / "ensemble"),
                 "--calibration", "0.5,-300"]) == 0
    text = capsys.readouterr().out
    assert "warning: 1 of 2 image(s) lie outside" in text and "±" in text


def test_predict_takes_slices_at_their_own_size(tmp_path, capsys):
    from bonelib.slices import network as cnn
    from bonelib.slices import pretrained
    pretrained.save({"improved-fold0": cnn.improved_model(mean=1.0, variance=4.0)}, tmp_path / "ensemble",
                    {"vbmd": [300.0, 900.0], "bv_tv": [0.3, 0.8]})
    np.save(tmp_path / "small.npy", np.full((2, 96, 96), 1000, np.int16))
    assert main(["predict", str(tmp_path / "small.npy"), "--voxel-size-mm", "0.082", "--model", str(tmp_path / "ensemble"),
                 "--calibration", "0.5,-300"]) == 2
    assert "--own-size" in capsys.readouterr().err
    assert main(["predict", str(tmp_path / "small.npy"), "--voxel-size-mm", "0.082", "--model", str(tmp_path / "ensemble"),
                 "--calibration", "0.5,-300", "--own-size", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["origin"] == [[0, 0, 0], [1, 0, 0]] and len(report["E_eff"]) == 2


def test_predict_route_3d_tiles_a_volume_in_cubes(tmp_path, capsys):
    from bonelib.cubes import network as cnn3d
    from bonelib.cubes import pretrained as pretrained3d
    from bonelib.learn.weights import save_weights

    folder = tmp_path / "ensemble3d"
    folder.mkdir()
    for i in range(2):
        save_weights(cnn3d.cube_model(side=16, seed=i), folder / f"fold{i}.npz")
    law = {"fabric": True, "E0": 9000.0, "k": 2.0, "l": 1.0}
    pretrained3d.write_index(folder, ["fold0", "fold1"], 16, {"vbmd": [50.0, 600.0]}, laws={"fold0": law, "fold1": law})
    k, i, j = np.indices((34, 16, 40)) % 4 < 2
    rho = np.where((k & i) | (k & j) | (i & j), 1050.0, -20.0)  # struts along x, y, z: 2 × 1 × 2 cubes of 16³
    rho[:17, :, :20] = -20.0  # the first cube holds no bone: outside the training range
    np.savez(tmp_path / "volume.npz", image=rho.astype(np.int16), calibration=np.array([1.0, 0.0]), voxel_size_mm=0.082)
    assert main(["predict", str(tmp_path / "volume.npz"), "--route", "3d", "--model", str(folder), "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["route"] == "3d" and report["networks"] == 2 and len(report["E_z"]) == 4
    assert report["origin"] == [[1, 0, 4], [1, 0, 20], [17, 0, 4], [17, 0, 20]]
    assert all(e > 0 for e in report["E_z"]) and all(s >= 0 for s in report["spread"])
    assert report["warnings"][0] and not any(report["warnings"][1:])
    layers = [np.mean(report["E_z"][:2]), np.mean(report["E_z"][2:])]  # two layers of two cubes along z
    assert report["volume"]["E_z"] == pytest.approx(2 / (1 / layers[0] + 1 / layers[1]))
    assert report["volume"]["reuss"] <= report["volume"]["E_z"] <= report["volume"]["voigt"]
    assert main(["predict", str(tmp_path / "volume.npz"), "--route", "3d", "--model", str(folder), "--crop"]) == 2
    assert "3D route" in capsys.readouterr().err


def test_homogenise_a_volume_too_large_for_memory_says_so(tmp_path, capsys, monkeypatch):
    from bonelib.fe import memory

    np.save(tmp_path / "cube.npy", np.full((8, 8, 8), 1000, np.int16))
    monkeypatch.setattr(memory, "available_memory", lambda: 10_000)
    assert main(["homogenise", str(tmp_path / "cube.npy"), "--voxel-size-mm", "0.082", "--cube", "--calibration", "1,0"]) == 2
    error = capsys.readouterr().err
    assert "8 × 8 × 8 voxels" in error and "GB of memory is available" in error and "Traceback" not in error
