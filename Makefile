# Thin wrapper: bootstraps .venv, then calls Invoke (tasks.py), which calls ephemera.
# Values such as ENV reach the recipes through the environment ("$$ENV"), never
# through make's text substitution, so they are never parsed by a shell.
.DEFAULT_GOAL := help
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
STAMP := $(VENV)/.installed
INV := $(VENV)/bin/invoke
CHECKOV_VENV := .venv-checkov
CHECKOV_STAMP := $(CHECKOV_VENV)/.installed
YAMLLS := tools/yaml-language-server
YAMLLS_STAMP := $(YAMLLS)/node_modules/.installed
PLAYWRIGHT := tools/playwright
PLAYWRIGHT_STAMP := $(PLAYWRIGHT)/node_modules/.installed
# Keep user values as literal text: $(value) stops make from expanding a value such
# as ENV='$(shell …)' when it exports it to the recipes' environment.
USER_VARS := ENV HOURS REASON AUTO_APPROVE DRY_RUN MAX_DESTROYS BASE REGION REPO STATE_BUCKET \
	API_HOST API_PORT NAME SCOPES
$(foreach v,$(USER_VARS),$(eval override $(v) := $$(value $(v))))
export $(USER_VARS)

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11))' || { echo "ephemera needs Python 3.11+ ($(PYTHON) is older)" >&2; exit 2; }
	@test -x $(VENV)/bin/python || $(PYTHON) -m venv $(VENV)
	@echo "installing dependencies into $(VENV) (a first install takes a few minutes; one line per package) …"
	@$(VENV)/bin/python -m pip install --disable-pip-version-check --progress-bar off -e '.[dev]' | grep -E '^(Collecting|Installing|Successfully)' || true
	@$(VENV)/bin/python -c 'import ephemera.cli.main' || { echo "installing into $(VENV) failed (see above)" >&2; exit 2; }
	@touch $(STAMP)

$(CHECKOV_STAMP): requirements/checkov.txt
	@test -x $(CHECKOV_VENV)/bin/python || $(PYTHON) -m venv $(CHECKOV_VENV)
	@echo "installing checkov into $(CHECKOV_VENV) (the policy gate's own virtualenv) …"
	@$(CHECKOV_VENV)/bin/python -m pip install --disable-pip-version-check --progress-bar off -r requirements/checkov.txt | grep -E '^(Collecting|Installing|Successfully)' || true
	@test -x $(CHECKOV_VENV)/bin/checkov || { echo "installing checkov failed (see above)" >&2; exit 2; }
	@touch $(CHECKOV_STAMP)

# yaml-language-server for the editor test (tests/config/test_editor.py): node and npm
# come with the machine; the versions are pinned by the committed package-lock.json.
$(YAMLLS_STAMP): $(YAMLLS)/package.json $(YAMLLS)/package-lock.json
	@command -v npm >/dev/null || { echo "the editor test needs node and npm (apt-get install nodejs npm)" >&2; exit 2; }
	@echo "installing yaml-language-server into $(YAMLLS)/node_modules …"
	@npm ci --prefix $(YAMLLS) --no-audit --no-fund --loglevel=error
	@touch $(YAMLLS_STAMP)

# playwright-core for the dashboard test (tests/api/test_dashboard.py): it drives the
# machine's chromium (.ci/run installs Debian's) and never downloads a browser.
$(PLAYWRIGHT_STAMP): $(PLAYWRIGHT)/package.json $(PLAYWRIGHT)/package-lock.json
	@command -v npm >/dev/null || { echo "the dashboard test needs node and npm (apt-get install nodejs npm)" >&2; exit 2; }
	@echo "installing playwright-core into $(PLAYWRIGHT)/node_modules …"
	@npm ci --prefix $(PLAYWRIGHT) --no-audit --no-fund --loglevel=error
	@touch $(PLAYWRIGHT_STAMP)

