"""Figures and CSV of computed results (moved out of the core, issue #13 item 4).

The core computes; :mod:`netlm.report.figures` draws (matplotlib object API, no
pyplot state) and writes.  Each ``plot_*`` returns the Figure and saves only
when a path is given.
"""

from __future__ import annotations

import csv
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest
from matplotlib.figure import Figure

from netlm.errors import InputError
from netlm.outcomes.data import make_cohort_data
from netlm.outcomes.dose_response import DoseResponseResult, fit_dose_response
from netlm.outcomes.survival import SurvivalResult, kaplan_meier
from netlm.report.figures import plot_dose_response, plot_dvh, plot_km, write_dvh_csv
from netlm.volume import ImageVolume
from netlm.voxel.dose import DosimetryError
from netlm.voxel.dvh import DvhCurve, dvh_curve

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def _ramp(n: int = 100, top: float = 100.0) -> ImageVolume:
    """Doses top/n, 2·top/n, …, top in one row of n voxels (2 mm voxels)."""
    values = (np.arange(1, n + 1) * (top / n)).reshape(1, 1, n)
    return ImageVolume(values.astype(np.float64), (2.0, 2.0, 2.0), unit="Gy")


def _curves() -> list[DvhCurve]:
    image = _ramp(100)
    everything = np.ones(image.array.shape, dtype=bool)
    return [
        dvh_curve(image, everything, 20, label="tumour"),
        dvh_curve(image.with_array(image.array * 0.5), everything, 20, label="tumour planned"),
    ]


def _km() -> SurvivalResult:
    n = 40
    rng = np.random.default_rng(3)
    start = pd.Timestamp("2015-01-01")
    months = rng.exponential(20.0, n)
    end = start + pd.to_timedelta(np.round(months * 30.44).astype(int) + 1, unit="D")
    dead = rng.random(n) < 0.7
    patients = pd.DataFrame(
        {
            "patient_id": [f"P{i:03d}" for i in range(n)],
            "sex": ["female", "male"] * (n // 2),
            "age_years": [60] * n,
            "grade": ["NET G2"] * n,
            "ki67_percent": [5.0] * n,
            "ecog": [0] * n,
            "primary_site": ["small_intestine"] * n,
            "tumour_burden_percent": [20.0] * n,
            "extrahepatic_disease": ["none"] * n,
            "modality": ["tare_resin"] * n,
            "device": ["resin"] * n,
            "prior_prrt": [False] * n,
            "treatment_date": [start] * n,
            "last_followup_date": end,
            "death_date": pd.Series(end).where(dead),
            "hepatic_progression_date": [None] * n,
            "progression_date": [None] * n,
        }
    )
    return kaplan_meier(make_cohort_data(patients), "os", "sex")


def _dose_response() -> DoseResponseResult:
    rng = np.random.default_rng(0)
    doses = rng.uniform(20.0, 220.0, 80)
    positive = rng.random(80) < 1.0 / (1.0 + np.exp(-0.05 * (doses - 120.0)))
    return fit_dose_response(doses, positive, n_bootstrap=50, seed=0)


# ---------------------------------------------------------------------------- DVH
def test_dvh_csv_has_one_row_per_point(tmp_path: Path) -> None:
    curves = _curves()
    path = write_dvh_csv(curves, tmp_path / "dvh.csv")
    assert path == tmp_path / "dvh.csv"
    with path.open(encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    assert len(rows) == 42  # 2 curves x 21 levels
    assert rows[0] == {"voi": "tumour", "dose_gy": "0", "volume_percent": "100"}
    assert {r["voi"] for r in rows} == {"tumour", "tumour planned"}


def test_plot_dvh_returns_figure_and_saves_by_suffix(tmp_path: Path) -> None:
    curves = _curves()
    before = plt.get_fignums()
    figure = plot_dvh(
        curves, tmp_path / "dvh.png", reference_doses_gy=(100.0,), dashed=("tumour planned",)
    )
    assert isinstance(figure, Figure)
    axes = figure.axes[0]
    assert [line.get_linestyle() for line in axes.get_lines()[:2]] == ["-", "--"]
    assert (tmp_path / "dvh.png").read_bytes()[:8] == PNG_MAGIC
    plot_dvh(curves, tmp_path / "dvh.svg", title="DVH")
    assert b"<svg" in (tmp_path / "dvh.svg").read_bytes()[:500]
    assert plt.get_fignums() == before
    with pytest.raises(DosimetryError, match=r"\.png, \.svg or \.pdf"):
        plot_dvh(curves, tmp_path / "dvh.txt")
    with pytest.raises(DosimetryError, match="at least one DVH"):
        plot_dvh([])


def test_plot_dvh_without_path_writes_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    figure = plot_dvh(_curves(), title="DVH")
    assert figure.axes[0].get_title() == "DVH"
    assert list(tmp_path.iterdir()) == []


# ---------------------------------------------------------------------------- cohort plots
@pytest.mark.parametrize("suffix", [".png", ".svg"])
def test_plot_km_saves_without_pyplot_state(tmp_path: Path, suffix: str) -> None:
    before = plt.get_fignums()
    figure = plot_km(_km(), tmp_path / f"km{suffix}")
    out = tmp_path / f"km{suffix}"
    assert isinstance(figure, Figure)
    assert out.stat().st_size > 1000
    assert plt.get_fignums() == before
    if suffix == ".svg":
        assert "<svg" in out.read_text()


def test_plot_km_without_path_and_bad_suffix(tmp_path: Path) -> None:
    result = _km()
    figure = plot_km(result)
    assert "by sex" in figure.axes[0].get_title()
    with pytest.raises(InputError, match="suffix"):
        plot_km(result, tmp_path / "km.pdf")
    assert not (tmp_path / "km.pdf").exists()


@pytest.mark.parametrize("suffix", [".png", ".svg"])
def test_plot_dose_response(tmp_path: Path, suffix: str) -> None:
    result = _dose_response()
    before = plt.get_fignums()
    figure = plot_dose_response(result, tmp_path / f"dr{suffix}")
    assert len(figure.axes) == 2
    assert (tmp_path / f"dr{suffix}").stat().st_size > 1000
    assert plt.get_fignums() == before
    with pytest.raises(InputError, match="suffix"):
        plot_dose_response(result, tmp_path / "dr.jpg")
    assert plot_dose_response(result).axes[1].get_title().startswith("AUC")
