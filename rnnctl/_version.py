"""The package version, written only here: pyproject.toml reads it (`dynamic = ["version"]`)
and CITATION.cff is checked against it (tests/test_links.py). A module of its own so that any
module can read it without importing the package's `__init__`."""
__version__ = "0.1.0"
