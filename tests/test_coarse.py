"""The coarse-FE baseline: mass-conserving block averages and the same FE at a coarser pixel."""

import numpy as np
import pytest

from bonelib.fe import homogenise
from bonelib.imaging.density import material_maps
from bonelib.slices import coarse
from bonelib.slices.label import label_density


def test_block_mean_conserves_the_mean_and_reproduces_exact_blocks():
    rho = np.random.default_rng(0).uniform(0, 1000, (182, 182))
    for factor in (2, 3, 4):
        assert coarse.block_mean(rho, factor).mean() == pytest.approx(rho.mean(), rel=1e-12)
    blocks = np.kron(np.arange(16.0).reshape(4, 4), np.ones((2, 2)))
    np.testing.assert_allclose(coarse.block_mean(blocks, 2), np.arange(16.0).reshape(4, 4), atol=1e-12)
    np.testing.assert_array_equal(coarse.block_mean(rho, 1), rho)


def test_factor_one_is_the_label_and_a_uniform_image_keeps_its_modulus():
    rho = np.random.default_rng(1).uniform(0, 1100, (24, 24))
    assert coarse.coarse_modulus(rho, 1)[0] == label_density(rho).E_eff
    uniform = np.full((24, 24), 800.0)
    E, nu = material_maps(uniform)
    exact = homogenise(E, nu).E_eff
    for factor in (2, 4):
        modulus, seconds = coarse.coarse_modulus(uniform, factor)
        assert modulus == pytest.approx(exact, rel=1e-10) and seconds > 0


def test_bad_input_is_refused():
    with pytest.raises(ValueError, match="factor"):
        coarse.block_mean(np.ones((8, 8)), 0)
    with pytest.raises(ValueError, match="too small"):
        coarse.block_mean(np.ones((4, 4)), 4)
    with pytest.raises(ValueError):
        coarse.block_mean(np.full((8, 8), np.nan), 2)
