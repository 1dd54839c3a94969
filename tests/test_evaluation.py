"""Side-by-side evaluation: baselines fitted on training data, the results file and table."""

import json

import numpy as np
import pytest

from bonelib import evaluation, metrics, reference
from bonelib.baselines import DensityRegression

from tests.test_dataset import build_tiny


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    return build_tiny(tmp_path_factory.mktemp("evaluation") / "tiny.zarr")


def test_baselines_are_fitted_on_the_training_split_and_predict_the_test_split(tiny):
    from bonelib.dataset import load

    comparison = evaluation.baselines(tiny, "donor")
    training, test = load(tiny, "train", "donor", images=False), load(tiny, "test", "donor", images=False)
    np.testing.assert_array_equal(comparison.reference, test.E_eff)
    expected = DensityRegression().fit(training.vbmd, training.E_eff).predict(test.vbmd)
    np.testing.assert_allclose(comparison.predictions["vBMD regression"], expected)
    assert all(p.shape == test.E_eff.shape and np.all(p > 0) for p in comparison.predictions.values())


def test_results_file_and_table(tiny, tmp_path):
    comparison = evaluation.Comparison("donor", np.array([100.0, 200.0, 400.0]),
                                       {"exact": np.array([100.0, 200.0, 400.0]), "double": np.array([200.0, 400.0, 800.0])})
    results = evaluation.write_results(tmp_path / "results.json", "ci", [comparison], n_resamples=50)
    assert json.loads((tmp_path / "results.json").read_text()) == results
    assert results["models"]["donor"]["exact"]["r2"]["value"] == pytest.approx(1.0)
    assert results["models"]["donor"]["double"]["rpe50"]["value"] == pytest.approx(1.0)
    assert results["paper"]["r2"] == reference.CNN_METRICS["r2"]
    header, rows = evaluation.table_rows(results)
    assert len(header) == 7 and all(len(row) == 7 for row in rows)
    assert [row[0] for row in rows[:2]] == ["exact", "double"]
    assert rows[0][2].startswith("1.000 [1.000, 1.000]") and rows[1][5].startswith("1.000")
    assert rows[-2][2] == f"{reference.CNN_METRICS['r2']:.2f}"  # the paper's row is the comparison
    direct = metrics.report(comparison.predictions["double"], comparison.reference, n_resamples=50)
    assert results["models"]["donor"]["double"]["mae"] == direct["mae"]


def test_a_missing_run_is_a_clear_error(tiny, tmp_path):
    with pytest.raises(FileNotFoundError, match="model.keras"):
        evaluation.compare(tiny, "donor", {"improved CNN": tmp_path / "nothing"})
