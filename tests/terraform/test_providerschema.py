"""The committed provider schema: its provenance, the derivation that made it, the file
format, and `make provider-schema`'s pipeline with a stand-in `npm` (no network)."""

from __future__ import annotations

import gzip
import io
import json
import os
import stat
import tarfile
from pathlib import Path

import pytest

from ephemera.errors import EphemeraError, UsageError
from ephemera.terraform import cdktn, providerschema
from ephemera.terraform.hclmodel import parse_file

REPO_ROOT = Path(__file__).resolve().parents[2]
COMMITTED = REPO_ROOT / providerschema.SCHEMA_FILE
# The generated code of three resources, cut from the pinned package (README there).
FIXTURE_PACKAGE = REPO_ROOT / "tests" / "fixtures" / "provider-schema" / "package"


def aws_constraints() -> dict[str, str]:
    """{versions.tf path: the hashicorp/aws version constraint} under terraform/."""
    found = {}
    for path in sorted((REPO_ROOT / "terraform").rglob("versions.tf")):
        for block in parse_file(path):
            for required in block.blocks_of("required_providers"):
                literal = required.arguments["aws"].literal
                assert literal is not None and literal.kind == "object"
                fields = {key: item.value for key, item in literal.items}
                assert fields["source"] == "hashicorp/aws"
                found[path.relative_to(REPO_ROOT).as_posix()] = fields["version"]
    return found


def test_the_committed_schema_comes_from_the_pinned_package() -> None:
    schema = providerschema.load(COMMITTED)
    assert schema.provenance == {
        "package": "@cdktn/provider-aws",
        "version": providerschema.VERSION,
        "provider_source": "registry.terraform.io/hashicorp/aws",
        "provider_version": "6.66.0",
        "tarball_sha256": providerschema.TARBALL_SHA256,
        "derived_by": "ephemera.terraform.cdktn",
    }
    assert len(schema.resources) == 1725 and len(schema.data_sources) == 683


def test_every_aws_constraint_in_terraform_admits_the_schemas_provider_version() -> None:
    version = providerschema.load(COMMITTED).provenance["provider_version"]
    constraints = aws_constraints()
    assert {"terraform/stacks/mock-api/versions.tf", "terraform/bootstrap/versions.tf"} <= set(
        constraints
    )
    refused = {
        path: c for path, c in constraints.items() if not providerschema.satisfies(version, c)
    }
    assert refused == {}, f"hashicorp/aws {version} does not satisfy {refused}"


@pytest.mark.parametrize(
    ("version", "constraint", "expected"),
    [
        ("6.66.0", "~> 6.66", True),
        ("6.70.1", "~> 6.66", True),
        ("7.0.0", "~> 6.66", False),
        ("6.65.9", "~> 6.66", False),
        ("6.66.3", "~> 6.66.0", True),
        ("6.67.0", "~> 6.66.0", False),
        ("6.66.0", "~> 5.40", False),
        ("6.66.0", ">= 6.0, < 7.0", True),
        ("6.66.0", "!= 6.66.0", False),
        ("6.66.0", "6.66.0", True),
        ("6.66.0", "~> 6", True),
    ],
)
def test_version_constraints(version: str, constraint: str, expected: bool) -> None:
    assert providerschema.satisfies(version, constraint) is expected


def test_an_unreadable_constraint_is_a_usage_error() -> None:
    with pytest.raises(UsageError, match="cannot read 'six'"):
        providerschema.satisfies("6.66.0", ">= 6.0, six")


def test_the_derivation_of_real_generated_code_gives_the_committed_schema() -> None:
    derived = cdktn.derive(FIXTURE_PACKAGE)
    committed = providerschema.load(COMMITTED)
    assert derived["resource_schemas"] == {
        name: committed.resources[name]
        for name in ("aws_datasync_location_s3", "aws_verifiedpermissions_schema")
    }
    assert derived["data_source_schemas"] == {"aws_region": committed.data_sources["aws_region"]}
    s3_config = derived["resource_schemas"]["aws_datasync_location_s3"]["block_types"]["s3_config"]
    assert (s3_config["nesting_mode"], s3_config["min_items"], s3_config["max_items"]) == (
        "list",
        1,
        1,
    )
    agents = derived["resource_schemas"]["aws_datasync_location_s3"]["attributes"]["agent_arns"]
    assert agents["type"] == ["set", "string"]
    definition = derived["resource_schemas"]["aws_verifiedpermissions_schema"]["block_types"]
    assert definition["definition"]["nesting_mode"] == "list"
    assert "max_items" not in definition["definition"]


