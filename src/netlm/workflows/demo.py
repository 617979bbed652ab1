"""The demo: every use case on the bundled examples, and the examples in a registry.

``netlm demo`` calls :func:`write_demo` (assessments, plans, responses and a voxel
dose on a phantom, written to a folder); ``netlm serve --demo`` and ``netlm demo
--seed-db`` call :func:`seed_demo`.  The examples come from :mod:`netlm.examples`.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

from netlm.case import parse_case
from netlm.errors import NotFoundError, UnsafePlanError
from netlm.examples import bundled_examples
from netlm.sirt.plan import parse_plan
from netlm.workflows.response import record_response

if TYPE_CHECKING:
    from netlm.eligibility.result import Assessment
    from netlm.store.repository import PatientOut, Store

__all__ = ["DEMO_ACTOR", "DemoRun", "phantom_demo", "phantom_dose_pdf", "seed_demo", "write_demo"]

#: Who the demo data is recorded as, in the audit log.
DEMO_ACTOR = "netlm-demo"


def _document(text: str) -> Any:
    """A YAML example as JSON-compatible data (dates as ISO text), as an API client sends it."""
    return json.loads(json.dumps(yaml.safe_load(text), default=str))


def seed_demo(store: Store, *, actor: str = DEMO_ACTOR) -> list[PatientOut]:
    """Put the bundled example patients into ``store``: cases, assessments, plans, follow-up.

    For each example case (``netlm/examples/case-*.yaml``) the patient and its
    case are stored and assessed; each example plan is stored for the patient
    it names and solved (a plan that breaks a hard limit stays a draft); each
    example response file is assessed and its time points recorded.  Patients
    already in the registry are left as they are, so seeding twice adds nothing.

    Returns the patients that were added.
    """
    added: list[PatientOut] = []
    for _, text in bundled_examples("case-"):
        case = parse_case(text)
        try:
            store.find_patient(case.patient.id)
        except NotFoundError:
            version = store.import_case(case, actor=actor, source="netlm demo")
            store.run_assessment(version.patient_id, actor=actor)
            added.append(store.get_patient(version.patient_id))
    new_ids = {p.id for p in added}
    for _, text in bundled_examples("plan-"):
        plan = parse_plan(text)
        if plan.case is None:
            continue
        try:
            patient = store.find_patient(plan.case)
        except NotFoundError:
            continue
        if patient.id not in new_ids:
            continue
        saved = store.save_plan(patient.id, plan, actor=actor)
        with contextlib.suppress(UnsafePlanError):  # stays a draft, refused
            store.solve_plan(saved.id, actor=actor)
    for _, text in bundled_examples("response-"):
        document = _document(text)
        case_id = document.get("case") if isinstance(document, dict) else None
        if not isinstance(case_id, str):
            continue
        try:
            patient = store.find_patient(case_id)
        except NotFoundError:
            continue
        if patient.id in new_ids:
            record_response(store, patient.id, document, actor=actor)
    return added


@dataclass(frozen=True)
class DemoRun:
    """What :func:`write_demo` wrote: the folder, its index and the assessments it made."""

    out: Path
    index: Path
    assessments: list[Assessment]


def write_demo(out: Path, *, kernel_cache_dir: Path | None = None) -> DemoRun:
    """Every use case on the bundled examples, written to ``out`` (``netlm demo``).

    Assesses the example cases (JSON, Markdown, board PDF), solves the example
    plans (JSON, Markdown, dosimetry PDF), assesses the example response files
    (JSON, Markdown, waterfall and spider plots) and computes voxel doses on a
    phantom (:func:`phantom_demo`, :func:`phantom_dose_pdf`); ``index.md`` lists
    them all.
    """
    from netlm.eligibility import Assessor
    from netlm.report import response_plots
    from netlm.report.board import render_markdown
    from netlm.report.pdf import board_pdf, plan_pdf
    from netlm.report.plan import render_plan_markdown
    from netlm.report.response_text import render_response_markdown
    from netlm.response.io import parse_response
    from netlm.response.report import assess_response
    from netlm.sirt.planner import solve

    out.mkdir(parents=True, exist_ok=True)
    assessor = Assessor()
    assessments = []
    index = ["# netlm demo", "", "| case | file | verdicts |", "|---|---|---|"]
    for name, text in bundled_examples():
        case = parse_case(text)
        result = assessor.assess(case)
        assessments.append(result)
        stem = Path(name).stem
        (out / f"{stem}.assessment.json").write_text(result.to_json() + "\n")
        (out / f"{stem}.assessment.md").write_text(render_markdown(result))
        board_pdf(result, out / f"{stem}.board.pdf", case=case)
        counts: dict[str, int] = {}
        for o in result.options:
            counts[o.verdict.value] = counts.get(o.verdict.value, 0) + 1
        summary = ", ".join(f"{v} {k}" for k, v in sorted(counts.items()))
        index.append(f"| {result.case_id} | {name} | {summary} |")

    for name, text in bundled_examples("plan-"):
        plan = parse_plan(text)
        plan_result = solve(plan)
        stem = Path(name).stem
        (out / f"{stem}.json").write_text(plan_result.model_dump_json(indent=2) + "\n")
        (out / f"{stem}.md").write_text(render_plan_markdown(plan_result))
        plan_pdf(plan_result, out / f"{stem}.pdf", plan=plan)
        index.append(
            f"| {plan_result.case or '-'} | {name} | radioembolization plan: "
            f"{plan_result.injected_activity_gbq:.2f} GBq injected |"
        )

    reports = []
    for name, text in bundled_examples("response-"):
        report = assess_response(parse_response(text))
        reports.append(report)
        stem = Path(name).stem
        (out / f"{stem}.json").write_text(report.model_dump_json(indent=2) + "\n")
        (out / f"{stem}.md").write_text(render_response_markdown(report))
        best = report.results[0].best_overall.response.value
        index.append(f"| {report.case or '-'} | {name} | response: best overall {best} |")
    if reports:
        response_plots.waterfall(reports, out / "response-waterfall.png")
        response_plots.spider(reports, out / "response-spider.png")

    voxel = phantom_demo(out / "voxel-phantom", kernel_cache_dir=kernel_cache_dir)
    phantom_dose_pdf(out / "voxel-phantom", out / "voxel-phantom" / "voxel-dose.pdf")
    liver = voxel["statistics"]["dvk"]["liver"]["mean_gy"]
    index.append(
        f"| phantom | voxel-phantom/ | voxel dose (LDM and DVK): liver mean {liver:.1f} Gy |"
    )
    (out / "index.md").write_text("\n".join(index) + "\n")
    return DemoRun(out, out / "index.md", assessments)


def phantom_demo(out: Path, *, kernel_cache_dir: Path | None = None) -> dict[str, Any]:
    """Voxel dosimetry on the phantom netlm generates itself (used by ``netlm demo``).

    Local deposition and kernel convolution on a liver/tumour/lung phantom with
    known T:N and LSF; writes the dose maps, RT Dose, statistics and DVHs.  The
    kernel is cached in ``kernel_cache_dir`` (none: computed each time).
    """
    from netlm.imaging.io import write_image
    from netlm.imaging.rtdose import write_rt_dose
    from netlm.report import figures
    from netlm.sirt.physics import Physics
    from netlm.voxel import dose as vd
    from netlm.voxel import dvh
    from netlm.voxel.kernels import y90_kernel
    from netlm.voxel.phantom import liver_phantom

    physics = Physics()
    phantom = liver_phantom(seed=0)
    out.mkdir(parents=True, exist_ok=True)
    write_image(phantom.activity, out / "activity.nii.gz")
    density = vd.uniform_density(phantom.activity, lung_mask=phantom.masks["lung"])
    ldm = vd.dose_ldm(phantom.activity, density=density, physics=physics)
    kernel = y90_kernel(
        phantom.activity.spacing_mm,
        density_g_per_ml=physics.tissue_density_g_per_ml,
        cache_dir=kernel_cache_dir,
    )
    dvk = vd.dose_dvk(phantom.activity, kernel, physics=physics)
    write_image(ldm, out / "dose-ldm.nii.gz")
    write_image(dvk, out / "dose-dvk.nii.gz")
    write_rt_dose(
        dvk, out / "rtdose-dvk.dcm", description="netlm phantom DVK dose", bits_allocated=16
    )
    vois = {k: v for k, v in phantom.masks.items() if k != "body"}
    stats = {
        method: {
            n: dvh.dose_statistics(d, m, name=n).model_dump(mode="json") for n, m in vois.items()
        }
        for method, d in (("ldm", ldm), ("dvk", dvk))
    }
    curves = [dvh.dvh_curve(dvk, m, label=n) for n, m in vois.items()]
    figures.write_dvh_csv(curves, out / "dvh-dvk.csv")
    figures.plot_dvh(curves, out / "dvh-dvk.png")
    document = {
        "phantom_truth": phantom.truth.model_dump(mode="json")
        if hasattr(phantom.truth, "model_dump")
        else str(phantom.truth),
        "statistics": stats,
    }
    (out / "dose-statistics.json").write_text(json.dumps(document, indent=2, default=str) + "\n")
    return document


def phantom_dose_pdf(folder: Path, pdf: Path) -> Path:
    """The voxel-dose PDF of the phantom that :func:`phantom_demo` wrote to ``folder``.

    Writes the phantom's masks beside its activity and runs them through
    :func:`netlm.workflows.dose.compute_dose` (local deposition, lung density in
    the lung), as ``netlm dose images --pdf`` would; the activity is the
    activity at implant (implant and scan time are the same).
    """
    from netlm.imaging.io import write_image
    from netlm.report.pdf import voxel_dose_pdf
    from netlm.voxel.phantom import liver_phantom
    from netlm.workflows.dose import compute_dose

    phantom = liver_phantom(seed=0)
    masks = [
        write_image(phantom.masks[name], folder / f"{name}.nii.gz")
        for name in ("liver", "tumour_1", "tumour_2", "lung")
        if name in phantom.masks
    ]
    moment = dt.datetime(2026, 1, 1, 12, 0, tzinfo=dt.UTC)
    result = compute_dose(
        folder / "activity.nii.gz",
        masks,
        None,
        activity_unit="Bq/mL",
        implant_time=moment,
        scan_time=moment,
    )
    return voxel_dose_pdf(result, pdf, patient_id="PHANTOM")
