"""Ephemera: ephemeral, TTL-bound Terraform environments declared as YAML."""

__version__ = "0.1.0"
