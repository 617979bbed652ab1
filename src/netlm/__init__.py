"""netlm: liver-directed therapy of neuroendocrine tumour liver metastases.

netlm assesses a patient case for every liver-directed treatment (resection,
transplant, ablation, embolization, chemoembolization, radioembolization,
PRRT), giving a verdict with reasons and sources, and the work-up the tumour
board still needs.
"""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("netlm")
except PackageNotFoundError:  # pragma: no cover - running from a source tree
    __version__ = "0.0.0+unknown"

__all__ = ["__version__"]
