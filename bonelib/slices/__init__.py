"""The paper's route: the effective modulus of 2D HR-pQCT slices.

- :mod:`bonelib.slices.label`: a slice's label, its periodic FE modulus (section 2.3);
- :mod:`bonelib.slices.dataset`: the dataset of labelled slices (build, store, sources);
- :mod:`bonelib.slices.network`: the paper's CNN and the improved one;
- :mod:`bonelib.slices.train`: training with validation, checkpoints and resume;
- :mod:`bonelib.slices.crossval`: donor-level cross-validation runs;
- :mod:`bonelib.slices.baselines`, :mod:`bonelib.slices.coarse`: the density and fabric laws and
  the coarse FE baseline;
- :mod:`bonelib.slices.evaluate`: the paper's metrics on every model (section 3);
- :mod:`bonelib.slices.pretrained`: the shipped ensemble;
- :mod:`bonelib.slices.sections`: real sections of L1 bone;
- :mod:`bonelib.slices.speed`: the FE and CNN cost of a slice.

The 3D route, :mod:`bonelib.cubes`, uses the same module names where it has the same step.
"""
