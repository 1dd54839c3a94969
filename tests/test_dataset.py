"""The dataset build: determinism, resumability, splits, errors."""

import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
import zarr

from bonelib import synth
from bonelib.imaging import scanner
from bonelib.imaging.density import Calibration
from bonelib.slices import dataset
from bonelib.slices.dataset.sources import plan_tasks, synthetic_sources
from bonelib.slices.label import label, slice_record

TINY = dataset.Scale(n_donors=3, samples=12, test_donors=1, val_donors=1)


def build_tiny(path, **kwargs):
    return dataset.build(path, scale=TINY, scheduler="synchronous", progress=False, **kwargs)


def read_all(path):
    samples = dataset.load(path)
    return {f.name: getattr(samples, f.name) for f in dataset.FIELDS if f.kind != "split"}


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    return build_tiny(tmp_path_factory.mktemp("tiny") / "tiny.zarr")


def test_labels_are_the_label_function(tiny):
    samples = dataset.load(tiny)
    assert len(samples) == 12 and samples.images.shape == (12, 182, 182, 1) and samples.images.dtype == np.float32
    for index in (0, 7):
        expected = label(samples.images[index, ..., 0], samples.calibration)
        assert samples.E_eff[index] == expected.E_eff
        np.testing.assert_array_equal(samples.C[index], expected.C)
        record = slice_record(samples.images[index, ..., 0], samples.calibration)
        for field in dataset.FIELDS:
            if field.kind == "label":
                np.testing.assert_array_equal(getattr(samples, field.name)[index], record[field.name])


def test_splits_are_by_donor_and_cover_everything(tiny):
    parts = {s: dataset.load(tiny, s, "donor", images=False) for s in dataset.SPLITS}
    assert sum(len(p) for p in parts.values()) == 12
    donors = {s: set(p.donor) for s, p in parts.items()}
    assert not donors["test"] & (donors["train"] | donors["val"])
    assert not donors["train"] & donors["val"]
    random = {s: len(dataset.load(tiny, s, "random", images=False)) for s in dataset.SPLITS}
    assert random == {s: len(parts[s]) for s in dataset.SPLITS}


def test_deterministic(tiny, tmp_path):
    again = build_tiny(tmp_path / "again.zarr")
    first, second = read_all(tiny), read_all(again)
    for key in first:
        np.testing.assert_array_equal(first[key], second[key])


def test_resume_after_kill_equals_uninterrupted_build(tiny, tmp_path):
    out = tmp_path / "killed.zarr"
    code = (
        "from bonelib.slices import dataset; "
        f"dataset.build({str(out)!r}, scale=dataset.Scale(3, 12, 1, 1), scheduler='synchronous', progress=False)"
    )
    process = subprocess.Popen([sys.executable, "-c", code], start_new_session=True)
    vertebrae = out / "vertebrae"
    deadline = time.time() + 120
    while time.time() < deadline and not (vertebrae.exists() and any(p.name.startswith("D") for p in vertebrae.iterdir())):
        time.sleep(0.05)
    os.killpg(process.pid, signal.SIGKILL)  # mid-build: at least one vertebra done, not all
    process.wait()
    finished = [p for p in vertebrae.iterdir() if not p.name.startswith(".")]
    assert 1 <= len(finished) < 9
    with pytest.raises(ValueError, match="incomplete"):
        dataset.load(out)
    build_tiny(out)
    assert not [p for p in vertebrae.iterdir() if p.name.startswith(".")]
    resumed, reference = read_all(out), read_all(tiny)
    for key in reference:
        np.testing.assert_array_equal(resumed[key], reference[key])


def test_a_different_dataset_at_the_output_is_refused(tiny):
    with pytest.raises(ValueError, match="different dataset"):
        dataset.build(tiny, scale=TINY, seed=1, scheduler="synchronous", progress=False)


def test_a_foreign_folder_is_refused(tmp_path):
    (tmp_path / "stuff.zarr").mkdir()
    (tmp_path / "stuff.zarr" / "notes.txt").write_text("mine")
    with pytest.raises(ValueError, match="different dataset"):
        build_tiny(tmp_path / "stuff.zarr")


def test_dask_cluster_gives_the_same_store(tiny, tmp_path):
    out = dataset.build(tmp_path / "dask.zarr", scale=TINY, n_workers=2, progress=False)
    first, second = read_all(tiny), read_all(out)
    for key in first:
        np.testing.assert_array_equal(first[key], second[key])


def test_existing_cluster_by_address(tiny, tmp_path):
    from dask.distributed import LocalCluster

    with LocalCluster(n_workers=1, threads_per_worker=1, dashboard_address=None) as cluster:
        out = dataset.build(tmp_path / "remote.zarr", scale=TINY, scheduler=cluster.scheduler_address, progress=False)
    np.testing.assert_array_equal(read_all(out)["E_eff"], read_all(tiny)["E_eff"])


