"""ParOSol as an optional external engine of the platen test, for volumes beyond one machine.

ParOSol (Flaig & Arbenz 2011) solves voxel micro-FE with multigrid-preconditioned CG on many
MPI processes: a whole vertebral body at 82 µm (~40 M voxels) and beyond. It is packaged on
PyPI as ``parosol-py`` under the GPL-2.0, so bonelib never imports or requires it: ParOSol runs
as a separate program, in an environment the user installs, and exchanges files with bonelib::

    python -m venv ~/parosol && ~/parosol/bin/pip install parosol-py
    export BONELIB_PAROSOL_PYTHON=~/parosol/bin/python          # or pass python=...

Then ``compression_test(E, nu, engine="parosol")`` (or :func:`compression_test` here) runs the
same test with the same inputs and outputs as bonelib's own: the same bone (the cluster that
joins both platens), frictionless platens (ParOSol's ``UniaxialCompression``) or bonded ones
(``ConstrainedAxialCompression``), and returns a :class:`~bonelib.fe.platens.PlatenTest`.
``processes`` MPI processes run it through ``parosol-py``'s packaged ``mpirun``; on a cluster,
run that environment's ``parosol`` under the site's MPI launcher (``mpirun -n 64 parosol
case.h5``) on the HDF5 case ``parosol-py`` writes into ``work_dir``.

Where each engine stops (one core of the 2-core, 24 GB machine of this project): bonelib's
direct solvers up to ~0.3 M DOF (a 60³ bone cube, seconds; memory grows as n^(4/3)), its AMG to
a few M DOF within memory but slowly; ParOSol's memory grows linearly with the DOFs and its
time splits over MPI processes, the engine for whole bones.
"""

from __future__ import annotations

import json
import os
import subprocess
import tempfile
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

#: Environment variable naming the interpreter of an environment with ``parosol-py``.
PYTHON_VARIABLE = "BONELIB_PAROSOL_PYTHON"
#: Relative residual at which ParOSol's CG stops.
TOLERANCE = 1e-8
#: ParOSol's load case for each of bonelib's platen tests.
LOAD_CASES = {"frictionless": "UniaxialCompression", "bonded": "ConstrainedAxialCompression"}

# Runs in the ParOSol environment: numpy and parosol_py only.
SCRIPT = r"""
import json, sys, time
import numpy as np
import parosol_py
from parosol_py import load_cases
from parosol_py.core import Model

material, nu = np.load(sys.argv[1]), float(sys.argv[2])
work, voxel, case, processes, tolerance = sys.argv[3], float(sys.argv[4]), sys.argv[5], int(sys.argv[6]), float(sys.argv[7])
strain = -0.01
xyz = np.ascontiguousarray(np.transpose(material, (2, 1, 0)))
conditions = getattr(load_cases, case)(axis="z", strain=strain).generate(Model(material_xyz=xyz, spacing=(voxel,) * 3))
began = time.perf_counter()
result = parosol_py.solve(material=material, spacing=(voxel,) * 3, poisson_ratio=nu, tolerance=tolerance, level=4,
                          mpi_processes=processes, mpi_launcher="packaged", work_dir=work,
                          boundary_conditions=conditions)
seconds = time.perf_counter() - began
force = result.diagnostics["mechanics"]["reaction_force"]["z"]  # N
area = (material.shape[1] * voxel) * (material.shape[2] * voxel)  # mm²
print(json.dumps({"E": force / area / strain, "seconds": seconds}))
"""


def interpreter(python: str | None = None) -> str:
    """The interpreter of the ParOSol environment: ``python``, else ``$BONELIB_PAROSOL_PYTHON``.

    Raises
    ------
    FileNotFoundError
        When neither names an interpreter that exists, with how to install ParOSol.
    """
    chosen = python or os.environ.get(PYTHON_VARIABLE)
    if not chosen or not Path(chosen).expanduser().exists():
        raise FileNotFoundError(
            f"ParOSol is not installed where bonelib can run it ({'no ' + PYTHON_VARIABLE if not chosen else chosen}): "
            f"it is GPL-2.0 and runs in its own environment: python -m venv ~/parosol && ~/parosol/bin/pip install "
            f"parosol-py, then set {PYTHON_VARIABLE}=~/parosol/bin/python")
    return str(Path(chosen).expanduser())


def solve_platens(E: NDArray, nu: float, platens: str, voxel_size_mm: float, python: str | None = None,
                  processes: int = 1, tolerance: float = TOLERANCE) -> tuple[float, float]:
    """Apparent modulus (MPa) along axis 0 of ``E`` (MPa per voxel, 0 where no element) by ParOSol,
    and ParOSol's seconds."""
    if platens not in LOAD_CASES:
        raise ValueError(f"platens must be one of {tuple(LOAD_CASES)}, got {platens!r}")
    if processes < 1:
        raise ValueError(f"processes must be at least 1, got {processes}")
    program = interpreter(python)
    with tempfile.TemporaryDirectory(prefix="bonelib-parosol-") as folder:
        path = Path(folder) / "material.npy"
        np.save(path, np.asarray(E, np.float32))
        run = subprocess.run([program, "-c", SCRIPT, str(path), repr(float(nu)), str(Path(folder) / "run"),
                              repr(float(voxel_size_mm)), LOAD_CASES[platens], str(processes), repr(tolerance)],
                             capture_output=True, text=True)
    if run.returncode != 0:
        raise RuntimeError(f"ParOSol failed (exit {run.returncode}): {run.stderr.strip()[-2000:]}")
    answer = json.loads(run.stdout.strip().splitlines()[-1])
    return float(answer["E"]), float(answer["seconds"])
