"""bonelib: the effective elastic modulus of cancellous bone from CT images.

A reproduction and extension of Lu et al. (2023), *Predicting the effective compressive
modulus of human cancellous bone using the convolutional neural network method*, CMBBE
26(10):1150–1159. One module per step of the paper:

- :mod:`bonelib.constants`: voxel size, slice side, spinal levels;
- :mod:`bonelib.io`: loading scans (TIFF, DICOM, NumPy);
- :mod:`bonelib.synth`: the synthetic HR-pQCT-like cohort (section 2.1);
- :mod:`bonelib.scanner`: the scanner model, from bone fraction to grey values;
- :mod:`bonelib.voi`: the cancellous volume of interest (Figure 1);
- :mod:`bonelib.density`: grey value → density → tissue modulus (section 2.2, Eq. 1);
- :mod:`bonelib.fe`: periodic FE homogenisation (Eq. 2–5);
- :mod:`bonelib.label`: the label of one slice, and :mod:`bonelib.morphometry` its descriptors;
- :mod:`bonelib.dataset`: the labelled dataset (section 2.3);
- :mod:`bonelib.cnn`, :mod:`bonelib.training`: the networks and their training;
- :mod:`bonelib.metrics`, :mod:`bonelib.baselines`, :mod:`bonelib.evaluation`: section 3.
"""

__version__ = "0.1.0"
