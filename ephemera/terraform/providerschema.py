"""The AWS provider's schema, offline: derived once from a pinned npm package and
committed compressed, so `tf-validate` checks terraform/ against it with no provider
binary and no network.

`make provider-schema` (rarely: when the provider constraint moves) runs `npm pack` of
the pinned `@cdktn/provider-aws` into a temporary directory, refuses a tarball whose
sha256 is not the pinned one, derives the schema from it (`ephemera.terraform.cdktn`)
and writes `terraform/provider-schemas/aws.json.gz` with its provenance: package,
version, provider source and version, the tarball's sha256. The file is
byte-reproducible (sorted keys, gzip without a timestamp).
"""

from __future__ import annotations

import gzip
import hashlib
import json
import re
import shutil
import subprocess
import tarfile
import tempfile
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

from ephemera.errors import EphemeraError, UsageError
from ephemera.terraform import cdktn

PACKAGE = "@cdktn/provider-aws"
VERSION = "25.7.0"  # generated from registry.terraform.io/hashicorp/aws 6.66.0
TARBALL_SHA256 = "b3e5ee2851ae47595a0dedad3678779aebca6d6b5f318ca1902b87ddbef82208"
SCHEMA_FILE = Path("terraform/provider-schemas/aws.json.gz")
PROVIDER_SOURCE = "registry.terraform.io/hashicorp/aws"


@dataclass(frozen=True)
class ProviderSchema:
    """A provider's schema: its provenance, its own block, resources and data sources
    (each a block: `attributes` and `block_types`, as `terraform providers schema -json`
    writes them, without the version wrapper)."""

    provenance: dict[str, Any]
    provider: dict[str, Any]
    resources: dict[str, dict[str, Any]]
    data_sources: dict[str, dict[str, Any]]

    @property
    def label(self) -> str:
        return f"{self.provenance['provider_source']} {self.provenance['provider_version']}"


def load(path: Path) -> ProviderSchema:
    """The committed schema file (cached per path, size and mtime)."""
    try:
        stat = path.stat()
    except FileNotFoundError:
        raise UsageError(f"{path}: no provider schema; run 'make provider-schema'") from None
    return _load(path, stat.st_size, stat.st_mtime_ns)


@lru_cache(maxsize=4)
def _load(path: Path, _size: int, _mtime: int) -> ProviderSchema:
    document = json.loads(gzip.decompress(path.read_bytes()))
    return ProviderSchema(
        provenance=document["provenance"],
        provider=document["provider"],
        resources=document["resource_schemas"],
        data_sources=document["data_source_schemas"],
    )


def encode(document: dict[str, Any]) -> bytes:
    """The schema document as gzip bytes: sorted keys, no timestamp, so the same
    package always gives the same bytes."""
    data = json.dumps(document, sort_keys=True, separators=(",", ":")).encode()
    return gzip.compress(data, compresslevel=9, mtime=0)


def derive_document(package_dir: Path, tarball_sha256: str) -> dict[str, Any]:
    """The schema of an unpacked package with its provenance."""
    provenance = {**cdktn.package_metadata(package_dir), "tarball_sha256": tarball_sha256}
    provenance["derived_by"] = "ephemera.terraform.cdktn"
    return {"provenance": provenance, **cdktn.derive(package_dir)}


def regenerate(root: Path, *, npm: str = "npm") -> Path:
    """`make provider-schema`: npm pack the pinned package, check its sha256, derive,
    write SCHEMA_FILE under `root`; returns the file written."""
    with tempfile.TemporaryDirectory(prefix="ephemera-provider-schema-") as scratch:
        work = Path(scratch)
        tarball = _npm_pack(npm, f"{PACKAGE}@{VERSION}", work)
        digest = sha256_of(tarball)
        if digest != TARBALL_SHA256:
            raise EphemeraError(
                f"provider-schema: {tarball.name} has sha256 {digest}, not the pinned "
                f"{TARBALL_SHA256}; refusing to derive from it"
            )
        package_dir = unpack(tarball, work / "unpacked")
        document = derive_document(package_dir, digest)
    target = root / SCHEMA_FILE
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_suffix(".partial")
    partial.write_bytes(encode(document))
    partial.replace(target)
    return target


def _npm_pack(npm: str, spec: str, destination: Path) -> Path:
    executable = shutil.which(npm)
    if executable is None:
        raise EphemeraError(f"provider-schema: {npm!r} not found; it needs node and npm")
    argv = [executable, "pack", spec, "--pack-destination", str(destination), "--json"]
    done = subprocess.run(argv, capture_output=True, text=True, check=False, timeout=900)
    if done.returncode != 0:
        raise EphemeraError(
            f"provider-schema: npm pack {spec} failed (exit {done.returncode}): "
            f"{done.stderr.strip()[-2000:]}"
        )
    name = json.loads(done.stdout)[0]["filename"]
    return destination / Path(name).name


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def unpack(tarball: Path, destination: Path) -> Path:
    """Extract the files the derivation reads (package.json, .jsii, lib/**/*.js) with
    tarfile's `data` filter (no links, no paths outside `destination`)."""
    wanted = re.compile(r"^package/(package\.json|\.jsii|lib/.+\.js)$")
    with tarfile.open(tarball, "r:gz") as archive:
        members = [m for m in archive.getmembers() if m.isfile() and wanted.match(m.name)]
        archive.extractall(destination, members=members, filter="data")
    return destination / "package"


# --- version constraints -----------------------------------------------------------------

_CONSTRAINT = re.compile(r"^\s*(=|!=|>=|<=|>|<|~>)?\s*v?(\d+(?:\.\d+){0,2})\s*$")


def satisfies(version: str, constraint: str) -> bool:
    """Whether `version` (e.g. 6.66.0) meets a Terraform version constraint such as
    `~> 6.66`, `>= 6.0, < 7.0` (pre-release suffixes are not supported); a constraint
    it cannot read is a UsageError."""
    have = _numbers(version)
    for part in constraint.split(","):
        match = _CONSTRAINT.match(part)
        if match is None:
            raise UsageError(f"version constraint {constraint!r}: cannot read {part.strip()!r}")
        operator, text = match.group(1) or "=", match.group(2)
        if not _holds(have, operator, _numbers(text), text.count(".") + 1):
            return False
    return True


def _numbers(text: str) -> tuple[int, int, int]:
    major, minor, patch = ([int(p) for p in text.split(".")[:3]] + [0, 0])[:3]
    return major, minor, patch


def _holds(have: tuple[int, ...], operator: str, want: tuple[int, ...], written: int) -> bool:
    if operator == "~>":  # the rightmost number written may grow: ~> 6.66 is >= 6.66, < 7
        fixed = max(written - 1, 1)
        return have >= want and have[:fixed] == want[:fixed]
    return {
        "=": have == want,
        "!=": have != want,
        ">": have > want,
        ">=": have >= want,
        "<": have < want,
        "<=": have <= want,
    }[operator]
