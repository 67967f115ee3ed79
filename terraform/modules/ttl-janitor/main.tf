# The TTL janitor on AWS: every 5 minutes EventBridge Scheduler invokes a Lambda
# that sweeps the lease table (warnings, expiry). For each expired environment it
# claims the lease and starts a CodeBuild build running
# `make destroy ENV=<env> AUTO_APPROVE=1`; failures and warnings go to an SNS topic.
#
# Lambda environment variables (read by lambda/ttl_janitor/handler.py):
#   LEASE_TABLE        DynamoDB lease table name (the run history is <LEASE_TABLE>-runs)
#   NOTIFY_TOPIC_ARN   SNS topic for warnings, destroy reports and failures
#   DISPATCH           how a destroy is run: "codebuild" (start a build of CODEBUILD_PROJECT)
#   CODEBUILD_PROJECT  name of the destroy project; each build gets ENV=<env> as an override
#   DRY_RUN            "true": report what would be destroyed, change nothing; "false": act
#   MAX_DESTROYS       at most this many destroys dispatched per sweep
#   STATE_BUCKET       Terraform state bucket: warnings say how many resources
#                      envs/<env>/terraform.tfstate holds
#
# Encryption: the topic uses a customer managed KMS key created here, not the
# AWS managed key alias/aws/sns: CloudWatch alarms cannot publish to a topic
# encrypted with alias/aws/sns (its key policy cannot grant cloudwatch.amazonaws.com),
# so the Errors alarm below would never notify. The same key encrypts the log
# groups and the CodeBuild project.

data "aws_partition" "current" {}

data "aws_region" "current" {}

data "aws_caller_identity" "current" {}

locals {
  partition  = data.aws_partition.current.partition
  region     = data.aws_region.current.region
  account_id = data.aws_caller_identity.current.account_id

  lambda_log_group    = "/aws/lambda/${var.name}"
  codebuild_log_group = "/aws/codebuild/${var.name}-destroy"
  # Built from the names: the log groups refer to the key, so the key policy cannot
  # refer to them.
  log_group_arns = [
    for group in [local.lambda_log_group, local.codebuild_log_group] :
    "arn:${local.partition}:logs:${local.region}:${local.account_id}:log-group:${group}"
  ]

  # The one state object per environment that the warning pass reads.
  state_objects_arn = "arn:${local.partition}:s3:::${var.state_bucket}/envs/*/terraform.tfstate"

  buildspec = <<-EOT
    version: 0.2
    env:
      shell: bash
    phases:
      install:
        runtime-versions:
          python: 3.11
      build:
        commands:
          - test -n "$ENV" || { echo "ENV is not set" >&2; exit 2; }
          - make destroy ENV="$ENV" AUTO_APPROVE=1
  EOT
}

# --- KMS key (topic, log groups, CodeBuild) ---------------------------------------

# Service principals may use the key only on behalf of this account (aws:SourceAccount,
# against the confused deputy): CloudWatch for the Errors alarm's notifications,
# CloudWatch Logs for the janitor's two log groups only.
data "aws_iam_policy_document" "key" {
  statement {
    sid       = "AccountAdministersAndDelegatesToIam"
    actions   = ["kms:*"]
    resources = ["*"]

    principals {
      type        = "AWS"
      identifiers = ["arn:${local.partition}:iam::${local.account_id}:root"]
    }
  }

  statement {
    sid       = "CloudWatchAlarmsPublishToTheTopic"
    actions   = ["kms:Decrypt", "kms:GenerateDataKey*"]
    resources = ["*"]

    principals {
      type        = "Service"
      identifiers = ["cloudwatch.amazonaws.com"]
    }

    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [local.account_id]
    }
  }

  statement {
    sid       = "CloudWatchLogsEncryptTheJanitorsLogGroups"
    actions   = ["kms:Encrypt*", "kms:Decrypt*", "kms:ReEncrypt*", "kms:GenerateDataKey*", "kms:Describe*"]
    resources = ["*"]

    principals {
      type        = "Service"
      identifiers = ["logs.${local.region}.amazonaws.com"]
    }

    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [local.account_id]
    }

    condition {
      test     = "ArnLike"
      variable = "kms:EncryptionContext:aws:logs:arn"
      values   = local.log_group_arns
    }
  }
}

