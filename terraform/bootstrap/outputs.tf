# What environments/_defaults.yaml (aws:), the aws environment files (variables:) and
# the GitHub repository variables need; README.md "The AWS path" says where each goes.

output "state_bucket" {
  description = "S3 bucket holding every environment's Terraform state (key envs/<env>/terraform.tfstate): aws.state_bucket in _defaults.yaml."
  value       = aws_s3_bucket.state.id
}

output "lease_table" {
  description = "DynamoDB lease table (its run history is <lease_table>-runs): aws.lease_table in _defaults.yaml."
  value       = aws_dynamodb_table.leases.name
}

output "region" {
  description = "Region of the control plane: the default region of aws environments and of the S3 backend, and the repository variable AWS_REGION."
  value       = var.region
}

output "notify_topic_arn" {
  description = "SNS topic for TTL warnings, destroy reports and janitor failures: aws.notify_topic_arn in _defaults.yaml."
  value       = module.janitor.topic_arn
}

output "plan_role_arn" {
  description = "Role GitHub Actions assumes (OIDC) on pull requests to run terraform plan: scoped reads plus the state lock. The repository variable EPHEMERA_PLAN_ROLE_ARN."
  value       = aws_iam_role.plan.arn
}

output "apply_role_arn" {
  description = "Role GitHub Actions assumes (OIDC) on the main branch or in the apply environment to run terraform apply and destroy. The repository variable EPHEMERA_APPLY_ROLE_ARN."
  value       = aws_iam_role.apply.arn
}

output "stack_permissions_boundary_arn" {
  description = "Permissions boundary every stack role must carry (the apply role creates no role without it): variables.permissions_boundary_arn of each aws environment."
  value       = aws_iam_policy.stack_boundary.arn
}

output "account_id" {
  description = "AWS account of the control plane: aws.account_id in _defaults.yaml (pins allowed_account_ids)."
  value       = local.account_id
}
