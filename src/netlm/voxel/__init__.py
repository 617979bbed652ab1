"""Voxel dosimetry: 90Y dose-voxel kernels, local deposition and kernel convolution,
DVHs and dose statistics, the MAA work-up, phantoms.

Core: computes on :class:`netlm.volume.ImageVolume` and writes nothing; the kernel
cache folder is an argument.  Image files are :mod:`netlm.imaging`; plots and CSV
are :mod:`netlm.report.figures`.
"""
