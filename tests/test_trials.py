"""The recorded trials of the appendix (results/paper/trials/trials.csv): each a measured number
of a known part, with the commit that measured it, in this repository's history."""

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
