"""The fixed numbers of the paper's imaging, typed here and nowhere else (Lu et al. 2023, section 2.1)."""

from __future__ import annotations

#: Isotropic voxel size of the HR-pQCT scans (mm): XtremeCT, 82 µm.
VOXEL_SIZE_MM = 0.082
#: Side of a sample slice (px): 182 px, 14.9 mm at 82 µm.
SLICE_PX = 182
#: Spinal levels scanned per donor.
LEVELS = ("T11", "T12", "L1")
#: How a dataset's samples are split: by whole donors, or slice by slice at random (as the paper).
SCHEMES = ("donor", "random")
#: The synthetic cohorts, by name (:data:`bonelib.synth.COHORTS` plans them).
COHORT_NAMES = ("paper", "realistic")
#: Scans with voxels below this (mm) are taken as micro-CT, whose point spread is far narrower
#: than HR-pQCT's (XtremeCT 82 µm, XtremeCT II 60.7 µm are above it): :mod:`bonelib.imaging.grid`.
MICRO_CT_BELOW_MM = 0.05
#: What a scan can be said to be (``bonelib predict --modality``).
MODALITIES = ("auto", "hr-pqct", "micro-ct")
