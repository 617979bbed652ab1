"""Every code and profile URL the FHIR adapter writes or reads, in one table each.

Each :class:`Code` names its code system, the code, its display text, the
evidence source it is cited from (:mod:`netlm.evidence`) and how sure we are of
it: ``S`` where the code was seen with that meaning in a published FHIR
profile, value set or terminology file (the mCODE implementation guide, other
implementation guides), ``U`` where it is from memory of the terminology and
not verified here.  Codes of the local code system :data:`NETLM_SYSTEM` are
netlm's own (treatment modalities, verdicts, derived quantities that have no
LOINC code) and need no verification.

Laboratory values travel in the unit the case gave them in: a bilirubin in
µmol/L is written with the LOINC code for the molar concentration, one in mg/dL
with the mass code; :data:`LABS` lists both per analyte, and
:mod:`netlm.fhir.importer` reads either back through :mod:`netlm.units`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Final

from netlm.evidence import Certainty

LOINC: Final = "http://loinc.org"
SNOMED: Final = "http://snomed.info/sct"
UCUM: Final = "http://unitsofmeasure.org"
#: netlm's own codes (treatment modalities, verdicts, derived quantities).
NETLM_SYSTEM: Final = "urn:netlm:fhir:codes"
#: Identifier system of the case's ``patient.id`` (the centre's patient id).
NETLM_PATIENT_ID: Final = "urn:netlm:fhir:patient-id"
#: Extension carrying an administered or planned activity (valueQuantity in GBq).
ACTIVITY_EXTENSION: Final = "urn:netlm:fhir:extension:activity"
CONDITION_CLINICAL: Final = "http://terminology.hl7.org/CodeSystem/condition-clinical"
CONDITION_CATEGORY: Final = "http://terminology.hl7.org/CodeSystem/condition-category"
OBSERVATION_CATEGORY: Final = "http://terminology.hl7.org/CodeSystem/observation-category"
CONDITION_RELATED: Final = "http://hl7.org/fhir/StructureDefinition/condition-related"

_MCODE: Final = "http://hl7.org/fhir/us/mcode"


def mcode_profile(name: str) -> str:
    """The canonical URL of mCODE profile or extension ``name`` (source ``mcode_ig``)."""
    return f"{_MCODE}/StructureDefinition/{name}"


PROFILE_PATIENT: Final = mcode_profile("mcode-cancer-patient")
PROFILE_PRIMARY: Final = mcode_profile("mcode-primary-cancer-condition")
PROFILE_SECONDARY: Final = mcode_profile("mcode-secondary-cancer-condition")
PROFILE_ECOG: Final = mcode_profile("mcode-ecog-performance-status")
PROFILE_TUMOR_MARKER: Final = mcode_profile("mcode-tumor-marker-test")
PROFILE_RT_SUMMARY: Final = mcode_profile("mcode-radiotherapy-course-summary")
PROFILE_RT_VOLUME: Final = mcode_profile("mcode-radiotherapy-volume")
EXT_HISTOLOGY: Final = mcode_profile("mcode-histology-morphology-behavior")
EXT_MODALITY_AND_TECHNIQUE: Final = mcode_profile("mcode-radiotherapy-modality-and-technique")
EXT_DOSE_TO_VOLUME: Final = mcode_profile("mcode-radiotherapy-dose-delivered-to-volume")
MCODE_RESOURCE_IDS: Final = f"{_MCODE}/CodeSystem/mcode-resource-identifier-cs"
MCODE_CATCH_CODES: Final = f"{_MCODE}/CodeSystem/mcode-catch-code-cs"

_S = Certainty.SECONDARY
_U = Certainty.UNVERIFIED


@dataclass(frozen=True)
class Code:
    """One code with its display, the source it is cited from and its certainty."""

    system: str
    code: str
    display: str
    source: str
    certainty: Certainty

    def coding(self) -> dict[str, str]:
        """The FHIR ``Coding`` of this code."""
        return {"system": self.system, "code": self.code, "display": self.display}

    def concept(self, text: str | None = None) -> dict[str, Any]:
        """A ``CodeableConcept`` with this one coding (and ``text`` when given)."""
        out: dict[str, Any] = {"coding": [self.coding()]}
        if text:
            out["text"] = text
        return out


def _loinc(code: str, display: str, certainty: Certainty = _S) -> Code:
    return Code(LOINC, code, display, "loinc_codes", certainty)


def _sct(code: str, display: str, certainty: Certainty = _S) -> Code:
    return Code(SNOMED, code, display, "snomed_codes", certainty)


def local(code: str, display: str) -> Code:
    """A code of netlm's own code system."""
    return Code(NETLM_SYSTEM, code, display, "fhir_r4", Certainty.VERIFIED)


