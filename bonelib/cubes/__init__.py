"""The 3D route: the effective modulus of cancellous bone cubes.

- :mod:`bonelib.cubes.placement`: where to cut cubes from a volume, and their FE moduli;
- :mod:`bonelib.cubes.dataset`: labelled cubes of real and synthetic volumes;
- :mod:`bonelib.cubes.network`: the 3D CNN, trained by the loop of both routes (:mod:`bonelib.learn.train`);
- :mod:`bonelib.cubes.pretrained`: the shipped 3D ensemble;
- :mod:`bonelib.cubes.evaluate`: leave-specimens-out evaluation.

The module names are those of the 2D route, :mod:`bonelib.slices`, for the same steps; the
baselines of the 3D route are the shared density–fabric laws of :mod:`bonelib.learn.laws`, its
folds the 2D route's (:mod:`bonelib.learn.folds`, a specimen being a donor).
"""
