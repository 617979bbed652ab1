"""Sub-commands of the ``netlm`` CLI, one module per area (assess, sirt, response, dose,
kernel, cohort, outcomes, store, fhir, users, pacs, serve, demo); thin layers over the
workflows and the core.  ``common.py`` holds shared options and error output,
``render.py`` the Rich tables.  The CLI is where the environment and the clock are read."""
