variable "name" {
  type        = string
  default     = "ephemera-ttl-janitor"
  description = "Name of the Lambda function and prefix of the janitor's other resources (topic, roles, CodeBuild project, schedule)."

  validation {
    condition     = can(regex("^[a-zA-Z][a-zA-Z0-9-]{0,39}$", var.name))
    error_message = "name must be 1-40 characters: letters, digits and hyphens, starting with a letter."
  }
}

variable "package_path" {
  type        = string
  description = "Path of the janitor's Lambda zip (lambda/ttl_janitor with the ephemera package; handler handler.handler), built before apply."
}

variable "lease_table_name" {
  type        = string
  description = "Name of the DynamoDB lease table (passed to the Lambda as LEASE_TABLE)."
}

variable "lease_table_arn" {
  type        = string
  description = "ARN of the DynamoDB lease table; the Lambda may get, put and update its items and query it and its indexes (no Scan), nothing else."
}

variable "runs_table_arn" {
  type        = string
  description = "ARN of the run-history table (<lease table>-runs, found by the Lambda from LEASE_TABLE); the Lambda may put and query its items."
}

variable "state_bucket" {
  type        = string
  description = "Name of the Terraform state bucket (passed to the Lambda as STATE_BUCKET): TTL warnings say how many resources envs/<env>/terraform.tfstate holds. The Lambda may read those objects, nothing else in the bucket."

  validation {
    condition     = can(regex("^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$", var.state_bucket))
    error_message = "state_bucket must be an S3 bucket name (3-63 lower-case letters, digits, dots and hyphens)."
  }
}

variable "state_bucket_kms_key_arn" {
  type        = string
  default     = null
  description = "ARN of the customer managed KMS key the state bucket encrypts with; the Lambda may decrypt with it through S3. null: the bucket uses SSE-S3 or the AWS managed key aws/s3, which need no grant."
}

variable "notify_emails" {
  type        = list(string)
  default     = []
  description = "Email addresses subscribed to the notification topic (each must confirm the subscription)."

  validation {
    condition     = alltrue([for email in var.notify_emails : can(regex("^[^@\\s]+@[^@\\s]+\\.[^@\\s]+$", email))])
    error_message = "notify_emails must be email addresses."
  }
}

variable "source_repository_url" {
  type        = string
  description = "HTTPS clone URL of the GitHub repository the destroy build checks out (e.g. https://github.com/acme/ephemera.git)."

  validation {
    condition     = can(regex("^https://github\\.com/[^/]+/[^/]+$", var.source_repository_url))
    error_message = "source_repository_url must look like https://github.com/<owner>/<repo>(.git)."
  }
}

variable "source_version" {
  type        = string
  default     = "main"
  description = "Branch, tag or commit the destroy build checks out."
}

variable "codebuild_image" {
  type        = string
  default     = "aws/codebuild/amazonlinux2-x86_64-standard:5.0"
  description = "CodeBuild image of the destroy build (needs Python 3.11+ and make)."
}

variable "codebuild_compute_type" {
  type        = string
  default     = "BUILD_GENERAL1_SMALL"
  description = "CodeBuild compute type of the destroy build."

  validation {
    condition     = contains(["BUILD_GENERAL1_SMALL", "BUILD_GENERAL1_MEDIUM", "BUILD_GENERAL1_LARGE"], var.codebuild_compute_type)
    error_message = "codebuild_compute_type must be one of BUILD_GENERAL1_SMALL, BUILD_GENERAL1_MEDIUM, BUILD_GENERAL1_LARGE."
  }
}

variable "build_timeout_minutes" {
  type        = number
  default     = 60
  description = "Minutes a destroy build may run before CodeBuild stops it."

  validation {
    condition     = var.build_timeout_minutes >= 5 && var.build_timeout_minutes <= 480
    error_message = "build_timeout_minutes must be between 5 and 480."
  }
}

variable "codebuild_policy_arns" {
  type        = map(string)
  default     = {}
  description = "Managed policies attached to the destroy build's role, keyed by a static name (keys must be known at plan time). They must allow destroying the stacks and using the state bucket and lease table."
}

variable "dry_run" {
  type        = bool
  default     = false
  description = "Sweep without destroying anything: report what would be destroyed (DRY_RUN=true)."
}

variable "max_destroys" {
  type        = number
  default     = 3
  description = "At most this many environments are dispatched for destruction per sweep (MAX_DESTROYS)."

  validation {
    condition     = var.max_destroys >= 0 && floor(var.max_destroys) == var.max_destroys
    error_message = "max_destroys must be a whole number, 0 or more."
  }
}

variable "schedule_expression" {
  type        = string
  default     = "rate(5 minutes)"
  description = "EventBridge Scheduler expression of the sweep."

  validation {
    condition     = can(regex("^(rate|cron)\\(.+\\)$", var.schedule_expression))
    error_message = "schedule_expression must be a rate(...) or cron(...) expression."
  }
}

variable "reserved_concurrency" {
  type        = number
  default     = 1
  description = "Reserved concurrent executions of the Lambda (1: sweeps never overlap). -1 removes the reservation, for accounts whose concurrency limit is too low to reserve any."

  validation {
    condition     = var.reserved_concurrency == -1 || var.reserved_concurrency >= 1
    error_message = "reserved_concurrency must be -1 or at least 1."
  }
}

variable "lambda_timeout_seconds" {
  type        = number
  default     = 120
  description = "Timeout of one sweep (the Lambda only dispatches destroys, it does not run them)."

  validation {
    condition     = var.lambda_timeout_seconds >= 10 && var.lambda_timeout_seconds <= 900
    error_message = "lambda_timeout_seconds must be between 10 and 900."
  }
}

variable "log_retention_days" {
  type        = number
  default     = 365
  description = "Days CloudWatch keeps the Lambda's and the destroy builds' logs."

  validation {
    condition     = contains([1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653], var.log_retention_days)
    error_message = "log_retention_days must be a value CloudWatch Logs accepts (1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653)."
  }
}

variable "tags" {
  type        = map(string)
  default     = {}
  description = "Tags merged into every taggable resource (on top of the provider's default_tags)."
}
