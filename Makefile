# The two commands a newcomer runs: `make run` and `make test`. Each installs what it needs.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
# The pages' npm packages (socket.io-client, preact, htm; axe-core for the tests).
WEB_STAMP := web/node_modules/.installed
# bench/'s npm packages: socket.io for B2 and socket.io-client for issue 9's load generator.
BENCH_STAMP := bench/node_modules/.installed

.PHONY: install run test lint check bench bench-install bench-scale bench-voice soak docs messages clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

$(WEB_STAMP): web/package.json web/package-lock.json
	cd web && npm ci --no-audit --no-fund --loglevel=error
	touch $(WEB_STAMP)

$(BENCH_STAMP): bench/package.json bench/package-lock.json
	cd bench && npm ci --no-audit --no-fund --loglevel=error
	touch $(BENCH_STAMP)

bench-install: $(BENCH_STAMP)

install: $(STAMP) $(WEB_STAMP) $(BENCH_STAMP)

# palabre on http://127.0.0.1:8000 with the demo assembly; its links are printed first.
run: install
	$(VENV)/bin/palabre serve --demo

test: install
	$(PY) -m pytest

lint: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy

check: lint test

# The pure core, then the live server end to end over loopback (`bench/server.py --help` for
# the sizes; `--database-url postgresql+asyncpg://...` to run it on PostgreSQL).
bench: install
	$(PY) bench/core.py
	$(PY) bench/synthesis.py
	$(PY) bench/server.py

# Issue 9: palabre against a bare python-socketio (B1) and a bare Node socket.io (B2) server,
# with one Node socket.io-client load generator; issue 9's sizes and the rate ceiling
# (`bench/scale.py --help`; without options, small sizes for a run of about a minute).
bench-scale: install
	$(PY) bench/scale.py --full --ceiling

# Janus's CPU for voice rooms of 10 with one speaker each, as rooms grow (1, 2, 4, 8), idle and
# talking: about 2 minutes (`bench/voice.py --help` for the sizes, rates and window length).
bench-voice: install
	$(PY) bench/voice.py

# Ten minutes of a lively assembly on two processes (PostgreSQL and Redis on 127.0.0.1), one of
# them killed and restarted every two minutes; every view checked against the log at the end
# (`bench/soak.py --help` for the sizes; `--minutes 1 --kill-every-seconds 20` for a smoke run).
soak: install
	$(PY) bench/soak.py

docs: install
	$(PY) -c 'from facilitation.docgen import command_table; print(command_table(), end="")' > docs/commands.md

# Gather the strings of templates and scripts, and merge them into each language's catalog.
messages: install
	$(VENV)/bin/pybabel extract -F web/babel.cfg -k t -k _ -k N_ --no-location --sort-output \
		--project=palabre -o web/locale/messages.pot .
	for lang in en fr; do \
		if [ -f web/locale/$$lang/LC_MESSAGES/messages.po ]; then \
			$(VENV)/bin/pybabel update --no-fuzzy-matching --ignore-obsolete -i web/locale/messages.pot -d web/locale -l $$lang; \
		else \
			$(VENV)/bin/pybabel init -i web/locale/messages.pot -d web/locale -l $$lang; \
		fi; \
	done

clean:
	rm -rf $(VENV) web/node_modules bench/node_modules .pytest_cache .mypy_cache .ruff_cache
