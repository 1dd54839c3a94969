"""Imaging: from a CT scan's grey values to bone and its density.

- :mod:`bonelib.imaging.scanner`: the HR-pQCT scanner model (point spread, 82 µm grid, noise);
- :mod:`bonelib.imaging.density`: grey value → BMD (mg HA/cm³) → ash density → tissue modulus
  (MPa), the paper's section 2.2 and Eq. 1;
- :mod:`bonelib.imaging.voi`: the cancellous volume of interest of a vertebral body.
"""
