terraform {
  # 1.10+: the S3 backend's native lock file (use_lockfile = true in backend.hcl).
  required_version = ">= 1.10"

  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = "~> 6.66"
    }
  }

  # Backend: `backend "s3" {}`. It is not declared here because Ephemera's
  # render step writes it into the stack's snapshot (ephemera_backend.tf, the
  # backend type follows the environment's target) and configures it with the
  # rendered backend.hcl (bucket, key envs/<env>/terraform.tfstate, region,
  # use_lockfile, encrypt). A second backend block here would make
  # `terraform init` fail with "Duplicate backend configuration".
}

provider "aws" {
  region              = var.region
  allowed_account_ids = var.account_id == null ? null : [var.account_id]

  default_tags {
    tags = var.tags
  }
}
