output "vpc_id" {
  description = "ID of the VPC."
  value       = aws_vpc.this.id
}

output "vpc_cidr_block" {
  description = "IPv4 CIDR of the VPC."
  value       = aws_vpc.this.cidr_block
}

output "availability_zones" {
  description = "The two availability zones the subnets are in."
  value       = local.azs
}

output "public_subnet_ids" {
  description = "IDs of the two public subnets (one per AZ), for the load balancer."
  value       = aws_subnet.public[*].id
}

output "private_subnet_ids" {
  description = "IDs of the private subnets (empty when nat_mode is \"none\")."
  value       = aws_subnet.private[*].id
}

output "task_subnet_ids" {
  description = "IDs of the subnets tasks should run in: the private ones, or the public ones when nat_mode is \"none\"."
  value       = local.private ? aws_subnet.private[*].id : aws_subnet.public[*].id
}

output "assign_public_ip" {
  description = "Whether tasks need a public IP to reach the internet (true exactly when nat_mode is \"none\")."
  value       = !local.private
}

output "nat_gateway_ids" {
  description = "IDs of the NAT gateways (none, one or two depending on nat_mode)."
  value       = aws_nat_gateway.this[*].id
}

output "s3_endpoint_id" {
  description = "ID of the S3 gateway endpoint."
  value       = try(aws_vpc_endpoint.s3.id, null)
}