# ------------------------------------------------------------------------- observations
ECOG: Final = _loinc("89247-1", "ECOG Performance Status score")
#: LOINC answers LA9622-7..LA9626-8 for ECOG 0..4 (mCODE ECOGPerformanceStatus example).
ECOG_ANSWERS: Final[dict[int, Code]] = {
    0: _loinc(
        "LA9622-7", "Fully active, able to carry on all pre-disease performance without restriction"
    ),
    1: _loinc(
        "LA9623-5",
        "Restricted in physically strenuous activity but ambulatory and able to carry out work "
        "of a light or sedentary nature, e.g., light house work, office work",
        _U,
    ),
    2: _loinc(
        "LA9624-3",
        "Ambulatory and capable of all selfcare but unable to carry out any work activities. "
        "Up and about more than 50% of waking hours",
        _U,
    ),
    3: _loinc(
        "LA9625-0",
        "Capable of only limited selfcare, confined to bed or chair more than 50% of waking hours",
        _U,
    ),
    4: _loinc(
        "LA9626-8",
        "Completely disabled. Cannot carry on any selfcare. Totally confined to bed or chair",
        _U,
    ),
}
KI67: Final = _loinc("29593-1", "Cells.Ki-67 nuclear Ag/cells in Tissue by Immune stain")
GRADE: Final = _loinc("33732-9", "Histology grade [Identifier] in Cancer specimen")
MITOSES: Final = local("mitoses-per-2mm2", "Mitotic count per 2 mm2 (WHO 2019 grading)")
TUMOUR_BURDEN: Final = local(
    "liver-tumour-burden", "Liver tumour burden, percent of the liver volume"
)
EGFR: Final = local("egfr", "Estimated GFR (formula not recorded in the case)")
#: Creatinine-based eGFR codes accepted on import (the formula is not kept).
EGFR_ALTERNATES: Final[tuple[Code, ...]] = (
    _loinc(
        "62238-1",
        "Glomerular filtration rate/1.73 sq M.predicted [Volume Rate/Area] in Serum, Plasma or "
        "Blood by Creatinine-based formula (CKD-EPI)",
        _U,
    ),
    _loinc(
        "33914-3",
        "Glomerular filtration rate/1.73 sq M.predicted [Volume Rate/Area] in Serum or Plasma "
        "by Creatinine-based formula (MDRD)",
        _U,
    ),
)


@dataclass(frozen=True)
class LabCode:
    """How one case laboratory field travels as an Observation.

    Attributes
    ----------
    field
        The field of :class:`netlm.case.model.Labs`.
    analyte
        The registry's name of the analyte (``netlm.store`` ``LAB_ANALYTES``).
    codes
        Case unit (netlm's canonical spelling) -> the code for a value in that unit.
    ucum
        Case unit -> UCUM unit code.
    quantity
        Whether the case field is a ``{value, unit}`` quantity (else a plain number in
        the unit its name carries).
    """

    field: str
    analyte: str
    codes: dict[str, Code]
    ucum: dict[str, str]
    quantity: bool


_BILI_MASS = _loinc("1975-2", "Bilirubin.total [Mass/volume] in Serum or Plasma")
_BILI_MOLAR = _loinc("14631-6", "Bilirubin.total [Moles/volume] in Serum or Plasma", _U)
_ALB = _loinc("1751-7", "Albumin [Mass/volume] in Serum or Plasma")
_CREA_MASS = _loinc("2160-0", "Creatinine [Mass/volume] in Serum or Plasma")
_CREA_MOLAR = _loinc("14682-9", "Creatinine [Moles/volume] in Serum or Plasma", _U)

