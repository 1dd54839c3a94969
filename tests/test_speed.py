"""Timing helpers: periodic tiling is exact, timings count the calls they claim."""

import numpy as np
import pytest

from bonelib.slices import speed


def test_periodic_tile_tiles_and_crops_the_periodic_continuation():
    image = np.arange(12.0).reshape(3, 4)
    np.testing.assert_array_equal(speed.periodic_tile(np.arange(16.0).reshape(4, 4), 8),
                                  np.tile(np.arange(16.0).reshape(4, 4), (2, 2)))
    np.testing.assert_array_equal(speed.periodic_tile(image, 2), image[:2, :2])
    np.testing.assert_array_equal(speed.periodic_tile(image, 5), np.pad(image, ((0, 2), (0, 1)), mode="wrap"))
    with pytest.raises(ValueError, match="side"):
        speed.periodic_tile(image, 1)
    with pytest.raises(ValueError):
        speed.periodic_tile(np.full((3, 3), np.nan), 4)


def test_seconds_per_call_warms_up_then_times_the_repeats():
    calls = []
    seconds = speed.seconds_per_call(lambda: calls.append(1), repeats=5)
    assert len(calls) == 6 and 0 <= seconds < 1
    with pytest.raises(ValueError, match="repeats"):
        speed.seconds_per_call(lambda: None, repeats=0)


def test_fe_time_grows_with_the_image():
    rho = np.random.default_rng(0).uniform(0, 900, (16, 16))
    small, large = speed.fe_seconds(rho, repeats=1), speed.fe_seconds(speed.periodic_tile(rho, 96), repeats=1)
    assert 0 < small < large  # 36 times the unknowns; not a timing goal, a sanity check of what is timed
