"""Regenerate the 90Y water dose point kernel that netlm ships.

Run ``python scripts/regenerate_point_kernel.py`` (about 10 s) after changing
``KERNEL_VERSION`` or the transport settings; it writes
``src/netlm/voxel/data/y90-dpk-water.npz`` and prints the digest to paste into
``SHIPPED_DPK_SHA256`` in ``src/netlm/voxel/kernels.py``.  ``--histories`` and
``--seed`` change the run (the shipped file must keep the defaults, which are
the ones ``y90_kernel`` asks for).
"""

from __future__ import annotations

import argparse
from pathlib import Path

from netlm.voxel.kernels import DEFAULT_HISTORIES, SHIPPED_DPK, regenerate_point_kernel

TARGET = Path(__file__).resolve().parents[1] / "src" / "netlm" / "voxel" / "data" / SHIPPED_DPK


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--out", type=Path, default=TARGET)
    parser.add_argument("--histories", type=int, default=DEFAULT_HISTORIES)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    digest = regenerate_point_kernel(args.out, histories=args.histories, seed=args.seed)
    print(f"wrote {args.out} ({args.out.stat().st_size} bytes)")
    print(f'SHIPPED_DPK_SHA256: Final = "{digest}"')
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
