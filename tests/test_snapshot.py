"""The committed results are verifiable: samples, predictions and metrics recomputed from the code.

``results/paper`` is committed; ``results/ci`` is made by ``make test`` (``make book SCALE=ci``)
before the tests run. For each: samples drawn at random from the per-sample table are
regenerated from the seed (synthetic scan → VOI → label) and must match it; test samples are
re-predicted by the shipped networks and must match the stored predictions; the metrics
recomputed from the stored predictions must equal the stored metrics.
"""

import json
from pathlib import Path

import numpy as np
import pytest

from bonelib.learn import tables as results
from bonelib.slices import crossval, pretrained
from bonelib.slices import evaluate as evaluation
from bonelib.slices import network as cnn
from bonelib.slices.label import slice_record

ROOT = Path(__file__).resolve().parent.parent
SCALES = ("paper", "ci")
MODELS = {"paper": ROOT / "bonelib" / "data" / "models", "ci": ROOT / "results" / "ci" / "models"}


def snapshot(scale: str) -> Path:
    folder = ROOT / "results" / scale
    if not (folder / "metrics.json").exists():
        pytest.fail(f"{folder} holds no results: run `make reproduce SCALE={scale}` (make test makes ci)")
    return folder


def vertebra(scale: str, key: str):
    recorded = json.loads((snapshot(scale) / "dataset.json").read_text())
    parameters = recorded["parameters"]
    tasks, fingerprint = crossval.synthetic_tasks(scale, parameters["seed"], parameters.get("cohort", "paper"))
    assert fingerprint == recorded["fingerprint"], "the dataset was made by other label code than this"
    task = next(t for t in tasks if t.source.key == key)
    volume, calibration = task.source.volume()
    assert crossval.images_digest(volume) == recorded["images_sha256"][key]
    return volume, calibration


@pytest.mark.parametrize("scale", SCALES)
def test_samples_regenerate_from_the_seed(scale):
    table = results.read_table(snapshot(scale) / "samples.csv")
    chosen = np.random.default_rng(2026).choice(len(table["E_eff"]), 5, replace=False)
    for index in chosen:
        volume, calibration = vertebra(scale, table["key"][index])
        record = slice_record(volume[table["slice"][index]], calibration)
        for name in ("E_eff", "nu_eff", "vbmd", "bv_tv", "tb_th"):
            assert record[name] == pytest.approx(table[name][index], rel=1e-9), (index, name)
        C = results.stiffness({k: v[[index]] for k, v in table.items()})[0]
        np.testing.assert_allclose(record["C"], C, rtol=0, atol=1e-9 * np.abs(C).max())
        np.testing.assert_allclose(record["fabric"], [table["fabric_1"][index], table["fabric_2"][index]], rtol=1e-9)


@pytest.mark.parametrize("scale", SCALES)
def test_stored_predictions_are_those_of_the_shipped_networks(scale):
    table = results.read_table(snapshot(scale) / "samples.csv")
    stored = results.read_table(snapshot(scale) / "cnn_predictions.csv")
    ensemble = pretrained.load_pretrained(MODELS[scale])
    rows = np.flatnonzero((stored["model_name"] == "improved CNN") & (stored["scheme_name"] == "donor-cv"))
    key = table["key"][stored["index"][rows[0]]]
    rows = rows[table["key"][stored["index"][rows]] == key]
    chosen = np.random.default_rng(7).choice(rows, min(32, rows.size), replace=False)
    assert chosen.size >= (32 if scale == "paper" else 8)
    volume, calibration = vertebra(scale, key)
    for row in chosen:
        model = ensemble.models[f"improved-fold{stored['fold'][row]}"]
        image = cnn.inputs(volume[[table["slice"][stored["index"][row]]]], calibration, cnn.input_kind(model))
        assert cnn.predict(model, image)[0] == pytest.approx(stored["E_pred"][row], rel=1e-4)


@pytest.mark.parametrize("scale", SCALES)
def test_metrics_recompute_from_the_stored_predictions(scale):
    folder = snapshot(scale)
    stored = json.loads((folder / "metrics.json").read_text())
    table = results.read_table(folder / "samples.csv")
    predictions = results.read_table(folder / "predictions.csv")
    network = results.read_table(folder / "cnn_predictions.csv")
    is_network = np.isin(predictions["model_name"], np.unique(network["model_name"]))
    for name in network:
        np.testing.assert_array_equal(predictions[name][is_network], network[name])
    settings = stored["bootstrap"]
    # every point value and fold, and the intervals of the improved network
    recomputed = evaluation.summarise(table, predictions, n_resamples=2, seed=settings["seed"])
    for scheme, models in stored["evaluations"].items():
        for model, entry in models.items():
            mine = recomputed[scheme][model]
            assert {k: v["value"] for k, v in mine["pooled"].items() if isinstance(v, dict)} == \
                   {k: v["value"] for k, v in entry["pooled"].items() if isinstance(v, dict)}
            assert mine.get("folds") == entry.get("folds")
    improved = {k: v[predictions["model_name"] == "improved CNN"] for k, v in predictions.items()}
    full = evaluation.summarise(table, improved, n_resamples=settings["n_resamples"], seed=settings["seed"])
    for scheme in full:
        assert full[scheme]["improved CNN"] == stored["evaluations"][scheme]["improved CNN"]


def test_the_committed_snapshot_stays_small():
    folder = snapshot("paper")
    size = sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())
    models = sum(p.stat().st_size for p in MODELS["paper"].glob("*") if p.is_file())
    assert size + models <= 25e6, f"results/paper and the shipped models hold {size + models / 1e6:.1f} MB"


def test_the_book_flags_a_snapshot_made_by_other_code():
    from bonebook.viz import provenance_note

    step = {"seconds": 60.0, "finished": "2026-11-27T09:00:00Z",
            "machine": {"gpu": None, "cpu": "some CPU", "cores": 2}}
    later = step | {"finished": "2026-12-01T10:00:00Z"}
    provenance = {"made": "2026-11-26T18:00:00Z", "git_revision": "0123456789abcdef", "code": {"labels": "a"}}
    fresh = provenance_note(provenance, {"dataset": step, "real_bone": later}, {"labels": "a"}).data
    stale = provenance_note(provenance, {"dataset": step}, {"labels": "b"}).data
    assert "0123456789" in fresh and "dataset 1.0 min" in fresh and "color:#c00" not in fresh
    assert "finished 2026-12-01T10:00:00Z" in fresh
    assert "color:#c00" in stale and "labels code changed" in stale


def test_the_readme_table_is_the_committed_metrics():
    results_ = json.loads((snapshot("paper") / "metrics.json").read_text())
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    for row in evaluation.table_rows(results_, evaluation.run_labels(json.loads(p.read_text()) for p in sorted(snapshot("paper").glob("runs/*/metrics.json"))))[1]:
        assert "| " + " | ".join(row) + " |" in readme, row
