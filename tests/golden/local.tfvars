# Rendered by Ephemera from environments/golden-env.yaml (local-mock-api stack). Do not edit: changes are overwritten.
environment = "golden-env"
nested = {
  "list" = [
    1,
    "two",
    null,
  ]
  "flag" = true
}
note = "$${file(\"/etc/passwd\")} $(touch /tmp/x)"
owner = "alice@example.com"
port = 8765
project_root = "<root>"
runtime_dir = "<root>/.ephemera/run/golden-env"
tags = {
  "team" = "payments"
  "ephemera:env" = "golden-env"
  "ephemera:owner" = "alice@example.com"
  "managed-by" = "ephemera"
}
unused_by_stack = "kept: the stack contract is checked before rendering"
