# Ephemera's AWS control plane, applied once per account by an administrator:
# the Terraform state bucket, the lease and run tables, the TTL janitor, and the
# roles GitHub Actions assumes through OIDC to plan (pull requests) and apply
# (main branch / a GitHub environment).

data "aws_caller_identity" "current" {}

data "aws_partition" "current" {}

locals {
  partition    = data.aws_partition.current.partition
  account_id   = data.aws_caller_identity.current.account_id
  state_bucket = coalesce(var.state_bucket_name, "${var.name_prefix}-tfstate-${local.account_id}-${var.region}")
  runs_table   = "${var.lease_table_name}-runs"

  github_oidc_host         = "token.actions.githubusercontent.com"
  existing_github_oidc_arn = "arn:${local.partition}:iam::${local.account_id}:oidc-provider/${local.github_oidc_host}"
  github_oidc_arn          = var.create_github_oidc_provider ? aws_iam_openid_connect_provider.github[0].arn : local.existing_github_oidc_arn

  # Subjects GitHub puts in its OIDC tokens (the `sub` claim, default template):
  # - plan.yml (pull_request event)                        repo:<repo>:pull_request
  # - apply.yml's apply job (environment: ephemera)        repo:<repo>:environment:ephemera
  # - destroy.yml, ttl-sweep.yml (dispatch / schedule on   repo:<repo>:ref:refs/heads/main
  #   the main branch, no environment: a destroy must not
  #   wait for the environment's reviewers)
  plan_subjects = ["repo:${var.github_repository}:pull_request"]
  apply_subjects = concat(
    ["repo:${var.github_repository}:ref:refs/heads/${var.github_main_branch}"],
    var.github_apply_environment == null ? [] : ["repo:${var.github_repository}:environment:${var.github_apply_environment}"],
  )

  # Roles the stacks create live under this IAM path (mockserver-service's iam_path).
  stack_role_arns = "arn:${local.partition}:iam::${local.account_id}:role/ephemera/*"

  # Buckets the stacks create: mock-api's expectations bucket is eph-<env>-<suffix>
  # (its bucket_prefix); keep the two in step.
  stack_bucket_arns = "arn:${local.partition}:s3:::eph-*"

  # The IAM rights policy by an ARN built from its name: its own deny statement
  # names it, and an attribute reference there would be a cycle.
  stack_iam_policy_name = "${var.name_prefix}-stack-iam"
  stack_iam_policy_arn  = "arn:${local.partition}:iam::${local.account_id}:policy/${local.stack_iam_policy_name}"
}

# --- state bucket ------------------------------------------------------------------

resource "aws_s3_bucket" "state" {
  #checkov:skip=CKV_AWS_18:no server access logs: they would need a second, unlogged bucket; object versioning keeps every state revision
  #checkov:skip=CKV_AWS_144:cross-region replication is not set up for the state bucket; versioning keeps every earlier state
  #checkov:skip=CKV2_AWS_62:nothing consumes state bucket events
  #checkov:skip=CKV_EPH_3:the state bucket is the permanent control plane, not an ephemeral stack; force_destroy would let a destroy delete every state
  bucket = local.state_bucket

  lifecycle {
    prevent_destroy = true
  }
}

resource "aws_s3_bucket_versioning" "state" {
  bucket = aws_s3_bucket.state.id

  versioning_configuration {
    status = "Enabled"
  }
}

# SSE-KMS with the AWS managed key aws/s3: any role allowed to read or write the
# state objects can use it through S3, so no key grants are needed.
resource "aws_s3_bucket_server_side_encryption_configuration" "state" {
  bucket = aws_s3_bucket.state.id

  rule {
    apply_server_side_encryption_by_default {
      sse_algorithm = "aws:kms"
    }
    bucket_key_enabled = true
  }
}

resource "aws_s3_bucket_public_access_block" "state" {
  bucket = aws_s3_bucket.state.id

  block_public_acls       = true
  block_public_policy     = true
  ignore_public_acls      = true
  restrict_public_buckets = true
}