.PHONY: help setup new deploy plan destroy status outputs history extend-ttl ttl unlock drift reconcile policy-scan ci-plan lambda-package bootstrap validate schema provider-schema tf-validate serve token-create token-list token-revoke test lint bench clean
help: ## Show this list of targets
	@grep -E '^[a-z][a-z-]*:.*## ' $(MAKEFILE_LIST) | awk 'BEGIN {FS = ":.*## "}; {printf "  %-15s %s\n", $$1, $$2}'

setup: $(STAMP) $(CHECKOV_STAMP) $(YAMLLS_STAMP) $(PLAYWRIGHT_STAMP) ## Create .venv and install dependencies (runs automatically)

define need_env
	@test -n "$$ENV" || { echo "usage: make $@ ENV=<name>  (environments are listed by 'make status')" >&2; exit 2; }
endef

# AUTO_APPROVE=1 answers the confirmations (deploy to aws, destroy, unlock); 0 or empty asks.
define check_approve
	@case "$${AUTO_APPROVE:-}" in 1|true|yes|0|false|no|"") ;; *) echo "AUTO_APPROVE: expected 1 or 0, got '$$AUTO_APPROVE'" >&2; exit 2;; esac
endef

deploy: $(STAMP) $(CHECKOV_STAMP) ## Validate, render, plan and apply ENV=<name> (target aws asks; AUTO_APPROVE=1)
	$(need_env)
	$(check_approve)
	@$(INV) deploy --env "$$ENV"

plan: $(STAMP) $(CHECKOV_STAMP) ## Show what a deploy of ENV=<name> would change
	$(need_env)
	@$(INV) plan --env "$$ENV"

destroy: $(STAMP) ## Destroy ENV=<name> (asks first; AUTO_APPROVE=1 skips the question)
	$(need_env)
	$(check_approve)
	@$(INV) destroy --env "$$ENV"

status: $(STAMP) ## Show every environment: status, expiry, url, health
	@$(INV) status

outputs: $(STAMP) ## Print the stack outputs of ENV=<name> as JSON
	$(need_env)
	@$(INV) outputs --env "$$ENV" --json

history: $(STAMP) ## List the runs (plan/apply/destroy) of ENV=<name>
	$(need_env)
	@$(INV) history --env "$$ENV"

extend-ttl: $(STAMP) ## Push ENV=<name>'s expiry back by HOURS=<n> (or 30m, 2d) [REASON="..."]
	$(need_env)
	@test -n "$$HOURS" || { echo "usage: make extend-ttl ENV=<name> HOURS=<n> [REASON=...]" >&2; exit 2; }
	@$(INV) extend-ttl --env "$$ENV" --duration "$$HOURS" --reason "$${REASON:-}"

ttl: $(STAMP) ## Janitor sweep: destroy expired envs, send warnings (DRY_RUN=1, MAX_DESTROYS=n)
	@dry=; case "$${DRY_RUN:-}" in 1|true|yes) dry=--dry-run;; ""|0|false|no) ;; *) echo "DRY_RUN: expected 1 or 0, got '$$DRY_RUN'" >&2; exit 2;; esac; \
	case "$${MAX_DESTROYS:-}" in "") ;; *[!0-9]*) echo "MAX_DESTROYS: expected a whole number, got '$$MAX_DESTROYS'" >&2; exit 2;; esac; \
	$(INV) ttl $$dry $${MAX_DESTROYS:+--max-destroys "$$MAX_DESTROYS"}

unlock: $(STAMP) ## Show who holds ENV=<name>'s operation and state locks; clear after confirmation
	$(need_env)
	$(check_approve)
	@$(INV) unlock --env "$$ENV"

drift: $(STAMP) ## Terraform drift and health of live envs (or ENV=<name>); exit 2 when drifted
	@$(INV) drift $${ENV:+--env "$$ENV"}

reconcile: $(STAMP) ## Resolve what env files, leases and states disagree on (DRY_RUN=1)
	@dry=; case "$${DRY_RUN:-}" in 1|true|yes) dry=--dry-run;; ""|0|false|no) ;; *) echo "DRY_RUN: expected 1 or 0, got '$$DRY_RUN'" >&2; exit 2;; esac; \
	$(INV) reconcile $$dry

