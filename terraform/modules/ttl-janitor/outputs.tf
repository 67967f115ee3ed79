output "function_name" {
  description = "Name of the janitor Lambda function."
  value       = aws_lambda_function.this.function_name
}

output "function_arn" {
  description = "ARN of the janitor Lambda function."
  value       = aws_lambda_function.this.arn
}

output "topic_arn" {
  description = "ARN of the SNS topic receiving warnings, destroy reports, failures and the Errors alarm."
  value       = aws_sns_topic.this.arn
}

output "kms_key_arn" {
  description = "ARN of the customer managed KMS key encrypting the topic, the log groups and the CodeBuild project."
  value       = aws_kms_key.this.arn
}

output "codebuild_project_name" {
  description = "Name of the CodeBuild project that destroys one environment per build (ENV override)."
  value       = aws_codebuild_project.destroy.name
}

output "codebuild_role_arn" {
  description = "ARN of the destroy build's role (attach destroy rights with codebuild_policy_arns)."
  value       = aws_iam_role.codebuild.arn
}

output "lambda_role_arn" {
  description = "ARN of the janitor Lambda's role."
  value       = aws_iam_role.lambda.arn
}

output "schedule_arn" {
  description = "ARN of the EventBridge Scheduler schedule that invokes the sweep."
  value       = aws_scheduler_schedule.sweep.arn
}

output "errors_alarm_name" {
  description = "Name of the CloudWatch alarm on the Lambda's Errors metric."
  value       = aws_cloudwatch_metric_alarm.errors.alarm_name
}

output "lambda_log_group_name" {
  description = "CloudWatch log group of the janitor Lambda."
  value       = aws_cloudwatch_log_group.lambda.name
}
