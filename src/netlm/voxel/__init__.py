"""Voxel dosimetry: 90Y dose-voxel kernels, local deposition and kernel convolution,
DVHs and dose statistics, the MAA work-up, phantoms, and :class:`~netlm.voxel.result.DoseResult`
(what a dose computation from images returns).

Core: computes on :class:`netlm.volume.ImageVolume` and writes nothing; the kernel
cache folder is an argument.  Image files are :mod:`netlm.imaging`; plots and CSV
are :mod:`netlm.report.figures`.
"""
