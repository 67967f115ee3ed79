"""Invoke's entry in a checkout: the tasks of `ephemera` (ephemera/cli/tasks.py), so that
`invoke <task>` and every Make target run the same tasks as the `ephemera` command."""

from ephemera.cli.tasks import namespace  # noqa: F401 - Invoke reads `namespace`
