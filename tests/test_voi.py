import numpy as np
import pytest

from bonelib import synth
from bonelib.imaging.voi import cancellous_mask, cancellous_voi


def phantom(centre=(160, 170), semi=(125, 130)):
    """A solid-walled box of foam: cortex 1, interior 0.3 with noise, outside 0."""
    rng = np.random.default_rng(0)
    rows, cols = np.mgrid[:320, :340]
    inside = ((rows - centre[0]) / semi[0]) ** 4 + ((cols - centre[1]) / semi[1]) ** 4 <= 1
    core = ((rows - centre[0]) / (semi[0] - 6)) ** 4 + ((cols - centre[1]) / (semi[1] - 6)) ** 4 <= 1
    image = np.where(inside, 1000.0, 0.0)
    image[core] = 300.0
    return np.repeat(image[None], 4, axis=0) + rng.normal(0, 30, (4, 320, 340))


def test_voi_is_inside_the_cortex_and_follows_the_body():
    for centre in [(160, 170), (152, 180)]:
        voi = cancellous_voi(phantom(centre))
        row, col = voi.origin
        assert voi.volume.shape == (4, 182, 182)
        # The crop is centred on the body to within a few pixels and holds no cortex.
        assert abs(row + 91 - centre[0]) <= 3 and abs(col + 91 - centre[1]) <= 3
        assert voi.volume.max() < 600


def test_mask_excludes_a_band_under_the_surface():
    mask = cancellous_mask(phantom(), margin_mm=1.0)
    assert not mask[160, : 170 - 130 + 12].any()
    assert mask[160, 170]


def test_synthetic_body_voi_is_inside_the_body():
    micro = synth.Microarchitecture()
    body = synth.scan_vertebra(micro, seed=5, n_slices=6)
    voi = cancellous_voi(body)
    assert voi.cancellous[voi.origin[0] : voi.origin[0] + 182, voi.origin[1] : voi.origin[1] + 182].all()


def test_too_small_or_uniform_raises():
    with pytest.raises(ValueError, match="182"):
        cancellous_voi(phantom(semi=(100, 110)))
    with pytest.raises(ValueError):
        cancellous_voi(np.zeros((3, 200, 200)))
    with pytest.raises(ValueError):
        cancellous_voi(np.zeros((200, 200)))
