"""The numbers Lu et al. (2023) report, used only as the comparison column of our results.

Sources: the paper's sections 2.2–3 and its abstract (CMBBE 26(10)).
"""

from __future__ import annotations

#: Median effective modulus of all samples (MPa), Figure 4.
E_EFF_MEDIAN_MPA = 988.7
#: R² of the modulus on the slice's BMD alone.
VBMD_R2 = 0.65
#: Sample counts of the paper's random split.
SPLIT_COUNTS = {"train": 8000, "val": 2636, "test": 260}
#: The CNN on the 260 test samples (R² 0.91 in the results section; the abstract says 0.95).
CNN_METRICS = {"r2": 0.91, "slope": 0.79, "rpe50": 0.09, "rpe95": 0.28}
#: The R² the abstract gives for the same network and test set.
CNN_R2_ABSTRACT = 0.95
#: Epochs and batch size of the paper's training.
EPOCHS, BATCH_SIZE = 200, 128
#: Time per sample (s): the FE route end to end (≈ 40 min) and the CNN (≈ 30 s).
FE_SECONDS, CNN_SECONDS = 40 * 60.0, 30.0