resource "aws_s3_bucket_ownership_controls" "state" {
  bucket = aws_s3_bucket.state.id

  rule {
    object_ownership = "BucketOwnerEnforced"
  }
}

resource "aws_s3_bucket_lifecycle_configuration" "state" {
  bucket = aws_s3_bucket.state.id

  rule {
    id     = "expire-old-state-versions"
    status = "Enabled"

    filter {}

    noncurrent_version_expiration {
      noncurrent_days = 90
    }

    abort_incomplete_multipart_upload {
      days_after_initiation = 1
    }
  }

  depends_on = [aws_s3_bucket_versioning.state]
}

data "aws_iam_policy_document" "state_tls_only" {
  statement {
    sid     = "DenyInsecureTransport"
    effect  = "Deny"
    actions = ["s3:*"]
    resources = [
      aws_s3_bucket.state.arn,
      "${aws_s3_bucket.state.arn}/*",
    ]

    principals {
      type        = "*"
      identifiers = ["*"]
    }

    condition {
      test     = "Bool"
      variable = "aws:SecureTransport"
      values   = ["false"]
    }
  }
}

resource "aws_s3_bucket_policy" "state" {
  bucket = aws_s3_bucket.state.id
  policy = data.aws_iam_policy_document.state_tls_only.json

  depends_on = [aws_s3_bucket_public_access_block.state]
}

# --- lease and run tables --------------------------------------------------------------
# The layout is ephemera/leases/dynamodb.py's table_definitions(); keep them equal.

resource "aws_dynamodb_table" "leases" {
  #checkov:skip=CKV_AWS_119:encrypted with the AWS managed key (aws/dynamodb); a customer managed key would need key grants for every reader (CI roles, janitor, operators) for no gain on lease metadata
  name                        = var.lease_table_name
  billing_mode                = "PAY_PER_REQUEST"
  hash_key                    = "env"
  deletion_protection_enabled = var.table_deletion_protection

  attribute {
    name = "env"
    type = "S"
  }

  attribute {
    name = "status"
    type = "S"
  }

  # ISO-8601 UTC fixed-width text, so string order is time order.
  attribute {
    name = "expires_at"
    type = "S"
  }

  global_secondary_index {
    name            = "status-expires_at"
    hash_key        = "status"
    range_key       = "expires_at"
    projection_type = "ALL"
  }

  point_in_time_recovery {
    enabled = true
  }

  server_side_encryption {
    enabled = true
  }
}

resource "aws_dynamodb_table" "runs" {
  #checkov:skip=CKV_AWS_119:encrypted with the AWS managed key (aws/dynamodb); a customer managed key would need key grants for every reader (CI roles, janitor, operators) for no gain on run metadata
  name                        = local.runs_table
  billing_mode                = "PAY_PER_REQUEST"
  hash_key                    = "env"
  range_key                   = "run_key"
  deletion_protection_enabled = var.table_deletion_protection

  attribute {
    name = "env"
    type = "S"
  }

  # "<started_at text>#<run id>": newest first is a Query with ScanIndexForward = false.
  attribute {
    name = "run_key"
    type = "S"
  }

  point_in_time_recovery {
    enabled = true
  }

  server_side_encryption {
    enabled = true
  }
}

# --- TTL janitor -------------------------------------------------------------------------

module "janitor" {
  source = "../modules/ttl-janitor"

  name                  = "${var.name_prefix}-ttl-janitor"
  package_path          = var.janitor_package_path
  lease_table_name      = aws_dynamodb_table.leases.name
  lease_table_arn       = aws_dynamodb_table.leases.arn
  runs_table_arn        = aws_dynamodb_table.runs.arn
  state_bucket          = aws_s3_bucket.state.id
  notify_emails         = var.notify_emails
  source_repository_url = "https://github.com/${var.github_repository}.git"
  source_version        = var.github_main_branch
  dry_run               = var.janitor_dry_run
  max_destroys          = var.janitor_max_destroys
  # The state bucket's default encryption is the AWS managed key aws/s3, whose key
  # policy already lets the account's principals decrypt through S3: no key grant.
  state_bucket_kms_key_arn = null

