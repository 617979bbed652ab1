"""Use cases that need I/O plus several core calls, written once.

The CLI, the API, the web pages and cohort runs call these functions; a
workflow imports the core and the adapters (image files, the registry,
reports, PACS, FHIR), never a front door (typer, FastAPI, the CLI), and raises
netlm errors (:mod:`netlm.errors`), never HTTP ones: each front door turns them
into its own answer.

- :mod:`~netlm.workflows.dose`: images to voxel dose (``netlm dose images``,
  the API, cohorts);
- :mod:`~netlm.workflows.images`: a patient's stored image files and dose on them;
- :mod:`~netlm.workflows.plans`: solving a stored plan, plan and board report PDFs;
- :mod:`~netlm.workflows.response`: recording a follow-up's response;
- :mod:`~netlm.workflows.fhir`: a registry patient as a FHIR Bundle;
- :mod:`~netlm.workflows.pacs`: pulling series for a dose, importing chosen series,
  sending a dose's results;
- :mod:`~netlm.workflows.registration`: a CT registration proposed, confirmed, then dose;
- :mod:`~netlm.workflows.dicom_results`: DICOM results of a dose;
- :mod:`~netlm.workflows.demo`: demo seeding.
"""
