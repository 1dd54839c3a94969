"""Morphometry of cancellous bone, in sections and in volumes.

- :mod:`bonelib.morphometry.planar`: BV/TV, thickness, spacing and fabric of a 2D section;
- :mod:`bonelib.morphometry.volume`: the same of a 3D volume, with Conn.D and gradient fabric;
- :mod:`bonelib.morphometry.connectivity`: percolation and the Euler characteristic.
"""
