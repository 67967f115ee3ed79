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

  # Subjects GitHub puts in its OIDC tokens.
  plan_subjects = ["repo:${var.github_repository}:pull_request"]
  apply_subjects = concat(
    ["repo:${var.github_repository}:ref:refs/heads/${var.github_main_branch}"],
    var.github_apply_environment == null ? [] : ["repo:${var.github_repository}:environment:${var.github_apply_environment}"],
  )

  # Roles the stacks create live under this IAM path (mockserver-service's iam_path).
  stack_role_arns = "arn:${local.partition}:iam::${local.account_id}:role/ephemera/*"
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

# --- plan role: read-only, plus the state lock ------------------------------------------------

resource "aws_iam_role" "plan" {
  name                 = "${var.name_prefix}-plan"
  description          = "GitHub Actions on pull requests of ${var.github_repository}: terraform plan (read-only)."
  assume_role_policy   = data.aws_iam_policy_document.plan_trust.json
  max_session_duration = 3600
}

resource "aws_iam_role_policy_attachment" "plan_read_only" {
  role       = aws_iam_role.plan.name
  policy_arn = "arn:${local.partition}:iam::aws:policy/ReadOnlyAccess"
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
# limited to the roles the stacks create under /ephemera/ with inline policies.

data "aws_iam_policy_document" "stack_iam" {
  statement {
    sid = "ManageStackRoles"
    actions = [
      "iam:CreateRole",
      "iam:DeleteRole",
      "iam:GetRole",
      "iam:UpdateRole",
      "iam:UpdateRoleDescription",
      "iam:UpdateAssumeRolePolicy",
      "iam:TagRole",
      "iam:UntagRole",
      "iam:ListRoleTags",
      "iam:PutRolePolicy",
      "iam:GetRolePolicy",
      "iam:DeleteRolePolicy",
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
}

resource "aws_iam_policy" "stack_iam" {
  name        = "${var.name_prefix}-stack-iam"
  description = "IAM rights to deploy and destroy Ephemera stacks: roles under /ephemera/ only, passed only to ECS tasks."
  policy      = data.aws_iam_policy_document.stack_iam.json
}

resource "aws_iam_role" "apply" {
  name                 = "${var.name_prefix}-apply"
  description          = "GitHub Actions on ${var.github_main_branch} of ${var.github_repository}: terraform apply and destroy."
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