  # A destroy build needs the same rights as an apply.
  codebuild_policy_arns = {
    power_user = "arn:${local.partition}:iam::aws:policy/PowerUserAccess"
    stack_iam  = aws_iam_policy.stack_iam.arn
  }
}

# --- GitHub Actions OIDC -------------------------------------------------------------------

resource "aws_iam_openid_connect_provider" "github" {
  count = var.create_github_oidc_provider ? 1 : 0

  url            = "https://${local.github_oidc_host}"
  client_id_list = ["sts.amazonaws.com"]
  # AWS validates GitHub's certificate against its own trusted CAs; the list is
  # still required by older 5.x providers. These are GitHub's published thumbprints.
  thumbprint_list = [
    "6938fd4d98bab03faadb97b34396831e3780aea1",
    "1c58a3a8518e8759bf075b76b750d4f2df264fcd",
  ]
}

data "aws_iam_policy_document" "plan_trust" {
  statement {
    actions = ["sts:AssumeRoleWithWebIdentity"]

    principals {
      type        = "Federated"
      identifiers = [local.github_oidc_arn]
    }

    condition {
      test     = "StringEquals"
      variable = "${local.github_oidc_host}:aud"
      values   = ["sts.amazonaws.com"]
    }

    condition {
      test     = "StringEquals"
      variable = "${local.github_oidc_host}:sub"
      values   = local.plan_subjects
    }
  }
}

data "aws_iam_policy_document" "apply_trust" {
  statement {
    actions = ["sts:AssumeRoleWithWebIdentity"]

    principals {
      type        = "Federated"
      identifiers = [local.github_oidc_arn]
    }

    condition {
      test     = "StringEquals"
      variable = "${local.github_oidc_host}:aud"
      values   = ["sts.amazonaws.com"]
    }

    condition {
      test     = "StringEquals"
      variable = "${local.github_oidc_host}:sub"
      values   = local.apply_subjects
    }
  }
}

# --- plan role: scoped reads, plus the state lock ----------------------------------------------
# Any same-repository pull request can assume this role (its workflow runs the PR's
# own code), so it gets what `terraform plan` of the mock-api stack reads and nothing
# more: no ReadOnlyAccess (every S3 object, every state file, Lambda code and
# environment, Secrets Manager metadata, ...).
#
# What remains broad, and why:
# - Describe/List of EC2, ELB, ECS, CloudWatch Logs, Application Auto Scaling, ACM,
#   Route 53 and KMS across the whole account: a plan refreshes resources whose names
#   and IDs only each environment's state knows, and many of these reads have no
#   resource-level permissions at all ("*"). So a plan can see the account's networks,
#   load balancers, ECS services and task definitions (their container environment
#   variables too: keep secrets out of them), log groups (not their events),
#   certificates and DNS records. Instance and launch template user data, the EC2
#   reads known to carry secrets, are denied.
# - Every environment's state (envs/*): a pull request may plan any environment, and
#   a plan reads its state, which can hold secrets of that environment's resources.
# - The lock files of every environment (envs/*/terraform.tfstate.tflock): a plan
#   takes and releases the lock of the environment it plans; IAM cannot tie a lock
#   to its writer, so a hostile pull request could also remove another run's lock.
#   It can neither read nor write any state itself.

resource "aws_iam_role" "plan" {
  name                 = "${var.name_prefix}-plan"
  description          = "GitHub Actions on pull requests of ${var.github_repository}: terraform plan (scoped reads, the state lock)."
  assume_role_policy   = data.aws_iam_policy_document.plan_trust.json
  max_session_duration = 3600
}

