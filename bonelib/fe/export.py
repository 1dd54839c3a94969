"""The fields of a 3D homogenisation written for ParaView: one hexahedron per element voxel.

:func:`write_fields` writes a VTK unstructured grid (``.vtu``, or any format meshio chooses by
suffix) of the voxels that are elements, their corners at their true positions in mm (x along
array axis 2, y along 1, z along 0), with, per hexahedron and per unit load case, the von Mises
stress (MPa), the strain-energy density (MPa = MJ/m³) and the Voigt stress (MPa), and the
element's Young's modulus (MPa). The file is written whole or not at all.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from bonelib.fe.homogenise import Fields

#: meshio's order of a hexahedron's corners (VTK_HEXAHEDRON): the bottom face counter-clockwise, then the top.
VTK_CORNERS = ((0, 0, 0), (1, 0, 0), (1, 1, 0), (0, 1, 0), (0, 0, 1), (1, 0, 1), (1, 1, 1), (0, 1, 1))


def write_fields(path: str | Path, E: NDArray, fields: dict[str, Fields], voxel_size_mm: float) -> Path:
    """Write the bone voxels of ``E`` (above the marrow modulus) and their fields to ``path`` for ParaView.

    Parameters
    ----------
    path : path
        Output file; ``.vtu`` for VTK.
    E : numpy.ndarray
        (nz, ny, nx) Young's modulus per voxel (MPa).
    fields : dict
        Load case → :class:`bonelib.fe.homogenise.Fields` (``homogenise_3d(..., fields=True)``).
    voxel_size_mm : float
        Voxel side (mm).
    """
    import meshio

    from bonelib._files import atomic_path
    from bonelib.imaging.density import MARROW_MODULUS

    E = np.asarray(E, dtype=float)
    k, i, j = np.nonzero(E > MARROW_MODULUS)
    shape = np.array(E.shape) + 1  # corners of the voxels, not wrapped: each hexahedron where it lies
    corners = np.stack([np.ravel_multi_index((k + dz, i + dy, j + dx), shape) for dx, dy, dz in VTK_CORNERS], axis=1)
    used, cells = np.unique(corners, return_inverse=True)
    z, y, x = np.unravel_index(used, shape)
    points = np.stack([x, y, z], axis=1) * voxel_size_mm
    data = {"E": [E[k, i, j]]}
    for load, field in fields.items():
        data[f"von_mises_{load}"] = [field.von_mises[k, i, j]]
        data[f"strain_energy_density_{load}"] = [field.strain_energy_density[k, i, j]]
        data[f"stress_{load}"] = [field.stress[k, i, j]]
    mesh = meshio.Mesh(points, [("hexahedron", cells.reshape(-1, 8))], cell_data=data)
    with atomic_path(path) as temporary:
        meshio.write(temporary, mesh)
    return Path(path)
