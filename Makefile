# Every target builds its own virtual environment from nothing (python3 + pip are enough).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp

.PHONY: demo test lint typecheck pytest bench clean cloud-init-packages

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
test: lint typecheck pytest

lint: $(STAMP)
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench

typecheck: $(STAMP)
	$(BIN)/mypy

pytest: $(STAMP) cloud-init-packages
	$(BIN)/python -m pytest -q

## bench: throughput and latency, each printed beside a baseline measured in the same run
bench: $(STAMP) cloud-init-packages
	$(BIN)/python bench/run.py

## cloud-init-packages: Debian's cloud-init (12, 13, unstable) unpacked into .cache for the
## cloud-init tests and benchmark; nothing is installed; fetched once, then cached
cloud-init-packages: $(STAMP)
	$(BIN)/python tests/cloud_init_packages.py

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache build src/*.egg-info
