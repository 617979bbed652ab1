"""Source records: seed document and section, original reference, population.

Seed documents (clinical reviews the project started from):

* ``000`` Moriarty et al., "Imaging and Interventional Radiology management of
  Neuroendocrine Tumor Liver Metastases", Mater Misericordiae, Dublin (poster).
* ``001`` Cazzato et al., "Liver-Directed Therapy for Neuroendocrine
  Metastases", Cancers 2021;13:6368.
* ``002`` Kumari et al., Semin Intervent Radiol 2024;41:270-277.
* ``003`` Sze, "Liver-directed therapies for patients with metastatic NET",
  Stanford talk.
* ``004`` El-Haddad et al., "Radioembolization for Metastatic Neuroendocrine
  Tumors", Digestive Disease Interventions 2021;5:103-112.

Certainty follows ``shared/reference/eligibility.md``: ``V`` seen in the cited
source, ``S`` secondary source only, ``U`` not verified (the number is a
named, overridable parameter and the output says so).
"""

from __future__ import annotations

from enum import StrEnum
from typing import Final

from pydantic import BaseModel, ConfigDict

SEED_000: Final = "000_52eb0598e8e69c14.txt"
SEED_001: Final = "001_f3eb24f8bc741c7e.txt"
SEED_002: Final = "002_c1cae61a3fce8186.txt"
SEED_003: Final = "003_e559fa06e68dc69d.txt"
SEED_004: Final = "004_c8b933ee614b5a74.txt"


class Population(StrEnum):
    """Whose patients the evidence comes from."""

    NET = "NET"
    HCC = "HCC"
    CRLM = "CRLM"
    MIXED = "mixed liver tumours"
    DEVICE_LABEL = "device label"
    GUIDELINE = "guideline / consensus"
    GENERAL = "general (not disease-specific)"


class Certainty(StrEnum):
    """How sure we are that the source says what the rule says."""

    VERIFIED = "V"
    SECONDARY = "S"
    UNVERIFIED = "U"


