"""The radioembolization plan summary, as Markdown, and the lines it is made of.

The terminal rendering (rich) is :mod:`netlm.commands.render`.
"""

from __future__ import annotations

from netlm.sirt.planner import PlanResult


def dose_cell(value: float | None, digits: int = 1) -> str:
    """A dose (or other number) for a table cell; ``-`` when there is none."""
    return "-" if value is None else f"{value:.{digits}f}"


def vial_lines(result: PlanResult) -> list[str]:
    """The vial order, one line per territory and per vial offered."""
    lines = []
    for v in result.vial_order:
        head = f"{v.territory}: {v.needed_at_infusion_gbq:.3f} GBq needed in the vial at infusion"
        lines.append(head)
        g = v.given_vial
        if g is not None:
            status = "within tolerance" if g.within_tolerance else "OUTSIDE tolerance"
            lines.append(
                f"  GIVEN vial {g.size_gbq:g} GBq calibrated {g.calibration.isoformat()}: "
                f"{g.activity_at_infusion_gbq:.3f} GBq at infusion ({100 * g.excess_fraction:+.1f} "
                f"%, {status}); fully infused {g.injected_if_fully_infused_gbq:.3f} GBq -> lung "
                f"{g.doses_if_fully_infused_gy.lung:.1f} Gy, perfused "
                f"{g.doses_if_fully_infused_gy.perfused:.1f} Gy"
                + (f"; BREAKS {', '.join(g.breaks_limits)}" if g.breaks_limits else "")
            )
        for o in v.glass_options[:4]:
            kind = "custom" if o.custom else "standard"
            lines.append(
                f"  {kind} {o.size_gbq:g} GBq calibrated {o.calibration.isoformat()} -> "
                f"{o.activity_at_infusion_gbq:.3f} GBq at infusion "
                f"(+{100 * o.excess_fraction:.1f} %)"
            )
        if v.resin_draw is not None:
            d = v.resin_draw
            lines.append(
                f"  resin vial {d.vial_gbq_at_calibration:g} GBq"
                f"{' (pre-calibrated)' if d.precalibrated else ''}: "
                f"{d.vial_activity_at_infusion_gbq:.3f} GBq at infusion, draw "
                f"{100 * d.fraction_to_draw:.1f} %"
            )
        if v.spheres_delivered is not None:
            lines.append(f"  about {v.spheres_delivered / 1e6:.2f} million spheres delivered")
        if v.note:
            lines.append(f"  {v.note}")
    return lines


def lung_lines(result: PlanResult) -> list[str]:
    """How the lung dose was judged: mass basis and every prior contribution."""
    convention = result.lung_mass_convention_kg
    if convention is None:  # a result stored by an earlier netlm
        mass = "lung mass: not recorded"
    elif result.lung_mass_kg is None:
        mass = f"lung mass: {convention:g} kg convention of the limits"
    else:
        mass = (
            f"lung mass: {result.lung_mass_basis} {result.lung_mass_kg:.3f} kg and the "
            f"{convention:g} kg convention; lung dose "
            f"{result.lung_dose_at_lung_mass_gy or 0.0:.1f} Gy vs "
            f"{result.lung_dose_convention_gy or 0.0:.1f} Gy, the larger is judged"
        )
    lines = [mass]
    for x in result.prior_lung_doses:
        lines.append(f"prior lung dose: {x.session}: {x.dose_gy:.1f} Gy ({x.source})")
    return lines


def render_plan_markdown(result: PlanResult) -> str:
    """The plan as Markdown, with every check and its sources."""
    out = [
        f"# Radioembolization plan{f' for {result.case}' if result.case else ''}",
        "",
        f"- **Device / method:** {result.device} / {result.method}",
        f"- **Injected activity:** {result.injected_activity_gbq:.3f} GBq "
        f"(vial {result.vial_activity_gbq:.3f} GBq)",
        f"- **Lung dose:** {result.session_lung_dose_gy:.1f} Gy this session, "
        f"{result.cumulative_lung_dose_gy:.1f} Gy cumulative",
        *(f"- {line}" for line in lung_lines(result)),
        f"- **Rule profile:** {result.profile_id} (sha256 {(result.profile_digest or '')[:12]})",
        "",
        "| territory | activity (GBq) | tumour (Gy) | normal liver (Gy) | perfused (Gy) "
        "| lung (Gy) |",
        "|---|---|---|---|---|---|",
    ]
    for t in result.territories:
        d = t.doses_gy
        out.append(
            f"| {t.name} | {t.injected_activity_gbq:.3f} | {dose_cell(d.tumour)} | "
            f"{dose_cell(d.normal_liver)} | {dose_cell(d.perfused)} | {dose_cell(d.lung)} |"
        )
    out += ["", "## Checks", ""]
    for c in result.checks:
        status = "overridden" if c.overridden else ("ok" if c.passed else "NOT MET")
        op = "<=" if c.bound == "max" else ">="
        where = f" ({c.territory})" if c.territory else ""
        out.append(
            f"- **{c.severity.value}** {c.description}{where}: {c.value:.4g} {c.unit} "
            f"{op} {c.limit:g} → {status} (margin {c.margin:+.4g}); population "
            f"{c.population}; {'; '.join(c.sources)}"
        )
    vial = vial_lines(result)
    if vial:
        out += ["", "## Vial order", "", "```", *vial, "```"]
    if result.uncertainty:
        out += ["", "## Uncertainty (5th / 50th / 95th percentile, Gy)", ""]
        for name, comps in result.uncertainty.doses_gy.items():
            for comp, iv in comps.items():
                out.append(f"- {name} {comp}: {iv.p5:.1f} / {iv.p50:.1f} / {iv.p95:.1f}")
    if result.optimisation:
        out += ["", "## Optimisation", ""]
        out += [f"- {o.territory}: {o.explanation}" for o in result.optimisation]
    if result.warnings:
        out += ["", "## Warnings", ""] + [f"- {w}" for w in result.warnings]
    out += [
        "",
        "Constants: " + ", ".join(f"`{k}` = {v}" for k, v in result.constants.items()),
        "",
        f"_netlm {result.netlm_version}, inputs sha256 {result.inputs_digest[:12]}._",
    ]
    return "\n".join(out) + "\n"
