"""The record of a successful `terraform init`, so that the next run of unchanged
inputs does not init again.

What an init depends on, and so what its fingerprint covers: the stack snapshot Terraform
runs in (the stack, every module it calls, the generated backend block and the lock
file), the backend configuration (`backend.hcl`), which Terraform runs with which TF_*
variables and CLI configuration (`TF_CLI_CONFIG_FILE`'s content), and the data
directory as init left it (every file's path, size and modification time, symlinks
followed, so a removed provider or module is noticed). A change to any of them, a
deleted data directory included, makes the next run init.

Crash safety: the record is removed before an init starts and written only after it
succeeded, so an init that did not finish (a killed run, a failure) is never skipped.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Mapping
from pathlib import Path

from ephemera.files import stat_stamp, write_private
from ephemera.terraform.runner import terraform_identity

RECORD_FILE = "init.sha256"


def fingerprint(
    root_dir: Path,
    snapshot_dir: Path,
    backend_config: Path,
    data_dir: Path,
    environment: Mapping[str, str],
) -> str:
    """sha256 over what an init of `root_dir` (inside `snapshot_dir`) depends on;
    `environment`: Terraform's (its TF_* variables and CLI configuration file count)."""
    digest = hashlib.sha256(f"{terraform_identity()}\0{root_dir}\0".encode())
    settings = sorted(
        (k, v)
        for k, v in environment.items()
        if k.startswith("TF_") and not k.startswith("TF_VAR_")
    )
    digest.update(repr(settings).encode())
    digest.update(_content(Path(environment.get("TF_CLI_CONFIG_FILE") or os.devnull)))
    digest.update(_content(backend_config))
    for path in _files(snapshot_dir):
        digest.update(path.relative_to(snapshot_dir).as_posix().encode() + b"\0")
        digest.update(_content(path))
    for path in _files(data_dir):
        digest.update(path.relative_to(data_dir).as_posix().encode() + b"\0")
        digest.update(stat_stamp(path).encode())
    return digest.hexdigest()


def is_current(record: Path, current: str) -> bool:
    try:
        return record.read_text(encoding="utf-8").strip() == current
    except OSError:
        return False


def forget(record: Path) -> None:
    """Before an init: until it succeeds, the data directory is not known to be current."""
    record.unlink(missing_ok=True)


def remember(record: Path, current: str) -> None:
    write_private(record, current + "\n")


def _files(directory: Path) -> list[Path]:
    """Every file below `directory`, sorted; symlinked directories are followed once
    (providers are links into the plugin cache), never in a circle."""
    found, seen = [], set()
    for top, dirs, names in os.walk(directory, followlinks=True):
        real = os.path.realpath(top)
        if real in seen:
            dirs.clear()
            continue
        seen.add(real)
        found += [Path(top) / name for name in names]
    return sorted(found)


def _content(path: Path) -> bytes:
    try:
        return hashlib.sha256(path.read_bytes()).digest()
    except OSError:
        return b"missing"
