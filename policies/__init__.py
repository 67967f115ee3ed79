"""Ephemera's checkov custom checks (loaded with `--external-checks-dir policies`).

checkov loads checks only from directories that hold an `__init__.py`; without
this file it loads none of them (it logs "No __init__.py found" at INFO level
and scans with the built-in checks alone). See README.md.
"""
