"""A synthetic cohort of HR-pQCT-like vertebral scans, shaped like Lu et al. 2023 (section 2.1).

No HR-pQCT data of human vertebrae is public, so the default data of the project is
generated here, deterministically from a seed:

- :mod:`bonelib.synth.generators`: the geometry (Voronoi walls, plate holes, body outline);
- :mod:`bonelib.synth.vertebra`: one vertebra's parameters, its scan, its VOI;
- :mod:`bonelib.synth.cohort`: donors and levels, the cohort's parameter ranges;
- :mod:`bonelib.synth.realistic`: a second, realistic cohort of rod–plate bone matched to
  real vertebral bone.

Both cohorts are chosen by name in :data:`COHORTS`: ``"paper"`` reproduces the paper's
statistics with bone unlike real bone, ``"realistic"`` matches the morphometry of real
vertebral bone.

The scans go through the scanner model of :mod:`bonelib.imaging.scanner`.
"""

from bonelib.constants import COHORT_NAMES
from bonelib.synth.cohort import (
    cohort,
    donor_microarchitecture,
    level_microarchitecture,
    plan,
    well_connected,
)
from bonelib.synth.generators import (
    body_mask,
    plate_holes,
    voronoi_walls,
    wall_fraction,
)
from bonelib.synth.realistic import (
    RealisticSpec,
    RodPlate,
    realistic_plan,
    rod_plate_bone,
)
from bonelib.synth.vertebra import (
    BODY_MM,
    Microarchitecture,
    Vertebra,
    VertebraSpec,
    grid_microarchitecture,
    scan_vertebra,
    section,
)

#: The cohorts by name (:data:`bonelib.constants.COHORT_NAMES`): the function that plans one
#: (``n_donors``, ``levels``, ``seed``).
COHORTS = dict(zip(COHORT_NAMES, (plan, realistic_plan)))

__all__ = [
    "BODY_MM", "COHORTS", "Microarchitecture", "RealisticSpec", "RodPlate", "realistic_plan", "rod_plate_bone", "Vertebra", "VertebraSpec", "body_mask", "cohort", "donor_microarchitecture",
    "grid_microarchitecture", "level_microarchitecture", "plan", "plate_holes", "scan_vertebra", "section",
    "voronoi_walls", "wall_fraction", "well_connected",
]
