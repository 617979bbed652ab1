"""Voxel dosimetry: 90Y dose-voxel kernels, local deposition and kernel convolution, DVHs."""
