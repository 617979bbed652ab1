"""Use cases that need I/O plus several core calls, written once.

The CLI, the API and cohort runs call these functions; a workflow imports the
core and the file adapters, never a front door (typer, FastAPI, the CLI).
"""