data "aws_iam_policy_document" "plan_read" {
  #checkov:skip=CKV_AWS_356:ec2:Describe* on "*": most EC2 describes have no resource-level permissions, and a plan refreshes VPCs, subnets, routes, gateways, addresses and security groups whose IDs only the state knows; the user-data reads among them are denied below
  # Reads that have no resource-level permissions: "*" is the only form.
  statement {
    sid = "ReadsWithoutResourceLevelPermissions"
    actions = [
      "ec2:Describe*",
      "elasticloadbalancing:Describe*",
      "ecs:DescribeTaskDefinition",
      "ecs:ListClusters",
      "ecs:ListServices",
      "ecs:ListTaskDefinitions",
      "logs:DescribeLogGroups",
      "application-autoscaling:Describe*",
      "acm:ListCertificates",
      "kms:ListAliases",
      "sts:GetCallerIdentity",
    ]
    resources = ["*"]
  }

  # Reads that do have them: this account's resources only.
  statement {
    sid = "ReadAccountResources"
    actions = [
      "ecs:Describe*",
      "ecs:List*",
      "logs:ListTagsForResource",
      "logs:ListTagsLogGroup",
      "application-autoscaling:ListTagsForResource",
      "acm:DescribeCertificate",
      "acm:ListTagsForCertificate",
      "kms:DescribeKey",
    ]
    resources = [
      "arn:${local.partition}:ecs:*:${local.account_id}:*",
      "arn:${local.partition}:logs:*:${local.account_id}:log-group:*",
      "arn:${local.partition}:application-autoscaling:*:${local.account_id}:scalable-target/*",
      "arn:${local.partition}:acm:*:${local.account_id}:certificate/*",
      "arn:${local.partition}:kms:*:${local.account_id}:key/*",
    ]
  }

  # Route 53 ARNs carry no account: the hosted zones and changes this account can see.
  statement {
    sid = "ReadDnsRecords"
    actions = [
      "route53:GetHostedZone",
      "route53:ListResourceRecordSets",
      "route53:ListTagsForResource",
      "route53:GetChange",
    ]
    resources = [
      "arn:${local.partition}:route53:::hostedzone/*",
      "arn:${local.partition}:route53:::change/*",
    ]
  }

  statement {
    sid    = "NoUserData"
    effect = "Deny"
    actions = [
      "ec2:DescribeInstanceAttribute",
      "ec2:DescribeLaunchTemplateVersions",
    ]
    resources = ["*"]
  }

  statement {
    sid = "ReadStackRoles"
    actions = [
      "iam:GetRole",
      "iam:GetRolePolicy",
      "iam:ListRolePolicies",
      "iam:ListAttachedRolePolicies",
      "iam:ListRoleTags",
      "iam:ListInstanceProfilesForRole",
    ]
    resources = [local.stack_role_arns]
  }

  # The configuration of the stacks' buckets (HeadBucket is s3:ListBucket), and the
  # expectations object itself (HeadObject is s3:GetObject): copies of files in git.
  statement {
    sid = "ReadStackBuckets"
    actions = [
      "s3:ListBucket",
      "s3:GetBucket*",
      "s3:GetAccelerateConfiguration",
      "s3:GetEncryptionConfiguration",
      "s3:GetLifecycleConfiguration",
      "s3:GetReplicationConfiguration",
    ]
    resources = [local.stack_bucket_arns]

    condition {
      test     = "StringEquals"
      variable = "s3:ResourceAccount"
      values   = [local.account_id]
    }
  }

  statement {
    sid       = "ReadStackObjects"
    actions   = ["s3:GetObject", "s3:GetObjectTagging"]
    resources = ["${local.stack_bucket_arns}/*"]

    condition {
      test     = "StringEquals"
      variable = "s3:ResourceAccount"
      values   = [local.account_id]
    }
  }

  # The leases: what `ci-plan` shows about an environment (expiry, status).
  statement {
    sid = "ReadLeases"
    actions = [
      "dynamodb:DescribeTable",
      "dynamodb:GetItem",
      "dynamodb:BatchGetItem",
      "dynamodb:Query",
    ]
    resources = [
      aws_dynamodb_table.leases.arn,
      "${aws_dynamodb_table.leases.arn}/index/*",
      aws_dynamodb_table.runs.arn,
    ]
  }
}

resource "aws_iam_role_policy" "plan_read" {
  name   = "plan-reads"
  role   = aws_iam_role.plan.id
  policy = data.aws_iam_policy_document.plan_read.json
}