def test_what_the_schema_says_about_resources_the_stacks_use() -> None:
    """The issue's examples, read from the committed file."""
    schema = providerschema.load(COMMITTED)
    target = schema.resources["aws_appautoscaling_target"]["attributes"]["tags"]
    assert (target["type"], target["optional"]) == (["map", "string"], True)
    oidc = schema.resources["aws_iam_openid_connect_provider"]["attributes"]
    assert sorted(n for n, a in oidc.items() if a["required"]) == ["client_id_list", "url"]
    assert oidc["thumbprint_list"]["optional"]
    service = schema.resources["aws_ecs_service"]
    settable = [n for n, a in service["attributes"].items() if a["required"] or a["optional"]]
    assert len(settable) + len(service["block_types"]) == 38
    assert [n for n, a in service["attributes"].items() if a["required"]] == ["name"]


def test_the_file_is_byte_reproducible() -> None:
    document = {"provenance": {"b": 1, "a": 2}, "resource_schemas": {}}
    first, second = providerschema.encode(document), providerschema.encode(dict(document))
    assert first == second
    assert first[4:8] == b"\0\0\0\0"  # gzip mtime
    assert json.loads(gzip.decompress(first)) == document


def fake_package_tarball(path: Path, extra: dict[str, bytes] | None = None) -> Path:
    """A .tgz of the fixture package, laid out as `npm pack` writes it."""
    with tarfile.open(path, "w:gz") as archive:
        for file in sorted(p for p in FIXTURE_PACKAGE.rglob("*") if p.is_file()):
            archive.add(file, arcname="package/" + file.relative_to(FIXTURE_PACKAGE).as_posix())
        for name, data in (extra or {}).items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
    return path


def fake_npm(directory: Path, tarball: Path) -> Path:
    """An `npm` that answers `npm pack … --pack-destination D --json` as npm does."""
    script = directory / "npm"
    script.write_text(
        "#!/bin/sh\n"
        'while [ "$1" != "--pack-destination" ]; do shift; done\n'
        f'cp "{tarball}" "$2/cdktn-provider-aws-25.7.0.tgz"\n'
        'echo \'[{"filename": "cdktn-provider-aws-25.7.0.tgz"}]\'\n'
    )
    script.chmod(script.stat().st_mode | stat.S_IXUSR)
    return script


def test_regenerate_refuses_a_tarball_that_is_not_the_pinned_one(tmp_path: Path) -> None:
    npm = fake_npm(tmp_path, fake_package_tarball(tmp_path / "package.tgz"))
    with pytest.raises(EphemeraError, match="not the pinned .*refusing to derive"):
        providerschema.regenerate(tmp_path / "project", npm=str(npm))
    assert not (tmp_path / "project" / providerschema.SCHEMA_FILE).exists()


def test_regenerate_writes_the_schema_with_its_provenance(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    tarball = fake_package_tarball(tmp_path / "package.tgz")
    monkeypatch.setattr(providerschema, "TARBALL_SHA256", providerschema.sha256_of(tarball))
    written = providerschema.regenerate(tmp_path / "project", npm=str(fake_npm(tmp_path, tarball)))
    schema = providerschema.load(written)
    assert schema.provenance["tarball_sha256"] == providerschema.sha256_of(tarball)
    assert set(schema.resources) == {"aws_datasync_location_s3", "aws_verifiedpermissions_schema"}
    again = providerschema.regenerate(tmp_path / "again", npm=str(fake_npm(tmp_path, tarball)))
    assert again.read_bytes() == written.read_bytes()


def test_unpack_refuses_a_path_outside_the_destination(tmp_path: Path) -> None:
    tarball = fake_package_tarball(tmp_path / "evil.tgz", {"package/lib/../../../evil.js": b"x"})
    with pytest.raises(tarfile.OutsideDestinationError):
        providerschema.unpack(tarball, tmp_path / "out")
    assert not (tmp_path / "evil.js").exists()


def test_regenerate_without_npm_says_so(tmp_path: Path) -> None:
    with pytest.raises(EphemeraError, match="not found; it needs node and npm"):
        providerschema.regenerate(tmp_path, npm=os.fspath(tmp_path / "no-such-npm"))