def test_user_scans_folder(tmp_path):
    scans = tmp_path / "scans"
    scans.mkdir()
    specs = synth.plan(n_donors=3, seed=5)
    for spec in specs[::3]:
        body = spec.scan(n_slices=2).body
        np.save(scans / f"{spec.donor}-{spec.level}.npy", body)  # whole body sections: the VOI is found
    out = dataset.build(tmp_path / "mine.zarr", scans=scans, calibration=scanner.CALIBRATION,
                        scheduler="synchronous", progress=False, voxel_size_mm=0.082)
    samples = dataset.load(out)
    assert len(samples) == 6 and sorted(set(samples.donor)) == ["D01", "D02", "D03"]
    small = tmp_path / "small"
    small.mkdir()
    np.save(small / "D01-L1.npy", np.zeros((3, 120, 120), np.int16))
    with pytest.raises(ValueError, match="182"):
        dataset.build(tmp_path / "bad.zarr", scans=small, calibration=Calibration(1, 0), scheduler="synchronous",
                      voxel_size_mm=0.082)
    with pytest.raises(ValueError, match="calibration"):
        dataset.build(tmp_path / "bad.zarr", scans=scans, scheduler="synchronous")


def test_describe_reports_against_the_paper(tiny):
    summary = dataset.describe(tiny)
    assert summary["samples"] == 12 and summary["paper"]["E_eff_median"] == 988.7
    E = summary["fields"]["E_eff"]
    assert E["unit"] == "MPa" and E["min"] <= E["median"] <= E["max"]
    assert set(summary["fields"]) == {f.name for f in dataset.FIELDS if f.kind == "label" and f.shape == ()}
    assert 0 <= summary["vbmd_fit"]["r2"] <= 1


def test_paper_scale_layout_matches_the_paper():
    rng = np.random.default_rng([0, 1])
    paper = dataset.SCALES["paper"]
    tasks = plan_tasks(synthetic_sources(paper, 0, rng), paper, rng)
    counts = np.array([t.source.n_slices for t in tasks])
    assert len(tasks) == 105 and counts.sum() == 10_896 and set(counts) == {103, 104}
    random = np.concatenate([t.split_random for t in tasks])
    assert [int((random == k).sum()) for k in range(3)] == [8000, 2636, 260]
    test_donors = {t.source.donor for t in tasks if t.split_donor == 2}
    assert len(test_donors) == 1


def test_load_errors(tmp_path, tiny):
    with pytest.raises(FileNotFoundError):
        dataset.load(tmp_path / "nothing.zarr")
    with pytest.raises(ValueError, match="split"):
        dataset.load(tiny, "everything")


def test_replace_rebuilds_only_bonelib_stores(tmp_path):
    out = build_tiny(tmp_path / "store.zarr")
    other = dataset.Scale(n_donors=3, samples=9, test_donors=1, val_donors=1)
    dataset.build(out, scale=other, scheduler="synchronous", progress=False, replace=True)
    assert len(dataset.load(out)) == 9
    foreign = tmp_path / "foreign.zarr"
    foreign.mkdir()
    (foreign / "keep.txt").write_text("mine")
    with pytest.raises(ValueError, match="not a bonelib dataset"):
        dataset.build(foreign, scale=TINY, scheduler="synchronous", progress=False, replace=True)
    assert (foreign / "keep.txt").read_text() == "mine"


def test_the_label_version_is_part_of_the_parameters(tiny, monkeypatch):
    import importlib

    from bonelib import versions
    building = importlib.import_module("bonelib.slices.dataset.build")

    assert zarr.open_group(str(tiny), mode="r").attrs["parameters"]["label_version"] == versions.SLICE_LABELS
    before = building.plan_synthetic(TINY, 0)[1]
    monkeypatch.setattr(building, "SLICE_LABELS", versions.SLICE_LABELS + 1)
    bumped = building.plan_synthetic(TINY, 0)[1]
    assert bumped["label_version"] == versions.SLICE_LABELS + 1
    assert dataset.store.parameters_fingerprint(bumped) != dataset.store.parameters_fingerprint(before)


def test_every_vertebra_group_holds_exactly_the_schema_fields(tiny):
    root = zarr.open_group(str(tiny), mode="r")
    for key in root.attrs["vertebrae"]:
        group = zarr.open_group(str(tiny / "vertebrae" / key), mode="r")
        assert sorted(group.array_keys()) == sorted(f.name for f in dataset.FIELDS)
        n = group["E_eff"].shape[0]
        for field in dataset.FIELDS:
            assert group[field.name].shape == (n, *field.shape)
            if field.kind != "image":
                assert group[field.name].dtype == np.dtype(field.dtype)
    assert dataset.fingerprint(tiny) == root.attrs["fingerprint"]
    assert dataset.load(tiny, images=False).meta["fingerprint"] == root.attrs["fingerprint"]
