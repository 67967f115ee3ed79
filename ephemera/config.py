"""Environment files: load, merge with _defaults.yaml, validate in stages.

    environments/_defaults.yaml + environments/<env>.yaml
      → strict YAML load of each file (yamlload: duplicate keys, anchors, size …)
      → deep merge (maps merge key by key, the environment file wins; lists replace)
      → JSON Schema (Draft 2020-12) of the merged document
      → stack variables, checked against terraform/stacks/<stack>/variables.tf
      → semantic rules (name == file stem, stack exists, ttl ≤ max_ttl, region …)
      → Environment

A file with unreadable YAML stops at the first stage; otherwise every later
stage runs and every problem is reported at once, one line each, as
`environments/<file>:<line>: <key.path>: <message>`. The line is that of the
offending key, or of its closest parent present in the file. A problem whose
key comes from _defaults.yaml names _defaults.yaml.

`environment_schema()` is the schema; schemas/environment.schema.json is this
schema written out by `stackvars.write_stack_schemas`, with one `if stack ==
<stack> then variables: $ref stacks/<stack>.schema.json` rule per stack, so an
editor completes stack variables. The JSON Schema stage here leaves those rules
out: the stack variables stage checks the same contract (both come from the
stack's variables.tf) with more precise messages. `environment_validator()`
validates with the full schema, resolving the refs locally.
"""

from __future__ import annotations

import copy
import difflib
import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from jsonschema import Draft202012Validator
from jsonschema import ValidationError as SchemaError
from referencing import Registry, Resource
from referencing.exceptions import NoSuchResource

from ephemera import stackvars, yamlload
from ephemera.durations import DURATION_PATTERN, parse_duration
from ephemera.errors import Problem, UsageError, ValidationError
from ephemera.model import PROVIDED_VARIABLES, Environment, PolicySkip
from ephemera.project import Project
from ephemera.yamlload import Document, KeyPath, format_path, type_name

NAME_PATTERN = r"^[a-z][a-z0-9-]{1,38}[a-z0-9]$"
STACK_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$"
EMAIL_PATTERN = r"^[^@\s]+@[^@\s]+\.[^@\s]+$"
REGION_PATTERN = r"^[a-z]{2}(-[a-z]+)+-[0-9]+$"
ACCOUNT_ID_PATTERN = r"^[0-9]{12}$"
SNS_ARN_PATTERN = r"^arn:aws[a-z-]*:sns:[a-z0-9-]+:[0-9]{12}:[A-Za-z0-9_.-]+$"
URL_PATTERN = r"^https?://[^\s/]+\S*$"
BUCKET_PATTERN = r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$"
TABLE_PATTERN = r"^[A-Za-z0-9_.-]{3,255}$"
CHECK_ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.-]*$"
RESERVED_TAG_PREFIX = "ephemera:"
RESERVED_TAG_KEYS = ("managed-by",)
# Neither starting with ephemera: nor equal to managed-by (ECMA-262 and Python agree).
TAG_KEY_PATTERN = "^(?!ephemera:|managed-by$)"
TAG_KEY_MAX = 128
TAG_VALUE_MAX = 256

# Keys the merged document must have (the schema itself requires none, so an
# editor accepts _defaults.yaml and files that rely on it).
MERGED_REQUIRED = ("name", "stack", "target", "owner", "ttl", "max_ttl")
DEFAULTS_ONLY = ("max_ttl",)  # may be set in _defaults.yaml only
ENV_ONLY = ("name",)  # may not be set in _defaults.yaml

_PATTERN_HINTS = {
    NAME_PATTERN: "is not a valid environment name: 3 to 40 characters, lowercase letters, "
    "digits and '-', starting with a letter and not ending with '-'",
    STACK_PATTERN: "is not a stack name (a directory under terraform/stacks/)",
    DURATION_PATTERN: "is not a duration like 30m, 8h or 2d",
    EMAIL_PATTERN: "is not an email address",
    REGION_PATTERN: "is not an AWS region like eu-west-1",
    ACCOUNT_ID_PATTERN: "is not a 12-digit AWS account id",
    SNS_ARN_PATTERN: "is not an SNS topic ARN (arn:aws:sns:<region>:<account>:<name>)",
    URL_PATTERN: "is not an http(s) URL",
    BUCKET_PATTERN: "is not an S3 bucket name",
    TABLE_PATTERN: "is not a DynamoDB table name",
    CHECK_ID_PATTERN: "is not a policy check id like CKV_AWS_91",
}

