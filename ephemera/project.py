"""Where things live: the project tree (environments, stacks, templates) and the
runtime tree under `.ephemera/` (rendered files, state, leases, run logs).

`EPHEMERA_ROOT` moves the project root (default: the directory holding
`environments/` above the current directory); `EPHEMERA_HOME` moves the runtime
tree (default `<root>/.ephemera`).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from ephemera.errors import UsageError


def _find_root(start: Path) -> Path:
    for candidate in (start, *start.parents):
        if (candidate / "environments").is_dir() and (candidate / "terraform").is_dir():
            return candidate
    raise UsageError(
        f"{start}: not inside an Ephemera project (no environments/ and terraform/ "
        "found here or above); set EPHEMERA_ROOT"
    )


@dataclass(frozen=True)
class Project:
    """One project. The environment files are listed once and the listing kept while
    the directory's stat says nothing was added, removed or renamed in it
    (`known_environments`): a command that loads 1,000 environments reads the directory
    once, not 1,000 times, and a long-lived process (`ephemera serve`) still sees a file
    added after it started."""

    root: Path
    home: Path
    # [(the directory's stat key, the names)]: one entry at most
    _listing: list[tuple[tuple[int, ...], list[str]]] = field(
        default_factory=list, init=False, compare=False, repr=False
    )

    @classmethod
    def discover(cls, root: Path | None = None, home: Path | None = None) -> Project:
        if root is None:
            env_root = os.environ.get("EPHEMERA_ROOT")
            root = Path(env_root) if env_root else _find_root(Path.cwd())
        root = root.resolve()
        if home is None:
            env_home = os.environ.get("EPHEMERA_HOME")
            home = Path(env_home) if env_home else root / ".ephemera"
        return cls(root=root, home=home.resolve())

    # project tree
    @property
    def environments_dir(self) -> Path:
        return self.root / "environments"

    @property
    def defaults_file(self) -> Path:
        return self.environments_dir / "_defaults.yaml"

    def environment_file(self, env: str) -> Path:
        return self.environments_dir / f"{env}.yaml"

    @property
    def stacks_dir(self) -> Path:
        return self.root / "terraform" / "stacks"

    def stack_dir(self, stack: str) -> Path:
        return self.stacks_dir / stack

    @property
    def templates_dir(self) -> Path:
        return self.root / "templates"

    @property
    def schemas_dir(self) -> Path:
        return self.root / "schemas"

    def relative(self, path: Path) -> str:
        """`path` relative to the project root when inside it, for messages."""
        try:
            return str(path.resolve().relative_to(self.root))
        except ValueError:
            return str(path)

    # runtime tree
    def ensure_home(self) -> Path:
        """Create the runtime tree, readable by its owner only (0700)."""
        self.home.mkdir(parents=True, exist_ok=True, mode=0o700)
        self.home.chmod(0o700)
        return self.home

    def work_dir(self, env: str) -> Path:
        return self.home / "work" / env

    def state_dir(self, env: str) -> Path:
        return self.home / "state" / env

    def runtime_dir(self, env: str) -> Path:
        """Pidfiles and logs of processes a local stack starts."""
        return self.home / "run" / env

    def runs_dir(self, env: str) -> Path:
        return self.home / "runs" / env

    @property
    def leases_db(self) -> Path:
        return self.home / "leases.db"

    @property
    def plugin_cache(self) -> Path:
        return self.home / "plugin-cache"

    @property
    def logs_dir(self) -> Path:
        return self.home / "logs"

    @property
    def cache_dir(self) -> Path:
        """Results kept by the content they were computed from (parsed variables.tf,
        the stacks' validation checks): safe to delete at any time."""
        return self.home / "cache"

    @property
    def api_dir(self) -> Path:
        """The provisioning API's tokens (hashed) and the console logs of its runs."""
        return self.home / "api"

    def known_environments(self) -> list[str]:
        """Names of the environment files, `_defaults.yaml` excluded, sorted; the
        directory is read again only when its stat changed (see the class docstring)."""
        try:
            stat = self.environments_dir.stat()
            key: tuple[int, ...] = (stat.st_ino, stat.st_mtime_ns, stat.st_ctime_ns)
        except OSError:
            key = ()
        if not self._listing or self._listing[0][0] != key:
            found = sorted(
                p.stem for p in self.environments_dir.glob("*.yaml") if not p.name.startswith("_")
            )
            self._listing[:] = [(key, found)]
        return list(self._listing[0][1])
