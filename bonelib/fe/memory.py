"""The memory a 3D FE solve will need, estimated before it starts, and a clear refusal.

A voxel mesh of a whole scan can need more memory than the machine has; the kernel then kills
the process without a word. :func:`check_fits` compares an estimate with the memory available
and refuses with a message that names the volume's size, the estimate and the memory free.

The estimate is measured, not derived (``benchmarks/bench_fe3d.py`` and
``benchmarks/bench_platens.py`` print the peaks): for a direct factorisation about
:data:`BYTES_PER_ELEMENT` per hexahedron for the assembly and the assembled matrix plus the
factor, about :data:`FILL` · n^(4/3) entries of 12 bytes for n DOFs in nested-dissection order
(the fill of a 3D mesh); for the multigrid CG, which needs no factor and never assembles its
finest level (:mod:`bonelib.fe.element_operator`), about :data:`MULTIGRID_BYTES_PER_ELEMENT`
(the mesh, the coarse levels, the vectors), linear in the mesh. On a 50³ bone cube (21,445
elements, 112k DOF) the SuperLU estimate is 1.0 GB against a peak of 0.91 GB; on the whole
shipped ROI at 51 µm (1.22 M elements, 5.56 M DOF, bonded platens), the multigrid's 3.1 GB
against 2.96–3.04 GB.
"""

from __future__ import annotations

import os

#: Bytes per hexahedral element of a direct solve, factor aside (measured on real bone cubes).
BYTES_PER_ELEMENT = 26_000
#: Bytes per hexahedral element of a multigrid solve of one load case (measured: 2.96–3.04 GB for
#: 1.22 M elements).
MULTIGRID_BYTES_PER_ELEMENT = 2_500
#: Bytes per element of each further load case of a multigrid solve: the CG's vectors (about
#: 4.6 DOFs per element on bone, sixteen vectors) and the element fields of a homogenisation
#: (forces, displacements, strains and stresses); counted from those arrays and rounded up.
LOAD_CASE_BYTES_PER_ELEMENT = 2_000
#: Entries of a direct factor over n^(4/3), n the DOFs (measured: 55 M entries at 112k DOF).
FILL = 7.0
#: Solvers that factorise (the others iterate in the memory of the matrix).
DIRECT = ("cholmod", "superlu")


def available_memory() -> int:
    """Memory available to a new allocation (bytes): Linux's ``MemAvailable``, else free pages."""
    try:
        with open("/proc/meminfo") as meminfo:
            for line in meminfo:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")


def solve_memory(n_elements: int, n_dofs: int, solver: str, load_cases: int = 1) -> int:
    """Estimated peak memory (bytes) of assembling and solving a voxel mesh for ``load_cases``
    right-hand sides (a direct solve's estimate was measured on six, and holds for fewer).

    >>> round(solve_memory(21_445, 111_762, "superlu") / 1e9, 1), round(solve_memory(21_445, 111_762, "mg") / 1e9, 2)
    (1.0, 0.05)
    """
    if solver not in DIRECT:
        return (MULTIGRID_BYTES_PER_ELEMENT + (load_cases - 1) * LOAD_CASE_BYTES_PER_ELEMENT) * n_elements
    return int(BYTES_PER_ELEMENT * n_elements + 12 * FILL * n_dofs ** (4 / 3))


def check_fits(shape: tuple[int, ...], n_elements: int, n_dofs: int, solvers: list[str], load_cases: int = 1) -> str:
    """The first of ``solvers`` whose solve (of ``load_cases`` right-hand sides) fits in the
    memory available; refuse if none does.

    Raises
    ------
    MemoryError
        With the volume's shape, its elements and DOFs, each solver's estimate and the memory
        available.
    """
    free = available_memory()
    estimates = {name: solve_memory(n_elements, n_dofs, name, load_cases) for name in solvers}
    for name, need in estimates.items():
        if need <= free:
            return name
    needs = ", ".join(f"{need / 1e9:.1f} GB with {name!r}" for name, need in estimates.items())
    raise MemoryError(
        f"a voxel mesh of {' × '.join(map(str, shape))} voxels ({n_elements:,} elements, {n_dofs:,} DOF) needs "
        f"about {needs}; {free / 1e9:.1f} GB of memory is available. Crop the volume, coarsen its voxels "
        f"(bonelib.imaging.scanner.resample) or run it on a larger machine.")