_JSON_TYPES = {
    "string": "string",
    "number": "number",
    "integer": "whole number",
    "boolean": "bool (true or false)",
    "object": "mapping",
    "array": "list",
    "null": "null",
}


# --------------------------------------------------------------------------- schema


def _duration(description: str) -> dict[str, Any]:
    return {"$ref": "#/$defs/duration", "description": description}


def _string(description: str, pattern: str | None = None, **extra: Any) -> dict[str, Any]:
    schema: dict[str, Any] = {"type": "string", "description": description, **extra}
    if pattern:
        schema["pattern"] = pattern
    return schema


BASE_SCHEMA: dict[str, Any] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "title": "Ephemera environment",
    "description": (
        "An environment file, environments/<name>.yaml, or the defaults under every "
        "environment, environments/_defaults.yaml. After the two are merged, name, stack, "
        "target, owner, ttl and max_ttl must all be set."
    ),
    "type": "object",
    "additionalProperties": False,
    "$defs": {
        "duration": {
            "description": "A duration: <n>m, <n>h or <n>d, e.g. 30m, 8h, 2d.",
            "type": "string",
            "pattern": DURATION_PATTERN,
        },
        "email": {
            "description": "An email address.",
            "type": "string",
            "pattern": EMAIL_PATTERN,
        },
    },
    "properties": {
        "name": _string(
            "The environment's name; equals the file name without .yaml. 3 to 40 lowercase "
            "letters, digits and '-', starting with a letter.",
            NAME_PATTERN,
        ),
        "stack": _string(
            "The Terraform root module to deploy: a directory under terraform/stacks/.",
            STACK_PATTERN,
        ),
        "target": {
            "description": "Where the environment runs: local (default) or aws.",
            "enum": ["local", "aws"],
        },
        "owner": {
            "$ref": "#/$defs/email",
            "description": "Email of the person responsible; notified before expiry.",
        },
        "ttl": _duration(
            "How long the environment lives after an apply (<n>m, <n>h or <n>d); at most max_ttl."
        ),
        "max_ttl": _duration(
            "The longest ttl any environment may have, and the limit of extend-ttl. Set in "
            "_defaults.yaml only."
        ),
        "protected": {
            "description": "true: the janitor never destroys this environment.",
            "type": "boolean",
        },
        "region": _string("AWS region, e.g. eu-west-1. Only with target aws.", REGION_PATTERN),
        "variables": {
            "description": (
                "Inputs of the stack, checked against terraform/stacks/<stack>/variables.tf. "
                "Ephemera sets " + ", ".join(PROVIDED_VARIABLES) + " itself."
            ),
            "type": "object",
        },
        "tags": {
            "description": (
                "Tags on every taggable resource. Ephemera adds ephemera:env, "
                "ephemera:owner and managed-by itself."
            ),
            "type": "object",
            "propertyNames": {
                "minLength": 1,
                "maxLength": TAG_KEY_MAX,
                "pattern": TAG_KEY_PATTERN,
            },
            "additionalProperties": {"type": "string", "maxLength": TAG_VALUE_MAX},
        },
        "policy": {
            "description": "Policy gate settings.",
            "type": "object",
            "additionalProperties": False,
            "properties": {
                "skip": {
                    "description": "Policy checks not applied to this environment, each "
                    "with the reason why.",
                    "type": "array",
                    "items": {
                        "type": "object",
                        "additionalProperties": False,
                        "required": ["id"],
                        "properties": {
                            "id": _string("The check id, e.g. CKV_AWS_91.", CHECK_ID_PATTERN),
                            "reason": _string(
                                "Why the check does not apply here (required, non-empty)."
                            ),
                        },
                    },
                },
            },
        },
        "notify": {
            "description": "Where expiry warnings and failures are sent.",
            "type": "object",
            "additionalProperties": False,
            "properties": {
                "console": {
                    "description": "Print notifications and append them to "
                    ".ephemera/notifications.log.",
                    "type": "boolean",
                },
                "email": {
                    "description": "Email addresses to notify.",
                    "type": "array",
                    "items": {"$ref": "#/$defs/email"},
                    "uniqueItems": True,
                },
                "webhook": _string("An http(s) URL that receives a JSON POST.", URL_PATTERN),
                "sns_topic_arn": _string("An SNS topic to publish to.", SNS_ARN_PATTERN),
            },
        },
        "warnings": {
            "description": "The warning ladder: how long before expiry the owner is "
            "warned, each rung once (default 24h, 2h, 30m).",
            "type": "array",
            "items": {"$ref": "#/$defs/duration"},
            "uniqueItems": True,
        },
        "budget": {
            "description": "Cost limit in USD for the whole ttl; a plan estimated above it "
            "is refused.",
            "type": "number",
            "minimum": 0,
        },
        "aws": {
            "description": "The AWS control plane, for target aws (usually set in _defaults.yaml).",
            "type": "object",
            "additionalProperties": False,
            "properties": {
                "state_bucket": _string(
                    "S3 bucket holding Terraform state (key envs/<env>/terraform.tfstate).",
                    BUCKET_PATTERN,
                ),
                "lease_table": _string("DynamoDB table holding the leases.", TABLE_PATTERN),
                "account_id": _string(
                    "The 12-digit AWS account the environment must deploy to.",
                    ACCOUNT_ID_PATTERN,
                ),
                "notify_topic_arn": _string(
                    "SNS topic for lease notifications (warnings, failures).", SNS_ARN_PATTERN
                ),
                "region": _string(
                    "Region of the state bucket and lease table (default: the environment's "
                    "region).",
                    REGION_PATTERN,
                ),
                "plan_role_arn": _string(
                    "IAM role CI assumes (GitHub OIDC) to plan pull requests: read-only plus "
                    "state access.",
                    r"^arn:aws[a-z-]*:iam::[0-9]{12}:role/[A-Za-z0-9+=,.@_/-]+$",
                ),
                "apply_role_arn": _string(
                    "IAM role CI assumes (GitHub OIDC) to apply on main and destroy.",
                    r"^arn:aws[a-z-]*:iam::[0-9]{12}:role/[A-Za-z0-9+=,.@_/-]+$",
                ),
                "permissions_boundary_arn": _string(
                    "IAM policy every role a stack creates must carry as its permissions "
                    "boundary (terraform/bootstrap output stack_permissions_boundary_arn).",
                    r"^arn:aws[a-z-]*:iam::[0-9]{12}:policy/[A-Za-z0-9+=,.@_/-]+$",
                ),
                "s3_use_path_style": {
                    "description": "Address the state bucket path-style (S3-compatible "
                    "endpoints such as moto or MinIO).",
                    "type": "boolean",
                },
            },
        },
    },
}


