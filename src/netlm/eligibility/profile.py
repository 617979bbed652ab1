"""Rule profiles: the thresholds the eligibility rules use, as data.

Where sources disagree (bilirubin 2 vs 3 mg/dL for TARE, Milan-NET age 55 vs
60, the ALBI coefficient, tumour-burden cut-offs, the PRRT platelet floor,
CTCAE v5 vs v6), the choice is a parameter of the profile.  netlm ships
``default``; a centre passes its own file, usually ``extends: default`` with a
few overrides.  Every assessment names the profile and a digest of its values.

A centre's profile may cite its own sources (a local protocol, an audit) for
the parameters it overrides: ``sources_file: centre-sources.yaml`` names a
file of the schema ``netlm/sources/v1`` (read by
:func:`netlm.evidence.load_sources`, relative to the profile's folder), whose
ids may not reuse built-in ones.
"""

from __future__ import annotations

import functools
import hashlib
import json
from collections.abc import Mapping
from importlib import resources
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, ValidationError

from netlm.documents import Format, format_for, parse_document, read_bytes
from netlm.errors import DocumentError, ProfileError, SourcesError
from netlm.evidence import SOURCES, Source, get_source, load_sources
from netlm.validation import short_repr

PROFILE_SCHEMA = "netlm/rule-profile/v1"


class Parameters(BaseModel):
    """Every threshold a rule reads; see ``profiles/default.yaml`` for sources."""

    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)

    missing_findings: Literal["assume_absent", "ask"]
    coagulopathy_absent_inr_max: float
    coagulopathy_absent_platelets_min_10e9_per_l: float
    fdg_pet_ki67_threshold_percent: float
    carcinoid_heart_ntprobnp_pg_ml: float
    albi_coefficient: float
    child_pugh_contraindication_min_score: int
    child_pugh_caution_min_score: int
    ctcae_version: Literal["5.0", "6.0"]
    resection_max_ecog: int
    resection_min_resectable_percent: float
    resection_min_flr_normal_liver_percent: float
    resection_min_flr_compromised_liver_percent: float
    transplant_criteria: str
    transplant_age_limit_years: float
    transplant_age_limit_inclusive: bool
    transplant_max_involvement_percent: float
    transplant_min_months_stable: float
    transplant_ki67_limit_percent: float
    ablation_max_lesions: int
    ablation_ideal_max_lesions: int
    ablation_ideal_max_diameter_mm: float
    ablation_margin_mm: float
    ablation_zone_laser_mm: float
    ablation_zone_rfa_single_mm: float
    ablation_zone_rfa_cluster_mm: float
    ablation_zone_mwa_single_mm: float
    ablation_zone_mwa_cluster_mm: float
    ablation_zone_ire_mm: float
    ablation_zone_cryo_mm: float
    ablation_inr_max: float
    ablation_platelets_min_10e9_per_l: float
    embolization_max_involvement_percent: float
    embolization_high_risk_involvement_percent: float
    embolization_bilirubin_limit_mg_dl: float
    arterial_inr_max_femoral: float
    arterial_inr_max_radial: float
    arterial_platelets_min_10e9_per_l: float
    embolization_max_ecog: int
    embolization_min_life_expectancy_months: float
    tare_max_ecog: int
    tare_bilirubin_limit_mg_dl: float
    tare_bilirubin_hard_limit_mg_dl: float
    tare_transaminase_max_x_uln: float
    tare_max_involvement_percent: float
    tare_low_albumin_involvement_percent: float
    tare_low_albumin_g_dl: float
    tare_bilobar_min_involvement_percent: float
    tare_creatinine_max_mg_dl: float
    tare_platelets_min_10e9_per_l: float
    tare_min_life_expectancy_months: float
    lung_dose_limit_single_gy: float
    lung_dose_limit_cumulative_gy: float
    resin_lsf_no_reduction_below: float
    resin_lsf_reduce_20_below: float
    resin_lsf_max: float
    dose_constant_gy_kg_per_gbq: float
    lung_mass_kg: float
    glass_lsf_conflict_fraction: float
    min_activity_fraction_of_basis: float
    segmentectomy_max_segments: int
    segmentectomy_max_lesions: int
    prrt_min_krenning: int
    prrt_platelets_min_10e9_per_l: float
    prrt_min_egfr_ml_min: float
    prrt_leukocytes_min_10e9_per_l: float
    prrt_max_ecog: int
    prrt_min_life_expectancy_months: float
    lutia_max_ki67_percent: float
    lutia_min_lesion_mm: float
    lutia_max_involvement_percent: float
    lutia_min_egfr_ml_min: float
    lutia_min_platelets_10e9_per_l: float
    lutia_min_albumin_g_dl: float


