output "url" {
  description = "Base URL of the mock API: https://<domain_name> with a domain, else http://<load balancer DNS name>."
  value       = local.url
}

output "cluster_name" {
  description = "Name of the ECS cluster."
  value       = aws_ecs_cluster.this.name
}

output "cluster_arn" {
  description = "ARN of the ECS cluster."
  value       = aws_ecs_cluster.this.arn
}

output "service_name" {
  description = "Name of the ECS service."
  value       = aws_ecs_service.this.name
}

output "task_definition_arn" {
  description = "ARN (with revision) of the task definition the service runs."
  value       = aws_ecs_task_definition.this.arn
}

output "log_group_name" {
  description = "CloudWatch log group of the containers (streams prefixed mockserver/ and expectations/)."
  value       = aws_cloudwatch_log_group.this.name
}

output "load_balancer_dns_name" {
  description = "DNS name of the load balancer."
  value       = aws_lb.this.dns_name
}

output "load_balancer_arn" {
  description = "ARN of the load balancer."
  value       = aws_lb.this.arn
}

output "target_group_arn" {
  description = "ARN of the target group the tasks register in."
  value       = aws_lb_target_group.this.arn
}

output "certificate_arn" {
  description = "ARN of the validated ACM certificate, or null when serving plain HTTP."
  value       = try(aws_acm_certificate_validation.this[0].certificate_arn, null)
}

output "task_security_group_id" {
  description = "ID of the tasks' security group."
  value       = aws_security_group.task.id
}

output "task_role_arn" {
  description = "ARN of the task role (reads the expectations object only)."
  value       = aws_iam_role.task.arn
}