def environment_schema(stacks: Iterable[str] = ()) -> dict[str, Any]:
    """The environment file schema, with a `variables` rule per stack that refers
    to `stacks/<stack>.schema.json` (relative to the schema's own location)."""
    schema = copy.deepcopy(BASE_SCHEMA)
    schema["$comment"] = (
        "Generated from ephemera/config.py and terraform/stacks/*/variables.tf by "
        "ephemera.stackvars.write_stack_schemas (python -m ephemera.stackvars); do not edit."
    )
    schema["allOf"] = [
        {
            "if": {"properties": {"stack": {"const": stack}}, "required": ["stack"]},
            "then": {"properties": {"variables": {"$ref": f"stacks/{stack}.schema.json"}}},
        }
        for stack in sorted(stacks)
    ]
    return schema


def _refuse_remote(uri: str) -> Resource:
    # Every schema is registered locally; nothing is ever fetched over the network.
    raise NoSuchResource(ref=uri)


_MERGED_VALIDATOR: Draft202012Validator | None = None


def merged_validator() -> Draft202012Validator:
    """The validator of the JSON Schema stage: the environment schema without the
    per-stack rules (stack variables are the next stage's), MERGED_REQUIRED added."""
    global _MERGED_VALIDATOR
    if _MERGED_VALIDATOR is None:
        schema = environment_schema(())
        del schema["allOf"]
        schema["required"] = list(MERGED_REQUIRED)
        _MERGED_VALIDATOR = Draft202012Validator(_inline_defs(schema, schema["$defs"]))
    return _MERGED_VALIDATOR


def _inline_defs(node: Any, defs: dict[str, Any]) -> Any:
    """`node` with every `{"$ref": "#/$defs/x", ...}` replaced by x's content (the
    same meaning, without a reference lookup per value: validation is faster)."""
    if isinstance(node, list):
        return [_inline_defs(item, defs) for item in node]
    if not isinstance(node, dict):
        return node
    out = {key: _inline_defs(value, defs) for key, value in node.items() if key != "$defs"}
    ref = out.get("$ref")
    if isinstance(ref, str) and ref.startswith("#/$defs/"):
        del out["$ref"]
        out = {**_inline_defs(defs[ref.removeprefix("#/$defs/")], defs), **out}
    return out


