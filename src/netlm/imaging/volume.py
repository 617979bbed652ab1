"""Transitional alias of :mod:`netlm.volume` (issue #13, item 1): import from there."""

# transitional: remove when all branches have merged
from netlm.errors import GeometryError
from netlm.volume import ImageVolume

__all__ = ["GeometryError", "ImageVolume"]
