"""The janitor Lambda's deployment package: `dist/ttl_janitor.zip`.

It holds `handler.py` (from `lambda/ttl_janitor/`) and exactly the `ephemera`
modules the handler imports, found by following the import graph with `ast`
(imports under `if TYPE_CHECKING:` are not followed; every ancestor package's
`__init__.py` is included and followed, since importing a submodule runs it).
Outside `ephemera`, a packaged module may import only the standard library and
boto3/botocore (which the Lambda runtime provides): anything else — pyyaml,
jinja2, hcl2 — fails the build, because it would fail the Lambda at import.

The archive is byte-for-byte reproducible: entries sorted, timestamps
1980-01-01 00:00, permissions 0644, no directories, no `__pycache__`, fixed
compression.
"""

from __future__ import annotations

import ast
import os
import sys
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

from ephemera.errors import UsageError

PACKAGE = "ephemera"
HANDLER = Path("lambda") / "ttl_janitor" / "handler.py"
RUNTIME_PROVIDED = frozenset({"boto3", "botocore"})
_EPOCH = (1980, 1, 1, 0, 0, 0)
_FILE_MODE = 0o100644  # regular file, rw-r--r--


@dataclass
class ImportGraph:
    """What the handler pulls in: ephemera modules → files, and outside imports."""

    modules: dict[str, Path] = field(default_factory=dict)  # dotted name → source file
    outside: dict[str, set[str]] = field(default_factory=dict)  # top-level name → importers


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _imports(tree: ast.AST) -> list[ast.Import | ast.ImportFrom]:
    """Every import statement, at any depth, except under `if TYPE_CHECKING:`."""
    found: list[ast.Import | ast.ImportFrom] = []
    stack: list[ast.AST] = [tree]
    while stack:
        node = stack.pop()
        if isinstance(node, ast.Import | ast.ImportFrom):
            found.append(node)
            continue
        if isinstance(node, ast.If) and _is_type_checking(node.test):
            stack.extend(node.orelse)
            continue
        stack.extend(ast.iter_child_nodes(node))
    return found


class _Resolver:
    def __init__(self, source_root: Path) -> None:
        self.source_root = source_root  # the directory holding the ephemera package
        self.graph = ImportGraph()
        self.pending: list[tuple[str, Path]] = []

    def file_of(self, module: str) -> Path | None:
        base = self.source_root.joinpath(*module.split("."))
        for candidate in (base / "__init__.py", base.with_suffix(".py")):
            if candidate.is_file():
                return candidate
        return None

    def add(self, module: str, importer: str) -> bool:
        """Include `module` and its parent packages; False if it is no ephemera module."""
        parts = module.split(".")
        for depth in range(1, len(parts) + 1):
            name = ".".join(parts[:depth])
            if name in self.graph.modules:
                continue
            path = self.file_of(name)
            if path is None:
                if depth == len(parts):
                    return False
                raise UsageError(f"lambda package: {importer}: no module {name} for {module}")
            self.graph.modules[name] = path
            self.pending.append((name, path))
        return True

    def outside(self, module: str, importer: str) -> None:
        top = module.split(".")[0]
        if top == "__future__" or top in sys.stdlib_module_names:
            return
        self.graph.outside.setdefault(top, set()).add(importer)

    def scan(self, name: str, path: Path, is_package: bool) -> None:
        tree = ast.parse(path.read_bytes(), filename=str(path))
        package = name if is_package else name.rpartition(".")[0]
        for node in _imports(tree):
            if isinstance(node, ast.Import):
                for alias in node.names:
                    self.visit(alias.name, name)
                continue
            if node.level:
                anchor = package.split(".")
                anchor = anchor[: len(anchor) - (node.level - 1)]
                base = ".".join([*anchor, node.module] if node.module else anchor)
            else:
                base = node.module or ""
            if base.split(".")[0] != PACKAGE:
                self.outside(base, name)
                continue
            if not self.add(base, name):
                raise UsageError(f"lambda package: {name}: no module {base}")
            for alias in node.names:
                if alias.name != "*":
                    self.add(f"{base}.{alias.name}", name)  # a submodule, when it is one

    def visit(self, module: str, importer: str) -> None:
        if module.split(".")[0] == PACKAGE:
            if not self.add(module, importer):
                raise UsageError(f"lambda package: {importer}: no module {module}")
        else:
            self.outside(module, importer)

    def run(self, entry: Path) -> ImportGraph:
        self.scan("handler", entry, is_package=False)
        while self.pending:
            name, path = self.pending.pop()
            self.scan(name, path, is_package=path.name == "__init__.py")
        return self.graph


def import_graph(entry: Path, source_root: Path) -> ImportGraph:
    """The ephemera modules `entry` needs, following imports transitively."""
    return _Resolver(source_root).run(entry)


def package_files(root: Path) -> dict[str, Path]:
    """Archive name → source file, for the handler and the ephemera modules it imports.

    UsageError if any of them imports something the Lambda runtime lacks.
    """
    entry = root / HANDLER
    if not entry.is_file():
        raise UsageError(f"lambda package: {HANDLER.as_posix()}: no such file")
    graph = import_graph(entry, root)
    foreign = {name: who for name, who in graph.outside.items() if name not in RUNTIME_PROVIDED}
    if foreign:
        listing = "; ".join(
            f"{name} (imported by {', '.join(sorted(who))})"
            for name, who in sorted(foreign.items())
        )
        raise UsageError(
            f"lambda package: the janitor's modules import what the Lambda runtime does not "
            f"have: {listing}. Keep those imports out of the modules the handler uses."
        )
    files = {"handler.py": entry}
    for path in graph.modules.values():
        files[path.relative_to(root).as_posix()] = path
    return dict(sorted(files.items()))


def build_package(root: Path, out: Path | None = None) -> Path:
    """Write the reproducible zip (default `dist/ttl_janitor.zip`) and return its path."""
    out = out if out is not None else root / "dist" / "ttl_janitor.zip"
    files = package_files(root)
    out.parent.mkdir(parents=True, exist_ok=True)
    partial = out.with_name(out.name + ".partial")
    with zipfile.ZipFile(partial, "w") as archive:
        for name, path in files.items():
            info = zipfile.ZipInfo(name, date_time=_EPOCH)
            info.create_system = 3  # unix, wherever it is built
            info.external_attr = _FILE_MODE << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, path.read_bytes(), compresslevel=9)
    os.replace(partial, out)
    return out