def schema_registry(stack_schemas: dict[str, dict[str, Any]]) -> Registry:
    """A registry serving `stacks/<stack>.schema.json` from memory; any other
    reference fails rather than being fetched."""
    resources = [
        (f"stacks/{stack}.schema.json", Resource.from_contents(schema))
        for stack, schema in stack_schemas.items()
    ]
    return Registry(retrieve=_refuse_remote).with_resources(resources)  # type: ignore[call-arg]


def environment_validator(project: Project) -> Draft202012Validator:
    """A validator of single files as an editor sees them: the full environment
    schema, its per-stack `$ref`s resolved locally to schemas generated from the
    project's stacks (the same content as schemas/stacks/*.schema.json)."""
    stacks = stackvars.stack_names(project)
    schemas = {stack: stackvars.stack_schema(project.stack_dir(stack)) for stack in stacks}
    return Draft202012Validator(environment_schema(stacks), registry=schema_registry(schemas))


# -------------------------------------------------------------------------- loading


def load_document(path: Path, display: str | None = None) -> Document:
    """One environment (or defaults) file, loaded strictly with the line of every
    key; the top level must be a mapping. Raises ValidationError."""
    return yamlload.load(Path(path), display, require_mapping=True)


_DEFAULTS: dict[Path, tuple[int, int, Document]] = {}


def load_defaults(project: Project) -> Document | None:
    """environments/_defaults.yaml (None when absent), cached per file version."""
    path = project.defaults_file
    try:
        stat = path.stat()
    except FileNotFoundError:
        return None
    cached = _DEFAULTS.get(path)
    if cached is not None and cached[:2] == (stat.st_mtime_ns, stat.st_size):
        return cached[2]
    doc = load_document(path, project.relative(path))
    _DEFAULTS[path] = (stat.st_mtime_ns, stat.st_size, doc)
    return doc