class ParameterInfo(BaseModel):
    """Documentation of one parameter: unit, sources and disagreeing values."""

    model_config = ConfigDict(frozen=True)

    name: str
    unit: str | None
    sources: tuple[str, ...]
    alternatives: str | None
    note: str | None


class RuleProfile(BaseModel):
    """A named, versioned set of rule parameters.

    Attributes
    ----------
    sources
        The centre's own sources (from the profile's ``sources_file``), by id;
        empty for the shipped profile.  Built-in sources are in
        :data:`netlm.evidence.SOURCES`.
    """

    model_config = ConfigDict(frozen=True)

    id: str
    name: str
    version: str
    extends: str | None
    parameters: Parameters
    info: dict[str, ParameterInfo]
    sources: dict[str, Source] = {}

    def source(self, source_id: str) -> Source:
        """The source ``source_id``: the centre's own, else a built-in one.

        Raises
        ------
        KeyError
            If neither the profile's sources file nor netlm has it.
        """
        if source_id in self.sources:
            return self.sources[source_id]
        return get_source(source_id)

    @property
    def digest(self) -> str:
        """SHA-256 of the parameter values (canonical JSON)."""
        payload = json.dumps(self.parameters.model_dump(mode="json"), sort_keys=True)
        return hashlib.sha256(payload.encode()).hexdigest()

    def value(self, name: str) -> float | int | str | bool:
        """The value of parameter ``name``."""
        result: float | int | str | bool = getattr(self.parameters, name)
        return result


def _parse(
    document: object,
    origin: str,
    base: RuleProfile | None,
    own_sources: Mapping[str, Source] | None = None,
) -> RuleProfile:
    if not isinstance(document, Mapping):
        raise ProfileError(f"{origin}: a profile must be a mapping")
    if document.get("schema") != PROFILE_SCHEMA:
        raise ProfileError(f"{origin}: schema must be {PROFILE_SCHEMA!r}")
    for key in ("id", "name", "version"):
        if not isinstance(document.get(key), str) or not document[key]:
            raise ProfileError(f"{origin}: '{key}' must be a non-empty string")
    unknown_keys = set(document) - {
        "schema",
        "id",
        "name",
        "version",
        "extends",
        "parameters",
        "description",
        "sources_file",
    }
    if unknown_keys:
        raise ProfileError(f"{origin}: unknown key(s) {', '.join(sorted(unknown_keys))}")
    raw = document.get("parameters") or {}
    if not isinstance(raw, Mapping):
        raise ProfileError(f"{origin}: 'parameters' must be a mapping")

    sources_known = {**(base.sources if base else {}), **(own_sources or {})}
    values: dict[str, Any] = base.parameters.model_dump() if base else {}
    info: dict[str, ParameterInfo] = dict(base.info) if base else {}
    known = set(Parameters.model_fields)
    for name, spec in raw.items():
        if name not in known:
            raise ProfileError(f"{origin}: unknown parameter {name!r}")
        if isinstance(spec, Mapping):
            if "value" not in spec:
                raise ProfileError(f"{origin}: parameter {name!r} has no 'value'")
            values[name] = spec["value"]
            cited = spec.get("sources") or ()
            if isinstance(cited, str):
                cited = (cited,)
            if not isinstance(cited, (list, tuple)) or not all(isinstance(c, str) for c in cited):
                raise ProfileError(f"{origin}: parameter {name!r}: 'sources' must be a list of ids")
            sources = tuple(cited)
            for sid in sources:
                if sid not in SOURCES and sid not in sources_known:
                    raise ProfileError(f"{origin}: parameter {name!r} cites unknown source {sid!r}")
            for text_key in ("unit", "alternatives", "note"):
                if not isinstance(spec.get(text_key), (str, type(None))):
                    raise ProfileError(f"{origin}: parameter {name!r}: '{text_key}' must be text")
            prior = info.get(name)
            info[name] = ParameterInfo(
                name=name,
                unit=spec.get("unit", prior.unit if prior else None),
                sources=sources or (prior.sources if prior else ()),
                alternatives=spec.get("alternatives"),
                note=spec.get("note", prior.note if prior else None),
            )
        else:
            values[name] = spec
            if name not in info:
                info[name] = ParameterInfo(
                    name=name, unit=None, sources=(), alternatives=None, note=None
                )
    try:
        parameters = Parameters.model_validate(values)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors()
        )
        raise ProfileError(f"{origin}: {problems}") from None
    if base is None:
        unsourced = [n for n, i in info.items() if not i.sources]
        if unsourced:
            raise ProfileError(f"{origin}: parameters without sources: {', '.join(unsourced)}")
    return RuleProfile(
        id=str(document["id"]),
        name=str(document["name"]),
        version=str(document["version"]),
        extends=base.id if base else None,
        parameters=parameters,
        info=info,
        sources=sources_known,
    )


