"""The introduction's findings (bonebook.findings) read the committed paper-scale results."""

import json

import pytest

from bonebook import config, findings
from bonelib import reference

SNAPSHOT = config.artefacts("paper").snapshot


@pytest.mark.skipif(not (SNAPSHOT / "metrics.json").exists(), reason="no committed paper-scale results")
def test_the_headline_rows_are_the_committed_metrics():
    rows = findings.headline("paper")
    assert rows[0].values == reference.CNN_METRICS and not rows[0].intervals
    summary = json.loads((SNAPSHOT / "metrics.json").read_text())["evaluations"]
    pooled = summary["random"]["paper's CNN"]["pooled"]
    assert rows[1].values == {m: pooled[m]["value"] for m in findings.METRICS}
    assert rows[1].epochs == max(r["epochs_run"] for r in config.artefacts("paper").shipped_runs()
                                 if r["model"] == "paper" and r["scheme"] == "random")
    assert rows[2].values["r2"] == summary["donor-cv"]["improved CNN"]["pooled"]["r2"]["value"]
    for row in rows[1:]:
        for metric in findings.METRICS:
            low, high = row.intervals[metric]
            assert low <= row.values[metric] <= high


@pytest.mark.skipif(not (SNAPSHOT / "real_bone").exists(), reason="no committed real-bone study")
def test_the_real_bone_finding_counts_the_committed_sections():
    real = findings.real_sections("paper")
    assert 0 <= real["wrapping"] <= real["spanning"] <= real["sections"] > 0
    assert real["median_fe_mpa"] <= real["largest_fe_mpa"]
    assert 0 <= real["flagged"] <= real["network_sections"] > 0
    assert real["median_fe_mpa"] < real["median_network_mpa"]  # the FE label at the floor, the network not
    low, high = findings.modulus_range("paper")
    assert 0 < low < high


@pytest.mark.skipif(not (SNAPSHOT / "coarse.csv").exists(), reason="no committed coarse FE baseline")
def test_the_cost_finding_is_the_committed_timings_and_coarse_metrics():
    cost = findings.cost("paper")
    speed = json.loads((SNAPSHOT / "speed.json").read_text())
    assert cost["fe_seconds"] == speed["FE"][speed["size"].index(182.0)]
    assert 0 < cost["coarse_seconds"] < cost["fe_seconds"]  # a quarter of the pixels costs less
    pooled = json.loads((SNAPSHOT / "metrics.json").read_text())["evaluations"]["donor-cv"]["coarse FE 2 × 2"]["pooled"]
    assert cost["coarse_rpe50"] == pooled["rpe50"]["value"]


@pytest.mark.skipif(not (SNAPSHOT / "cubes3d" / "metrics.json").exists(), reason="no committed 3D evaluation")
def test_the_3d_finding_weighs_the_network_against_its_baseline_and_the_stand_in_levels():
    power = findings.cube_power_law("paper")
    network = next(row for row in findings.headline("paper") if row.who.startswith("3D CNN"))
    assert network.values["rpe50"] < power["rpe50"] and network.values["r2"] > power["r2"]
    checks = findings.stand_in_checks({m: {"value": network.values[m]} for m in findings.METRICS})
    assert [name.split()[0] for name, _, _ in checks] == ["R²", "slope", "RPE50", "RPE95"]
    assert all(ok == (float(value) <= findings.STAND_IN_LEVELS[metric]) for (_, ok, value), metric
               in zip(checks[2:], ("rpe50", "rpe95")))
