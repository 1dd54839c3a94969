"""The layers both routes' networks share: periodic padding and the periodic cell's symmetries."""

import os

import numpy as np
import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
pytest.importorskip("keras")

from bonelib.learn.layers import CircularPad, PeriodicAugment, symmetric_images


@pytest.mark.parametrize("shape", [(2, 5, 6, 1), (2, 4, 5, 3, 2)], ids=["slices", "cubes"])
def test_circular_padding_is_numpy_wrap(shape):
    x = np.arange(np.prod(shape), dtype=np.float32).reshape(shape)
    widths = ((0, 0), *[(2, 2)] * (len(shape) - 2), (0, 0))
    np.testing.assert_array_equal(np.asarray(CircularPad(2)(x)), np.pad(x, widths, mode="wrap"))
    assert CircularPad(2).compute_output_shape((None, *shape[1:])) == (None, *(n + 4 for n in shape[1:-1]), shape[-1])


def shifted_image(out: np.ndarray, images: list[np.ndarray]) -> bool:
    """Whether ``out`` is one of ``images`` rolled periodically along its spatial axes."""
    spatial = tuple(range(out.ndim - 1))
    for image in images:
        at = np.argwhere(image == 0)[0][:-1]
        to = np.argwhere(out == 0)[0][:-1]
        if np.array_equal(np.roll(image, tuple(to - at), axis=spatial), out):
            return True
    return False


def test_the_augmentation_maps_a_cube_onto_a_shifted_symmetric_image_of_itself():
    cube = np.random.default_rng(0).permutation(6**3).astype(np.float32).reshape(1, 6, 6, 6, 1)
    images = [image[0] for image in symmetric_images(cube)]
    layer = PeriodicAugment(seed=3)
    seen = set()
    for _ in range(40):
        out = np.asarray(layer(cube, training=True))[0]
        assert shifted_image(out, images)
        seen.add(next(k for k, image in enumerate(images) if shifted_image(out, [image])))
    assert len(seen) > 8  # not one symmetry over and over
    np.testing.assert_array_equal(np.asarray(layer(cube, training=False)), cube)  # inactive at inference


def test_the_augmentation_of_a_slice_is_one_of_its_eight_flips_and_turns():
    image = np.random.default_rng(1).permutation(25).astype(np.float32).reshape(1, 5, 5, 1)
    images = [np.rot90(flipped, k, axes=(0, 1)) for flipped in (image[0], image[0, ::-1]) for k in range(4)]
    layer = PeriodicAugment(seed=0)
    assert all(shifted_image(np.asarray(layer(image, training=True))[0], images) for _ in range(20))