#: The case's laboratory fields, in export order.
LABS: Final[tuple[LabCode, ...]] = (
    LabCode(
        "bilirubin",
        "bilirubin",
        {"mg/dL": _BILI_MASS, "umol/L": _BILI_MOLAR},
        {"mg/dL": "mg/dL", "umol/L": "umol/L"},
        True,
    ),
    LabCode(
        "albumin", "albumin", {"g/dL": _ALB, "g/L": _ALB}, {"g/dL": "g/dL", "g/L": "g/L"}, True
    ),
    LabCode(
        "inr",
        "inr",
        {"": _loinc("6301-6", "INR in Platelet poor plasma by Coagulation assay")},
        {"": "{INR}"},
        False,
    ),
    LabCode(
        "ast",
        "ast",
        {
            "U/L": _loinc(
                "1920-8",
                "Aspartate aminotransferase [Enzymatic activity/volume] in Serum or Plasma",
                _U,
            )
        },
        {"U/L": "U/L"},
        True,
    ),
    LabCode(
        "alt",
        "alt",
        {
            "U/L": _loinc(
                "1742-6",
                "Alanine aminotransferase [Enzymatic activity/volume] in Serum or Plasma",
                _U,
            )
        },
        {"U/L": "U/L"},
        True,
    ),
    LabCode(
        "creatinine",
        "creatinine",
        {"mg/dL": _CREA_MASS, "umol/L": _CREA_MOLAR},
        {"mg/dL": "mg/dL", "umol/L": "umol/L"},
        True,
    ),
    LabCode("egfr_ml_min", "egfr", {"": EGFR}, {"": "mL/min/{1.73_m2}"}, False),
    LabCode(
        "platelets_10e9_per_l",
        "platelets",
        {"": _loinc("777-3", "Platelets [#/volume] in Blood by Automated count", _U)},
        {"": "10*9/L"},
        False,
    ),
    LabCode(
        "leukocytes_10e9_per_l",
        "leukocytes",
        {"": _loinc("6690-2", "Leukocytes [#/volume] in Blood by Automated count", _U)},
        {"": "10*9/L"},
        False,
    ),
    LabCode(
        "chromogranin_a",
        "chromogranin_a",
        {"ng/mL": _loinc("9811-1", "Chromogranin A [Mass/volume] in Serum or Plasma", _U)},
        {"ng/mL": "ng/mL"},
        True,
    ),
    LabCode(
        "nt_probnp",
        "nt_probnp",
        {
            "pg/mL": _loinc(
                "33762-6",
                "Natriuretic peptide.B prohormone N-Terminal [Mass/volume] in Serum or Plasma",
                _U,
            )
        },
        {"pg/mL": "pg/mL"},
        True,
    ),
)

#: Spellings of the unit of the plain-number case fields accepted on import.
PLAIN_UNITS: Final[dict[str, frozenset[str]]] = {
    "inr": frozenset({"{INR}", "{ratio}", "1", "INR", ""}),
    "egfr_ml_min": frozenset({"mL/min/{1.73_m2}", "mL/min/1.73m2", "mL/min/1.73 m2"}),
    "platelets_10e9_per_l": frozenset({"10*9/L", "10^9/L", "x10^9/L"}),
    "leukocytes_10e9_per_l": frozenset({"10*9/L", "10^9/L", "x10^9/L"}),
}

# ------------------------------------------------------------------------- conditions
#: Body sites of the primary tumour (SNOMED CT body structures).
PRIMARY_SITES: Final[dict[str, Code]] = {
    "pancreas": _sct("15776009", "Pancreatic structure (body structure)", _U),
    "small_intestine": _sct("30315005", "Small intestine structure (body structure)", _U),
    "stomach": _sct("69695003", "Stomach structure (body structure)", _U),
    "colon": _sct("71854001", "Colon structure (body structure)", _U),
    "rectum": _sct("34402009", "Rectum structure (body structure)", _U),
    "appendix": _sct("66754008", "Appendix structure (body structure)", _U),
    "lung": _sct("39607008", "Lung structure (body structure)", _U),
    "thymus": _sct("9875009", "Thymus structure (body structure)", _U),
}
LIVER: Final = _sct("10200004", "Liver structure (body structure)", _U)
LUNG: Final = PRIMARY_SITES["lung"]
LIVER_METASTASIS: Final = _sct("94381002", "Metastatic malignant neoplasm to liver (disorder)")
#: mCODE "other primary cancer condition, specify": the second coding says which.
PRIMARY_OTHER: Final = Code(
    MCODE_CATCH_CODES,
    "PCC-OTHER",
    "Other Primary Cancer Condition, Specify",
    "mcode_ig",
    Certainty.SECONDARY,
)
#: Morphology by WHO 2019 grade (SNOMED CT morphologic abnormalities).
MORPHOLOGY: Final[dict[str, Code]] = {
    "well": _sct(
        "1286768001", "Well-differentiated neuroendocrine tumor (morphologic abnormality)"
    ),
    "NET G1": _sct(
        "1286769009", "Well-differentiated neuroendocrine tumor grade 1 (morphologic abnormality)"
    ),
    "NET G2": _sct(
        "1286770005", "Well-differentiated neuroendocrine tumor grade 2 (morphologic abnormality)"
    ),
    "NEC": _sct("1286767006", "Neuroendocrine carcinoma (morphologic abnormality)"),
}

