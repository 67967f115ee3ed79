terraform {
  required_version = ">= 1.6"

  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = "~> 6.66"
    }
  }

  # No backend here: `make bootstrap` (ephemera/lifecycle/bootstrap.py) writes one into
  # its snapshot. The state starts local, in .ephemera/bootstrap/terraform.tfstate (this
  # creates the bucket environments keep their state in); `make bootstrap … STATE_BUCKET=`
  # moves it into that bucket (key bootstrap/terraform.tfstate). README: The AWS path.
}

provider "aws" {
  region              = var.region
  allowed_account_ids = var.account_id == null ? null : [var.account_id]

  default_tags {
    tags = merge({ "managed-by" = "ephemera", "ephemera:component" = "control-plane" }, var.tags)
  }
}