resource "aws_kms_key" "this" {
  description             = "${var.name}: encrypts the notification topic, the janitor's log groups and its CodeBuild project"
  enable_key_rotation     = true
  deletion_window_in_days = 30
  policy                  = data.aws_iam_policy_document.key.json

  tags = var.tags
}

resource "aws_kms_alias" "this" {
  name          = "alias/${var.name}"
  target_key_id = aws_kms_key.this.key_id
}

# --- notifications ----------------------------------------------------------------------

resource "aws_sns_topic" "this" {
  name              = var.name
  kms_master_key_id = aws_kms_key.this.arn

  tags = var.tags
}

resource "aws_sns_topic_subscription" "email" {
  for_each = toset(var.notify_emails)

  topic_arn = aws_sns_topic.this.arn
  protocol  = "email"
  endpoint  = each.value
}

# --- logs ----------------------------------------------------------------------------------

resource "aws_cloudwatch_log_group" "lambda" {
  name              = local.lambda_log_group
  retention_in_days = var.log_retention_days
  kms_key_id        = aws_kms_key.this.arn

  tags = var.tags
}

resource "aws_cloudwatch_log_group" "codebuild" {
  name              = local.codebuild_log_group
  retention_in_days = var.log_retention_days
  kms_key_id        = aws_kms_key.this.arn

  tags = var.tags
}

# --- Lambda ---------------------------------------------------------------------------------

# The scheduler and the destroy build assume their roles only for this account.
data "aws_iam_policy_document" "service_assume" {
  for_each = toset(["scheduler", "codebuild"])

  statement {
    actions = ["sts:AssumeRole"]

    principals {
      type        = "Service"
      identifiers = ["${each.key}.amazonaws.com"]
    }

    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [local.account_id]
    }
  }
}

data "aws_iam_policy_document" "lambda_assume" {
  statement {
    actions = ["sts:AssumeRole"]

    principals {
      type        = "Service"
      identifiers = ["lambda.amazonaws.com"]
    }
  }
}

resource "aws_iam_role" "lambda" {
  name               = "${var.name}-lambda"
  description        = "The TTL janitor Lambda: leases, notifications, destroy builds."
  assume_role_policy = data.aws_iam_policy_document.lambda_assume.json

  tags = var.tags
}

data "aws_iam_policy_document" "lambda" {
  # No Scan: both the warning and the expiry pass query the status-expires_at index.
  statement {
    sid       = "Leases"
    actions   = ["dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:Query"]
    resources = [var.lease_table_arn]
  }

  statement {
    sid       = "LeaseIndexes"
    actions   = ["dynamodb:Query"]
    resources = ["${var.lease_table_arn}/index/*"]
  }

  # The run history (<lease table>-runs): each sweep's claims and destroys are recorded.
  statement {
    sid       = "RunHistory"
    actions   = ["dynamodb:PutItem", "dynamodb:Query"]
    resources = [var.runs_table_arn]
  }

  statement {
    sid       = "Notify"
    actions   = ["sns:Publish"]
    resources = [aws_sns_topic.this.arn]
  }

  # Publishing to the encrypted topic needs the topic's key.
  statement {
    sid       = "NotifyEncrypted"
    actions   = ["kms:GenerateDataKey*", "kms:Decrypt"]
    resources = [aws_kms_key.this.arn]
  }

  statement {
    sid       = "DispatchDestroy"
    actions   = ["codebuild:StartBuild"]
    resources = [aws_codebuild_project.destroy.arn]
  }

  # Checks that a destroyed environment left no tagged resources behind.
  # tag:GetResources has no resource-level permissions: "*" is the only form.
  statement {
    sid       = "FindLeftovers"
    actions   = ["tag:GetResources"]
    resources = ["*"]
  }

  # The warning pass counts the resources in an environment's state.
  statement {
    sid       = "CountStateResources"
    actions   = ["s3:GetObject"]
    resources = [local.state_objects_arn]
  }

  # Only when the state bucket encrypts with a customer managed key, and only through S3.
  dynamic "statement" {
    for_each = var.state_bucket_kms_key_arn == null ? [] : [var.state_bucket_kms_key_arn]

    content {
      sid       = "DecryptState"
      actions   = ["kms:Decrypt"]
      resources = [statement.value]

      condition {
        test     = "StringEquals"
        variable = "kms:ViaService"
        values   = ["s3.${local.region}.amazonaws.com"]
      }
    }
  }

  statement {
    sid       = "OwnLogs"
    actions   = ["logs:CreateLogStream", "logs:PutLogEvents"]
    resources = ["${aws_cloudwatch_log_group.lambda.arn}:*"]
  }
}

