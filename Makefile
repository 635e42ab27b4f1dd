# The two commands a newcomer runs: `make run` and `make test`. Each installs what it needs.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: install test lint check bench docs clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

test: install
	$(PY) -m pytest

lint: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy

check: lint test

bench: install
	$(PY) bench/core.py

docs: install
	$(PY) -c 'from facilitation.docgen import command_table; print(command_table(), end="")' > docs/commands.md

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
