# Every target builds its own virtual environment from nothing (python3 + pip are enough).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp

.PHONY: demo test lint typecheck pytest bench clean cloud-init-packages collection ansible-latest

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

## demo: the main job, on the embedded emulator (no Azure VM needed, loopback only)
demo: $(STAMP) cloud-init-packages
	AZIMDS_DEMO_CLOUD_INIT="$$($(BIN)/python tests/cloud_init_packages.py --newest)" \
	$(BIN)/python -m azimds.demo

## test: lint, types and the whole test suite
test: lint typecheck pytest ansible-latest

lint: $(STAMP)
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench

typecheck: $(STAMP)
	$(BIN)/mypy

## The azure_imds inventory's Redis fact cache test needs community.general (from the `ansible`
## package of the package index, made for the controller's ansible-core 2.19 and tested with the
## newest too; never galaxy) and the redis client: installed once, apart from .venv, into
## .cache/ansible-extras.
ANSIBLE_EXTRAS := .cache/ansible-extras
ANSIBLE_EXTRAS_STAMP := $(ANSIBLE_EXTRAS)/.installed-stamp

$(ANSIBLE_EXTRAS_STAMP): | $(STAMP)
	rm -rf $(ANSIBLE_EXTRAS)
	$(BIN)/python -m pip install --quiet --no-deps --target $(ANSIBLE_EXTRAS) 'ansible>=12,<13' redis
	touch $(ANSIBLE_EXTRAS_STAMP)

pytest: $(STAMP) cloud-init-packages $(ANSIBLE_EXTRAS_STAMP)
	$(BIN)/python -m pytest -q

## bench: throughput and latency, each printed beside a baseline measured in the same run
bench: $(STAMP) cloud-init-packages
	$(BIN)/python bench/run.py

## cloud-init-packages: Debian's cloud-init (12, 13, unstable) unpacked into .cache for the
## cloud-init tests and benchmark; nothing is installed; fetched once, then cached
cloud-init-packages: $(STAMP)
	$(BIN)/python tests/cloud_init_packages.py

clean:
	rm -rf $(VENV) $(ANSIBLE_LATEST) .pytest_cache .mypy_cache .ruff_cache build src/*.egg-info

## collection: regenerate the Ansible collection's copy of the shipped core (plugins/module_utils)
collection: $(STAMP)
	$(BIN)/python -m azimds.shipping

## ansible-latest: the collection's sanity, playbook, galaxy and inventory tests again, with the newest
## ansible-core the package index serves, in its own virtual environment (it needs Python 3.12+)
ANSIBLE_LATEST := .venv-ansible-latest
ANSIBLE_LATEST_STAMP := $(ANSIBLE_LATEST)/.installed-stamp
ANSIBLE_TESTS := tests/test_ansible_module.py tests/test_ansible_sanity.py tests/test_ansible_galaxy.py \
	tests/test_inventory_sources.py tests/test_inventory_groups.py tests/test_inventory_cache.py \
	tests/test_inventory_docs.py tests/test_inventory_fleet.py tests/test_inventory_redis.py

$(ANSIBLE_LATEST_STAMP): $(STAMP)
	@py=$$($(BIN)/python tests/pythons.py 3.13 3.12) || exit 0; \
	rm -rf $(ANSIBLE_LATEST) && $$py -m venv $(ANSIBLE_LATEST) && \
	$(ANSIBLE_LATEST)/bin/python -m pip install --quiet --upgrade pip ansible-core && \
	touch $(ANSIBLE_LATEST_STAMP)

ansible-latest: $(STAMP) $(ANSIBLE_EXTRAS_STAMP) $(ANSIBLE_LATEST_STAMP)
	@if [ ! -f $(ANSIBLE_LATEST_STAMP) ]; then \
	  echo "SKIPPED ansible-latest: no Python 3.12 or 3.13 here (the newest ansible-core needs one)"; \
	  if [ -n "$$CI" ]; then exit 1; fi; \
	else \
	  $(ANSIBLE_LATEST)/bin/python -c "import ansible.release as r; print('ansible-core', r.__version__)"; \
	  AZIMDS_ANSIBLE_BIN=$(CURDIR)/$(ANSIBLE_LATEST)/bin $(BIN)/python -m pytest -q $(ANSIBLE_TESTS); \
	fi
