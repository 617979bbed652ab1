"""PACS tests (a package, so that this conftest.py does not shadow tests/conftest.py)."""
