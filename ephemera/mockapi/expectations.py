"""Load MockServer expectations and validate them into frozen, typed objects.

Only the part of MockServer's format described in the README is accepted.
Everything else is refused with the file and the JSON path of the field
(`expectations/x.json: [2].httpForward: forwarding is not supported …`): a local mock
that silently ignored a field would match requests the real MockServer does not, and
the difference would only show up on the `aws` target. All problems of a file are
collected and reported together.

An expectation file is strict JSON; a control-plane request body is read leniently,
as MockServer's Jackson mapper reads it (comments, single quotes, unquoted names,
trailing commas: JSON5).
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import json5

from ephemera.mockapi.checker import Checker
from ephemera.mockapi.model import Expectation, ExpectationsError, reject_constant


def load_file(path: Path, display: str | None = None) -> list[Expectation]:
    """Read and validate one expectation file; `display` names it in messages."""
    name = display if display is not None else str(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        raise ExpectationsError([f"{name}: cannot read the expectation file: {reason}"]) from None
    return parse(text, name)


def check_files(paths: Iterable[Path]) -> dict[Path, list[Expectation]]:
    """Validate several files, reporting the problems of all of them at once."""
    loaded: dict[Path, list[Expectation]] = {}
    problems: list[str] = []
    for path in paths:
        try:
            loaded[path] = load_file(path)
        except ExpectationsError as exc:
            problems.extend(exc.problems)
    if problems:
        raise ExpectationsError(problems)
    return loaded


def parse(text: str, file: str) -> list[Expectation]:
    """Validate the text of an expectation file: a list of expectations, or a single one."""
    try:
        document = json.loads(text, object_pairs_hook=_JsonObject, parse_constant=reject_constant)
    except json.JSONDecodeError as exc:
        where = f"{file}:{exc.lineno}:{exc.colno}"
        raise ExpectationsError([f"{where}: invalid JSON: {exc.msg}"]) from None
    except ValueError as exc:
        raise ExpectationsError([f"{file}: invalid JSON: {exc}"]) from None
    return Checker(file).document(document)


def read_lenient(text: str, where: str) -> Any:
    """A control-plane body as MockServer reads it; ExpectationsError if it is not JSON."""
    try:
        return json5.loads(text, object_pairs_hook=_JsonObject)
    except ValueError as exc:
        raise ExpectationsError([f"{where}: invalid JSON: {exc}"]) from None


def parse_api(text: str, where: str) -> list[Expectation]:
    """The body of PUT /mockserver/expectation: one expectation or an array; an id
    given twice is an upsert, as in MockServer."""
    if not text.strip():
        raise ExpectationsError([f"{where}: an expectation or expectation array is required"])
    return Checker(where).document(read_lenient(text, where), unique_ids=False)


class _JsonObject(dict[str, Any]):
    """A JSON object that remembers the keys it saw twice (json keeps only the last)."""

    def __init__(self, pairs: list[tuple[str, Any]]) -> None:
        super().__init__(pairs)
        seen: set[str] = set()
        duplicates: set[str] = set()
        for name, _ in pairs:
            (duplicates if name in seen else seen).add(name)
        self.duplicate_keys = sorted(duplicates)
