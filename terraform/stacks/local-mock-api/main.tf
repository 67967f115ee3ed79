# A mock API on this machine: one detached process, started on create and
# stopped on destroy. Values reach the commands only through `environment`,
# never through the command text, so no YAML value is parsed by a shell.

locals {
  expectations_path = abspath("${var.project_root}/${var.expectations_file}")
  pidfile           = "${var.runtime_dir}/mockapi.pid"
  logfile           = "${var.runtime_dir}/mockapi.log"
  # EPHEMERA_PYTHON is set by Ephemera to the interpreter that has the ephemera package.
  mockapi_command = "\"$${EPHEMERA_PYTHON:-python3}\" -m ephemera.mockapi"
}

resource "terraform_data" "mock_api" {
  # What shapes the running process: any change replaces the resource, so the
  # destroy provisioner stops the old process and the create provisioner starts the
  # new one (an update in place would run no provisioner at all).
  triggers_replace = {
    bind_address      = var.bind_address
    port              = var.port
    expectations_file = var.expectations_file
    expectations_hash = filesha256(local.expectations_path)
    pidfile           = local.pidfile
  }

  input = {
    environment       = var.environment
    owner             = var.owner
    bind_address      = var.bind_address
    port              = var.port
    expectations_file = var.expectations_file
    expectations_hash = filesha256(local.expectations_path)
    pidfile           = local.pidfile
    url               = "http://${strcontains(var.bind_address, ":") ? "[${var.bind_address}]" : var.bind_address}:${var.port}"
    tags              = var.tags
  }

  provisioner "local-exec" {
    command = "${local.mockapi_command} start"
    environment = {
      MOCKAPI_BIND         = var.bind_address
      MOCKAPI_PORT         = tostring(var.port)
      MOCKAPI_EXPECTATIONS = local.expectations_path
      MOCKAPI_PIDFILE      = local.pidfile
      MOCKAPI_LOG          = local.logfile
    }
  }

  provisioner "local-exec" {
    when    = destroy
    command = "\"$${EPHEMERA_PYTHON:-python3}\" -m ephemera.mockapi stop"
    environment = {
      MOCKAPI_PIDFILE = self.input.pidfile
    }
  }
}
