output "url" {
  description = "Base URL of the mock API."
  value       = try(terraform_data.mock_api.output.url, null)
}

output "pidfile" {
  description = "Pidfile of the mock API process."
  value       = try(terraform_data.mock_api.output.pidfile, null)
}

output "health_url" {
  description = "MockServer-style status endpoint of the mock API."
  value       = try("${terraform_data.mock_api.output.url}/mockserver/status", null)
}
