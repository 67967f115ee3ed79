variable "environment" {
  type        = string
  description = "Environment name (supplied by Ephemera)."
}

variable "owner" {
  type        = string
  description = "Owner of the environment (supplied by Ephemera)."
}

variable "tags" {
  type        = map(string)
  description = "Tags of the environment, including ephemera:env, ephemera:owner and managed-by (supplied by Ephemera)."
}

variable "project_root" {
  type        = string
  description = "Absolute path of the project checkout, to resolve expectations_file (supplied by Ephemera)."
}

variable "runtime_dir" {
  type        = string
  description = "Directory for the mock API's pidfile and log (supplied by Ephemera)."
}

variable "bind_address" {
  type        = string
  default     = "127.0.0.1"
  description = "Address the mock API listens on. Keep it on loopback: the policy gate rejects anything else."
}

variable "port" {
  type        = number
  default     = 8080
  description = "TCP port the mock API listens on."

  validation {
    condition     = var.port >= 1024 && var.port <= 65535 && floor(var.port) == var.port
    error_message = "port must be a whole number between 1024 and 65535."
  }
}

variable "expectations_file" {
  type        = string
  description = "MockServer-format expectations file, relative to the project root (e.g. expectations/local-demo.json)."

  validation {
    condition     = !startswith(var.expectations_file, "/") && !contains(split("/", var.expectations_file), "..")
    error_message = "expectations_file must be a path inside the project: relative, without '..'."
  }
}
