"""Contracts of the AWS Terraform (mock-api stack, its modules, bootstrap) that can be
proven without a provider: layout, pinned provider, tags, the variables Ephemera
supplies, the example environment, the lease table layout, the janitor's settings,
and who may do what (OIDC trust, the plan role's reads, the stack permissions
boundary, the janitor's grants and key policy)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from ephemera.leases.dynamodb import STATUS_EXPIRY_INDEX, table_definitions
from tests.support import tfstatic

REPO_ROOT = Path(__file__).resolve().parent.parent.parent
TERRAFORM = REPO_ROOT / "terraform"
STACK = TERRAFORM / "stacks" / "mock-api"
BOOTSTRAP = TERRAFORM / "bootstrap"
MODULES = [
    TERRAFORM / "modules" / name for name in ("network", "mockserver-service", "ttl-janitor")
]
AWS_DIRS = [STACK, BOOTSTRAP, *MODULES]
ROOTS = [STACK, BOOTSTRAP]


def parsed(directory: Path) -> dict[str, list[Any]]:
    """Every top-level block of the directory's .tf files, merged by block type."""
    merged: dict[str, list[Any]] = {}
    for path in tfstatic.tf_files(directory):
        if path.parent != directory:
            continue
        for kind, blocks in tfstatic.parse_file(path).items():
            merged.setdefault(kind, []).extend(blocks)
    return merged


def named(directory: Path, kind: str) -> dict[str, dict[str, Any]]:
    """{name: body} of the `variable`/`output`/`module` blocks of a directory."""
    return {name: body for block in parsed(directory).get(kind, []) for name, body in block.items()}


def resources(directory: Path) -> list[tuple[str, str, dict[str, Any]]]:
    return [
        (rtype, name, body)
        for block in parsed(directory).get("resource", [])
        for rtype, instances in block.items()
        for name, body in instances.items()
    ]


def resource(directory: Path, rtype: str, name: str) -> dict[str, Any]:
    matches = [body for t, n, body in resources(directory) if (t, n) == (rtype, name)]
    assert len(matches) == 1, f"{rtype}.{name} in {directory}"
    return matches[0]


def statements(directory: Path, document: str) -> list[dict[str, Any]]:
    """The statements of `data "aws_iam_policy_document" "<document>"`, dynamic ones too."""
    (body,) = [
        instances[document]
        for block in parsed(directory).get("data", [])
        for dtype, instances in block.items()
        if dtype == "aws_iam_policy_document" and document in instances
    ]
    found = list(body.get("statement", []))
    for dynamic in body.get("dynamic", []):
        found.extend(dynamic["statement"]["content"])
    return found


