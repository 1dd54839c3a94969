"""Real bone: the shipped FDA L1 ROIs, their registry, and the checked download path."""

import functools
import hashlib
import http.server
import shutil
import threading

import numpy as np
import pytest

from bonelib import data


def test_registry_covers_the_collection_and_the_shipped_files_match_it():
    rows = data.registry()
    assert len(rows) == 130 and len({r["specimen"] for r in rows}) == 10
    shipped = [r for r in rows if r["shipped"]]
    assert {r["specimen"] for r in shipped} == {r["specimen"] for r in rows}  # every specimen ships
    assert sum((data.SHIPPED / r["file"]).stat().st_size for r in shipped) < 15e6
    assert not any(r["shell"] for r in shipped)
    for row in shipped:
        assert hashlib.sha256((data.SHIPPED / row["file"]).read_bytes()).hexdigest() == row["sha256"]
    on_disk = {p.name for p in data.SHIPPED.glob("*.nrrd")}
    assert on_disk == {r["file"] for r in shipped}


def test_rois_are_real_cancellous_bone_with_their_principal_axis_first():
    rois = list(data.fda_l1_rois(specimens=["04665", "67837"]))
    assert [r.specimen for r in rois] == ["04665"] * 3 + ["67837"] * 3
    registered = {r["roi"]: r["bv_tv"] for r in data.registry()}
    for roi in rois:
        assert roi.bone.shape == (201, 201, 201) and roi.bone.dtype == bool
        assert roi.voxel_size_mm == pytest.approx(0.0513) and roi.axis == 0
        assert roi.bv_tv == pytest.approx(registered[roi.roi], rel=1e-9)  # upstream's BV/TV
        assert 0.05 < roi.bv_tv < 0.25
        # trabeculae run along the principal axis: bone chords are longest along it
        chords = []
        for axis in range(3):
            runs = np.diff(np.moveaxis(roi.bone, axis, -1).astype(np.int8), axis=-1)
            chords.append(roi.bone.sum() / max((runs == 1).sum(), 1))
        assert chords[roi.axis] == max(chords)


def test_bad_requests():
    with pytest.raises(ValueError, match="subset"):
        next(data.fda_l1_rois(subset="some"))
    with pytest.raises(KeyError, match="not a file"):
        data.fetch("isodata_00000_roi_0.nrrd")


@pytest.fixture
def server(tmp_path):
    """An HTTP server on 127.0.0.1 serving a folder; yields (folder, base URL)."""
    folder = tmp_path / "served"
    folder.mkdir()
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(folder))
    handler.log_message = lambda *args: None
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield folder, f"http://127.0.0.1:{httpd.server_address[1]}/"
    httpd.shutdown()
    httpd.server_close()


def test_download_checks_the_file_and_reuses_it(server, tmp_path):
    folder, url = server
    name = next(r["file"] for r in data.registry() if r["shipped"])
    shutil.copyfile(data.SHIPPED / name, folder / name)
    cache = tmp_path / "cache"
    path = data.download(name, base_url=url, cache=cache)
    assert path.parent == cache and path.read_bytes() == (data.SHIPPED / name).read_bytes()
    (folder / name).unlink()  # a second call reads the cache, not the server
    assert data.download(name, base_url=url, cache=cache) == path


def test_a_checksum_mismatch_is_refused_and_leaves_nothing(server, tmp_path):
    folder, url = server
    name = next(r["file"] for r in data.registry() if r["shipped"])
    corrupted = bytearray((data.SHIPPED / name).read_bytes())
    corrupted[-1] ^= 0xFF
    (folder / name).write_bytes(bytes(corrupted))
    cache = tmp_path / "cache"
    with pytest.raises(ValueError, match="(?i)hash"):
        data.download(name, base_url=url, cache=cache)
    assert not cache.exists() or list(cache.iterdir()) == []
