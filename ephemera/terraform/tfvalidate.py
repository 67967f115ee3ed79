"""`tf-validate`: every resource, data source, provider block and nested block under a
directory (default terraform/) held against the provider's schema, and every module call
against the called module's variables. Offline: the schema is the committed file of
`ephemera.terraform.providerschema`.

Each problem is `terraform/<path>.tf:<line>: <address>: <message>`:

- an unknown resource or data source type, argument or block;
- a missing required argument or block; more blocks than the schema allows;
- a block written as an argument (`network_configuration = {…}`) or the reverse, an
  argument the provider computes (`arn = …`);
- a literal of the wrong type, by Terraform's conversion rules ("2" is a number, 2 is not
  a bool); an expression is not judged;
- a module call with an input the module does not declare, or without a required one.

Meta-arguments are Terraform's, not the provider's: count, for_each, depends_on, provider,
lifecycle (checked: its own arguments and pre/postconditions), provisioner and connection
(left alone); `dynamic "x" { content {…} }` is an `x` block of unknown number.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ephemera.errors import Problem
from ephemera.terraform.hclmodel import Argument, Block, HclSyntaxError, Literal, parse_file
from ephemera.terraform.providerschema import ProviderSchema
from ephemera.terraform.stackfiles import LOCAL_SOURCE_PREFIXES

DYNAMIC = object()  # the number of blocks a `dynamic` block makes
_OPTIONAL = {"optional": True}
_REQUIRED = {"required": True}
_CONDITION = {
    "attributes": {
        "condition": {"type": "bool", **_REQUIRED},
        "error_message": {"type": "string", **_REQUIRED},
    }
}
_LIFECYCLE = {
    "attributes": {
        "create_before_destroy": {"type": "bool", **_OPTIONAL},
        "prevent_destroy": {"type": "bool", **_OPTIONAL},
        "ignore_changes": {"type": "dynamic", **_OPTIONAL},
        "replace_triggered_by": {"type": "dynamic", **_OPTIONAL},
    },
    "block_types": {
        "precondition": {"nesting_mode": "list", "block": _CONDITION},
        "postcondition": {"nesting_mode": "list", "block": _CONDITION},
    },
}
# Resources of Terraform's built-in provider (terraform.io/builtin/terraform).
BUILTIN_RESOURCES = {
    "terraform_data": {
        "attributes": {
            "input": {"type": "dynamic", **_OPTIONAL},
            "triggers_replace": {"type": "dynamic", **_OPTIONAL},
            "id": {"type": "string", "computed": True},
            "output": {"type": "dynamic", "computed": True},
        }
    }
}
_RESOURCE_META = frozenset({"count", "for_each", "depends_on", "provider"})
_MODULE_META = frozenset({"source", "version", "count", "for_each", "depends_on", "providers"})
_PROVIDER_META = frozenset({"alias", "version"})
_LEFT_ALONE = frozenset({"provisioner", "connection"})


@dataclass(frozen=True)
class _Where:
    file: str  # as shown: relative to the base
    address: str


@dataclass(frozen=True)
class Report:
    problems: list[Problem]  # sorted
    checked: dict[str, int]  # directories, resources, data sources, module calls


def validate(root: Path, schema: ProviderSchema, base: Path) -> Report:
    """Every problem in the .tf files of `root` (one directory or a tree of them); file
    names relative to `base`."""
    checker = _Checker(schema, base)
    directories = terraform_directories(root)
    for directory in directories:
        checker.directory(directory)
    checked = {"directories": len(directories), **checker.checked}
    return Report(sorted(set(checker.problems)), checked)


def terraform_directories(root: Path) -> list[Path]:
    """Every directory under `root` (inclusive) holding .tf files; hidden ones skipped."""
    found = {
        path.parent
        for path in root.rglob("*.tf")
        if path.is_file() and not any(p.startswith(".") for p in path.relative_to(root).parts)
    }
    return sorted(found)


class _Checker:
    def __init__(self, schema: ProviderSchema, base: Path) -> None:
        self.schema = schema
        self.base = base.resolve()
        self.problems: list[Problem] = []
        self._variables: dict[Path, dict[str, bool] | None] = {}
        self.checked = {"resources": 0, "data sources": 0, "module calls": 0}

    def report(self, where: _Where, line: int, message: str) -> None:
        self.problems.append(Problem(where.file, line, where.address, message))

    def shown(self, path: Path) -> str:
        try:
            return path.resolve().relative_to(self.base).as_posix()
        except ValueError:
            return path.as_posix()

    # --- files and top-level blocks -------------------------------------------------------

    def directory(self, directory: Path) -> None:
        for path, blocks in self._parsed(directory):
            for block in blocks:
                self.top_level(path, block)

    def _parsed(self, directory: Path) -> Iterator[tuple[Path, list[Block]]]:
        for path in sorted(directory.glob("*.tf")):
            try:
                yield path, parse_file(path)
            except HclSyntaxError as exc:
                self.report(_Where(self.shown(path), "(parse)"), exc.line, exc.detail)

    def top_level(self, path: Path, block: Block) -> None:
        file = self.shown(path)
        if block.type in ("resource", "data") and len(block.labels) == 2:
            self.resource(file, block)
        elif block.type == "provider" and block.labels == ("aws",):
            where = _Where(file, "provider.aws")
            self.body(where, (), block, self.schema.provider, _PROVIDER_META)
        elif block.type == "module" and len(block.labels) == 1:
            self.module_call(path, block)

    def resource(self, file: str, block: Block) -> None:
        kind, (type_name, name) = block.type, block.labels
        address = f"{type_name}.{name}" if kind == "resource" else f"data.{type_name}.{name}"
        where = _Where(file, address)
        known = self.schema.resources if kind == "resource" else self.schema.data_sources
        schema = known.get(type_name) or (
            BUILTIN_RESOURCES.get(type_name) if kind == "resource" else None
        )
        if schema is None:
            if type_name.startswith("aws_"):
                noun = "resource type" if kind == "resource" else "data source"
                hint = _did_you_mean(type_name, known)
                self.report(
                    where, block.line, f"unknown {noun} {type_name!r} in {self.schema.label}{hint}"
                )
            return  # another provider's: no schema here
        self.checked["resources" if kind == "resource" else "data sources"] += 1
        self.body(where, (), block, schema, _RESOURCE_META, lifecycle=True)

    # --- a block's body against its schema ------------------------------------------------

    def body(
        self,
        where: _Where,
        path: tuple[str, ...],
        block: Block,
        schema: dict[str, Any],
        meta: frozenset[str] = frozenset(),
        *,
        lifecycle: bool = False,
    ) -> None:
        attributes = schema.get("attributes") or {}
        block_types = schema.get("block_types") or {}
        for argument in block.arguments.values():
            if argument.name not in meta:
                self.argument(where, path, argument, attributes, block_types)
        counts = self.nested_blocks(where, path, block, attributes, block_types, lifecycle)
        prefix = _prefix(path)
        for name, attribute in sorted(attributes.items()):
            if attribute.get("required") and name not in block.arguments and name not in counts:
                self.report(where, block.line, f"{prefix}missing required argument {name!r}")
        for name, nested in sorted(block_types.items()):
            self.block_count(where, block.line, prefix, name, nested, counts.get(name))

    def argument(
        self,
        where: _Where,
        path: tuple[str, ...],
        argument: Argument,
        attributes: dict[str, Any],
        block_types: dict[str, Any],
    ) -> None:
        prefix, name = _prefix(path), argument.name
        attribute = attributes.get(name)
        if attribute is None:
            if name in block_types:
                message = f"{name!r} is a block, not an argument: write {name} {{ … }}"
            else:
                message = f"unknown argument {name!r}{_did_you_mean(name, attributes)}"
            self.report(where, argument.line, prefix + message)
        elif not (attribute.get("optional") or attribute.get("required")):
            message = f"{name!r} is computed by the provider: it cannot be set"
            self.report(where, argument.line, prefix + message)
        elif argument.literal is not None:
            problem = type_problem(attribute.get("type", "dynamic"), argument.literal)
            if problem:
                self.report(where, argument.line, f"{prefix}{name}{problem}")

    def nested_blocks(
        self,
        where: _Where,
        path: tuple[str, ...],
        block: Block,
        attributes: dict[str, Any],
        block_types: dict[str, Any],
        lifecycle: bool,
    ) -> dict[str, Any]:
        """Check each nested block; of each type, how many there are and the line of the
        last (DYNAMIC: a dynamic block, of unknown number)."""
        counts: dict[str, Any] = {}
        for nested in block.blocks:
            name, content = nested.type, nested
            if lifecycle and name == "lifecycle":
                self.body(where, (*path, name), nested, _LIFECYCLE)
                continue
            if lifecycle and name in _LEFT_ALONE:
                continue
            if name == "dynamic" and len(nested.labels) == 1:
                name, content = nested.labels[0], self.dynamic(where, path, nested)
                counts[name] = DYNAMIC
            elif counts.get(name) is not DYNAMIC:
                counts[name] = (counts.get(name, (0, 0))[0] + 1, nested.line)
            if content is not None:
                self.nested_block(where, path, name, nested.line, content, attributes, block_types)
        return counts

    def dynamic(self, where: _Where, path: tuple[str, ...], block: Block) -> Block | None:
        """The `content` of a dynamic block, its own arguments checked."""
        inner = (*path, f"dynamic {block.labels[0]}")
        for argument in block.arguments.values():
            if argument.name not in ("for_each", "iterator", "labels"):
                message = f"unknown argument {argument.name!r} of a dynamic block"
                self.report(where, argument.line, _prefix(inner) + message)
        if "for_each" not in block.arguments:
            self.report(where, block.line, _prefix(inner) + "missing required argument 'for_each'")
        contents = block.blocks_of("content")
        if len(contents) != 1:
            self.report(where, block.line, _prefix(inner) + "needs exactly one content block")
        return contents[0] if contents else None

    def nested_block(
        self,
        where: _Where,
        path: tuple[str, ...],
        name: str,
        line: int,
        content: Block,
        attributes: dict[str, Any],
        block_types: dict[str, Any],
    ) -> None:
        prefix = _prefix(path)
        nested = block_types.get(name)
        if nested is not None:
            self.body(where, (*path, name), content, nested["block"])
            return
        element = _object_element(attributes.get(name))
        if element is not None:  # a list/set of objects: Terraform takes block syntax too
            self.body(where, (*path, name), content, element)
        elif name in attributes:
            message = f"{name!r} is an argument, not a block: write {name} = …"
            self.report(where, line, prefix + message)
        else:
            self.report(
                where, line, f"{prefix}unknown block {name!r}{_did_you_mean(name, block_types)}"
            )

    def block_count(
        self, where: _Where, line: int, prefix: str, name: str, nested: dict[str, Any], count: Any
    ) -> None:
        """Too few (a required block absent) or too many blocks of one type."""
        if count is None:
            if nested.get("min_items", 0) >= 1:
                self.report(where, line, f"{prefix}missing required block {name!r}")
            return
        most = 1 if nested.get("nesting_mode") == "single" else nested.get("max_items")
        if count is not DYNAMIC and most is not None and count[0] > most:
            message = f"{prefix}at most {most} {name!r} block, found {count[0]}"
            self.report(where, count[1], message)

    # --- module calls ---------------------------------------------------------------------

    def module_call(self, path: Path, block: Block) -> None:
        where = _Where(self.shown(path), f"module.{block.labels[0]}")
        source = block.arguments.get("source")
        if source is None or source.literal is None or not isinstance(source.literal.value, str):
            if source is None:
                self.report(where, block.line, "missing required argument 'source'")
            return
        if not source.literal.value.startswith(LOCAL_SOURCE_PREFIXES):
            return  # a registry or git module: its variables are not here
        target = (path.parent / source.literal.value).resolve()
        variables = self.variables_of(target)
        if variables is None:
            self.report(where, source.line, f"module directory {source.literal.value!r} not found")
            return
        self.checked["module calls"] += 1
        shown = self.shown(target)
        for argument in block.arguments.values():
            if argument.name not in _MODULE_META and argument.name not in variables:
                hint = _did_you_mean(argument.name, variables)
                message = (
                    f"unknown input {argument.name!r}: {shown} declares no such variable{hint}"
                )
                self.report(where, argument.line, message)
        for name, required in sorted(variables.items()):
            if required and name not in block.arguments:
                self.report(where, block.line, f"missing required input {name!r} of {shown}")

    def variables_of(self, directory: Path) -> dict[str, bool] | None:
        """{variable: required (no default)} of a module directory; None if it is none."""
        if directory not in self._variables:
            found: dict[str, bool] | None = None
            if directory.is_dir():
                found = {}
                for _, blocks in self._parsed(directory):
                    for block in blocks:
                        if block.type == "variable" and len(block.labels) == 1:
                            found[block.labels[0]] = "default" not in block.arguments
            self._variables[directory] = found
        return self._variables[directory]


# --- literal types ----------------------------------------------------------------------------


def type_problem(expected: Any, value: Literal) -> str | None:
    """Why `value` cannot become a value of the schema type `expected` (": expected …"),
    by Terraform's conversions: a string converts to a number or a bool when it reads as
    one, numbers and bools to strings; null is of every type. None when it converts."""
    if expected == "dynamic" or value.kind == "null":
        return None
    if isinstance(expected, str):
        if _converts(expected, value):
            return None
        return f": expected {expected}, got {value.describe()}"
    collection, element = expected[0], expected[1]
    if collection in ("list", "set") and value.kind == "tuple":
        items = [(f"[{i}]", item) for i, item in enumerate(value.items)]
        return _first_problem(element, items)
    if collection == "map" and value.kind == "object":
        return _first_problem(element, [(f"[{key!r}]", item) for key, item in value.items])
    if collection == "object" and value.kind == "object":
        for key, item in value.items:
            problem = type_problem(element[key], item) if key in element and item else None
            if problem:
                return f".{key}{problem}"
        return None
    if collection in ("list", "set", "map", "object"):
        wanted = "an object" if collection == "object" else f"a {collection}"
        return f": expected {wanted}, got {value.describe()}"
    return None


def _first_problem(element: Any, items: list[tuple[str, Literal | None]]) -> str | None:
    for where, item in items:
        problem = type_problem(element, item) if item is not None else None
        if problem:
            return where + problem
    return None


def _converts(expected: str, value: Literal) -> bool:
    if value.kind in ("tuple", "object"):
        return False
    if expected == "string" or value.kind == expected:
        return True
    if value.kind != "string" or value.value is None:
        return value.kind == "string"  # a template: only Terraform knows its text
    if expected == "number":
        try:
            float(value.value)
        except ValueError:
            return False
        return True
    return expected == "bool" and value.value in ("true", "false")


# --- helpers -----------------------------------------------------------------------------------


def _prefix(path: tuple[str, ...]) -> str:
    return ".".join(path) + ": " if path else ""


def _did_you_mean(name: str, known: Any) -> str:
    close = difflib.get_close_matches(name, list(known), n=1, cutoff=0.75)
    return f" (did you mean {close[0]!r}?)" if close else ""


def _object_element(attribute: dict[str, Any] | None) -> dict[str, Any] | None:
    """The object type of a list/set(object) attribute as a block schema, else None."""
    kind = (attribute or {}).get("type")
    if not (isinstance(kind, list) and kind[0] in ("list", "set") and isinstance(kind[1], list)):
        return None
    if kind[1][0] != "object":
        return None
    return {"attributes": {k: {"type": t, **_OPTIONAL} for k, t in kind[1][1].items()}}