policy-scan: $(STAMP) $(CHECKOV_STAMP) ## Static checkov scan of terraform/ with the custom checks
	@$(INV) policy-scan

ci-plan: $(STAMP) $(CHECKOV_STAMP) ## Plan what changed since BASE=<rev>; writes plan-comment.md
	@test -n "$$BASE" || { echo "usage: make ci-plan BASE=<rev>" >&2; exit 2; }
	@$(INV) ci-plan --base "$$BASE"

lambda-package: $(STAMP) ## Build dist/ttl_janitor.zip for the AWS janitor (reproducible)
	@$(INV) lambda-package

bootstrap: $(STAMP) ## Create the AWS control plane once: REGION=<region> REPO=<owner>/<repo> [STATE_BUCKET=<bucket>]
	$(check_approve)
	@test -n "$$REGION" -a -n "$$REPO" || { echo "usage: make bootstrap REGION=<aws region> REPO=<owner>/<repo> [STATE_BUCKET=<bucket>] (needs AWS credentials)" >&2; exit 2; }
	@$(INV) bootstrap --region "$$REGION" --repo "$$REPO" --state-bucket "$${STATE_BUCKET:-}"

new: $(STAMP) ## Create an environment file interactively (asks for each setting; then offers to deploy)
	@$(INV) new

validate: $(STAMP) ## Validate every environment file (or ENV=<name>)
	@$(INV) validate $${ENV:+--env "$$ENV"}

schema: $(STAMP) ## Regenerate schemas/stacks/*.schema.json from the stacks' variables.tf
	@$(INV) schema

tf-validate: $(STAMP) ## Check terraform/ against the AWS provider schema, offline (file:line per problem)
	@$(INV) tf-validate

provider-schema: $(STAMP) ## Re-derive terraform/provider-schemas/aws.json.gz from the pinned npm package (rare; needs npm)
	@$(INV) provider-schema

serve: $(STAMP) $(CHECKOV_STAMP) ## The provisioning API and dashboard on 127.0.0.1:8780 [API_HOST=… API_PORT=…]
	@$(INV) serve --host "$${API_HOST:-127.0.0.1}" --port "$${API_PORT:-8780}"

token-create: $(STAMP) ## Create an API token NAME=<who> SCOPES=read,plan,deploy,destroy,extend (shown once)
	@test -n "$$NAME" || { echo "usage: make token-create NAME=<who> SCOPES=read[,plan,deploy,destroy,extend]" >&2; exit 2; }
	@$(INV) token-create --name "$$NAME" --scopes "$${SCOPES:-read}"

token-list: $(STAMP) ## List the API tokens (names, scopes; never the tokens)
	@$(INV) token-list

token-revoke: $(STAMP) ## Revoke the API token NAME=<name>
	@test -n "$$NAME" || { echo "usage: make token-revoke NAME=<name>" >&2; exit 2; }
	@$(INV) token-revoke --name "$$NAME"

lint: $(STAMP) ## Run ruff and the import contracts (lint-imports, pyproject.toml)
	@$(VENV)/bin/ruff check .
	@$(VENV)/bin/ruff format --check .
	@$(VENV)/bin/lint-imports --no-cache --no-logo

test: $(STAMP) $(CHECKOV_STAMP) $(YAMLLS_STAMP) $(PLAYWRIGHT_STAMP) ## Run ruff and the whole test suite
	@$(MAKE) --no-print-directory lint
	@$(VENV)/bin/python -m pytest -q

bench: $(STAMP) $(CHECKOV_STAMP) ## Run the benchmarks: each figure beside its baseline and goal (docs/benchmarks.md)
	@$(VENV)/bin/python -m benchmarks

clean: ## Remove .venv, .venv-checkov, node_modules and .ephemera (leases, state and rendered files!)
	rm -rf $(VENV) $(CHECKOV_VENV) $(YAMLLS)/node_modules $(PLAYWRIGHT)/node_modules .ephemera
