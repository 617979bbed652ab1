"""Pure clinical scores: WHO grade, Child-Pugh, ALBI, tumour burden, CTCAE grades.

Every function here is deterministic and does no I/O.  Results are frozen
pydantic models that serialise to JSON and name their sources (ids in
:data:`netlm.evidence.SOURCES`).  A bad argument raises
:class:`netlm.errors.CaseError` naming the argument; a missing one (``None``)
is not an error, the result says what is missing.

Examples
--------
>>> from netlm.clinical import child_pugh, who_2019_grade
>>> who_2019_grade(12.0, None, "well").grade.value
'NET G2'
>>> child_pugh(bilirubin_mg_dl=2.0, albumin_g_dl=3.0, inr=1.2,
...            ascites="none", encephalopathy="none").score
7
"""

from netlm.clinical.burden import BurdenMethod, BurdenResult, tumour_burden
from netlm.clinical.ctcae import Analyte, CtcaeGrade, CtcaeVersion, ctcae_grade
from netlm.clinical.grading import GradeResult, WhoGrade, who_2019_grade
from netlm.clinical.liver_function import (
    ALBI_ALBUMIN_COEFFICIENT,
    AlbiResult,
    ChildPughClass,
    ChildPughResult,
    albi,
    child_pugh,
)

__all__ = [
    "ALBI_ALBUMIN_COEFFICIENT",
    "AlbiResult",
    "Analyte",
    "BurdenMethod",
    "BurdenResult",
    "ChildPughClass",
    "ChildPughResult",
    "CtcaeGrade",
    "CtcaeVersion",
    "GradeResult",
    "WhoGrade",
    "albi",
    "child_pugh",
    "ctcae_grade",
    "tumour_burden",
    "who_2019_grade",
]
