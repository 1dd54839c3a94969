"""The recorded trials of the appendix (results/paper/trials/trials.csv): each a measured number
of a known part, with the commit that measured it, in this repository's history."""

import json
import shutil
import subprocess
from pathlib import Path

import pandas as pd
import pytest

ROOT = Path(__file__).resolve().parent.parent
TRIALS = ROOT / "results" / "paper" / "trials" / "trials.csv"
PARTS = {"2D: the improved network on a 2-core CPU", "3D: the network on unseen real specimens"}


@pytest.fixture(scope="module")
def trials() -> pd.DataFrame:
    return pd.read_csv(TRIALS, dtype=str, keep_default_na=False)


def test_every_trial_is_a_measured_number_of_a_known_part(trials):
    assert set(trials.part) == PARTS
    assert trials.value.map(lambda v: pd.notna(pd.to_numeric(v, errors="coerce"))).all()
    references = trials.reference[trials.reference != ""]
    assert references.map(lambda v: pd.notna(pd.to_numeric(v, errors="coerce"))).all()
    assert set(trials.unit) <= {"", "ms", "s", "min"}
    assert (trials.trial != "").all() and (trials.metric != "").all()


@pytest.mark.skipif(shutil.which("git") is None or not (ROOT / ".git").exists(), reason="no git history here")
def test_every_trial_names_a_commit_of_this_repository(trials):
    for commit in sorted(set(trials.measured_in)):
        found = subprocess.run(["git", "cat-file", "-e", f"{commit}^{{commit}}"], cwd=ROOT, capture_output=True,
                               check=False)
        assert found.returncode == 0, f"trials.csv names {commit}, not a commit of this repository"


def test_the_book_setting_of_the_2d_network_is_quoted_from_its_committed_metrics(trials):
    """A trial compared with the improved network as the book ships it quotes that network's own
    scores on the same fold, to the digits written, from results/paper/metrics.json."""
    summary = json.loads((ROOT / "results" / "paper" / "metrics.json").read_text())
    folds = summary["evaluations"]["donor-cv"]["improved CNN"]["folds"]
    names = {"R²": "r2", "slope": "slope", "RPE50": "rpe50", "RPE95": "rpe95"}
    quoted = trials[(trials.compared_with == "20 epochs (the book's setting)") & (trials.reference != "")]
    assert len(quoted) >= 5
    for row in quoted.itertuples():
        digits = len(row.reference.split(".")[1])
        value = folds[names[row.metric]]["values"][int(row.folds)]
        assert f"{value:.{digits}f}" == row.reference, (row.trial, row.metric, value)


def test_the_3d_training_loop_trial_is_quoted_from_its_committed_folds(trials):
    """The folds of the 3D network trained by the loop of both routes (the shipped run,
    ``results/paper/cubes3d``), each scored beside the held-out predictions of the same cubes by
    the networks shipped before them (the 3D route's own loop, ``results/paper/cubes3d-hand``)."""
    import numpy as np

    from bonelib.cubes import evaluate as cube_evaluation
    from bonelib.cubes.dataset import typed_rows
    from bonelib.learn import tables
    from bonelib.learn.metrics import METRICS

    quoted = trials[trials.trial.str.startswith("the training loop of both routes")]
    if quoted.empty:
        pytest.skip("no trial of the training loop of both routes recorded")
    shipped_run = ROOT / "results" / "paper" / "cubes3d"
    rows = typed_rows(shipped_run / "cubes.csv")
    predictions, _ = cube_evaluation.read_predictions(shipped_run.parent / "cubes3d-hand")
    cnn = predictions["model_name"] == "cnn3d"
    earlier = dict(zip(predictions["index"][cnn], predictions["E_pred"][cnn]))
    names = {"R²": "r2", "RPE50": "rpe50", "RPE95": "rpe95"}
    for row in quoted.itertuples():
        fold = tables.read_table(shipped_run / "folds" / f"fold{row.folds}.csv")
        new = cube_evaluation.held_out(fold, rows, "cnn3d")
        before = np.array([earlier[i] for i in fold["index"][fold["model_name"] == "cnn3d"]])
        score = METRICS[names[row.metric]]
        digits = len(row.value.split(".")[1])
        assert f"{score(new['E_pred'], new['E_z']):.{digits}f}" == row.value, (row.folds, row.metric)
        assert f"{score(before, new['E_z']):.{digits}f}" == row.reference, (row.folds, row.metric)