def deep_merge(base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    """`override` over `base`: mappings merge recursively, anything else (lists
    included) is replaced. Neither argument is modified; the result shares nothing
    with `base`."""
    merged = copy.deepcopy(base)
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = deep_merge(merged[key], value)
        else:
            merged[key] = value
    return merged


@dataclass
class _Files:
    """The two files behind a merged document, to place problems at their lines."""

    env: Document
    defaults: Document | None

    def locate(self, path: KeyPath) -> tuple[str, int]:
        """The file and line of `path`, or of its closest parent present in a file.
        The environment file wins where both have the key (as in the merge)."""
        path = tuple(path)
        for n in range(len(path), 0, -1):
            prefix = path[:n]
            line = self.env.lines.get(prefix)
            if line is not None:
                return self.env.display, line
            if self.defaults is not None:
                line = self.defaults.lines.get(prefix)
                if line is not None:
                    return self.defaults.display, line
        return self.env.display, self.env.lines.get((), 1)

    def problem(self, path: KeyPath, message: str) -> Problem:
        file, line = self.locate(path)
        return Problem(file, line, format_path(path), message)

    def defaults_problem(self, path: KeyPath, message: str) -> Problem:
        """A problem that belongs to _defaults.yaml (when there is one)."""
        if self.defaults is None:
            return self.problem(path, message)
        return self.defaults.problem(path, message)


# ------------------------------------------------------------------ schema messages


def _closest(word: str, candidates: Iterable[str]) -> str:
    close = difflib.get_close_matches(word, sorted(candidates), n=1)
    return f" (did you mean {close[0]!r}?)" if close else ""


def _shown(value: Any) -> str:
    if isinstance(value, dict | list):
        return f"a {type_name(value)}"
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _schema_messages(error: SchemaError) -> list[tuple[KeyPath, str]]:
    """(key path, message) pairs for one JSON Schema error, in user terms."""
    path: KeyPath = tuple(error.absolute_path)
    kind = error.validator
    value = error.validator_value
    instance = error.instance
    if "propertyNames" in error.absolute_schema_path:
        key_path = (*path, instance)
        if kind == "pattern":
            return [(key_path, "reserved tag key: Ephemera sets it itself")]
        if kind == "maxLength":
            return [(key_path, f"tag key longer than {value} characters")]
        return [(key_path, "tag key may not be empty")]
    if kind == "additionalProperties" and value is False:
        known = error.schema.get("properties", {})
        return [
            (
                (*path, key),
                f"unknown key{_closest(str(key), known)}; allowed: {', '.join(sorted(known))}",
            )
            for key in instance
            if key not in known
        ]
    if kind == "required":
        out = []
        for key in value:
            if key not in instance:
                hint = (
                    "; set it in environments/_defaults.yaml"
                    if key in DEFAULTS_ONLY and not path
                    else ""
                )
                out.append(((*path, key), f"required key missing{hint}"))
        return out
    if kind == "type":
        wanted = [value] if isinstance(value, str) else list(value)
        names = " or ".join(_JSON_TYPES.get(t, t) for t in wanted)
        return [(path, f"expected {names}, got {type_name(instance)} {_shown(instance)}")]
    if kind == "enum":
        choices = ", ".join(str(c) for c in value)
        return [(path, f"must be one of: {choices} (got {_shown(instance)})")]
    if kind == "pattern":
        hint = _PATTERN_HINTS.get(value, f"does not match {value}")
        return [(path, f"{_shown(instance)} {hint}")]
    if kind == "maxLength":
        return [(path, f"longer than {value} characters")]
    if kind == "minLength":
        return [(path, "may not be empty" if value == 1 else f"shorter than {value} characters")]
    if kind == "minimum":
        return [(path, f"must be at least {value} (got {_shown(instance)})")]
    if kind == "uniqueItems":
        return [(path, "has duplicate items")]
    return [(path, error.message)]


# ------------------------------------------------------------------- the stages


@dataclass
class _Context:
    """What is shared by every file checked in one call."""

    project: Project
    stacks: list[str]

    @classmethod
    def of(cls, project: Project) -> _Context:
        return cls(project, stackvars.stack_names(project))


def _validate(ctx: _Context, name: str) -> tuple[Environment | None, list[Problem]]:
    project = ctx.project
    path = project.environment_file(name)
    try:
        defaults = load_defaults(project)
    except ValidationError as exc:
        return None, list(exc.problems)
    try:
        env = load_document(path, project.relative(path))
    except ValidationError as exc:
        return None, list(exc.problems)

    files = _Files(env, defaults)
    merged = deep_merge(defaults.data if defaults else {}, env.data)
    problems: list[Problem] = []
    seen: set[str] = set()

    def report(problem: Problem) -> None:
        if problem.key not in seen:
            seen.add(problem.key)
            problems.append(problem)

    # JSON Schema (the stack's variables are the next stage's).
    for error in merged_validator().iter_errors(merged):
        for key_path, message in _schema_messages(error):
            if key_path and key_path[0] in DEFAULTS_ONLY and message.startswith("required"):
                report(files.defaults_problem(key_path, message))
            else:
                report(files.problem(key_path, message))

    # Stack variables.
    stack = merged.get("stack")
    stack_ok = (
        isinstance(stack, str)
        and re.match(STACK_PATTERN, stack) is not None
        and project.stack_dir(stack).is_dir()
    )
    variables = merged.get("variables", {})
    if stack_ok and isinstance(variables, dict):
        try:
            declared = stackvars.read_stack_variables(project.stack_dir(stack))
        except stackvars.StackVariablesError as exc:
            problems.append(Problem(exc.file, exc.line, "", exc.detail))
        else:
            for issue in stackvars.check_variables(variables, declared, stack):
                report(files.problem(("variables", *issue.path), issue.message))

    for problem in _semantic_problems(ctx, name, files, merged, stack_ok):
        report(problem)

    if problems:
        return None, problems
    return _environment(name, path, merged), []


def _semantic_problems(
    ctx: _Context, name: str, files: _Files, merged: dict[str, Any], stack_ok: bool
) -> list[Problem]:
    out: list[Problem] = []
    env_name = merged.get("name")
    if isinstance(env_name, str):
        if env_name != name:
            out.append(
                files.problem(
                    ("name",), f"must equal the file name: expected {name!r}, got {env_name!r}"
                )
            )
        elif not re.match(NAME_PATTERN, env_name):
            out.append(files.problem(("name",), f"{env_name!r} {_PATTERN_HINTS[NAME_PATTERN]}"))

    stack = merged.get("stack")
    if isinstance(stack, str) and not stack_ok and re.match(STACK_PATTERN, stack):
        known = ", ".join(ctx.stacks) or "(none)"
        out.append(
            files.problem(
                ("stack",),
                f"unknown stack {stack!r}: no directory terraform/stacks/{stack}"
                f"{_closest(stack, ctx.stacks)}; known: {known}",
            )
        )

    for key in DEFAULTS_ONLY:
        if key in files.env.data:
            out.append(files.env.problem((key,), "may only be set in environments/_defaults.yaml"))
    if files.defaults is not None:
        for key in ENV_ONLY:
            if key in files.defaults.data:
                out.append(
                    files.defaults.problem((key,), "may not be set in environments/_defaults.yaml")
                )

    ttl, max_ttl = _duration_or_none(merged.get("ttl")), _duration_or_none(merged.get("max_ttl"))
    if ttl is not None and max_ttl is not None and ttl > max_ttl:
        out.append(
            files.problem(("ttl",), f"{merged['ttl']} is longer than max_ttl {merged['max_ttl']}")
        )

    target = merged.get("target")
    if target == "aws":
        if "region" not in merged:
            out.append(files.problem(("region",), "required with target aws"))
    elif target == "local" and "region" in merged:
        out.append(files.problem(("region",), "only allowed with target aws (target is local)"))

    policy = merged.get("policy")
    skips = policy.get("skip") if isinstance(policy, dict) else None
    if isinstance(skips, list):
        for index, skip in enumerate(skips):
            if not isinstance(skip, dict):
                continue
            reason = skip.get("reason")
            if not isinstance(reason, str) or not reason.strip():
                out.append(
                    files.problem(
                        ("policy", "skip", index, "reason"),
                        "a policy skip needs a non-empty reason",
                    )
                )
    return out


def _duration_or_none(value: Any) -> Any:
    try:
        return parse_duration(value)
    except ValueError:
        return None


def _environment(name: str, source: Path, doc: dict[str, Any]) -> Environment:
    policy = doc.get("policy") or {}
    return Environment(
        name=doc["name"],
        stack=doc["stack"],
        target=doc["target"],
        owner=doc["owner"],
        ttl=parse_duration(doc["ttl"]),
        ttl_text=doc["ttl"],
        max_ttl=parse_duration(doc["max_ttl"]),
        source=source,
        protected=bool(doc.get("protected", False)),
        region=doc.get("region"),
        variables=copy.deepcopy(doc.get("variables") or {}),
        tags=dict(doc.get("tags") or {}),
        policy_skips=tuple(
            PolicySkip(id=s["id"], reason=s["reason"]) for s in policy.get("skip") or []
        ),
        notify=copy.deepcopy(doc.get("notify") or {}),
        warnings=tuple(doc.get("warnings", ("24h", "2h", "30m"))),
        aws=copy.deepcopy(doc.get("aws") or {}),
        budget=float(doc["budget"]) if doc.get("budget") is not None else None,
        document=doc,
    )


# ---------------------------------------------------------------------- public API

_NAME_ARGUMENT = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,99}$")


