"""The geometric multigrid CG: its interpolation, its hierarchy, and its answers against exact
references and the direct solvers (to 1e-6, as the FE's verification cases ask)."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp

from bonelib import data
from bonelib.fe import compression_test, homogenise_3d, multigrid, tissue_maps
from bonelib.fe.analytic import laminate
from bonelib.fe.hex8 import isotropic_matrix
from bonelib.imaging import scanner

VOXEL = 0.082


@pytest.fixture(scope="module")
def real_cube():
    """A 28³ cube of a shipped real L1 ROI at 82 µm: three multigrid levels."""
    roi = next(data.fda_l1_rois())
    return (scanner.resample(roi.bone, roi.voxel_size_mm) >= 0.5)[28:56, 28:56, 28:56]


@pytest.mark.parametrize("n, periodic", [(8, True), (7, True), (9, False), (8, False)])
def test_interpolation_along_an_axis_is_linear_and_keeps_every_other_node(n, periodic):
    left, right, weight, n_coarse = multigrid.coarse_axis(n, periodic)
    assert np.all((left >= 0) & (left < n_coarse) & (right >= 0) & (right < n_coarse))
    fine = np.arange(n)
    coarse_at = np.array([2 * c if 2 * c < n else n - 1 for c in range(n_coarse)])  # fine index of a coarse node
    assert np.array_equal(left[coarse_at], np.arange(n_coarse)) and np.all(weight[coarse_at] == 1)
    if not periodic:  # a linear function is reproduced exactly
        values = weight * coarse_at[left] + (1 - weight) * coarse_at[right]
        np.testing.assert_allclose(values, fine)


def test_prolongation_keeps_constants_and_only_the_coarse_nodes_needed():
    shape = (6, 5, 7)
    nodes = np.flatnonzero(np.random.default_rng(1).random(shape) < 0.3)
    P, coarse_shape, coarse_nodes = multigrid.prolongation(shape, nodes, periodic=True)
    assert coarse_shape == (3, 3, 4) and P.shape == (nodes.size, coarse_nodes.size)
    np.testing.assert_allclose(P @ np.ones(coarse_nodes.size), 1.0)  # rigid translation kept
    assert np.all(np.diff(P.tocsc().indptr) > 0)  # every coarse node is used


def test_hierarchy_shrinks_to_a_direct_coarsest_level(real_cube):
    from bonelib.fe.homogenise_3d import elements_of
    from bonelib.fe.voxel_mesh import VoxelMesh

    E, nu = tissue_maps(real_cube)
    mask = elements_of(E, "drop")[0]
    mesh = VoxelMesh.of(mask)
    A = mesh.stiffness(E.ravel()[mesh.elements], nu.ravel()[mesh.elements])
    hierarchy = multigrid.Hierarchy.build(A, mesh.node_shape, mesh.grid_nodes, True, 3, np.arange(3, mesh.n_dofs))
    sizes = hierarchy.unknowns
    assert len(sizes) >= 3 and sizes[-1] <= multigrid.COARSEST and all(np.diff(sizes) < 0)
    for level in hierarchy.levels[1:]:  # Galerkin operators stay symmetric positive definite
        assert abs(level.A - level.A.T).max() <= 1e-10 * abs(level.A).max()
    assert np.all(np.linalg.eigvalsh(hierarchy.levels[-1].A.toarray()) > 0)


def test_several_right_hand_sides_at_once_and_a_zero_one():
    n = 300
    A = sp.diags([-np.ones(n - 1), 2.0001 * np.ones(n), -np.ones(n - 1)], [-1, 0, 1], format="csr")
    hierarchy = multigrid.Hierarchy.build(A, (n,), np.arange(n), periodic=False)
    b = np.random.default_rng(2).standard_normal((n, 3))
    b[:, 1] = 0.0
    x, _ = multigrid.conjugate_gradients(A, b, hierarchy, rtol=1e-10)
    np.testing.assert_allclose(A @ x, b, atol=1e-8)
    assert np.all(x[:, 1] == 0)
    with pytest.raises(RuntimeError, match="did not reach"):
        multigrid.conjugate_gradients(A, b, hierarchy, rtol=1e-14, maxiter=1)


def test_homogeneous_cube_with_several_levels_gives_the_material():
    result = homogenise_3d(np.full((16, 16, 16), 1000.0), np.full((16, 16, 16), 0.25), VOXEL, solver="mg")
    np.testing.assert_allclose(result.C, isotropic_matrix(1000.0, 0.25), atol=1e-6 * 1000)


@pytest.mark.parametrize("axis", [0, 2])
def test_laminate_is_exact(axis):
    layers = np.array([1000.0, 200.0, 5000.0, 3000.0])[np.arange(12) % 4]
    ratios = np.array([0.3, 0.2, 0.35, 0.25])[np.arange(12) % 4]
    E = np.moveaxis(np.broadcast_to(layers[:, None, None], (12, 12, 12)), 0, axis).copy()
    nu = np.moveaxis(np.broadcast_to(ratios[:, None, None], (12, 12, 12)), 0, axis).copy()
    C = homogenise_3d(E, nu, VOXEL, solver="mg").C
    exact = laminate(layers, ratios, np.ones(12), "zyx"[axis], ndim=3)  # array axis 0 is z
    np.testing.assert_allclose(C, exact, atol=1e-6 * np.abs(exact).max())


def test_real_bone_agrees_with_the_direct_solver_and_under_shifts(real_cube):
    E, nu = tissue_maps(real_cube)
    direct = homogenise_3d(E, nu, VOXEL, solver="superlu").C
    iterative = homogenise_3d(E, nu, VOXEL, solver="mg").C
    np.testing.assert_allclose(iterative, direct, atol=1e-6 * np.abs(direct).max())
    shifted = homogenise_3d(*(np.roll(a, (5, -3, 7), (0, 1, 2)) for a in (E, nu)), VOXEL, solver="mg").C
    np.testing.assert_allclose(shifted, direct, atol=1e-6 * np.abs(direct).max())


@pytest.mark.parametrize("platens", ["frictionless", "bonded"])
def test_platens_on_real_bone_agree_with_the_direct_solver(real_cube, platens):
    E, nu = tissue_maps(real_cube)
    direct = compression_test(E, nu, platens=platens, solver="superlu").E_apparent
    iterative = compression_test(E, nu, platens=platens, solver="mg")
    assert iterative.solver == "mg" and direct > 0
    assert abs(iterative.E_apparent - direct) <= 1e-6 * direct


@pytest.mark.parametrize("periodic, uniform_nu", [(True, True), (False, True), (False, False)])
def test_the_element_operator_is_the_assembled_stiffness_slab_by_slab(real_cube, periodic, uniform_nu, monkeypatch):
    """Products, diagonal and first coarse operator of the never-assembled finest level equal
    those of the assembled matrix, with fixed DOFs left out and slabs smaller than the mesh (the
    coarse operator summed by parts, a periodic grid's wrap included), for one ν everywhere (one
    element matrix, scaled) and for a ν per element."""
    from bonelib.fe import element_operator
    from bonelib.fe.homogenise_3d import elements_of
    from bonelib.fe.voxel_mesh import VoxelMesh

    monkeypatch.setattr(element_operator, "GALERKIN_CHUNK", 1500)
    E, nu = tissue_maps(real_cube)
    mesh = VoxelMesh.of(elements_of(E, "drop")[0], periodic=periodic)
    E_el, nu_el = E.ravel()[mesh.elements] * np.linspace(0.5, 2, mesh.elements.size), nu.ravel()[mesh.elements]
    if not uniform_nu:
        nu_el = nu_el * np.linspace(0.5, 1.3, mesh.elements.size)
    numbering = np.arange(mesh.n_dofs)
    fixed = np.random.default_rng(3).choice(mesh.n_dofs, 40, replace=False)
    numbering[fixed] = -1
    free = numbering >= 0
    numbering[free] = np.arange(free.sum())
    A = mesh.stiffness(E_el, nu_el, numbering=numbering)
    operator = element_operator.ElementOperator(mesh, E_el, nu_el, numbering)
    x = np.random.default_rng(4).standard_normal((A.shape[0], 3))
    assert operator.shape == A.shape
    np.testing.assert_allclose(operator @ x, A @ x, rtol=0, atol=1e-10 * abs(A @ x).max())
    np.testing.assert_allclose(operator @ x[:, 0], A @ x[:, 0], rtol=0, atol=1e-10 * abs(A @ x).max())
    np.testing.assert_allclose(operator.diagonal(), A.diagonal(), rtol=1e-12)
    P = multigrid.Hierarchy.build(A, mesh.node_shape, mesh.grid_nodes, periodic, 3, np.flatnonzero(free)).levels[0].P
    monkeypatch.setattr(multigrid, "GALERKIN_ROWS", 500)
    for coarse in (multigrid.galerkin(operator, P), multigrid.galerkin(A, P)):  # by slabs, by blocks of rows
        assert abs(coarse - P.T @ A @ P).max() <= 1e-12 * abs(coarse).max()