# ------------------------------------------------------------------------- procedures
RADIOTHERAPY_CATEGORY: Final = _sct(
    "108290001", "Radiation oncology AND/OR radiotherapy (procedure)"
)
RT_SUMMARY_CODE: Final = Code(
    MCODE_RESOURCE_IDS,
    "mcode-radiotherapy-course-summary",
    "Radiotherapy Course Summary",
    "mcode_ig",
    Certainty.SECONDARY,
)
RT_MODALITY_RADIOPHARMACEUTICAL: Final = _sct(
    "440252007", "Administration of radiopharmaceutical (procedure)"
)
RT_TECHNIQUE_INTRAVASCULAR: Final = _sct("1156383000", "Intravascular brachytherapy (procedure)")

#: Treatments exported as Procedures (case ``history.prior_treatments[].type`` and
#: registry treatment modalities), with netlm's code for each.
PROCEDURES: Final[dict[str, Code]] = {
    "tare": local("tare", "Transarterial radioembolization (90Y)"),
    "tare_resin": local("tare_resin", "Radioembolization, resin microspheres"),
    "tare_glass": local("tare_glass", "Radioembolization, glass microspheres"),
    "radiation_segmentectomy": local("radiation_segmentectomy", "Radiation segmentectomy"),
    "tae": local("tae", "Bland transarterial embolization (TAE)"),
    "ctace": local("ctace", "Conventional transarterial chemoembolization (cTACE)"),
    "debtace": local("debtace", "Drug-eluting bead chemoembolization (DEB-TACE)"),
    "ablation": local("ablation", "Thermal or non-thermal ablation of liver metastases"),
    "ablation_laser": local("ablation_laser", "Laser ablation"),
    "ablation_rfa": local("ablation_rfa", "Radiofrequency ablation"),
    "ablation_mwa": local("ablation_mwa", "Microwave ablation"),
    "ablation_ire": local("ablation_ire", "Irreversible electroporation"),
    "ablation_cryo": local("ablation_cryo", "Cryoablation"),
    "prrt": local("prrt", "Peptide receptor radionuclide therapy (PRRT)"),
    "prrt_intraarterial": local("prrt_intraarterial", "PRRT, intra-arterial"),
    "resection": local("resection", "Liver resection"),
    "transplant": local("transplant", "Liver transplantation"),
}

# ------------------------------------------------------------------------- board report
BOARD_REPORT: Final = local("tumour-board-assessment", "Tumour-board eligibility assessment")
BOARD_OPTION: Final = local("tumour-board-option", "Eligibility of one liver-directed option")
RECOMMENDED_RANK: Final = local("recommended-rank", "Rank in the recommended order (1 = first)")


def all_codes() -> tuple[Code, ...]:
    """Every external (non-netlm) code this module defines, for citation checks."""
    found: list[Code] = [
        ECOG,
        KI67,
        GRADE,
        LIVER,
        LIVER_METASTASIS,
        PRIMARY_OTHER,
        RADIOTHERAPY_CATEGORY,
        RT_SUMMARY_CODE,
        RT_MODALITY_RADIOPHARMACEUTICAL,
        RT_TECHNIQUE_INTRAVASCULAR,
        *ECOG_ANSWERS.values(),
        *EGFR_ALTERNATES,
        *PRIMARY_SITES.values(),
        *MORPHOLOGY.values(),
        *(c for lab in LABS for c in lab.codes.values()),
    ]
    return tuple(dict.fromkeys(c for c in found if c.system != NETLM_SYSTEM))