@functools.cache
def default_profile() -> RuleProfile:
    """The profile netlm ships (``profiles/default.yaml``); parsed once (it is immutable)."""
    text = resources.files("netlm.eligibility").joinpath("profiles/default.yaml").read_bytes()
    return _parse(_read(text, "default profile", "yaml"), "default profile", None)


def _read(data: bytes, origin: str, format: Format) -> object:
    """Parse a profile document with the hardened reader (:mod:`netlm.documents`)."""
    try:
        return parse_document(data, format=format)
    except DocumentError as exc:
        problems = "; ".join(f"{f}: {m}" if f else m for f, m in exc.problems)
        raise ProfileError(f"{origin}: {problems}") from None


def load_profile(path: str | Path) -> RuleProfile:
    """Load a centre's profile file (YAML or JSON).

    A file with ``extends: default`` starts from the shipped profile and
    overrides the parameters it lists; without ``extends`` it must give every
    parameter with its sources.  ``sources_file`` names the centre's own
    sources (``netlm/sources/v1``, a path relative to the profile's folder),
    which its parameters may then cite.  The file is read by :mod:`netlm.documents`
    (duplicate keys, YAML tags, alias bombs, deep nesting, oversized and
    non-UTF-8 files are refused).  Parsed profiles are cached per process, keyed by
    the path and the SHA-256 of the file's bytes (a profile with a ``sources_file``
    is parsed every time), so an edited file is parsed again.

    Raises
    ------
    ProfileError
        If the file cannot be read, names an unknown parameter, or a value has
        the wrong type; or if its sources file cannot be read, is invalid or
        reuses a built-in source id (the message names the file and field).
    """
    p = Path(path)
    try:
        raw = read_bytes(p)
    except DocumentError as exc:
        message = exc.problems[0][1].replace("cannot read", "cannot read profile", 1)
        raise ProfileError(message if message.startswith("cannot") else f"{p}: {message}") from None
    if b"sources_file" in raw:  # its sources file may change independently: no cache
        return _load_profile_bytes.__wrapped__(str(p), "", raw)
    return _load_profile_bytes(str(p), hashlib.sha256(raw).hexdigest(), raw)


@functools.lru_cache(maxsize=32)
def _load_profile_bytes(origin: str, digest: str, raw: bytes) -> RuleProfile:
    """Parse one profile file's bytes; cached on (path, digest)."""
    del digest  # part of the cache key only
    p = Path(origin)
    document = _read(raw, origin, format_for(p))
    base: RuleProfile | None = None
    if isinstance(document, Mapping) and document.get("extends") is not None:
        if document["extends"] != "default":
            shown = short_repr(document["extends"]) or "that value"
            raise ProfileError(f"{p}: can only extend 'default', not {shown}")
        base = default_profile()
    own_sources = None
    if isinstance(document, Mapping) and "sources_file" in document:
        own_sources = _own_sources(document["sources_file"], p)
    return _parse(document, str(p), base, own_sources)


def _own_sources(value: object, profile_path: Path) -> dict[str, Source]:
    """The sources of the file a profile's ``sources_file`` names."""
    if not isinstance(value, str) or not value.strip():
        shown = short_repr(value) or "that value"
        raise ProfileError(f"{profile_path}: 'sources_file' must be a file name, not {shown}")
    path = profile_path.parent / value
    try:
        return load_sources(path)
    except SourcesError as exc:
        problems = "; ".join(f"{f}: {m}" if f else m for f, m in exc.problems)
        raise ProfileError(f"{profile_path}: sources_file {path}: {problems}") from None