data "aws_iam_policy_document" "plan_state" {
  statement {
    sid       = "ListState"
    actions   = ["s3:ListBucket"]
    resources = [aws_s3_bucket.state.arn]
  }

  statement {
    sid       = "ReadState"
    actions   = ["s3:GetObject"]
    resources = ["${aws_s3_bucket.state.arn}/envs/*"]
  }

  # terraform plan takes the S3 native lock (use_lockfile): it writes and then
  # deletes envs/<env>/terraform.tfstate.tflock, and may write nothing else.
  statement {
    sid       = "StateLock"
    actions   = ["s3:PutObject", "s3:DeleteObject"]
    resources = ["${aws_s3_bucket.state.arn}/envs/*/terraform.tfstate.tflock"]
  }
}

resource "aws_iam_role_policy" "plan_state" {
  name   = "state-and-lock"
  role   = aws_iam_role.plan.id
  policy = data.aws_iam_policy_document.plan_state.json
}

# --- apply role: deploy rights --------------------------------------------------------------
# PowerUserAccess (everything but IAM, Organizations and Account) for the
# stacks' resources, the state bucket, the lease tables and the topic, plus IAM
# limited to the roles the stacks create under /ephemera/, each of which must
# carry the stack permissions boundary below.

# What a stack role may ever do, whatever policies it is given: the needs of an ECS
# task and its execution role. Nothing IAM, so neither the apply role nor the
# destroy build can mint a role with more rights than this for itself.
data "aws_iam_policy_document" "stack_boundary" {
  # ecr:GetAuthorizationToken has no resource-level permissions.
  statement {
    sid       = "EcrLogin"
    actions   = ["ecr:GetAuthorizationToken"]
    resources = ["*"]
  }

  statement {
    sid = "EcrPull"
    actions = [
      "ecr:BatchCheckLayerAvailability",
      "ecr:BatchGetImage",
      "ecr:GetDownloadUrlForLayer",
    ]
    resources = ["arn:${local.partition}:ecr:*:${local.account_id}:repository/*"]
  }

  # mockserver-service's log groups are /ephemera/<env>/...
  statement {
    sid       = "ContainerLogs"
    actions   = ["logs:CreateLogStream", "logs:PutLogEvents"]
    resources = ["arn:${local.partition}:logs:*:${local.account_id}:log-group:/ephemera/*"]
  }

  statement {
    sid       = "ReadExpectations"
    actions   = ["s3:GetObject"]
    resources = ["${local.stack_bucket_arns}/*"]

    condition {
      test     = "StringEquals"
      variable = "s3:ResourceAccount"
      values   = [local.account_id]
    }
  }

  # Objects encrypted with a KMS key are decrypted through S3 only.
  statement {
    sid       = "DecryptThroughS3"
    actions   = ["kms:Decrypt"]
    resources = ["arn:${local.partition}:kms:*:${local.account_id}:key/*"]

    condition {
      test     = "StringLike"
      variable = "kms:ViaService"
      values   = ["s3.*.amazonaws.com"]
    }
  }
}

resource "aws_iam_policy" "stack_boundary" {
  name        = "${var.name_prefix}-stack-boundary"
  description = "Permissions boundary of every role an Ephemera stack creates: ECR pull, container logs, reading the stacks' buckets. Nothing IAM."
  policy      = data.aws_iam_policy_document.stack_boundary.json
}

