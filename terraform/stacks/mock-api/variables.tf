# --- supplied by Ephemera -----------------------------------------------------------

variable "environment" {
  type        = string
  description = "Environment name (supplied by Ephemera); prefixes every resource name."

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{1,38}[a-z0-9]$", var.environment))
    error_message = "environment must match ^[a-z][a-z0-9-]{1,38}[a-z0-9]$."
  }
}

variable "owner" {
  type        = string
  description = "Owner of the environment (supplied by Ephemera)."
}

variable "tags" {
  type        = map(string)
  description = "Tags of the environment, including ephemera:env, ephemera:owner and managed-by (supplied by Ephemera); applied to every resource through the provider's default_tags."
}

variable "project_root" {
  type        = string
  description = "Absolute path of the project checkout, to resolve expectations_file (supplied by Ephemera)."
}

variable "region" {
  type        = string
  description = "AWS region to deploy to (supplied by Ephemera from the environment file's region, e.g. eu-west-1)."

  validation {
    condition     = can(regex("^[a-z]{2}(-[a-z]+)+-[0-9]$", var.region))
    error_message = "region must be an AWS region name such as eu-west-1."
  }
}

# --- set in the environment file ----------------------------------------------------

variable "account_id" {
  type        = string
  default     = null
  description = "AWS account ID the stack must be deployed to; when set, the provider refuses credentials of any other account (allowed_account_ids). null: not pinned."

  validation {
    condition     = var.account_id == null || can(regex("^[0-9]{12}$", var.account_id))
    error_message = "account_id must be a 12-digit AWS account ID (or null)."
  }
}

variable "permissions_boundary_arn" {
  type        = string
  default     = null
  description = "ARN of the permissions boundary the stack's IAM roles carry: the stack_permissions_boundary_arn output of terraform/bootstrap, whose apply role creates no role without it. null: no boundary (only for credentials allowed to create unbounded roles)."

  validation {
    condition     = var.permissions_boundary_arn == null || can(regex("^arn:aws[a-z-]*:iam::[0-9]{12}:policy/[A-Za-z0-9+=,.@_/-]+$", var.permissions_boundary_arn))
    error_message = "permissions_boundary_arn must be an IAM policy ARN (arn:aws:iam::<account>:policy/<name>), or null."
  }
}

variable "instance_size" {
  type        = string
  default     = "small"
  description = "Fargate task size: small = 0.25 vCPU / 512 MiB, medium = 0.5 vCPU / 1 GiB, large = 1 vCPU / 2 GiB, xlarge = 2 vCPU / 4 GiB."

  validation {
    condition     = contains(["small", "medium", "large", "xlarge"], var.instance_size)
    error_message = "instance_size must be one of: small, medium, large, xlarge."
  }
}

variable "min_tasks" {
  type        = number
  default     = 1
  description = "Minimum (and initial) number of MockServer tasks."

  validation {
    condition     = var.min_tasks >= 1 && var.min_tasks <= 100 && floor(var.min_tasks) == var.min_tasks
    error_message = "min_tasks must be a whole number between 1 and 100."
  }
}

variable "max_tasks" {
  type        = number
  default     = 2
  description = "Maximum number of MockServer tasks auto scaling may run (at least min_tasks)."

  validation {
    condition     = var.max_tasks >= 1 && var.max_tasks <= 100 && floor(var.max_tasks) == var.max_tasks
    error_message = "max_tasks must be a whole number between 1 and 100."
  }
}

variable "nat_mode" {
  type        = string
  default     = "none"
  description = "none = tasks in public subnets with a public IP (cheapest, for stacks that live hours); single = private subnets behind one NAT gateway; per_az = one NAT gateway per AZ."

  validation {
    condition     = contains(["single", "per_az", "none"], var.nat_mode)
    error_message = "nat_mode must be one of: single, per_az, none."
  }
}

variable "vpc_cidr" {
  type        = string
  default     = "10.0.0.0/16"
  description = "IPv4 CIDR of the environment's VPC (/18 or larger)."
}

variable "expectations_file" {
  type        = string
  description = "MockServer-format expectations JSON file, relative to the project root (e.g. expectations/test-api.json); uploaded to the environment's bucket and loaded by MockServer at start."

  validation {
    condition     = endswith(var.expectations_file, ".json") && !startswith(var.expectations_file, "/") && !strcontains(var.expectations_file, "..")
    error_message = "expectations_file must be a .json file given relative to the project root, without \"..\"."
  }
}

variable "expectations_versioning" {
  type        = bool
  default     = false
  description = "Keep earlier versions of the expectations object (S3 versioning on the environment's bucket)."
}

variable "domain_name" {
  type        = string
  default     = null
  description = "DNS name to serve the mock API on over HTTPS (with hosted_zone_id). null: plain HTTP on the load balancer's DNS name."
}

variable "hosted_zone_id" {
  type        = string
  default     = null
  description = "Route53 public hosted zone of domain_name (certificate validation and alias record). Set together with domain_name."
}

variable "allowed_cidrs" {
  type        = list(string)
  default     = ["0.0.0.0/0"]
  description = "IPv4 CIDRs allowed to reach the load balancer (ports 80/443)."
}

variable "control_plane_cidrs" {
  type        = list(string)
  default     = []
  description = "IPv4 CIDRs (the team's networks) allowed to use MockServer's control plane through the load balancer: PUT /mockserver/expectation, /clear, /reset, /retrieve, /verify and the dashboard. Everyone else gets 403; PUT /mockserver/status stays open. Default: nobody."
}

variable "log_retention_days" {
  type        = number
  default     = 7
  description = "Days CloudWatch keeps the MockServer logs (a value CloudWatch Logs accepts: 1, 3, 5, 7, 14, 30, …)."

  validation {
    condition     = contains([1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653], var.log_retention_days)
    error_message = "log_retention_days must be one of 1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653."
  }
}

variable "container_port" {
  type        = number
  default     = 1080
  description = "Port MockServer listens on inside the task."

  validation {
    condition     = var.container_port >= 1 && var.container_port <= 65535 && floor(var.container_port) == var.container_port
    error_message = "container_port must be a whole number between 1 and 65535."
  }
}