def check_environment_name(project: Project, name: str) -> None:
    """UsageError unless `name` is an environment of the project; the message
    suggests the closest known name and lists them all."""
    known = project.known_environments()
    if isinstance(name, str) and _NAME_ARGUMENT.match(name) and name in known:
        return
    shown = name if isinstance(name, str) else str(name)
    kind = "unknown" if isinstance(name, str) and _NAME_ARGUMENT.match(name) else "invalid"
    what = "environment" if kind == "unknown" else "environment name"
    close = difflib.get_close_matches(shown, known, n=1)
    hint = f" (did you mean {close[0]!r}?)" if close else ""
    listing = ", ".join(known) if known else "(none)"
    raise UsageError(f"{kind} {what} {shown!r}{hint}; known: {listing}")


def load_environment(project: Project, name: str) -> Environment:
    """The validated environment `name` (environments/<name>.yaml merged over
    _defaults.yaml). UsageError for an unknown or invalid name; ValidationError
    with every problem of the files otherwise."""
    check_environment_name(project, name)
    env, problems = _validate(_Context.of(project), name)
    if problems:
        raise ValidationError(problems)
    assert env is not None
    return env


def validate_environments(project: Project, names: list[str] | None = None) -> list[Environment]:
    """Validate every environment (or the named ones); the problems of all files
    are raised together in one ValidationError (each problem once)."""
    if names is None:
        names = project.known_environments()
    else:
        for name in names:
            check_environment_name(project, name)
    ctx = _Context.of(project)
    environments: list[Environment] = []
    problems: set[Problem] = set()
    for name in names:
        env, found = _validate(ctx, name)
        problems.update(found)
        if env is not None:
            environments.append(env)
    if problems:
        raise ValidationError(sorted(problems))
    return environments
