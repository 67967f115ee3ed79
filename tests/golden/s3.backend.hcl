# S3 state for golden-env (target aws). Endpoints come from the standard
# AWS_ENDPOINT_URL / AWS_ENDPOINT_URL_S3 variables, never from this file.
bucket       = "org-state"
key          = "envs/golden-env/terraform.tfstate"
region       = "eu-west-1"
use_lockfile = true
encrypt      = true