class Source(BaseModel):
    """One cited source.

    Attributes
    ----------
    id
        Stable identifier used by rules and parameters.
    seed
        File name of the seed document under ``shared/seeds/``, or ``None`` when
        the source is outside the seeds.
    section
        Section, table or slide of the seed (or of the reference) that says it.
    reference
        The original publication the statement comes from.
    population
        Whose patients the evidence comes from.
    certainty
        ``V``, ``S`` or ``U`` (see module docstring).
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    id: str
    seed: str | None
    section: str
    reference: str
    population: Population
    certainty: Certainty

    def cite(self) -> str:
        """A one-line citation a clinician can follow.

        Examples
        --------
        >>> get_source("tare_exclusion_004").cite()  # doctest: +ELLIPSIS
        'seed 004 (El-Haddad 2021), Patient Selection > Exclusion Criteria; ...'
        """
        where = (
            f"seed {self.seed[:3]} ({_SEED_SHORT[self.seed[:3]]}), {self.section}"
            if (self.seed)
            else self.section
        )
        return f"{where}; {self.reference} [{self.population.value}; {self.certainty.value}]"


_SEED_SHORT: Final[dict[str, str]] = {
    "000": "Moriarty, Dublin",
    "001": "Cazzato 2021",
    "002": "Kumari 2024",
    "003": "Sze, Stanford",
    "004": "El-Haddad 2021",
}

_P = Population
_C = Certainty


def _s(
    id: str,
    seed: str | None,
    section: str,
    reference: str,
    population: Population,
    certainty: Certainty,
) -> Source:
    return Source(
        id=id,
        seed=seed,
        section=section,
        reference=reference,
        population=population,
        certainty=certainty,
    )


_ALL: Final[tuple[Source, ...]] = (
    # --- interoperability: FHIR, mCODE and the code systems (netlm.fhir) ------------
    _s(
        "fhir_r4",
        None,
        "HL7 FHIR Release 4 (4.0.1) / R4B (4.3.0): Bundle, Patient, Condition, Observation, "
        "Procedure, BodyStructure, DiagnosticReport",
        "HL7 International, FHIR R4 specification (hl7.org/fhir/R4); resources validated with "
        "the fhir.resources R4B models",
        _P.GENERAL,
        _C.SECONDARY,
    ),
    _s(
        "mcode_ig",
        None,
        "HL7 mCODE implementation guide (STU3), profiles CancerPatient, PrimaryCancerCondition, "
        "SecondaryCancerCondition, ECOGPerformanceStatus, TumorMarkerTest, "
        "RadiotherapyCourseSummary, RadiotherapyVolume (input/fsh/SD_*.fsh)",
        "HL7 mCODE STU3, github.com/HL7/fhir-mCODE-ig: canonical URLs, radiotherapy modality "
        "440252007 and the dose-delivered-to-volume extension in cGy",
        _P.GUIDELINE,
        _C.SECONDARY,
    ),
    _s(
        "loinc_codes",
        None,
        "LOINC (loinc.org): codes and long common names listed in netlm.fhir.codes",
        "Regenstrief Institute, LOINC; each code's certainty is given in its table row "
        "(S: seen in a published FHIR profile or terminology file, U: not verified)",
        _P.GENERAL,
        _C.SECONDARY,
    ),
    _s(
        "snomed_codes",
        None,
        "SNOMED CT International Edition: body structures, disorders and morphologies "
        "listed in netlm.fhir.codes",
        "SNOMED International; each code's certainty is given in its table row",
        _P.GENERAL,
        _C.SECONDARY,
    ),
    _s(
        "ucum_units",
        None,
        "UCUM (unitsofmeasure.org): unit codes of exported quantities",
        "Regenstrief Institute, The Unified Code for Units of Measure",
        _P.GENERAL,
        _C.SECONDARY,
    ),
    # --- pathology and staging -------------------------------------------------
    _s(
        "who2019_grading",
        None,
        "WHO Classification of Tumours, Digestive System, 5th ed. (2019)",
        "Nagtegaal ID et al., Histopathology 2020;76:182-188 (WHO 2019 GEP-NEN grading)",
        _P.NET,
        _C.VERIFIED,
    ),
    _s(
        "fdg_pet_ki67_001",
        SEED_001,
        "§3 Current Imaging",
        "ref. [25] (Ki-67 >= 10 % empirical cut-off for 18F-FDG PET in well-differentiated NET)",
        _P.NET,
        _C.VERIFIED,
    ),
    _s(
        "fdg_prognosis_001",
        SEED_001,
        "§3 Current Imaging",
        "ref. [26] (FDG PET prognostic stratification in NET)",
        _P.NET,
        _C.VERIFIED,
    ),
    _s(
        "sstr_pet_001",
        SEED_001,
        "§3 Current Imaging",
        "ref. [24] (68Ga-DOTA-peptide PET: gold standard for well-differentiated NET)",
        _P.NET,
        _C.VERIFIED,
    ),
    _s(
        "mri_detection_001",
        SEED_001,
        "§3 Current Imaging",
        "refs. [16-20] (multiphasic MRI with DWI most accurate for liver metastases)",
        _P.NET,
        _C.VERIFIED,
    ),
    _s(
        "burden_method",
        None,
        "shared/reference/eligibility.md, Pathology and staging",
        "liver involvement = tumour volume / liver volume, recorded with its method",
        _P.NET,
        _C.VERIFIED,
    ),
    _s(
        "missing_findings_policy",
        None,
        "netlm missing-data policy (README 'Missing data'); the seeds are silent on "
        "unreported findings",
        "a finding that pre-treatment cross-sectional imaging, staging or the history would "
        "report (biliary dilatation, portal vein thrombosis, ascites, contrast allergy...) is "
        "taken as absent when the record does not mention it, and listed as an assumption to "
        "confirm at work-up; measured data (labs, Ki-67, ECOG, volumes) are never assumed",
        _P.GENERAL,
        _C.UNVERIFIED,
    ),
    # --- liver function --------------------------------------------------------
    _s(
        "liver_failure_001",
        SEED_001,
        "§2 NEN Liver Metastases",
        "hepatocellular failure due to tumour infiltration is a critical factor in choosing "
        "regional treatment (surgery or liver-directed therapy)",
        _P.NET,
        _C.VERIFIED,
    ),
    _s(
        "local_therapy_liver_function_hcc",
        None,
        "EASL Clinical Practice Guidelines: Management of hepatocellular carcinoma",
        "J Hepatol 2018;69:182-236: resection and ablation need preserved liver function; "
        "decompensated (Child-Pugh C) liver disease is excluded from local therapy (HCC evidence)",
        _P.HCC,
        _C.UNVERIFIED,
    ),
    _s(
        "hepatic_encephalopathy_grading",
        None,
        "AASLD/EASL practice guideline on hepatic encephalopathy (West Haven grades)",
        "Vilstrup H et al., Hepatology 2014;60:715-735: grade >= 2 is overt encephalopathy; "
        "grades 0-1 are covert",
        _P.GENERAL,
        _C.UNVERIFIED,
    ),
    _s(
        "child_pugh",
        None,
        "shared/reference/eligibility.md, Liver function",
        "Pugh RN et al., Br J Surg 1973;60:646-649 (Child-Turcotte-Pugh score)",
        _P.GENERAL,
        _C.VERIFIED,
    ),
    _s(
        "lab_unit_plausibility",
        None,
        "shared/reference/eligibility.md, Liver function (bilirubin mg/dL x 17.1 = umol/L; "
        "albumin g/dL x 10 = g/L)",
        "netlm input check, not from the seeds: usual adult reference intervals (total "
        "bilirubin about 0.3-1.2 mg/dL = 5-21 umol/L; albumin 3.5-5.0 g/dL) and the "
        "Child-Pugh cut-offs for abnormal albumin (< 3.5 g/dL) and INR (> 1.7) (Pugh 1973)",
        _P.GENERAL,
        _C.UNVERIFIED,
    ),
    _s(
        "albi",
        None,
        "shared/reference/eligibility.md, Liver function",
        "Johnson PJ et al., J Clin Oncol 2015;33:550-558 (ALBI grade); coefficient -0.085 "
        "(some implementations -0.0852)",
        _P.HCC,
        _C.VERIFIED,
    ),
    _s(
        "ctcae_v5",
        None,
        "NCI CTCAE v5.0 (27 Nov 2017), Investigations / Metabolism",
        "U.S. DHHS, Common Terminology Criteria for Adverse Events v5.0",
        _P.GENERAL,
        _C.VERIFIED,
    ),
    _s(
        "ctcae_v6",
        None,
        "NCI CTCAE v6.0 (2025), Investigations",
        "U.S. DHHS, Common Terminology Criteria for Adverse Events v6.0 (abnormal-baseline "
        "grading changed)",
        _P.GENERAL,
        _C.SECONDARY,
    ),
    _s(
        "ctcae_v6_admiral",
        None,
        "pharmaverse admiral, data-raw/adlb_grading/ncictcaev6.json (atoxgr_criteria_ctcv6)",
        "transcription of NCI CTCAE v6.0 (published 22 July 2025) laboratory grading criteria",
        _P.GENERAL,
        _C.SECONDARY,
    ),
    # --- surgery and transplant ------------------------------------------------
    _s(
        "resection_001",
        SEED_001,
        "§1 Introduction",
        "refs. [5-7] (surgery is the only curative treatment)",
        _P.NET,
        _C.VERIFIED,
    ),
    _s(
        "resection_debulking",
        None,
        "shared/reference/eligibility.md, Surgery and transplant",
        "Mayo series: > 90 % of metastases removable (Sarmiento 2003); recent series > 70 % "
        "(Graff-Baker 2014) [abstracts]",
        _P.NET,
        _C.VERIFIED,
    ),
    _s(
        "resection_fitness",
        SEED_001,
        "§1 Introduction",
        "acceptable performance status for liver surgery: the ECOG cut-off is not stated in "
        "the seeds (netlm default ECOG <= 2)",
        _P.NET,
        _C.UNVERIFIED,
    ),
    _s(
        "flr_consensus_crlm",
        None,
        "AHPBA/SSAT/SSO expert consensus on resection of colorectal liver metastases",
        "Adams RB et al., HPB 2013;15:91-103: future liver remnant >= 20 % for a normal liver, "
        ">= 30 % after extensive chemotherapy, >= 40 % with cirrhosis (colorectal evidence; no "
        "NET-specific figure in the seeds)",
        _P.CRLM,
        _C.UNVERIFIED,
    ),
    _s(
        "curative_first_001",
        SEED_001,
        "§2 NEN Liver Metastases (Figure 1); Table 1 (TAE/TACE indications)",
        "oligometastatic disease: curative surgery or ablation; TAE/TACE are for unresectable "
        "disease or disease not suitable for ablation",
        _P.NET,
        _C.VERIFIED,
    ),
    _s(
        "grade_pathway_001",
        SEED_001,
        "Abstract; §2 (Figure 1); §6.1 TAE and TACE",
        "the liver-directed pathways are for grade 1 and 2 NEN (TAE/TACE for low-grade G1/G2)",
        _P.NET,
        _C.VERIFIED,
    ),
    _s(
        "milan_net_001",
        SEED_001,
        "§2 NEN Liver Metastases",
        "refs. [12-14] (Milan-NET criteria, Mazzaferro 2007 J Hepatol; 2016 Am J Transplant)",
        _P.NET,
        _C.VERIFIED,
    ),
    _s(
        "milan_net_age60",
        None,
        "shared/reference/eligibility.md, Surgery and transplant",
        "later summaries of the Milan-NET criteria give age <= 60",
        _P.NET,
        _C.SECONDARY,
    ),
    # --- ablation --------------------------------------------------------------
    _s(
        "ablation_table1_001",
        SEED_001,
        "Table 1 (Percutaneous ablation) and §5",
        "Cazzato 2021 Table 1: indications and contraindications of percutaneous ablation",
        _P.NET,
        _C.VERIFIED,
    ),
    _s(
        "ablation_best_003",
        SEED_003,
        "slide 'Ablation'",
        "best suited to 1-2 lesions < 3 cm",
        _P.MIXED,
        _C.VERIFIED,
    ),
    _s(
        "ablation_rfa_000",
        SEED_000,
        "'Ablation of Liver Metastases' and Learning section",
        "RFA for lesions < 3 cm: local recurrence 6 % vs 5.5 % after resection, 2.9 % below "
        "3 cm (ref. 22, Tanis et al.: colorectal liver metastases)",
        _P.CRLM,
        _C.SECONDARY,
    ),
    _s(
        "ablation_with_tace_000_hcc",
        SEED_000,
        "'Ablation of Liver Metastases'",
        "combined with chemoembolization, local control up to 7 cm (refs. 23-24, Morimoto 2010 "
        "and Peng 2013: hepatocellular carcinoma)",
        _P.HCC,
        _C.SECONDARY,
    ),
    _s(
        "ablation_laser_001",
        SEED_001,
        "§5.1 Laser Ablation",
        "ref. [35] (general review of percutaneous ablation: fibre zone < 2 cm); Sartori et al. "
        "(189 NET metastases, mean 17.9 mm)",
        _P.MIXED,
        _C.VERIFIED,
    ),
    _s(
        "ablation_rfa_001",
        SEED_001,
        "§5.2 Radiofrequency Ablation",
        "ref. [35] (zone ~3 cm single, 4-4.5 cm clustered); ref. [37] heat-sink",
        _P.MIXED,
        _C.VERIFIED,
    ),
    _s(
        "ablation_mwa_001",
        SEED_001,
        "§5.3 Microwave Ablation",
        "refs. [39-41] (zone <= 4 cm single antenna, 5-6 cm with three; less heat-sink)",
        _P.MIXED,
        _C.VERIFIED,
    ),
    _s(
        "ablation_ire_001",
        SEED_001,
        "§5.4 Irreversible Electroporation",
        "refs. [43-46] (zone 2-3 cm; spares bile ducts and vessels; arrhythmia)",
        _P.MIXED,
        _C.VERIFIED,
    ),
    _s(
        "ablation_cryo_003",
        SEED_003,
        "slide 'Ablation' (cold: cryoablation)",
        "no cryoablation zone size in the seeds: netlm uses the generic 'best suited < 3 cm'",
        _P.MIXED,
        _C.UNVERIFIED,
    ),
    _s(
        "ire_metal_stent",
        None,
        "shared/reference/eligibility.md, Percutaneous ablation",
        "IRE with an indwelling metal biliary stent is an absolute contraindication [abstract]",
        _P.MIXED,
        _C.VERIFIED,
    ),
    _s(
        "sir2019_bleeding",
        None,
        "shared/reference/eligibility.md, Percutaneous ablation",
        "Patel IJ et al., SIR consensus guidelines on periprocedural thrombotic and bleeding "
        "risk, J Vasc Interv Radiol 2019;30:1168-1184",
        _P.GUIDELINE,
        _C.VERIFIED,
    ),
    _s(
        "ablation_margin_crlm",
        None,
        "shared/reference/eligibility.md, Percutaneous ablation",
        "ablation margin >= 5 mm (evidence from colorectal liver metastases; no NET-specific "
        "standard)",
        _P.CRLM,
        _C.VERIFIED,
    ),
    # --- TAE / TACE ------------------------------------------------------------
    _s(
        "tace_001",
        SEED_001,
        "§6.1 TAE and TACE; Table 1",
        "refs. [48-50] (indications, contraindications, one lobe per session every 4-6 weeks)",
        _P.NET,
        _C.VERIFIED,
    ),
    _s(
        "tace_burden_mortality",
        None,
        "shared/reference/eligibility.md, TAE / cTACE / DEB-TACE",
        "> 75 % involvement: 30-day mortality 7 % in one NET series; > 50 % replacement, urgent "
        "procedure and extrahepatic disease predict poor survival [abstracts]",
        _P.NET,
        _C.VERIFIED,
    ),
    _s(
        "tace_biliary_abscess",
        None,
        "shared/reference/eligibility.md, TAE / cTACE / DEB-TACE",
        "prior biliary intervention: 57 % of post-TACE abscesses",
        _P.MIXED,
        _C.VERIFIED,
    ),
    _s(
        "sir2019_arterial",
        None,
        "shared/reference/eligibility.md, TAE / cTACE / DEB-TACE",
        "Patel IJ et al., SIR 2019 (arterial access: INR < 1.8 femoral, < 2.2 radial; "
        "platelets >= 20 x 10^9/L)",
        _P.GUIDELINE,
        _C.VERIFIED,
    ),
    _s(
        "tace_vs_tae_000",
        SEED_000,
        "'TACE Neuroendocrine' series table",
        "trend to better PFS/OS with chemoembolization than bland embolization (ref. 13)",
        _P.NET,
        _C.SECONDARY,
    ),
    # --- TARE ------------------------------------------------------------------
    _s(
        "tare_indications_004",
        SEED_004,
        "Patient Selection",
        "indications: liver-dominant, progressive, uncontrolled hormone production, bulky",
        _P.NET,
        _C.VERIFIED,
    ),
    _s(
        "tare_exclusion_004",
        SEED_004,
        "Patient Selection > Exclusion Criteria",
        "refs. [24,30,31] (ECOG > 2, bilirubin > 2 mg/dL, AST/ALT > 5 x ULN, burden > 70 %, "
        "burden > 50 % with albumin < 3 g/dL)",
        _P.NET,
        _C.VERIFIED,
    ),
    _s(
        "tare_absolute_004",
        SEED_004,
        "Patient Selection (after work-up)",
        "lung dose > 30 Gy single / > 50 Gy cumulative; unavoidable GI collaterals",
        _P.NET,
        _C.VERIFIED,
    ),
    _s(
        "tare_relative_004",
        SEED_004,
        "Patient Selection (relative contraindications)",
        "pulmonary function, ascites/encephalopathy, creatinine > 2.0 mg/dL, platelets < 50, "
        "severe contrast allergy, life expectancy < 3 months, burden < 20 % for bilobar",
        _P.NET,
        _C.VERIFIED,
    ),
    _s(
        "tare_similar_tace_004",
        SEED_004,
        "Patient Selection (last paragraph)",
        "most TARE inclusion and exclusion criteria are similar to TAE/TACE (portal vein "
        "thrombosis excepted)",
        _P.NET,
        _C.VERIFIED,
    ),
    _s(
        "tare_grade_survival_004",
        SEED_004,
        "Survival",
        "Jia and Wang ref. [53]: median OS 71/56/28 months for G1/G2/G3; Braat ref. [48]: "
        "10.8 months for G3 NET/NEC",
        _P.NET,
        _C.VERIFIED,
    ),
    _s(
        "tare_pvt_004",
        SEED_004,
        "Patient Selection (last paragraph)",
        "portal vein thrombosis is not a contraindication to TARE (minimal embolic effect)",
        _P.NET,
        _C.VERIFIED,
    ),
    _s(
        "tare_table1_001",
        SEED_001,
        "§6.2 SIRT; Table 1 (SIRT)",
        "refs. [50,60]: bilirubin >= 3 mg/dL, ascites, LSF > 20 %, reflux to GI, biliary "
        "dilatation, portal obstruction; pre-existing liver disease and prior chemotherapy "
        "raise REILD risk",
        _P.NET,
        _C.VERIFIED,
    ),
    _s(
        "tare_sequencing_004",
        SEED_004,
        "Patient Selection (last paragraph)",
        "bilobar disease: one lobe at a time, 4-6 weeks apart",
        _P.NET,
        _C.VERIFIED,
    ),
    _s(
        "tare_general_004",
        SEED_004,
        "General Recommendations for Use of TARE",
        "caution in low-grade bilobar disease with long life expectancy; aggressive tumours or "
        "after TAE/TACE; radiation segmentectomy; older and biliary-instrumented patients; "
        "retreatment with extreme caution",
        _P.NET,
        _C.VERIFIED,
    ),
    _s(
        "tare_chronic_004",
        SEED_004,
        "Toxicity",
        "Su et al. ref. [70]: cirrhosis-like morphology in 56.4 % (22/39) after bilobar glass, "
        "median 1.8 years; Tomozawa ref. [72] 29 % after resin",
        _P.NET,
        _C.VERIFIED,
    ),
    _s(
        "tare_infection_004",
        SEED_004,
        "Toxicity",
        "refs. [13,69]: infection ~10 % after TARE vs ~20 % after TAE/TACE with biliary "
        "instrumentation; glass higher risk than resin",
        _P.NET,
        _C.VERIFIED,
    ),
    _s(
        "tare_hypovascular_004",
        SEED_004,
        "Rationale for Transarterial Radioembolization",
        "refs. [17-21]: hypovascular NETLM - use carefully, rapidly progressing disease only",
        _P.NET,
        _C.VERIFIED,
    ),
    _s(
        "tare_after_prrt_004",
        SEED_004,
        "Sequencing with Peptide Receptor Radionuclide Therapy",
        "Braat et al. ref. [83]: 44 patients, ORR 16 %, DCR 91 %, 3 REILD, 1 death; "
        "Hamiditabar ref. [81]; ref. [82] 10/17 hepatotoxicity",
        _P.NET,
        _C.VERIFIED,
    ),
    _s(
        "tare_resin_glass_004",
        SEED_004,
        "Survival",
        "Chen et al. 2017 ref. [54]: no OS/HPFS difference between resin and glass",
        _P.NET,
        _C.VERIFIED,
    ),
    _s(
        "resin_lsf_tiers",
        None,
        "shared/reference/dosimetry.md, LSF rules (resin)",
        "SIR-Spheres instructions for use as summarised by van Roekel / Grosser 2015: LSF < 10 % "
        "no reduction, 10-15 % -20 %, 15-20 % -40 %, > 20 % do not treat",
        _P.DEVICE_LABEL,
        _C.SECONDARY,
    ),
    _s(
        "lung_dose_limits",
        SEED_004,
        "Patient Selection (after work-up); Dosimetry",
        "lung dose <= 30 Gy per treatment, <= 50 Gy cumulative (1 kg lung)",
        _P.NET,
        _C.VERIFIED,
    ),
    _s(
        "lung_mass_ct",
        None,
        "shared/reference/dosimetry.md, Tissue; Lung dose limits",
        "lung mass 1.0 kg for the dose limits, or from CT densitovolumetry (Kao 2014); the "
        "30/50 Gy limits were set with the 1 kg convention, so netlm evaluates them at 1 kg and "
        "also at a CT or stated mass, and refuses if either breaks them",
        _P.GENERAL,
        _C.SECONDARY,
    ),
    _s(
        "lung_volume_plausible",
        None,
        "netlm convention (no source read)",
        "a lung VOI of an adult holds about 1-10 L (total lung capacity 4-8 L); a smaller VOI "
        "usually means the lungs are only partly in the field of view, which biases the LSF and "
        "the lung mass",
        _P.GENERAL,
        _C.UNVERIFIED,
    ),
    _s(
        "activity_fraction_floor",
        None,
        "netlm convention (no source read); shared/reference/dosimetry.md, LSF rules (resin)",
        "the documented reductions of a method's activity reach 40 % (resin LSF 15-20 %); an "
        "activity below a small fraction of its basis is not a treatment plan",
        _P.DEVICE_LABEL,
        _C.UNVERIFIED,
    ),
    _s(
        "glass_calibration_time",
        None,
        "netlm convention (manufacturer's instructions not among the sources read)",
        "glass (TheraSphere) vials are calibrated at 12:00 noon US Eastern time on the "
        "calibration day",
        _P.DEVICE_LABEL,
        _C.UNVERIFIED,
    ),
    _s(
        "prior_lung_dose_estimate",
        None,
        "shared/reference/dosimetry.md, Models (lung dose)",
        "a prior session's lung dose estimated as C x A x LSF / 1 kg from its injected activity "
        "and lung shunt fraction, when no dose was recorded",
        _P.GENERAL,
        _C.SECONDARY,
    ),
    _s(
        "dose_constant",
        None,
        "shared/reference/dosimetry.md, Nuclear data",
        "49.67 Gy kg/GBq (EANM 2022 convention); 50 (TheraSphere insert)",
        _P.DEVICE_LABEL,
        _C.SECONDARY,
    ),
    _s(
        "maa_workup_004",
        SEED_004,
        "Patient Selection (work-up angiography)",
        "refs. [24,30,31]: work-up angiography and 99mTc-MAA (100-150 MBq) before TARE",
        _P.NET,
        _C.VERIFIED,
    ),
    _s(
        "segmentectomy_004",
        SEED_004,
        "General Recommendations for Use of TARE; Fig. 3",
        "superselective radiation segmentectomy for localized unresectable or unablatable tumours",
        _P.NET,
        _C.VERIFIED,
    ),
    # --- radioembolization dosimetry ----------------------------------------------
    _s(
        "y90_half_life",
        None,
        "shared/reference/dosimetry.md, Nuclear data",
        "90Y half-life 64.1 h (TheraSphere package insert; ICRP-107); some tools 64.2 or 64.05 h",
        _P.DEVICE_LABEL,
        _C.VERIFIED,
    ),
    _s(
        "y90_beta_range",
        SEED_001,
        "§6.2 90Y-Selective Internal Radiation Therapy (SIRT)",
        "ref. [59]: maximum and average ranges of 90Y beta emission in tissue 11 and 2.5 mm "
        "(also shared/reference/dosimetry.md, Nuclear data); netlm's kernel extent uses the "
        "CSDA range of the 2.28 MeV endpoint in water (NIST ESTAR, 11.3 mm at 1 g/mL) / density",
        _P.GENERAL,
        _C.VERIFIED,
    ),
    _s(
        "voxel_dose_time_reference",
        None,
        "shared/reference/dosimetry.md, Voxel dosimetry; Nuclear data (Decay)",
        "voxel dose uses each voxel's activity at implant; A(t) = A0 2^(-t/T1/2) (EANM SOP)",
        _P.GENERAL,
        _C.VERIFIED,
    ),
    _s(
        "image_activity_check",
        None,
        "no source: netlm convention",
        "warn when an image's activity at implant differs from the injected activity by > 10 %",
        _P.GENERAL,
        _C.UNVERIFIED,
    ),
    _s(
        "tissue_density",
        None,
        "shared/reference/dosimetry.md, Tissue",
        "liver and tumour density 1.03 g/mL (some tools 1.05); lung 0.30 g/mL (Kao 2014)",
        _P.GENERAL,
        _C.SECONDARY,
    ),
    _s(
        "mird_single_compartment",
        None,
        "shared/reference/dosimetry.md, Models",
        "single compartment (MIRD): A = D M / (C (1 - LSF)); TheraSphere package insert",
        _P.DEVICE_LABEL,
        _C.VERIFIED,
    ),
    _s(
        "partition_model",
        None,
        "shared/reference/dosimetry.md, Models",
        "partition model (Ho 1996): D_N = C A (1 - LSF) / (T/N M_T + M_N), D_T = T/N D_N",
        _P.MIXED,
        _C.VERIFIED,
    ),
    _s(
        "bsa_method",
        None,
        "shared/reference/dosimetry.md, Models (BSA method, resin)",
        "A = (BSA - 0.2) + V_T/(V_T + V_N) (SIR-Spheres IFU; van Roekel thesis, Grosser 2015); "
        "BSA by DuBois 1916 or Mosteller 1987",
        _P.DEVICE_LABEL,
        _C.SECONDARY,
    ),
    _s(
        "lobar_bsa_scaling",
        None,
        "shared/reference/dosimetry.md, Models (BSA method, resin)",
        "lobar treatment scales the BSA activity by the perfused fraction of the liver",
        _P.DEVICE_LABEL,
        _C.UNVERIFIED,
    ),
    _s(
        "devices_004",
        SEED_004,
        "Table 1 (glass vs resin microspheres)",
        "glass ~2500 Bq/sphere, vials 3-20 GBq (custom 0.5 GBq steps); resin ~50 Bq/sphere, "
        "3 GBq vial; see shared/reference/dosimetry.md for the transcription errors",
        _P.DEVICE_LABEL,
        _C.VERIFIED,
    ),
    _s(
        "residual_hoang",
        None,
        "shared/reference/dosimetry.md, Sphere numbers",
        "residual activity median 0.61 % glass, 3.01 % resin (Hoang et al., abstract)",
        _P.DEVICE_LABEL,
        _C.VERIFIED,
    ),
    _s(
        "eanm2022_resin",
        None,
        "shared/reference/dosimetry.md, Dose targets (resin)",
        "EANM 2022 dosimetry guideline Table 3 (modified from Levillain 2021)",
        _P.GUIDELINE,
        _C.VERIFIED,
    ),
    _s(
        "eanm2022_glass",
        None,
        "shared/reference/dosimetry.md, Dose targets (glass)",
        "EANM 2022 dosimetry guideline Table 2",
        _P.GUIDELINE,
        _C.VERIFIED,
    ),
    _s(
        "net_tumour_min_001",
        SEED_001,
        "§6.2 SIRT",
        "ref. [60] (Levillain 2021): minimum tumour dose 100-150 Gy for NEN",
        _P.NET,
        _C.VERIFIED,
    ),
    _s(
        "net_resin_response_004",
        SEED_004,
        "Dosimetry",
        "Chansanti 2017: resin partition model on MAA SPECT/CT, tumour >= 191.3 Gy predicted "
        "response, < 72.8 Gy predicted no response",
        _P.NET,
        _C.VERIFIED,
    ),
    _s(
        "net_normal_liver_004",
        SEED_004,
        "Toxicity",
        "Zuckerman 2019: mean normal-liver dose 25.4 Gy without vs 59.1 Gy with hepatotoxicity "
        "(10 patients)",
        _P.NET,
        _C.VERIFIED,
    ),
    _s(
        "segmentectomy_lewandowski",
        None,
        "shared/reference/dosimetry.md, Dose targets (glass)",
        "radiation segmentectomy >= 190 Gy single-compartment (Lewandowski 2018, HCC)",
        _P.HCC,
        _C.SECONDARY,
    ),
    _s(
        "bed_dale",
        None,
        "shared/reference/dosimetry.md, Radiobiology",
        "Dale: BED for a permanent exponentially decaying implant; EQD2 = BED/(1 + 2/(a/b))",
        _P.GENERAL,
        _C.VERIFIED,
    ),
    _s(
        "eud_niemierko",
        None,
        "shared/reference/dosimetry.md, Radiobiology",
        "EUD = -(1/alpha) ln(mean exp(-alpha D_i)) (Niemierko 1997)",
        _P.GENERAL,
        _C.VERIFIED,
    ),
    _s(
        "radiobiology_parameters",
        None,
        "shared/reference/dosimetry.md, Radiobiology",
        "liver alpha/beta 2.5 or 2.75 Gy, repair half-time 1.5-2.5 h; tumour alpha/beta 10 Gy",
        _P.GENERAL,
        _C.UNVERIFIED,
    ),
    # --- PRRT ------------------------------------------------------------------
    _s(
        "prrt_001",
        SEED_001,
        "§6.3 Targeted Radionuclide Therapy; Table 1",
        "NETTER-1 ref. [65]: 4 x 7.4 GBq 177Lu-DOTATATE every 8 weeks; negative SSTR imaging "
        "contraindicates; long-term kidney and marrow toxicity",
        _P.NET,
        _C.VERIFIED,
    ),
    _s(
        "prrt_uptake",
        None,
        "shared/reference/eligibility.md, PRRT",
        "SSTR uptake >= normal liver (Krenning >= 2) required (NETTER-1 inclusion)",
        _P.NET,
        _C.VERIFIED,
    ),
    _s(
        "netter1_eligibility",
        None,
        "shared/reference/eligibility.md, Conflicts",
        "NETTER-1 eligibility (Strosberg J et al., N Engl J Med 2017;376:125-135): platelets "
        ">= 75 x 10^9/L, creatinine clearance >= 50 mL/min",
        _P.NET,
        _C.SECONDARY,
    ),
    _s(
        "netter1_inclusion",
        None,
        "NETTER-1 protocol inclusion criteria (not in the seeds)",
        "Strosberg J et al., N Engl J Med 2017;376:125-135: Karnofsky >= 60; haemoglobin >= 8 "
        "g/dL, white cells >= 2 x 10^9/L, platelets >= 75 x 10^9/L; bilirubin <= 3 x ULN; "
        "albumin > 3.0 g/dL unless prothrombin time normal",
        _P.NET,
        _C.UNVERIFIED,
    ),
    _s(
        "prrt_ia_001",
        SEED_001,
        "§6.3; Table 1 (intra-arterial PRRT)",
        "ref. [67]: intra-arterial 90Y/177Lu-DOTATOC - clinical trials only",
        _P.NET,
        _C.VERIFIED,
    ),
    _s(
        "lutia",
        None,
        "shared/reference/eligibility.md, PRRT",
        "LUTIA trial inclusion (Ebbers SC et al., intra-arterial vs IV 177Lu-DOTATATE)",
        _P.NET,
        _C.VERIFIED,
    ),
    _s(
        "prrt_sequencing_003",
        SEED_003,
        "talk, sequencing of liver-directed therapy and PRRT",
        "liver radiation from PRRT and TARE adds up",
        _P.NET,
        _C.SECONDARY,
    ),
    # --- peri-procedural -------------------------------------------------------
    _s(
        "carcinoid_crisis",
        SEED_001,
        "§6.1 (acute carcinoid syndrome as a complication)",
        "octreotide prophylaxis is common practice; evidence is weak (shared/reference/"
        "eligibility.md, Peri-procedural)",
        _P.NET,
        _C.VERIFIED,
    ),
    _s(
        "carcinoid_heart",
        None,
        "shared/reference/eligibility.md, Peri-procedural",
        "NT-proBNP >= 260 pg/mL suggests carcinoid heart disease (Bhattacharyya 2008); "
        "echocardiography before embolization",
        _P.NET,
        _C.UNVERIFIED,
    ),
    _s(
        "pregnancy_radiation",
        None,
        "ICRP Publication 84 (Pregnancy and medical radiation, 2000); Lutathera SmPC 4.3",
        "therapeutic radionuclides are contraindicated in established or suspected pregnancy "
        "(177Lu-DOTATATE label); 90Y microspheres irradiate the conceptus (not in the seeds)",
        _P.DEVICE_LABEL,
        _C.UNVERIFIED,
    ),
    _s(
        "pregnancy_procedures",
        None,
        "ACOG Committee Opinion 723 (2017), imaging and procedures in pregnancy",
        "fluoroscopy dose, anaesthesia and teratogenic chemotherapy in pregnancy are weighed "
        "individually with obstetrics (not in the seeds)",
        _P.GUIDELINE,
        _C.UNVERIFIED,
    ),
    _s(
        "ssa_first_line_001",
        SEED_001,
        "§2 NEN Liver Metastases",
        "somatostatin analogues generally proposed as first-line treatment",
        _P.NET,
        _C.VERIFIED,
    ),
)

#: Every source netlm cites, by id.
SOURCES: Final[dict[str, Source]] = {s.id: s for s in _ALL}
if len(SOURCES) != len(_ALL):  # pragma: no cover - guards against copy-paste ids
    raise RuntimeError("duplicate source id in netlm.evidence.sources")


def get_source(source_id: str) -> Source:
    """Return the source with id ``source_id``.

    Raises
    ------
    KeyError
        If no such source exists (a rule must not ship without one).
    """
    try:
        return SOURCES[source_id]
    except KeyError:
        raise KeyError(f"unknown source id {source_id!r}") from None