data "aws_iam_policy_document" "stack_iam" {
  # Creating a role, or giving one rights, only with the boundary attached: the
  # condition key is the boundary of the role being created or changed.
  statement {
    sid = "BoundedStackRoles"
    actions = [
      "iam:CreateRole",
      "iam:PutRolePolicy",
      "iam:AttachRolePolicy",
      "iam:PutRolePermissionsBoundary",
    ]
    resources = [local.stack_role_arns]

    condition {
      test     = "StringEquals"
      variable = "iam:PermissionsBoundary"
      values   = [aws_iam_policy.stack_boundary.arn]
    }
  }

  # Reading, describing, tagging, taking rights away, deleting. No
  # iam:UpdateAssumeRolePolicy: the stacks' trust policies are constant (ecs-tasks);
  # a changed one means replacing the role (terraform apply -replace).
  statement {
    sid = "ManageStackRoles"
    actions = [
      "iam:DeleteRole",
      "iam:GetRole",
      "iam:UpdateRole",
      "iam:UpdateRoleDescription",
      "iam:TagRole",
      "iam:UntagRole",
      "iam:ListRoleTags",
      "iam:GetRolePolicy",
      "iam:DeleteRolePolicy",
      "iam:DetachRolePolicy",
      "iam:ListRolePolicies",
      "iam:ListAttachedRolePolicies",
      "iam:ListInstanceProfilesForRole",
    ]
    resources = [local.stack_role_arns]
  }

  statement {
    sid       = "PassStackRolesToEcsTasks"
    actions   = ["iam:PassRole"]
    resources = [local.stack_role_arns]

    condition {
      test     = "StringEquals"
      variable = "iam:PassedToService"
      values   = ["ecs-tasks.amazonaws.com"]
    }
  }

  # First use of ECS, load balancing and application auto scaling in an account.
  statement {
    sid       = "ServiceLinkedRoles"
    actions   = ["iam:CreateServiceLinkedRole"]
    resources = ["arn:${local.partition}:iam::${local.account_id}:role/aws-service-role/*"]

    condition {
      test     = "StringEquals"
      variable = "iam:AWSServiceName"
      values = [
        "ecs.amazonaws.com",
        "elasticloadbalancing.amazonaws.com",
        "ecs.application-autoscaling.amazonaws.com",
      ]
    }
  }

  # The guard rails hold even if a broader policy is attached to these roles later:
  # no role created or given rights without the boundary, anywhere ...
  statement {
    sid    = "NeverWithoutTheBoundary"
    effect = "Deny"
    actions = [
      "iam:CreateRole",
      "iam:PutRolePolicy",
      "iam:AttachRolePolicy",
      "iam:PutRolePermissionsBoundary",
    ]
    resources = ["*"]

    condition {
      test     = "StringNotEquals"
      variable = "iam:PermissionsBoundary"
      values   = [aws_iam_policy.stack_boundary.arn]
    }
  }

  # ... no boundary removed ...
  statement {
    sid       = "KeepBoundaries"
    effect    = "Deny"
    actions   = ["iam:DeleteRolePermissionsBoundary"]
    resources = ["*"]
  }

  # ... and neither the boundary nor this policy rewritten.
  statement {
    sid    = "NeverChangeTheGuardRails"
    effect = "Deny"
    actions = [
      "iam:CreatePolicyVersion",
      "iam:DeletePolicy",
      "iam:DeletePolicyVersion",
      "iam:SetDefaultPolicyVersion",
    ]
    resources = [
      aws_iam_policy.stack_boundary.arn,
      local.stack_iam_policy_arn,
    ]
  }
}

resource "aws_iam_policy" "stack_iam" {
  name        = local.stack_iam_policy_name
  description = "IAM rights to deploy and destroy Ephemera stacks: roles under /ephemera/ only, each with the stack permissions boundary, passed only to ECS tasks."
  policy      = data.aws_iam_policy_document.stack_iam.json
}

resource "aws_iam_role" "apply" {
  name                 = "${var.name_prefix}-apply"
  description          = "GitHub Actions on ${var.github_main_branch} of ${var.github_repository} (or its apply environment): terraform apply and destroy."
  assume_role_policy   = data.aws_iam_policy_document.apply_trust.json
  max_session_duration = 7200
}

resource "aws_iam_role_policy_attachment" "apply_power_user" {
  role       = aws_iam_role.apply.name
  policy_arn = "arn:${local.partition}:iam::aws:policy/PowerUserAccess"
}

resource "aws_iam_role_policy_attachment" "apply_stack_iam" {
  role       = aws_iam_role.apply.name
  policy_arn = aws_iam_policy.stack_iam.arn
}
