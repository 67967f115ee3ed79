# Local state for golden-env (target local).
path = "<root>/.ephemera/state/golden-env/terraform.tfstate"
