"""Web forms generated from the document models: model fields → inputs, form → document.

Pure functions, no routes: the page modules (:mod:`netlm.api.pages`) render and read the
forms.  :mod:`~netlm.api.forms.inputs` holds the generic machinery,
:mod:`~netlm.api.forms.case`, :mod:`~netlm.api.forms.plan` and
:mod:`~netlm.api.forms.response` one form each.
Each form builds the same document its file format holds, and that document is
read by the same function a file is (:func:`netlm.case.case_from_mapping`,
:func:`netlm.sirt.plan.plan_from_mapping`,
:func:`netlm.workflows.response.record_response`), so the web form, the YAML
file and the API apply one set of rules.

The inputs are derived from the pydantic models: the kind of input (number,
date, yes/no, a choice of the enum or literal values) from the field's
annotation and the unit shown from the field's name (``volume_ml`` → mL,
``dose_gy`` → Gy).  Every field of a model is either an input of the form or
named in the form's ``ADVANCED`` set, edited as YAML in the collapsed
"advanced" box (a test holds the two together, so a new model field cannot
silently go missing from the page).

Form input names are the field paths in the document (``patient.height_cm``,
``territories[0].volume_ml``, ``timepoints[1].lesions[2].longest_mm``), so a
problem the model reports lands next to its input.
"""