resource "aws_iam_role_policy" "lambda" {
  name   = "ttl-janitor"
  role   = aws_iam_role.lambda.id
  policy = data.aws_iam_policy_document.lambda.json
}

resource "aws_lambda_function" "this" {
  #checkov:skip=CKV_AWS_50:no X-Ray tracing for a 5-minute sweep making a few API calls; its logs and the Errors alarm cover it
  #checkov:skip=CKV_AWS_116:invoked by EventBridge Scheduler every 5 minutes: a failed sweep is redone by the next one and raises the Errors alarm, a dead-letter queue would add nothing
  #checkov:skip=CKV_AWS_117:talks only to AWS APIs (DynamoDB, SNS, CodeBuild), nothing inside a VPC
  #checkov:skip=CKV_AWS_173:the environment holds only names, an ARN and flags, no secrets; Lambda encrypts it at rest with its service key
  #checkov:skip=CKV_AWS_272:the package is built from the reviewed repository by CI; no code signing profile is set up for it
  function_name = var.name
  description   = "Ephemera TTL janitor: warns before expiry and dispatches destroys of expired environments."
  role          = aws_iam_role.lambda.arn
  runtime       = "python3.12"
  handler       = "handler.handler"
  architectures = ["x86_64"]
  memory_size   = 256
  timeout       = var.lambda_timeout_seconds

  filename         = var.package_path
  source_code_hash = filebase64sha256(var.package_path)

  reserved_concurrent_executions = var.reserved_concurrency

  environment {
    variables = {
      LEASE_TABLE       = var.lease_table_name
      NOTIFY_TOPIC_ARN  = aws_sns_topic.this.arn
      DISPATCH          = "codebuild"
      CODEBUILD_PROJECT = aws_codebuild_project.destroy.name
      DRY_RUN           = var.dry_run ? "true" : "false"
      MAX_DESTROYS      = tostring(var.max_destroys)
      STATE_BUCKET      = var.state_bucket
    }
  }

  tags = var.tags

  # The log group (with its retention and key) must exist before the first
  # invocation, or Lambda would create one without either.
  depends_on = [aws_cloudwatch_log_group.lambda, aws_iam_role_policy.lambda]
}

resource "aws_cloudwatch_metric_alarm" "errors" {
  alarm_name          = "${var.name}-errors"
  alarm_description   = "The TTL janitor Lambda failed: expired environments may not be destroyed. See ${local.lambda_log_group}."
  namespace           = "AWS/Lambda"
  metric_name         = "Errors"
  dimensions          = { FunctionName = aws_lambda_function.this.function_name }
  statistic           = "Sum"
  period              = 300
  evaluation_periods  = 1
  threshold           = 0
  comparison_operator = "GreaterThanThreshold"
  treat_missing_data  = "notBreaching"
  alarm_actions       = [aws_sns_topic.this.arn]
  ok_actions          = [aws_sns_topic.this.arn]

  tags = var.tags
}

# --- schedule ---------------------------------------------------------------------------------

resource "aws_iam_role" "scheduler" {
  name               = "${var.name}-scheduler"
  description        = "EventBridge Scheduler: invokes the TTL janitor Lambda, nothing else."
  assume_role_policy = data.aws_iam_policy_document.service_assume["scheduler"].json

  tags = var.tags
}

