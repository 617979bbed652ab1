"""Sub-commands of the ``netlm`` CLI, one module per area; thin layers over the API."""
