# Every target builds its own virtual environment from nothing (python3 + pip are enough).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp

.PHONY: demo test lint typecheck pytest bench clean collection

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

## demo: the main job, on the embedded emulator (no Azure VM needed, loopback only)
demo: $(STAMP)
	$(BIN)/python -m azimds.demo

## test: lint, types and the whole test suite
test: lint typecheck pytest

lint: $(STAMP)
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench

typecheck: $(STAMP)
	$(BIN)/mypy

pytest: $(STAMP)
	$(BIN)/python -m pytest -q

## bench: throughput and latency, each printed beside a baseline measured in the same run
bench: $(STAMP)
	$(BIN)/python bench/run.py

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache build src/*.egg-info

## collection: regenerate the Ansible collection's copy of the shipped core (plugins/module_utils)
collection: $(STAMP)
	$(BIN)/python -m azimds.shipping
