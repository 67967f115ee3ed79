"""The environment file's JSON Schema (Draft 2020-12) and its validators.

`environment_schema()` is the schema; schemas/environment.schema.json is this schema
written out by `ephemera.config.schemafiles`, with one `if stack == <stack> then
variables: $ref stacks/<stack>.schema.json` rule per stack, so an editor completes
stack variables. The JSON Schema stage of validation (`merged_validator`) leaves
those rules out: the stack variables stage checks the same contract (both come from
the stack's variables.tf) with more precise messages. `environment_validator()`
validates with the full schema, resolving the refs locally.
"""

from __future__ import annotations

import copy
import functools
import hashlib
import json
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from ephemera.durations import DURATION_PATTERN
from ephemera.environment import NAME_PATTERN, PROVIDED_VARIABLES
from ephemera.files import keep_json

if TYPE_CHECKING:
    from collections.abc import Callable
    from pathlib import Path

    from jsonschema import Draft202012Validator

STACK_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$"
EMAIL_PATTERN = r"^[^@\s]+@[^@\s]+\.[^@\s]+$"
REGION_PATTERN = r"^[a-z]{2}(-[a-z]+)+-[0-9]+$"
ACCOUNT_ID_PATTERN = r"^[0-9]{12}$"
SNS_ARN_PATTERN = r"^arn:aws[a-z-]*:sns:[a-z0-9-]+:[0-9]{12}:[A-Za-z0-9_.-]+$"
URL_PATTERN = r"^https?://[^\s/]+\S*$"
BUCKET_PATTERN = r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$"
TABLE_PATTERN = r"^[A-Za-z0-9_.-]{3,255}$"
CHECK_ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.-]*$"
ROLE_ARN_PATTERN = r"^arn:aws[a-z-]*:iam::[0-9]{12}:role/[A-Za-z0-9+=,.@_/-]+$"
POLICY_ARN_PATTERN = r"^arn:aws[a-z-]*:iam::[0-9]{12}:policy/[A-Za-z0-9+=,.@_/-]+$"
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

# What a value that misses a pattern is, in words: the validation stage's messages
# ("'8 hours' is not a duration like 30m, 8h or 2d") and the editor's (through
# `patternErrorMessage`, which yaml-language-server shows instead of the regex).
PATTERN_HINTS = {
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
    ROLE_ARN_PATTERN: "is not an IAM role ARN (arn:aws:iam::<account>:role/<name>)",
    POLICY_ARN_PATTERN: "is not an IAM policy ARN (arn:aws:iam::<account>:policy/<name>)",
}

# --------------------------------------------------------------------------- schema


def _pattern(pattern: str) -> dict[str, str]:
    return {"pattern": pattern, "patternErrorMessage": "Not" + PATTERN_HINTS[pattern][6:] + "."}


def _duration(description: str) -> dict[str, Any]:
    return {"$ref": "#/$defs/duration", "description": description}


def _string(description: str, pattern: str | None = None, **extra: Any) -> dict[str, Any]:
    schema: dict[str, Any] = {"type": "string", "description": description, **extra}
    if pattern:
        schema.update(_pattern(pattern))
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
            **_pattern(DURATION_PATTERN),
        },
        "email": {
            "description": "An email address.",
            "type": "string",
            **_pattern(EMAIL_PATTERN),
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
                    ROLE_ARN_PATTERN,
                ),
                "apply_role_arn": _string(
                    "IAM role CI assumes (GitHub OIDC) to apply on main and destroy.",
                    ROLE_ARN_PATTERN,
                ),
                "permissions_boundary_arn": _string(
                    "IAM policy every role a stack creates must carry as its permissions "
                    "boundary (terraform/bootstrap output stack_permissions_boundary_arn).",
                    POLICY_ARN_PATTERN,
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
        "Generated from ephemera/config/schema.py and terraform/stacks/*/variables.tf by "
        "ephemera.config.schemafiles (python -m ephemera.config.schemafiles); do not edit."
    )
    schema["allOf"] = [
        {
            "if": {"properties": {"stack": {"const": stack}}, "required": ["stack"]},
            "then": {"properties": {"variables": {"$ref": f"stacks/{stack}.schema.json"}}},
        }
        for stack in sorted(stacks)
    ]
    return schema


@functools.cache
def merged_schema() -> dict[str, Any]:
    """The schema of the JSON Schema stage: the environment schema without the per-stack
    rules (stack variables are the next stage's), MERGED_REQUIRED added."""
    schema = environment_schema(())
    del schema["allOf"]
    schema["required"] = list(MERGED_REQUIRED)
    return _inline_defs(schema, schema["$defs"])


@functools.cache
def merged_validator() -> Draft202012Validator:
    from jsonschema import Draft202012Validator  # slow to load: only when needed

    return Draft202012Validator(merged_schema())


@functools.cache
def digest_of(schema_function: Callable[[], dict[str, Any]]) -> str:
    """sha256 of the schema a function returns (computed once a process)."""
    return hashlib.sha256(json.dumps(schema_function(), sort_keys=True).encode()).hexdigest()


def remembered_errors(
    schema: Callable[[], dict[str, Any]],
    validator: Callable[[], Any],
    document: Any,
    cache_dir: Path | None,
) -> list[Any]:
    """`validator().iter_errors(document)`, all of them. A document found valid is
    remembered by its content and the schema's (an empty file in `cache_dir`), so the
    next command that validates the same document does not even load jsonschema."""
    try:
        text = json.dumps(document, sort_keys=True)
    except (TypeError, ValueError):  # a date, keys of mixed types: checked every time
        text = None
    marker = None
    if cache_dir is not None and text is not None:
        key = hashlib.sha256(f"{digest_of(schema)}\0{text}".encode()).hexdigest()
        marker = cache_dir / "valid" / key
        if marker.exists():
            return []
    errors = list(validator().iter_errors(document))
    if not errors and marker is not None:
        keep_json(marker, True)
    return errors


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
