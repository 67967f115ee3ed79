"""The one user-facing error type, and the exit codes it maps to.

Every message starts with where it happened (a file and line, an environment
name, a command), so a user can act on it without a traceback.
"""

from __future__ import annotations

from dataclasses import dataclass

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_INVALID = 2
EXIT_UNEXPECTED = 3


class EphemeraError(Exception):
    """An expected failure: printed as one message, mapped to an exit code."""

    exit_code = EXIT_FAILED

    def __init__(self, message: str, *, exit_code: int | None = None) -> None:
        super().__init__(message)
        if exit_code is not None:
            self.exit_code = exit_code

    @property
    def message(self) -> str:
        return str(self.args[0])


class UsageError(EphemeraError):
    """Bad input or usage: exit code 2, nothing rendered or applied."""

    exit_code = EXIT_INVALID


@dataclass(frozen=True, order=True)
class Problem:
    """One validation finding, located at a file line and a dotted key path."""

    file: str
    line: int
    key: str
    message: str

    def __str__(self) -> str:
        return f"{self.file}:{self.line}: {self.key or '(document)'}: {self.message}"


class ValidationError(UsageError):
    """Every problem found in one or more files, reported together, one per line."""

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = sorted(problems)
        super().__init__("\n".join(str(p) for p in self.problems))


class CommandError(EphemeraError):
    """A subprocess failed: names the command, its exit code and its output's tail — or,
    when its output was already `streamed` to the user, says so (each error once)."""

    def __init__(
        self,
        where: str,
        argv: list[str],
        returncode: int,
        stdout: str = "",
        stderr: str = "",
        *,
        streamed: bool = False,
    ) -> None:
        self.argv = argv
        self.returncode = returncode
        self.stdout = stdout
        self.stderr = stderr
        parts = [f"{where}: command failed with exit code {returncode}: {' '.join(argv)}"]
        if streamed:
            parts[0] += " (its output is above)"
        elif stdout.strip():
            parts.append("stdout (last lines):\n" + tail(stdout))
        if stderr.strip() and not streamed:
            parts.append("stderr (last lines):\n" + tail(stderr))
        super().__init__("\n".join(parts))


def tail(text: str, lines: int = 20) -> str:
    """The last `lines` non-empty lines of `text`, indented for display."""
    kept = [line for line in text.splitlines() if line.strip()][-lines:]
    return "\n".join("  " + line for line in kept)
