"""The janitor's warning horizon: how far ahead the sweep asks the store for leases to
warn, the longest warning rung of any environment (or the default ladder).

Read from the merged files without validating each: the horizon only bounds which
leases the sweep asks about, and each due lease's own ladder comes from its validated
environment. A file that cannot spell `warnings` (`documents.may_spell`) has the
defaults' ladder, read once; only the others are parsed, so a sweep over 1,000
environment files stays cheap.
"""

from __future__ import annotations

from datetime import timedelta

from ephemera.config import documents
from ephemera.errors import EphemeraError
from ephemera.janitor.ladder import DEFAULT_LADDER, DEFAULT_WARNINGS, parse_ladder
from ephemera.project import Project


def warning_horizon(project: Project) -> timedelta:
    try:
        defaults = documents.load_defaults(project)
    except EphemeraError:
        defaults = None
    inherited = (defaults.data if defaults else {}).get("warnings", DEFAULT_WARNINGS)
    ladders = [DEFAULT_LADDER, _ladder(inherited)]
    for name in project.known_environments():
        if not documents.may_spell(project.environment_file(name), {"warnings"}):
            continue
        try:
            merged = documents.merged_document(project, name)
        except (EphemeraError, OSError, UnicodeDecodeError):
            continue  # validation says what is wrong with it
        ladders.append(_ladder(merged.get("warnings", DEFAULT_WARNINGS)))
    return max(rung for ladder in ladders for rung in ladder)


def _ladder(spec: object) -> tuple[timedelta, ...]:
    """The rungs of a `warnings` value; none for one that is not a ladder (validation
    says what is wrong with it)."""
    try:
        return parse_ladder(spec)  # type: ignore[arg-type]
    except (EphemeraError, TypeError, ValueError):
        return ()
