output "url" {
  description = "Base URL of the mock API (https://<domain_name> when a domain is set, else http://<load balancer DNS name>)."
  value       = module.mockserver.url
}

output "cluster" {
  description = "Name of the ECS cluster running the mock API."
  value       = module.mockserver.cluster_name
}

output "cluster_arn" {
  description = "ARN of the ECS cluster (stack.yaml's pre-destroy step scales the service to zero in it)."
  value       = module.mockserver.cluster_arn
}

output "service" {
  description = "Name of the ECS service running MockServer."
  value       = module.mockserver.service_name
}

output "log_group" {
  description = "CloudWatch log group holding the MockServer and init-container logs."
  value       = module.mockserver.log_group_name
}

output "expectations_object" {
  description = "S3 URI of the uploaded expectations object MockServer loads at start."
  value       = "s3://${aws_s3_bucket.expectations.id}/${aws_s3_object.expectations.key}"
}

output "expectations_md5" {
  description = "MD5 of the expectations file that was deployed."
  value       = local.expectations_md5
}
