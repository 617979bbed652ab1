"""Worked example 2: from images to a 90Y plan and the delivered dose.

Two real studies (MIT licence, ``tests/data/shared/data/y90-pet-maa-spect/``,
see ``tests/data/README.md``: the installed package ships no images, so this
script reads them from the repository):

* the **99mTc-MAA SPECT/CT** of the work-up (patient 2, with its 3D Slicer
  segmentation: liver and two tumours) — netlm measures the volumes and the
  tumour-to-normal ratios and writes a glass-microsphere partition plan for a
  mean tumour dose of 150 Gy, which it then solves against the safety limits;
* the **post-treatment 90Y PET** (patient 1, about 1.1 GBq in the field of view,
  with its segmentation) — :func:`netlm.workflows.dose.compute_dose` (the
  public dose workflow, the same as ``netlm dose images``) gives the dose map,
  RT Dose, per-VOI statistics and DVHs; the tables come as pandas DataFrames,
  the DVH as a matplotlib Figure, and the voxel-dose report as a PDF (draft
  until signed).

The PET file records no administration or scan time, so its values are taken
as the activity at implant (``assume_implant_time_reference``), which netlm
records and warns about.  The MAA work-up takes a planar lung shunt fraction
of 5 % (the segmentation has no lung).

Run it as ``python docs/02_plan_from_images.py [OUT]`` (default
``docs-output/02``); it needs ``pip install "netlm[imaging,report]"``.
"""

# %% Set-up
from __future__ import annotations

import json
import sys
import warnings
from pathlib import Path

from netlm.imaging.io import read_image
from netlm.report.figures import plot_dvh
from netlm.report.pdf import voxel_dose_pdf
from netlm.sirt.plan import plan_from_mapping
from netlm.sirt.planner import solve
from netlm.voxel.workup import maa_workup, plan_from_workup
from netlm.workflows.dose import compute_dose, load_masks

DATA = Path(__file__).resolve().parents[1] / "tests" / "data" / "shared" / "data"
IMAGES = DATA / "y90-pet-maa-spect"
out = Path(sys.argv[1] if len(sys.argv) > 1 else "docs-output/02")
out.mkdir(parents=True, exist_ok=True)

# %% 1. MAA SPECT/CT work-up: volumes, T:N, lung shunt
spect = read_image(IMAGES / "patient_2_SPECT.nrrd", unit="counts")
masks = load_masks([IMAGES / "patient_2_Segmentation.seg.nrrd"], spect)
print("segments:", ", ".join(sorted(masks)))
workup = maa_workup(
    spect,
    liver=masks["liver"],
    tumours={name: masks[name] for name in ("Tumor 1", "Tumor 2")},
    lung_shunt_fraction=0.05,
    lung_shunt_method="planar",
)
print(workup.to_pandas().to_string(index=False))
print(
    f"liver {workup.volumetry.liver_volume_ml:.0f} mL, "
    f"tumour burden {workup.volumetry.tumour_burden_percent:.1f} %"
)

# %% 2. The plan: glass microspheres, mean tumour dose 150 Gy, partition model
document = plan_from_workup(workup, device="glass", prescription={"tumour_dose_gy": 150.0})
plan = solve(plan_from_mapping(document))
print(
    plan.to_pandas()[
        [
            "territory",
            "injected_activity_gbq",
            "tumour_dose_gy",
            "normal_liver_dose_gy",
            "lung_dose_gy",
        ]
    ].to_string(index=False)
)
for check in plan.checks:
    print(
        f"  {'ok ' if check.passed else 'NO '} {check.description}: "
        f"{check.value:.1f} {check.unit} ({check.bound} {check.limit:g})"
    )

# %% 3. Post-treatment 90Y PET: the delivered dose
with warnings.catch_warnings(record=True) as caught:
    warnings.simplefilter("always")
    dose = compute_dose(
        IMAGES / "patient_1_Y90_PET.nrrd",
        [IMAGES / "patient_1_Segmentation.seg.nrrd"],
        out / "dose",
        activity_unit="Bq/mL",
        assume_implant_time_reference=True,
    )
for warning in caught:
    print("warning:", warning.message)
statistics = dose.to_pandas()
print(statistics[["voi", "volume_ml", "mean_gy", "d70_gy", "v100_percent"]].to_string(index=False))

# %% 4. DVHs (a matplotlib Figure) and the voxel-dose report
curves = [dose.dvh(name) for name in ("Liver", "Tumor 1", "Tumor 2", "Normal Tissue")]
figure = plot_dvh(curves, title="Post-treatment 90Y PET", reference_doses_gy=(100, 205))
figure.savefig(out / "dvh.png", dpi=120)
voxel_dose_pdf(dose, out / "voxel-dose.pdf", patient_id="Y90-1")

summary = {
    "lung_shunt_fraction": workup.lung_shunt_fraction,
    "tumour_to_normal": {t.name: t.tumour_to_normal_ratio for t in workup.volumetry.tumours},
    "planned_activity_gbq": plan.injected_activity_gbq,
    "planned_lung_dose_gy": plan.session_lung_dose_gy,
    "pet_activity_gbq": dose.document["total_activity_gbq"],
    "mean_dose_gy": dict(zip(statistics["voi"], statistics["mean_gy"], strict=True)),
}
(out / "summary.json").write_text(json.dumps(summary, indent=2) + "\n")
print(f"\nwritten to {out}: dose/, dvh.png, voxel-dose.pdf, summary.json")
