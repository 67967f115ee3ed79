variable "region" {
  type        = string
  description = "AWS region of the control plane (state bucket, lease table, janitor)."

  validation {
    condition     = can(regex("^[a-z]{2}(-[a-z]+)+-[0-9]$", var.region))
    error_message = "region must be an AWS region name such as eu-west-1."
  }
}

variable "account_id" {
  type        = string
  default     = null
  description = "AWS account the control plane must be created in; when set, the provider refuses credentials of any other account. null: not pinned."

  validation {
    condition     = var.account_id == null || can(regex("^[0-9]{12}$", var.account_id))
    error_message = "account_id must be a 12-digit AWS account ID (or null)."
  }
}

variable "name_prefix" {
  type        = string
  default     = "ephemera"
  description = "Prefix of the control plane's resource names (roles, janitor, policies)."

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{1,20}$", var.name_prefix))
    error_message = "name_prefix must be 2-21 characters: lower-case letters, digits and hyphens, starting with a letter."
  }
}

variable "state_bucket_name" {
  type        = string
  default     = null
  description = "Name of the Terraform state bucket; null: <name_prefix>-tfstate-<account id>-<region>."

  validation {
    condition     = var.state_bucket_name == null || can(regex("^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$", var.state_bucket_name))
    error_message = "state_bucket_name must be a valid S3 bucket name (3-63 lower-case letters, digits, dots and hyphens)."
  }
}

variable "lease_table_name" {
  type        = string
  default     = "ephemera-leases"
  description = "Name of the DynamoDB lease table; the run history goes to <lease_table_name>-runs."

  validation {
    condition     = can(regex("^[A-Za-z0-9_.-]{3,250}$", var.lease_table_name))
    error_message = "lease_table_name must be 3-250 characters: letters, digits, underscore, dot and hyphen."
  }
}

variable "table_deletion_protection" {
  type        = bool
  default     = true
  description = "Protect the lease and run tables from deletion (turn off before destroying the bootstrap)."
}

variable "github_repository" {
  type        = string
  description = "GitHub repository holding the environments, as owner/name. Its workflows may assume the plan and apply roles, and the janitor's destroy build clones it."

  validation {
    condition     = can(regex("^[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+$", var.github_repository))
    error_message = "github_repository must be owner/name (e.g. acme/ephemera)."
  }
}

variable "github_main_branch" {
  type        = string
  default     = "main"
  description = "Branch whose workflows may assume the apply role (and that the destroy build checks out)."
}

variable "github_apply_environment" {
  type        = string
  default     = "ephemera"
  description = "GitHub environment whose jobs may also assume the apply role: apply.yml's job runs in it, and a job in an environment presents the OIDC subject repo:<repo>:environment:<name> (never its branch), so give the environment required reviewers and restrict its deployment branches to the main branch. null: only jobs on the main branch outside any environment."

  validation {
    condition     = var.github_apply_environment == null || can(regex("^[^\\s:*?]{1,255}$", var.github_apply_environment))
    error_message = "github_apply_environment must be a GitHub environment name (no whitespace, ':', '*' or '?'), or null."
  }
}

variable "create_github_oidc_provider" {
  type        = bool
  default     = true
  description = "Create the account's GitHub Actions OIDC provider (token.actions.githubusercontent.com). false: it already exists (one per account) and is reused."
}

variable "janitor_package_path" {
  type        = string
  description = "Path of the TTL janitor's Lambda zip, built before apply."
}

variable "notify_emails" {
  type        = list(string)
  default     = []
  description = "Email addresses subscribed to the notification topic (TTL warnings, destroy reports, janitor failures)."
}

variable "janitor_dry_run" {
  type        = bool
  default     = false
  description = "Run the janitor in dry-run mode: it reports what it would destroy and changes nothing."
}

variable "janitor_max_destroys" {
  type        = number
  default     = 3
  description = "At most this many expired environments are dispatched for destruction per sweep."
}

variable "tags" {
  type        = map(string)
  default     = {}
  description = "Extra tags for every control plane resource (managed-by and ephemera:component are always set)."
}