data "aws_iam_policy_document" "scheduler" {
  statement {
    sid       = "InvokeJanitor"
    actions   = ["lambda:InvokeFunction"]
    resources = [aws_lambda_function.this.arn]
  }
}

resource "aws_iam_role_policy" "scheduler" {
  name   = "invoke-ttl-janitor"
  role   = aws_iam_role.scheduler.id
  policy = data.aws_iam_policy_document.scheduler.json
}

# Schedules themselves take no tags; their group does.
resource "aws_scheduler_schedule_group" "this" {
  name = var.name

  tags = var.tags
}

resource "aws_scheduler_schedule" "sweep" {
  #checkov:skip=CKV_AWS_297:the schedule holds only a constant, non-sensitive input; an own key would also require kms:Decrypt for the scheduler role, which may only invoke the function
  name                = "${var.name}-sweep"
  group_name          = aws_scheduler_schedule_group.this.name
  description         = "Runs the Ephemera TTL janitor sweep."
  schedule_expression = var.schedule_expression
  state               = "ENABLED"

  flexible_time_window {
    mode = "OFF"
  }

  target {
    arn      = aws_lambda_function.this.arn
    role_arn = aws_iam_role.scheduler.arn
    input    = jsonencode({ source = "ephemera.ttl-janitor.schedule" })

    # A missed sweep is simply done by the next one.
    retry_policy {
      maximum_event_age_in_seconds = 300
      maximum_retry_attempts       = 0
    }
  }
}

# --- destroy builds -----------------------------------------------------------------------------

resource "aws_iam_role" "codebuild" {
  name               = "${var.name}-destroy"
  description        = "The destroy build: runs make destroy for one environment."
  assume_role_policy = data.aws_iam_policy_document.service_assume["codebuild"].json

  tags = var.tags
}

data "aws_iam_policy_document" "codebuild" {
  statement {
    sid       = "OwnLogs"
    actions   = ["logs:CreateLogStream", "logs:PutLogEvents"]
    resources = ["${aws_cloudwatch_log_group.codebuild.arn}:*"]
  }

  statement {
    sid       = "ProjectKey"
    actions   = ["kms:Decrypt", "kms:GenerateDataKey*", "kms:DescribeKey"]
    resources = [aws_kms_key.this.arn]
  }
}

resource "aws_iam_role_policy" "codebuild" {
  name   = "destroy-build"
  role   = aws_iam_role.codebuild.id
  policy = data.aws_iam_policy_document.codebuild.json
}

resource "aws_iam_role_policy_attachment" "codebuild" {
  for_each = var.codebuild_policy_arns

  role       = aws_iam_role.codebuild.name
  policy_arn = each.value
}

resource "aws_codebuild_project" "destroy" {
  name           = "${var.name}-destroy"
  description    = "Destroys one Ephemera environment: make destroy ENV=$ENV AUTO_APPROVE=1 (ENV is set per build)."
  service_role   = aws_iam_role.codebuild.arn
  build_timeout  = var.build_timeout_minutes
  encryption_key = aws_kms_key.this.arn
  source_version = var.source_version

  artifacts {
    type = "NO_ARTIFACTS"
  }

  environment {
    type                        = "LINUX_CONTAINER"
    compute_type                = var.codebuild_compute_type
    image                       = var.codebuild_image
    image_pull_credentials_type = "CODEBUILD"
    privileged_mode             = false

    # ENV is not set here: every build the janitor starts passes ENV=<env> (and
    # AUTO_APPROVE=1) as environmentVariablesOverride; the buildspec refuses to
    # run without it.
    environment_variable {
      name  = "AUTO_APPROVE"
      value = "1"
    }
  }

  source {
    type            = "GITHUB"
    location        = var.source_repository_url
    git_clone_depth = 1
    buildspec       = local.buildspec
  }

  logs_config {
    cloudwatch_logs {
      status     = "ENABLED"
      group_name = aws_cloudwatch_log_group.codebuild.name
    }

    s3_logs {
      status = "DISABLED"
    }
  }

  tags = var.tags

  depends_on = [aws_iam_role_policy.codebuild]
}
