import json
import subprocess
import sys

import numpy as np

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
    assert main(["voi", str(tmp_path / "small.npy"), "--out", str(tmp_path / "out.npz")]) == 2
    assert "error" in capsys.readouterr().err
    assert main(["info", str(tmp_path / "missing.tif")]) == 2
    assert main(["synth", "--level", "C3", "--out", str(tmp_path / "x.npz")]) == 2
    assert sorted(p.name for p in tmp_path.iterdir()) == ["small.npy"]
