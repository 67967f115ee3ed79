# The mock-api stack: a MockServer on ECS Fargate behind an ALB, in its own VPC,
# serving the expectations file the environment names. Every resource carries
# the environment's tags through the provider's default_tags.

locals {
  expectations_path = abspath("${var.project_root}/${var.expectations_file}")
  # Content hash: a change re-uploads the object (source_hash) and, through the
  # task definition, rolls out a new deployment that loads it.
  expectations_md5 = filemd5(local.expectations_path)
  expectations_key = "mockserver/expectations.json"
}

# --- the environment's expectations bucket -------------------------------------------

resource "aws_s3_bucket" "expectations" {
  #checkov:skip=CKV_AWS_18:access logs are not kept for an hours-long bucket holding one object uploaded by Terraform
  #checkov:skip=CKV_AWS_144:no cross-region replication: the object is re-uploaded from git on every apply
  #checkov:skip=CKV2_AWS_62:nothing consumes events of this bucket; its single object is managed by Terraform
  # Versioning is optional (expectations_versioning): the object's source of truth
  # is the expectations file in git.
  # At most 37 characters: S3 appends a 26-character unique suffix.
  bucket_prefix = "${substr("eph-${var.environment}", 0, 36)}-"
  # The bucket lives and dies with the environment.
  force_destroy = true
}

resource "aws_s3_bucket_public_access_block" "expectations" {
  bucket = aws_s3_bucket.expectations.id

  block_public_acls       = true
  block_public_policy     = true
  ignore_public_acls      = true
  restrict_public_buckets = true
}

resource "aws_s3_bucket_ownership_controls" "expectations" {
  bucket = aws_s3_bucket.expectations.id

  rule {
    object_ownership = "BucketOwnerEnforced"
  }
}

# SSE-KMS with the AWS managed key (aws/s3): readers need only s3:GetObject.
resource "aws_s3_bucket_server_side_encryption_configuration" "expectations" {
  bucket = aws_s3_bucket.expectations.id

  rule {
    apply_server_side_encryption_by_default {
      sse_algorithm = "aws:kms"
    }
    bucket_key_enabled = true
  }
}

resource "aws_s3_bucket_versioning" "expectations" {
  count = var.expectations_versioning ? 1 : 0

  bucket = aws_s3_bucket.expectations.id

  versioning_configuration {
    status = "Enabled"
  }
}

resource "aws_s3_bucket_lifecycle_configuration" "expectations" {
  bucket = aws_s3_bucket.expectations.id

  rule {
    id     = "tidy-up"
    status = "Enabled"

    filter {}

    abort_incomplete_multipart_upload {
      days_after_initiation = 1
    }

    noncurrent_version_expiration {
      noncurrent_days = 7
    }
  }

  # Versioning must be configured before rules about noncurrent versions.
  depends_on = [aws_s3_bucket_versioning.expectations]
}

data "aws_iam_policy_document" "expectations_tls_only" {
  statement {
    sid     = "DenyInsecureTransport"
    effect  = "Deny"
    actions = ["s3:*"]
    resources = [
      aws_s3_bucket.expectations.arn,
      "${aws_s3_bucket.expectations.arn}/*",
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

resource "aws_s3_bucket_policy" "expectations" {
  bucket = aws_s3_bucket.expectations.id
  policy = data.aws_iam_policy_document.expectations_tls_only.json

  # Applying a bucket policy while the public access block is being set up fails.
  depends_on = [aws_s3_bucket_public_access_block.expectations]
}

resource "aws_s3_object" "expectations" {
  bucket       = aws_s3_bucket.expectations.id
  key          = local.expectations_key
  source       = local.expectations_path
  content_type = "application/json"
  # Not etag: with SSE-KMS the object's ETag is not the MD5 of its content, so
  # etag = filemd5() would show a change on every plan.
  source_hash = local.expectations_md5

  depends_on = [
    aws_s3_bucket_server_side_encryption_configuration.expectations,
    aws_s3_bucket_ownership_controls.expectations,
  ]
}

# --- network and service --------------------------------------------------------------

module "network" {
  source = "../../modules/network"

  name       = var.environment
  cidr_block = var.vpc_cidr
  nat_mode   = var.nat_mode
}

module "mockserver" {
  source = "../../modules/mockserver-service"

  name                = var.environment
  vpc_id              = module.network.vpc_id
  public_subnet_ids   = module.network.public_subnet_ids
  task_subnet_ids     = module.network.task_subnet_ids
  assign_public_ip    = module.network.assign_public_ip
  instance_size       = var.instance_size
  min_tasks           = var.min_tasks
  max_tasks           = var.max_tasks
  container_port      = var.container_port
  domain_name         = var.domain_name
  hosted_zone_id      = var.hosted_zone_id
  allowed_cidrs       = var.allowed_cidrs
  control_plane_cidrs = var.control_plane_cidrs
  log_retention_days  = var.log_retention_days

  permissions_boundary_arn = var.permissions_boundary_arn

  expectations_bucket = aws_s3_bucket.expectations.id
  # Referencing the object (not the local) makes the service wait for the upload.
  expectations_key  = aws_s3_object.expectations.key
  expectations_hash = local.expectations_md5
}
