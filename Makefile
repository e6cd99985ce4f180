# The two commands a new user needs: `make dev` and `make test`. Both install what is missing first.
AENV_CACHE ?= $(HOME)/.cache/aenv
export AENV_CACHE
# The ACK controllers' pinned sources: ../shared/sources/ack beside the checkout when it is there, else a clone.
AENV_ACK_SOURCES ?= $(if $(wildcard $(CURDIR)/../shared/sources/ack/MANIFEST),$(abspath $(CURDIR)/../shared/sources/ack))
export AENV_ACK_SOURCES
BINS = AENV_CONTROL_PLANE_BIN=$$(cat $(AENV_CACHE)/control-plane-bin) AENV_ACK_BIN=$$(cat $(AENV_CACHE)/ack-bin)
PY := $(AENV_CACHE)/venv/bin/python
export PYTHONPATH := $(CURDIR)/operator
AENV := $(PY) -m aenv

.PHONY: setup dev dev-down test unit integration lint crd lock

setup:
	@bash hack/setup.sh

dev: setup ## local control plane + AWS emulator + operator; applies examples/env-staging.yaml and waits for Ready
	@$(BINS) $(AENV) dev up

dev-down: ## stops everything `make dev` started
	@AENV_CONTROL_PLANE_BIN=$$(cat $(AENV_CACHE)/control-plane-bin 2>/dev/null) $(AENV) dev down

test: setup lint ## lint, type-check, then every test (unit and integration)
	@$(BINS) $(PY) -m pytest $(PYTEST_ARGS)

unit: setup
	@$(PY) -m pytest tests/unit $(PYTEST_ARGS)

integration: setup
	@$(BINS) $(PY) -m pytest tests/integration $(PYTEST_ARGS)

lint: setup
	@$(PY) -m ruff check operator tests benchmarks workloads
	@$(PY) -m mypy
	@$$(cat $(AENV_CACHE)/tools-bin)/helm lint --strict --quiet charts/aenv
	@$$(cat $(AENV_CACHE)/tools-bin)/helm template aenv charts/aenv > /dev/null
	@$$(cat $(AENV_CACHE)/tools-bin)/helm template aenv charts/aenv --set 'watchNamespaces={team-a}' > /dev/null
	@$$(cat $(AENV_CACHE)/tools-bin)/actionlint

crd: setup ## regenerate the CRDs from the pydantic models, and the admission policy from the price table
	@$(AENV) crd -o crds/analyticsenvironments.aenv.dev.yaml -o charts/aenv/crds/analyticsenvironments.aenv.dev.yaml
	@$(AENV) crd --quota -o crds/analyticsenvironmentquotas.aenv.dev.yaml \
	  -o charts/aenv/crds/analyticsenvironmentquotas.aenv.dev.yaml
	@$(AENV) admission-policy -o charts/aenv/files/admission-policy.yaml

lock: ## re-resolve requirements.lock from pyproject.toml
	@rm -rf /tmp/aenv-lock && python3 -m venv /tmp/aenv-lock && /tmp/aenv-lock/bin/pip install -q '.[test,dev]' \
	  && { echo "# Exact versions of every Python package aenv, its tests and its tools use. Regenerate with: make lock"; \
	       /tmp/aenv-lock/bin/pip freeze | grep -v '^aenv'; } > requirements.lock
