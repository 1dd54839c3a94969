"""Side-by-side evaluation from the result tables: baselines fitted per partition, pooled and per-fold metrics."""

import numpy as np
import pytest

from bonelib import reference
from bonelib.learn import folds, metrics
from bonelib.learn import tables as results
from bonelib.slices import evaluate as evaluation
from bonelib.slices.baselines import LinearCorrection


def synthetic_table(n_donors=6, per_donor=12, seed=0):
    rng = np.random.default_rng(seed)
    donor = np.repeat([f"D{i:02d}" for i in range(n_donors)], per_donor)
    bv_tv = rng.uniform(0.3, 0.6, donor.size)
    fabric = np.stack([1 + rng.uniform(0, 0.2, donor.size), np.ones(donor.size)], 1)
    fabric /= fabric.sum(1, keepdims=True) / 2
    E = 3000 * bv_tv ** 2 * (fabric[:, 0] ** 1.0 + fabric[:, 1] ** 1.0) / 2
    fold_of = folds.donor_folds(donor, k=3)
    split = rng.permutation(np.repeat([0, 1, 2], [donor.size - 20, 10, 10]))
    return {"donor": donor, "E_eff": E, "vbmd": 600 * bv_tv + rng.normal(0, 5, donor.size), "bv_tv": bv_tv,
            "fabric_1": fabric[:, 0], "fabric_2": fabric[:, 1], "split_random": split,
            "fold": np.array([fold_of[d] for d in donor])}


def test_baselines_are_fitted_without_the_test_samples_and_predict_them():
    table = synthetic_table()
    rows = evaluation.baseline_predictions(table, {"E_coarse_2": table["E_eff"] * 0.8 + 10,
                                                   "E_coarse_4": table["E_eff"] * 0.5}, val_donors=1)
    for scheme, fold, codes in evaluation.partitions(table, 1):
        chosen = (rows["scheme_name"] == scheme) & (rows["fold"] == fold) & (rows["model_name"] == "vBMD regression")
        np.testing.assert_array_equal(rows["index"][chosen], np.flatnonzero(codes == 2))
        expected = LinearCorrection().fit(table["vbmd"][codes != 2], table["E_eff"][codes != 2]).predict(
            table["vbmd"][codes == 2])
        np.testing.assert_allclose(rows["E_pred"][chosen], expected)
    # the power law is exact for this table; the coarse FE is exact after its linear correction
    law = rows["model_name"] == "BV/TV–fabric power law"
    np.testing.assert_allclose(rows["E_pred"][law], table["E_eff"][rows["index"][law]], rtol=1e-6)
    coarse = rows["model_name"] == "coarse FE 2 × 2"
    np.testing.assert_allclose(rows["E_pred"][coarse], table["E_eff"][rows["index"][coarse]], rtol=1e-9)
    cv = (rows["scheme_name"] == "donor-cv") & (rows["model_name"] == "vBMD regression")
    assert sorted(rows["index"][cv]) == list(range(table["E_eff"].size))  # every sample once out of fold


def test_summary_pools_with_donor_intervals_and_gives_each_fold():
    table = synthetic_table()
    rows = {name: [] for name in results.PREDICTION_COLUMNS}
    for scheme, fold, codes in evaluation.partitions(table, 1):
        test = np.flatnonzero(codes == 2)
        results.append_predictions(rows, test, "double", scheme, fold, 2 * table["E_eff"][test])
    rows = {k: np.asarray(v) for k, v in rows.items()}
    summary = evaluation.summarise(table, rows, n_resamples=50)
    pooled = summary["donor-cv"]["double"]["pooled"]
    assert pooled["n"] == table["E_eff"].size and pooled["rpe50"]["value"] == pytest.approx(1.0)
    assert pooled == metrics.report(rows["E_pred"][rows["scheme_name"] == "donor-cv"],
                                    table["E_eff"][rows["index"][rows["scheme_name"] == "donor-cv"]],
                                    n_resamples=50, groups=table["donor"][rows["index"][rows["scheme_name"] == "donor-cv"]])
    per_fold = summary["donor-cv"]["double"]["folds"]["slope"]
    assert per_fold["values"] == pytest.approx([2.0] * 3) and per_fold["sd"] == pytest.approx(0, abs=1e-12)
    assert "folds" not in summary["random"]["double"]


def test_the_results_file_and_table(tmp_path):
    table = synthetic_table()
    rows = evaluation.baseline_predictions(table, None, val_donors=1)
    results = evaluation.write_metrics(tmp_path / "metrics.json", "ci", evaluation.summarise(table, rows, n_resamples=20))
    header, lines = evaluation.table_rows(results, {"vBMD regression": "density line"})
    assert len(header) == 7 and all(len(line) == 7 for line in lines)
    assert lines[0][0] == "density line" and lines[0][1] == "random (10)"
    assert lines[-2][2] == f"{reference.CNN_METRICS['r2']:.2f}"  # the paper's row is the comparison


def test_donor_bootstrap_resamples_whole_donors():
    p, r = np.arange(1.0, 21.0), np.arange(1.0, 21.0) + np.repeat([0.0, 5.0], 10)
    grouped = metrics.bootstrap(metrics.METRICS["mae"], p, r, 200, groups=np.repeat(["a", "b"], 10))
    # a resample holds both donors, only a, or only b: MAE 2.5, 0 or 5
    assert grouped[1] == pytest.approx(0.0) and grouped[2] == pytest.approx(5.0)
    with pytest.raises(ValueError, match="groups"):
        metrics.bootstrap(metrics.METRICS["mae"], p, r, 10, groups=["a"])


def test_run_labels_give_each_evaluation_its_epochs(tmp_path):
    import json

    for name, scheme, epochs in (("paper-random", "random", 44), ("paper-fold0", "donor-cv", 3),
                                 ("paper-fold1", "donor-cv", 4), ("improved-random", "random", 20)):
        (tmp_path / "runs" / name).mkdir(parents=True)
        (tmp_path / "runs" / name / "metrics.json").write_text(
            json.dumps({"model": name.split("-")[0], "scheme": scheme, "epochs_run": epochs}))
    runs = [json.loads(p.read_text()) for p in sorted(tmp_path.glob("runs/*/metrics.json"))]
    assert evaluation.run_labels(runs) == {("paper's CNN", "random"): "paper's CNN (44 of the paper's 200 epochs)",
                                               ("paper's CNN", "donor-cv"): "paper's CNN (3–4 of the paper's 200 epochs)",
                                               ("improved CNN", "random"): "improved CNN (20 epochs)"}
