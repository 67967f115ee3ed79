variable "name" {
  type        = string
  description = "Name of the service and prefix of its resources (usually the environment name)."

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{0,38}[a-z0-9]$", var.name))
    error_message = "name must be 2-40 characters: lower-case letters, digits and hyphens, starting with a letter and not ending with a hyphen."
  }
}

variable "vpc_id" {
  type        = string
  description = "ID of the VPC the load balancer, target group and security groups live in."
}

variable "public_subnet_ids" {
  type        = list(string)
  description = "Public subnets (at least two, in different AZs) for the internet-facing load balancer."

  validation {
    condition     = length(var.public_subnet_ids) >= 2
    error_message = "public_subnet_ids must list at least two subnets (an ALB needs two AZs)."
  }
}

variable "task_subnet_ids" {
  type        = list(string)
  description = "Subnets the Fargate tasks run in (private subnets behind NAT, or public ones with assign_public_ip = true)."

  validation {
    condition     = length(var.task_subnet_ids) >= 1
    error_message = "task_subnet_ids must list at least one subnet."
  }
}

variable "assign_public_ip" {
  type        = bool
  default     = false
  description = "Give each task a public IP. Needed when the task subnets have no NAT route (network module, nat_mode = \"none\")."
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
  description = "Minimum (and initial) number of running tasks."

  validation {
    condition     = var.min_tasks >= 1 && var.min_tasks <= 100 && floor(var.min_tasks) == var.min_tasks
    error_message = "min_tasks must be a whole number between 1 and 100."
  }
}

variable "max_tasks" {
  type        = number
  default     = 2
  description = "Maximum number of tasks auto scaling may run (at least min_tasks)."

  validation {
    condition     = var.max_tasks >= 1 && var.max_tasks <= 100 && floor(var.max_tasks) == var.max_tasks
    error_message = "max_tasks must be a whole number between 1 and 100."
  }
}

variable "container_port" {
  type        = number
  default     = 1080
  description = "Port MockServer listens on inside the task (the target group's port)."

  validation {
    condition     = var.container_port >= 1 && var.container_port <= 65535 && floor(var.container_port) == var.container_port
    error_message = "container_port must be a whole number between 1 and 65535."
  }
}

variable "mockserver_image" {
  type        = string
  default     = "mockserver/mockserver:5.15.0"
  description = "MockServer container image, pinned to a version (never :latest)."

  validation {
    condition     = can(regex(":[^:/]+$|@sha256:[0-9a-f]{64}$", var.mockserver_image)) && !endswith(var.mockserver_image, ":latest")
    error_message = "mockserver_image must be pinned to a tag other than latest, or to a digest."
  }
}

variable "mockserver_readonly_root_filesystem" {
  type        = bool
  default     = true
  description = "Run MockServer with a read-only root filesystem (it writes only to the task-local /tmp volume). Turn off only if a MockServer version needs to write elsewhere."
}

variable "aws_cli_image" {
  type        = string
  default     = "public.ecr.aws/aws-cli/aws-cli:2.15.0"
  description = "AWS CLI image of the init container that copies the expectations object from S3, pinned to a version."

  validation {
    condition     = can(regex(":[^:/]+$|@sha256:[0-9a-f]{64}$", var.aws_cli_image)) && !endswith(var.aws_cli_image, ":latest")
    error_message = "aws_cli_image must be pinned to a tag other than latest, or to a digest."
  }
}

variable "expectations_bucket" {
  type        = string
  description = "Name of the S3 bucket holding the expectations object."
}

variable "expectations_key" {
  type        = string
  description = "Key of the MockServer expectations JSON object in expectations_bucket."
}

variable "expectations_hash" {
  type        = string
  description = "Hash of the expectations file's content (e.g. filemd5). It is put into the task definition, so a change of the expectations rolls out a new deployment."
}

variable "domain_name" {
  type        = string
  default     = null
  description = "DNS name to serve the mock API on over HTTPS (needs hosted_zone_id). null: plain HTTP on the load balancer's own DNS name."
}

variable "hosted_zone_id" {
  type        = string
  default     = null
  description = "Route53 public hosted zone that holds domain_name: receives the ACM validation records and an alias to the load balancer."
}

variable "allowed_cidrs" {
  type        = list(string)
  default     = ["0.0.0.0/0"]
  description = "IPv4 CIDRs allowed to reach the load balancer on ports 80 and 443."

  validation {
    condition     = length(var.allowed_cidrs) > 0 && alltrue([for cidr in var.allowed_cidrs : can(cidrnetmask(cidr))])
    error_message = "allowed_cidrs must be a non-empty list of IPv4 CIDRs (e.g. 203.0.113.0/24)."
  }
}

variable "control_plane_cidrs" {
  type        = list(string)
  default     = []
  description = "IPv4 CIDRs whose requests to MockServer's control plane (/mockserver/* but /mockserver/status: expectations, clear, reset, retrieve, verify, the dashboard) the load balancer forwards; everyone else gets 403. Default: nobody (the expectations come from the environment's file)."

  validation {
    condition     = length(var.control_plane_cidrs) <= 60 && alltrue([for cidr in var.control_plane_cidrs : can(cidrnetmask(cidr))])
    error_message = "control_plane_cidrs must be at most 60 IPv4 CIDRs (e.g. 203.0.113.0/24)."
  }
}

variable "log_retention_days" {
  type        = number
  default     = 7
  description = "Days CloudWatch keeps the container logs (one of the values CloudWatch Logs accepts)."

  validation {
    condition     = contains([1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653], var.log_retention_days)
    error_message = "log_retention_days must be one of 1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653."
  }
}

variable "cpu_target_percent" {
  type        = number
  default     = 60
  description = "Target average CPU utilisation (percent) of the CPU target-tracking policy."

  validation {
    condition     = var.cpu_target_percent >= 10 && var.cpu_target_percent <= 90
    error_message = "cpu_target_percent must be between 10 and 90."
  }
}

variable "requests_per_target" {
  type        = number
  default     = 1000
  description = "Target number of requests per task per minute (ALBRequestCountPerTarget) of the request-count policy."

  validation {
    condition     = var.requests_per_target >= 1
    error_message = "requests_per_target must be at least 1."
  }
}

variable "health_check_path" {
  type        = string
  default     = "/mockserver/status"
  description = "Path the target group's GET health check requests (see health_check_matcher)."
}

variable "health_check_matcher" {
  type        = string
  default     = "200-499"
  description = "HTTP codes that count as healthy. MockServer answers its status endpoint only to PUT; a GET there gets a 404 from a running server, so the default accepts any non-5xx answer."
}

variable "wait_for_steady_state" {
  type        = bool
  default     = true
  description = "Make apply wait until the service is stable (tasks healthy behind the load balancer), so a bad deployment fails the apply."
}

variable "iam_path" {
  type        = string
  default     = "/ephemera/"
  description = "IAM path of the task and execution roles. terraform/bootstrap's apply role may only manage and pass roles under /ephemera/."

  validation {
    condition     = can(regex("^/([A-Za-z0-9+=,.@_-]+/)*$", var.iam_path))
    error_message = "iam_path must start and end with / (e.g. /ephemera/)."
  }
}

variable "permissions_boundary_arn" {
  type        = string
  default     = null
  description = "ARN of the IAM policy set as permissions boundary of the task and execution roles. terraform/bootstrap's apply role may only create roles carrying its stack boundary (output stack_permissions_boundary_arn). null: no boundary."
}

variable "tags" {
  type        = map(string)
  default     = {}
  description = "Tags merged into every taggable resource (on top of the provider's default_tags)."
}
