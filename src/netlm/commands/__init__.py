"""Sub-commands of the ``netlm`` CLI, one module per area; thin layers over the workflows
and the core.  The CLI is where the environment and the clock are read."""
