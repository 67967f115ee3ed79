"""The rendered tfvars of an environment against its stack's variables.tf.

The last static check before Terraform: every name is declared, every required
variable is present, every value has the declared type. It reads the file that
was actually rendered (parsed back with python-hcl2), so a template or encoder
bug shows up here, not in a plan.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import hcl2

from ephemera.config.stackvars import check_value, read_stack_variables


def read_tfvars(path: Path) -> dict[str, Any]:
    """A tfvars file as Python values, HCL string escapes undone."""
    parsed = hcl2.loads(path.read_text())
    parsed.pop("__comments__", None)
    return {name: _decode(value) for name, value in parsed.items()}


def _decode(value: Any) -> Any:
    if isinstance(value, str) and len(value) >= 2 and value[0] == value[-1] == '"':
        return json.loads(value).replace("$${", "${").replace("%%{", "%{")
    if isinstance(value, dict):
        return {_decode(key): _decode(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_decode(item) for item in value]
    return value


def tfvars_findings(tfvars: Path, stack_dir: Path) -> list[str]:
    """`<file>: <name>: <problem>` for each mismatch with the stack's variables."""
    declared = read_stack_variables(stack_dir)
    values = read_tfvars(tfvars)
    findings = [f"{name}: not declared in the stack" for name in values if name not in declared]
    findings += [
        f"{name}: required by the stack but not set"
        for name, variable in declared.items()
        if variable.required and name not in values
    ]
    for name, value in values.items():
        if name in declared:
            for issue in check_value(value, declared[name].type, (name,)):
                path = ".".join(str(part) for part in issue.path)
                findings.append(f"{path}: {issue.message}")
    return [f"{tfvars}: {finding}" for finding in findings]
