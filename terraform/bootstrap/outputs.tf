# Exactly what environments/_defaults.yaml needs for target aws.

output "state_bucket" {
  description = "S3 bucket holding every environment's Terraform state (key envs/<env>/terraform.tfstate): aws.state_bucket in _defaults.yaml."
  value       = aws_s3_bucket.state.id
}

output "lease_table" {
  description = "DynamoDB lease table (its run history is <lease_table>-runs): aws.lease_table in _defaults.yaml."
  value       = aws_dynamodb_table.leases.name
}

output "region" {
  description = "Region of the control plane: the default region of aws environments and of the S3 backend."
  value       = var.region
}

output "notify_topic_arn" {
  description = "SNS topic for TTL warnings, destroy reports and janitor failures: aws.notify_topic_arn in _defaults.yaml."
  value       = module.janitor.topic_arn
}

output "plan_role_arn" {
  description = "Role GitHub Actions assumes (OIDC) on pull requests to run terraform plan: read-only plus the state lock."
  value       = aws_iam_role.plan.arn
}

output "apply_role_arn" {
  description = "Role GitHub Actions assumes (OIDC) on the main branch or the apply environment to run terraform apply and destroy."
  value       = aws_iam_role.apply.arn
}

output "account_id" {
  description = "AWS account of the control plane: aws.account_id in _defaults.yaml (pins allowed_account_ids)."
  value       = local.account_id
}
