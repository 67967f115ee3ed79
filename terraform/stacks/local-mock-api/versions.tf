terraform {
  required_version = ">= 1.6"
  # No providers: only Terraform's built-in terraform_data, so this stack runs
  # on a machine with no network and no cloud account.
}
