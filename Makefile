# Set-up and everyday commands. Everything installs into .venv on first use.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PORT ?= 5000

.PHONY: run test bench lint format hub clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

# Re-install when the project's metadata changes.
$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[test,dev]'
	touch $@

# The pinned StackOne Hub script: fetched once with npm into the per-user cache, verified
# against its pinned sha256; a no-op when already there. Skipped when the widget uses a CDN.
hub: $(VENV)/.installed
ifdef STACKONE_HUB_SCRIPT_URL
	@echo "hub: STACKONE_HUB_SCRIPT_URL is set, the widget loads the Hub script from there"
else
	@$(BIN)/python -m flask_stackone hub install
endif

run: $(VENV)/.installed hub
	$(BIN)/flask --app example_app run --port $(PORT)

test: $(VENV)/.installed hub
	$(BIN)/python -m pytest

bench: $(VENV)/.installed
	$(BIN)/python benchmarks/run.py

lint: $(VENV)/.installed
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: $(VENV)/.installed
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

clean:
	rm -rf $(VENV) build dist *.egg-info test-artifacts
