variable "name" {
  type        = string
  description = "Name prefix of every resource (usually the environment name)."

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{0,39}$", var.name))
    error_message = "name must be 1-40 characters: lower-case letters, digits and hyphens, starting with a letter."
  }
}

variable "cidr_block" {
  type        = string
  default     = "10.0.0.0/16"
  description = "IPv4 CIDR of the VPC. Subnets are carved out of it as /20s (two public, two private)."

  validation {
    condition     = can(cidrhost(var.cidr_block, 0)) && try(tonumber(split("/", var.cidr_block)[1]) <= 18, false)
    error_message = "cidr_block must be an IPv4 CIDR of size /18 or larger (e.g. 10.0.0.0/16)."
  }
}

variable "availability_zones" {
  type        = list(string)
  default     = null
  description = "Exactly two availability zones to use; null picks the first two available in the region."

  validation {
    condition     = var.availability_zones == null || try(length(var.availability_zones) == 2, false)
    error_message = "availability_zones must list exactly two zones (or be null)."
  }
}

variable "nat_mode" {
  type        = string
  default     = "none"
  description = <<-EOT
    How tasks reach the internet (image pulls, AWS APIs):
    "single" = private task subnets behind one NAT gateway (cheaper, one AZ is a single point of failure);
    "per_az" = private task subnets with one NAT gateway per AZ (highly available, costs most);
    "none"   = no NAT and no private subnets: tasks run in the public subnets with a public IP
               (cheapest; fine for stacks that live hours; their security group still admits only the ALB).
  EOT

  validation {
    condition     = contains(["single", "per_az", "none"], var.nat_mode)
    error_message = "nat_mode must be one of: single, per_az, none."
  }
}

variable "tags" {
  type        = map(string)
  default     = {}
  description = "Tags merged into every taggable resource (on top of the provider's default_tags)."
}
