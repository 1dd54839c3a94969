"""Learning pieces shared by both routes.

- :mod:`bonelib.learn.folds`: donor (specimen) folds, with validation donors;
- :mod:`bonelib.learn.train`: the training loop of both routes' networks (Keras ``fit``, validation,
  the best epoch kept, precise batch norm, resumable);
- :mod:`bonelib.learn.domain`: what a network learnt from, and why an input lies outside it;
- :mod:`bonelib.learn.ensemble`: the shipped ensembles' common base (centre, spread, checks);
- :mod:`bonelib.learn.weights`: a network's weights as NumPy archives;
- :mod:`bonelib.learn.layers`: periodic padding and the periodic cell's symmetries (augmentation
  layer, symmetric images, symmetrised prediction);
- :mod:`bonelib.learn.laws`: the Zysset–Curnier density–fabric laws (the baselines of both routes);
- :mod:`bonelib.learn.conformal`: intervals that hold the FE modulus at a stated level;
- :mod:`bonelib.learn.metrics`: R², slope, RPE50 and RPE95 with bootstrap intervals;
- :mod:`bonelib.learn.tables`: typed CSV tables of samples and predictions.
"""
