"""Environment files, from YAML to a validated `Environment`.

    yamlload     strict YAML with the line of every key
    documents    one file, _defaults.yaml, the deep merge, where each key came from
    schema       the environment file's JSON Schema and the validator of the merge
    messages     JSON Schema errors in user terms
    stackvars    a stack's variables.tf: the contract of `variables:`
    stackmanifest  a stack's stack.yaml: its runtime, pre-destroy steps, files, address
    deployable   what validate checks beyond the files: files named, ports, Terraform
    tfcheck      the stack's own validation blocks, evaluated by Terraform
    validate     the stages, in order, and `load_environment`
    schemafiles  the generated schemas/ files and the editor's validator

The names below are the stage's public face; everything else is imported from its
module.
"""

from ephemera.config.documents import load_defaults, merged_document
from ephemera.config.validate import (
    check_environment_name,
    load_environment,
    validate_environments,
    variable_problem,
)

__all__ = [
    "check_environment_name",
    "load_defaults",
    "load_environment",
    "merged_document",
    "validate_environments",
    "variable_problem",
]
