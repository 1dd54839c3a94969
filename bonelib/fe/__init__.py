"""Periodic finite-element homogenisation of 2D images (paper section 2.2, Eq. 2–5).

- :mod:`bonelib.fe.element`: the Q4 plane-stress element;
- :mod:`bonelib.fe.mesh`: the periodic pixel mesh and its sparsity pattern;
- :mod:`bonelib.fe.solvers`: sparse direct solvers (CHOLMOD, SuperLU);
- :mod:`bonelib.fe.homogenise`: effective stiffness and fields;
- :mod:`bonelib.fe.analytic`: exact references (isotropic, laminate, Voigt and Reuss bounds).
"""

from __future__ import annotations

import scipy.sparse as sp
from numpy.typing import ArrayLike

from bonelib.fe.element import element_stiffness
from bonelib.fe.homogenise import LOAD_CASES, Fields, Homogenisation, check_materials, homogenise
from bonelib.fe.mesh import periodic_grid
from bonelib.fe.solvers import available as available_solvers


def stiffness_matrix(E: ArrayLike, nu: ArrayLike) -> sp.csr_matrix:
    """Reduced periodic stiffness matrix of an image: free DOFs, nested-dissection order.

    Parameters
    ----------
    E, nu : array_like
        (rows, cols) Young's modulus (MPa) and Poisson's ratio per pixel.
    """
    E, nu = check_materials(E, nu)
    return periodic_grid(*E.shape).reduced_matrix(element_stiffness(E.ravel(), nu.ravel()))


__all__ = ["LOAD_CASES", "Fields", "Homogenisation", "homogenise", "stiffness_matrix", "available_solvers"]
