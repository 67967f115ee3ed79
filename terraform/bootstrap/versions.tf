terraform {
  required_version = ">= 1.6"

  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = "~> 6.66"
    }
  }

  # The bootstrap keeps its own state locally (it creates the state bucket the
  # environments use). Once applied, it may be moved into that bucket with a
  # `backend "s3" {}` block and `terraform init -migrate-state`.
}

provider "aws" {
  region              = var.region
  allowed_account_ids = var.account_id == null ? null : [var.account_id]

  default_tags {
    tags = merge({ "managed-by" = "ephemera", "ephemera:component" = "control-plane" }, var.tags)
  }
}