def allowed(statement_list: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [s for s in statement_list if s.get("effect", "Allow") == "Allow"]


def conditions(statement: dict[str, Any]) -> dict[str, tuple[str, Any]]:
    """{condition variable: (test, values)} of a statement."""
    return {c["variable"]: (c["test"], c["values"]) for c in statement.get("condition", [])}


# --- layout and provider -----------------------------------------------------------------


@pytest.mark.parametrize("directory", AWS_DIRS, ids=lambda d: d.relative_to(TERRAFORM).as_posix())
def test_layout_is_main_variables_outputs_versions(directory: Path) -> None:
    names = {p.name for p in directory.glob("*.tf")}
    assert names == {"main.tf", "variables.tf", "outputs.tf", "versions.tf"}


@pytest.mark.parametrize("directory", AWS_DIRS, ids=lambda d: d.relative_to(TERRAFORM).as_posix())
def test_aws_provider_is_pinned_to_5x(directory: Path) -> None:
    (terraform,) = parsed(directory)["terraform"]
    (providers,) = terraform["required_providers"]
    assert providers["aws"] == {"source": "hashicorp/aws", "version": "~> 6.66"}


def test_stacks_declare_no_backend() -> None:
    # Ephemera's render writes `backend "s3" {}` (or local) into the stack's snapshot as
    # ephemera_backend.tf; a second backend block would fail terraform init.
    for stack in sorted((TERRAFORM / "stacks").iterdir()):
        for block in parsed(stack).get("terraform", []):
            assert "backend" not in block, stack.name


@pytest.mark.parametrize("root", ROOTS, ids=lambda d: d.relative_to(TERRAFORM).as_posix())
def test_roots_tag_everything_through_default_tags(root: Path) -> None:
    (provider,) = parsed(root)["provider"]
    (default_tags,) = provider["aws"]["default_tags"]
    assert "var.tags" in default_tags["tags"]
    assert "allowed_account_ids" in provider["aws"]


@pytest.mark.parametrize("module", MODULES, ids=lambda d: d.name)
def test_module_resources_take_the_tags_variable(module: Path) -> None:
    variables = named(module, "variable")
    assert variables["tags"]["type"] == "${map(string)}"
    assert variables["tags"]["default"] == {}
    for rtype, name, body in resources(module):
        if tfstatic.taggable(rtype):
            assert "var.tags" in str(body.get("tags")), f"{rtype}.{name} has no tags"


# --- mock-api stack ------------------------------------------------------------------------


def test_mock_api_declares_the_variables_ephemera_supplies() -> None:
    variables = named(STACK, "variable")
    expected = {
        "environment": "string",
        "owner": "string",
        "tags": "${map(string)}",
        "project_root": "string",
        "region": "string",
    }
    assert {name: variables[name]["type"] for name in expected} == expected
    for name in expected:
        assert "default" not in variables[name], name
    assert "runtime_dir" not in variables  # local stacks only


@pytest.mark.parametrize(
    ("name", "values"),
    [
        ("instance_size", ["small", "medium", "large", "xlarge"]),
        ("nat_mode", ["single", "per_az", "none"]),
    ],
)
def test_enumerated_variables_are_validated(name: str, values: list[str]) -> None:
    declared_in = [d for d in (STACK, *MODULES) if name in named(d, "variable")]
    assert len(declared_in) == 2  # the stack and the module it passes the value to
    for directory in declared_in:
        (validation,) = named(directory, "variable")[name]["validation"]
        assert f"contains({json.dumps(values)}, var.{name})" in validation["condition"]


def test_instance_sizes_map_to_fargate_cpu_and_memory() -> None:
    (module_locals,) = parsed(TERRAFORM / "modules" / "mockserver-service")["locals"]
    assert module_locals["sizes"] == {
        "small": {"cpu": 256, "memory": 512},
        "medium": {"cpu": 512, "memory": 1024},
        "large": {"cpu": 1024, "memory": 2048},
        "xlarge": {"cpu": 2048, "memory": 4096},
    }


def test_container_images_are_pinned() -> None:
    variables = named(TERRAFORM / "modules" / "mockserver-service", "variable")
    assert variables["mockserver_image"]["default"] == "mockserver/mockserver:5.15.0"
    assert not variables["aws_cli_image"]["default"].endswith(":latest")


def test_expectations_hash_reaches_the_task_definition() -> None:
    module = TERRAFORM / "modules" / "mockserver-service"
    task = resource(module, "aws_ecs_task_definition", "this")
    assert "var.expectations_hash" in task["container_definitions"]
    assert "MOCKSERVER_INITIALIZATION_JSON_PATH" in task["container_definitions"]
    obj = resource(STACK, "aws_s3_object", "expectations")
    assert obj["source_hash"] == "${local.expectations_md5}"
    assert named(STACK, "module")["mockserver"]["expectations_hash"] == (
        "${local.expectations_md5}"
    )


def test_service_rolls_back_failed_deployments() -> None:
    service = resource(TERRAFORM / "modules" / "mockserver-service", "aws_ecs_service", "this")
    assert service["deployment_circuit_breaker"] == [{"enable": True, "rollback": True}]


def test_mock_api_outputs() -> None:
    assert {"url", "cluster", "service", "log_group"} <= set(named(STACK, "output"))


def test_example_environment_fits_the_stack() -> None:
    env = yaml.safe_load((REPO_ROOT / "environments" / "test-api.yaml").read_text())
    assert (env["name"], env["stack"], env["target"]) == ("test-api", "mock-api", "aws")
    declared = named(STACK, "variable")
    assert set(env["variables"]) <= set(declared)
    expectations = REPO_ROOT / env["variables"]["expectations_file"]
    document = json.loads(expectations.read_text())
    assert document and all({"httpRequest", "httpResponse"} <= set(e) for e in document)


# --- bootstrap -----------------------------------------------------------------------------


def test_bootstrap_outputs_exactly_what_the_defaults_environments_and_workflows_need() -> None:
    outputs = named(BOOTSTRAP, "output")
    assert set(outputs) == {
        "state_bucket",  # _defaults.yaml aws:
        "lease_table",
        "region",  # ... and the repository variable AWS_REGION
        "notify_topic_arn",
        "account_id",
        "plan_role_arn",  # repository variable EPHEMERA_PLAN_ROLE_ARN
        "apply_role_arn",  # repository variable EPHEMERA_APPLY_ROLE_ARN
        "stack_permissions_boundary_arn",  # variables.permissions_boundary_arn of aws envs
    }
    assert "EPHEMERA_PLAN_ROLE_ARN" in outputs["plan_role_arn"]["description"]
    assert "EPHEMERA_APPLY_ROLE_ARN" in outputs["apply_role_arn"]["description"]
    assert outputs["stack_permissions_boundary_arn"]["value"] == (
        "${aws_iam_policy.stack_boundary.arn}"
    )


def _table(body: dict[str, Any]) -> dict[str, Any]:
    """The CreateTable arguments an aws_dynamodb_table block stands for (name aside)."""
    table: dict[str, Any] = {
        "AttributeDefinitions": [
            {"AttributeName": a["name"], "AttributeType": a["type"]} for a in body["attribute"]
        ],
        "KeySchema": [{"AttributeName": body["hash_key"], "KeyType": "HASH"}],
        "BillingMode": body["billing_mode"],
    }
    if "range_key" in body:
        table["KeySchema"].append({"AttributeName": body["range_key"], "KeyType": "RANGE"})
    if "global_secondary_index" in body:
        table["GlobalSecondaryIndexes"] = [
            {
                "IndexName": index["name"],
                "KeySchema": [
                    {"AttributeName": index["hash_key"], "KeyType": "HASH"},
                    {"AttributeName": index["range_key"], "KeyType": "RANGE"},
                ],
                "Projection": {"ProjectionType": index["projection_type"]},
            }
            for index in body["global_secondary_index"]
        ]
    return table


def test_lease_tables_match_the_dynamodb_lease_store() -> None:
    leases, runs = table_definitions("t")
    for definition in (leases, runs):
        del definition["TableName"]
    assert _table(resource(BOOTSTRAP, "aws_dynamodb_table", "leases")) == leases
    assert _table(resource(BOOTSTRAP, "aws_dynamodb_table", "runs")) == runs
    assert leases["GlobalSecondaryIndexes"][0]["IndexName"] == STATUS_EXPIRY_INDEX


def test_lease_tables_keep_point_in_time_recovery_and_encryption() -> None:
    for name in ("leases", "runs"):
        table = resource(BOOTSTRAP, "aws_dynamodb_table", name)
        assert table["point_in_time_recovery"] == [{"enabled": True}]
        assert table["server_side_encryption"] == [{"enabled": True}]


def test_github_roles_trust_only_their_subjects() -> None:
    (bootstrap_locals,) = parsed(BOOTSTRAP)["locals"]
    assert bootstrap_locals["plan_subjects"] == ["repo:${var.github_repository}:pull_request"]
    apply_subjects = bootstrap_locals["apply_subjects"]
    # destroy.yml and ttl-sweep.yml: dispatched / scheduled on main, outside any environment.
    assert "repo:${var.github_repository}:ref:refs/heads/${var.github_main_branch}" in (
        apply_subjects
    )
    # apply.yml's job runs in the GitHub environment "ephemera" (see tests/ci/test_workflows.py).
    assert "repo:${var.github_repository}:environment:${var.github_apply_environment}" in (
        apply_subjects
    )
    assert named(BOOTSTRAP, "variable")["github_apply_environment"]["default"] == "ephemera"
    for trust in ("plan_trust", "apply_trust"):
        (statement,) = statements(BOOTSTRAP, trust)
        checks = conditions(statement)
        assert checks["${local.github_oidc_host}:aud"] == ("StringEquals", ["sts.amazonaws.com"])
        assert checks["${local.github_oidc_host}:sub"][0] == "StringEquals"  # no wildcards


# --- bootstrap: who may do what -----------------------------------------------------------

ROLE_GRANTS = {
    "iam:CreateRole",
    "iam:PutRolePolicy",
    "iam:AttachRolePolicy",
    "iam:PutRolePermissionsBoundary",
}
BOUNDARY = "${aws_iam_policy.stack_boundary.arn}"


def test_stack_roles_can_only_be_created_or_granted_rights_with_the_boundary() -> None:
    stack_iam = statements(BOOTSTRAP, "stack_iam")
    granting = [s for s in allowed(stack_iam) if ROLE_GRANTS & set(s["actions"])]
    assert {a for s in granting for a in s["actions"]} >= ROLE_GRANTS
    for statement in granting:
        assert conditions(statement)["iam:PermissionsBoundary"] == ("StringEquals", [BOUNDARY])
        assert statement["resources"] == ["${local.stack_role_arns}"]
    # A trust policy cannot be conditioned on the boundary: it is never changed in place.
    every_action = {a for s in allowed(stack_iam) for a in s["actions"]}
    assert "iam:UpdateAssumeRolePolicy" not in every_action
    assert not any(a.endswith("*") for a in every_action if a.startswith("iam:"))


def test_the_boundary_can_be_neither_dropped_nor_rewritten() -> None:
    denies = [s for s in statements(BOOTSTRAP, "stack_iam") if s.get("effect") == "Deny"]
    by_action = {a: s for s in denies for a in s["actions"]}
    assert by_action["iam:DeleteRolePermissionsBoundary"]["resources"] == ["*"]
    for action in ROLE_GRANTS:
        assert by_action[action]["resources"] == ["*"]
        assert conditions(by_action[action])["iam:PermissionsBoundary"] == (
            "StringNotEquals",
            [BOUNDARY],
        )
    for action in (
        "iam:CreatePolicyVersion",
        "iam:SetDefaultPolicyVersion",
        "iam:DeletePolicyVersion",
        "iam:DeletePolicy",
    ):
        assert BOUNDARY in by_action[action]["resources"]
        assert "${local.stack_iam_policy_arn}" in by_action[action]["resources"]
    (bootstrap_locals,) = parsed(BOOTSTRAP)["locals"]
    assert bootstrap_locals["stack_iam_policy_arn"].endswith(
        ":policy/${local.stack_iam_policy_name}"
    )
    assert resource(BOOTSTRAP, "aws_iam_policy", "stack_iam")["name"] == (
        "${local.stack_iam_policy_name}"
    )


def test_the_boundary_allows_only_what_an_ecs_task_needs() -> None:
    boundary = statements(BOOTSTRAP, "stack_boundary")
    assert all(s.get("effect", "Allow") == "Allow" for s in boundary)
    actions = {a for s in boundary for a in s["actions"]}
    assert actions == {
        "ecr:GetAuthorizationToken",
        "ecr:BatchCheckLayerAvailability",
        "ecr:BatchGetImage",
        "ecr:GetDownloadUrlForLayer",
        "logs:CreateLogStream",
        "logs:PutLogEvents",
        "s3:GetObject",
        "kms:Decrypt",
    }
    # The expectations buckets it may read are the ones the mock-api stack creates.
    (bootstrap_locals,) = parsed(BOOTSTRAP)["locals"]
    assert bootstrap_locals["stack_bucket_arns"].endswith(":s3:::eph-*")
    bucket = resource(STACK, "aws_s3_bucket", "expectations")
    assert bucket["bucket_prefix"].startswith('${substr("eph-')


def test_the_apply_role_and_the_destroy_build_share_the_bounded_iam_rights() -> None:
    attachment = resource(BOOTSTRAP, "aws_iam_role_policy_attachment", "apply_stack_iam")
    assert attachment["policy_arn"] == "${aws_iam_policy.stack_iam.arn}"
    janitor = named(BOOTSTRAP, "module")["janitor"]
    assert janitor["codebuild_policy_arns"]["stack_iam"] == "${aws_iam_policy.stack_iam.arn}"


def test_stack_roles_carry_the_permissions_boundary() -> None:
    service = TERRAFORM / "modules" / "mockserver-service"
    for name in ("execution", "task"):
        role = resource(service, "aws_iam_role", name)
        assert role["permissions_boundary"] == "${var.permissions_boundary_arn}", name
        assert role["path"] == "${var.iam_path}"
    for directory in (service, STACK):
        variable = named(directory, "variable")["permissions_boundary_arn"]
        assert (variable["type"], variable["default"]) == ("string", None)
    assert named(STACK, "module")["mockserver"]["permissions_boundary_arn"] == (
        "${var.permissions_boundary_arn}"
    )
    assert named(service, "variable")["iam_path"]["default"] == "/ephemera/"


def test_the_plan_role_reads_only_what_a_plan_needs() -> None:
    # No managed policy (ReadOnlyAccess read every S3 object, Lambda code, ...).
    attached = [
        body
        for rtype, _, body in resources(BOOTSTRAP)
        if rtype == "aws_iam_role_policy_attachment" and "plan" in body["role"]
    ]
    assert attached == []
    inline = [body for rtype, _, body in resources(BOOTSTRAP) if rtype == "aws_iam_role_policy"]
    assert {body["policy"] for body in inline if body["role"] == "${aws_iam_role.plan.id}"} == {
        "${data.aws_iam_policy_document.plan_read.json}",
        "${data.aws_iam_policy_document.plan_state.json}",
    }
    plan = statements(BOOTSTRAP, "plan_read") + statements(BOOTSTRAP, "plan_state")
    grants = allowed(plan)
    actions = {a for s in grants for a in s["actions"]}
    read_verbs = ("Describe", "List", "Get", "BatchGet", "Query")
    writes = {a for a in actions if not a.split(":")[1].startswith(read_verbs)}
    assert writes == {"s3:PutObject", "s3:DeleteObject"}
    for statement in grants:
        if writes & set(statement["actions"]):
            assert statement["resources"] == [
                "${aws_s3_bucket.state.arn}/envs/*/terraform.tfstate.tflock"
            ]
    assert not any(a == "*" or a.endswith(":*") for a in actions)
    services = {a.split(":")[0] for a in actions}
    assert not services & {"lambda", "secretsmanager", "ssm", "sns", "sqs", "codebuild"}
    # IAM reads only of the stacks' roles; objects only of the state and the stacks' buckets.
    for statement in grants:
        if any(a.startswith("iam:") for a in statement["actions"]):
            assert statement["resources"] == ["${local.stack_role_arns}"]
        if "s3:GetObject" in statement["actions"]:
            assert statement["resources"] in (
                ["${aws_s3_bucket.state.arn}/envs/*"],
                ["${local.stack_bucket_arns}/*"],
            )
    denied = {a for s in plan if s.get("effect") == "Deny" for a in s["actions"]}
    assert "ec2:DescribeInstanceAttribute" in denied


# --- ttl-janitor -----------------------------------------------------------------------------


JANITOR = TERRAFORM / "modules" / "ttl-janitor"


def test_janitor_lambda_settings() -> None:
    function = resource(JANITOR, "aws_lambda_function", "this")
    assert (function["runtime"], function["handler"]) == ("python3.12", "handler.handler")
    (environment,) = function["environment"]
    assert set(environment["variables"]) == {
        "LEASE_TABLE",
        "NOTIFY_TOPIC_ARN",
        "DISPATCH",
        "CODEBUILD_PROJECT",
        "DRY_RUN",
        "MAX_DESTROYS",
        "STATE_BUCKET",
    }
    assert environment["variables"]["DISPATCH"] == "codebuild"
    assert environment["variables"]["STATE_BUCKET"] == "${var.state_bucket}"
    assert "default" not in named(JANITOR, "variable")["package_path"]
    assert "default" not in named(JANITOR, "variable")["state_bucket"]
    assert named(BOOTSTRAP, "module")["janitor"]["state_bucket"] == "${aws_s3_bucket.state.id}"


def test_janitor_lambda_permissions() -> None:
    grants = statements(JANITOR, "lambda")
    by_sid = {s["sid"]: s for s in grants}
    actions = {a for s in grants for a in s["actions"]}
    # The warning pass queries the status-expires_at index: no Scan.
    assert "dynamodb:Scan" not in actions
    assert set(by_sid["Leases"]["actions"]) == {
        "dynamodb:GetItem",
        "dynamodb:PutItem",
        "dynamodb:UpdateItem",
        "dynamodb:Query",
    }
    assert by_sid["Leases"]["resources"] == ["${var.lease_table_arn}"]
    assert by_sid["LeaseIndexes"]["actions"] == ["dynamodb:Query"]
    assert set(by_sid["RunHistory"]["actions"]) == {"dynamodb:PutItem", "dynamodb:Query"}
    # Resource counts in warnings: each environment's state object, nothing else.
    assert by_sid["CountStateResources"]["actions"] == ["s3:GetObject"]
    assert by_sid["CountStateResources"]["resources"] == ["${local.state_objects_arn}"]
    (janitor_locals,) = parsed(JANITOR)["locals"]
    assert janitor_locals["state_objects_arn"] == (
        "arn:${local.partition}:s3:::${var.state_bucket}/envs/*/terraform.tfstate"
    )
    # A customer managed key of the state bucket: decrypt through S3 only.
    decrypt = by_sid["DecryptState"]
    assert decrypt["actions"] == ["kms:Decrypt"]
    assert conditions(decrypt)["kms:ViaService"][0] == "StringEquals"


def test_janitor_key_grants_services_only_for_this_account() -> None:
    key = resource(JANITOR, "aws_kms_key", "this")
    assert key["policy"] == "${data.aws_iam_policy_document.key.json}"
    services = [
        s
        for s in statements(JANITOR, "key")
        if any(p["type"] == "Service" for p in s.get("principals", []))
    ]
    assert {p for s in services for pr in s["principals"] for p in pr["identifiers"]} == {
        "cloudwatch.amazonaws.com",
        "logs.${local.region}.amazonaws.com",
    }
    for statement in services:
        assert conditions(statement)["aws:SourceAccount"] == (
            "StringEquals",
            ["${local.account_id}"],
        )
    (logs,) = [s for s in services if "logs." in s["principals"][0]["identifiers"][0]]
    assert conditions(logs)["kms:EncryptionContext:aws:logs:arn"] == (
        "ArnLike",
        "${local.log_group_arns}",
    )
    (janitor_locals,) = parsed(JANITOR)["locals"]
    assert "log-group:${group}" in janitor_locals["log_group_arns"]


def test_janitor_runs_every_five_minutes_and_destroys_through_codebuild() -> None:
    assert named(JANITOR, "variable")["schedule_expression"]["default"] == "rate(5 minutes)"
    (janitor_locals,) = parsed(JANITOR)["locals"]
    assert 'make destroy ENV="$ENV" AUTO_APPROVE=1' in janitor_locals["buildspec"]
