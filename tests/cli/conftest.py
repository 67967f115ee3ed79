"""The command line is tested as people and scripts use it: the `ephemera` console
script in a throw-away project (the integration suite's `cli` fixture)."""

from tests.integration.conftest import cli, port  # noqa: F401 - fixtures
