"""Worked example 1: a patient for the tumour board.

A 58-year-old with bilobar liver metastases of a grade 2 pancreatic NET
(``case-bilobar-tare.yaml``, bundled with netlm as :mod:`netlm.examples`) is
discussed at the board.  This script

1. reads the case and assesses every liver-directed treatment — the options
   that can be offered come first, in the recommended order, each with its
   reasons (``Assessment.to_pandas()``);
2. looks at one option in detail: its findings and their published sources;
3. solves the 90Y glass radioembolization plan prepared for the same patient
   (partition model, one row per territory) and checks it against the safety
   limits;
4. assesses the follow-up CT of the patient by RECIST 1.1 (and the other
   criteria the file asks for) and draws the waterfall plot;
5. writes the board and dosimetry PDFs (drafts until signed) and a summary
   ``summary.json`` with the key numbers.

Run it as ``python docs/01_board_case.py [OUT]`` (default ``docs-output/01``);
the PDFs need ``pip install "netlm[report]"`` and Pango (see the README).  In a
notebook, paste the cells (``# %%``) one by one: tables and figures display
inline.
"""

# %% Set-up: where the results go
from __future__ import annotations

import json
import sys
from pathlib import Path

from netlm import examples
from netlm.case import parse_case
from netlm.eligibility import Assessor
from netlm.report import response_plots
from netlm.report.pdf import board_pdf, plan_pdf
from netlm.response.io import parse_response
from netlm.response.report import assess_response
from netlm.sirt.plan import parse_plan
from netlm.sirt.planner import solve

out = Path(sys.argv[1] if len(sys.argv) > 1 else "docs-output/01")
out.mkdir(parents=True, exist_ok=True)

# %% 1. The board's options, in the recommended order
case = parse_case(examples.read_text("case-bilobar-tare.yaml"))
assessment = Assessor().assess(case)  # the default rule profile; every rule cites its source
options = assessment.to_pandas()
print(options[["rank", "label", "verdict", "reason"]].to_string(index=False))
offered = options[options["verdict"].isin(["eligible", "eligible_with_caution"])]
print(f"\n{len(offered)} of {len(options)} options can be offered; first: {offered.iloc[0].label}")

# %% 2. One option in detail: why, and on what evidence
tare = assessment.option("tare_glass")
print(f"\n{tare.label}: {tare.verdict.value}")
for finding in tare.findings:
    cited = "; ".join(f"{s.reference} ({s.population})" for s in finding.sources)
    print(f"  - {finding.message}  [{cited}]")

# %% 3. The 90Y plan for the same patient
plan = parse_plan(examples.read_text("plan-partition-glass.yaml"))
result = solve(plan)
print()
print(result.to_pandas().to_string(index=False))
print(f"injected {result.injected_activity_gbq:.2f} GBq, lung {result.session_lung_dose_gy:.1f} Gy")
for check in result.checks:  # hard limits, targets and published evidence to weigh
    print(
        f"  {'ok ' if check.passed else 'NO '} [{check.severity.value}] {check.description}: "
        f"{check.value:.1f} {check.unit} ({check.bound} {check.limit:g})"
    )

# %% 4. Follow-up: RECIST 1.1 and a waterfall plot
report = assess_response(parse_response(examples.read_text("response-recist.yaml")))
follow_up = report.to_pandas()
print()
print(follow_up[follow_up["criterion"] == "recist1.1"].to_string(index=False))
best = report.result("recist1.1").best_overall
figure = response_plots.waterfall([report])  # a matplotlib Figure: shown inline in a notebook
figure.savefig(out / "waterfall.png", dpi=120, bbox_inches="tight")

# %% 5. The PDFs for the record (drafts until a physician signs), and the key numbers
board_pdf(assessment, out / "board.pdf", case=case)
plan_pdf(result, out / "plan.pdf", plan=plan)
summary = {
    "case_id": assessment.case_id,
    "first_option": offered.iloc[0].modality,
    "verdicts": dict(zip(options["modality"], options["verdict"], strict=True)),
    "injected_activity_gbq": result.injected_activity_gbq,
    "session_lung_dose_gy": result.session_lung_dose_gy,
    "best_overall_recist": best.response.value,
}
(out / "summary.json").write_text(json.dumps(summary, indent=2) + "\n")
print(f"\nwritten to {out}: board.pdf, plan.pdf, waterfall.png, summary.json")
