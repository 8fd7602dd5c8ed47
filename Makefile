# Set-up and everyday commands. Everything installs into .venv on first use.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PORT ?= 5000

# The lowest versions the package and its redis extra declare (pyproject.toml); `make test`
# runs the tests that need no browser once more against them, in a venv of their own.
LOWEST_VENV := .venv-lowest
LOWEST_PINS := flask==2.3.0 werkzeug==2.3.0 requests==2.28.0 itsdangerous==2.1.2 blinker==1.6.2 redis==5.3.0

.PHONY: run test test-lowest docs bench lint format hub clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

# Re-install when the project's metadata changes.
$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[test,dev,docs]'
	touch $@

# The pinned StackOne Hub script: fetched once with npm into the per-user cache, verified
# against its pinned sha256; a no-op when already there. Skipped when the widget uses a CDN.
hub: $(VENV)/.installed
ifdef STACKONE_HUB_SCRIPT_URL
	@echo "hub: STACKONE_HUB_SCRIPT_URL is set, the widget loads the Hub script from there"
else
	@$(BIN)/python -m flask_stackone hub install
endif

# Without STACKONE_API_KEY, ask for the offline sandbox (the app never turns it on by itself).
run: $(VENV)/.installed hub
	@if [ -z "$$STACKONE_API_KEY" ]; then export STACKONE_SANDBOX="$${STACKONE_SANDBOX:-1}"; fi; \
	$(BIN)/flask --app example_app run --port $(PORT)

test: $(VENV)/.installed hub
	$(BIN)/python -m pytest
	$(MAKE) test-lowest

$(LOWEST_VENV)/.installed: pyproject.toml Makefile
	$(PYTHON) -m venv $(LOWEST_VENV)
	$(LOWEST_VENV)/bin/python -m pip install --quiet --upgrade pip
	printf '%s\n' $(LOWEST_PINS) > $(LOWEST_VENV)/constraints.txt
	$(LOWEST_VENV)/bin/python -m pip install --quiet -e '.[test]' -c $(LOWEST_VENV)/constraints.txt
	touch $@

# Browser and slow tests ran in the main run; lint, type checks and the reference are about the
# source.
test-lowest: $(LOWEST_VENV)/.installed hub
	@$(LOWEST_VENV)/bin/python -c "import sys, importlib.metadata as m; \
	found = [p.partition('=')[0] + '==' + m.version(p.partition('=')[0]) for p in sys.argv[1:]]; \
	print('lowest versions:', *found); sys.exit(found != sys.argv[1:])" $(LOWEST_PINS)
	$(LOWEST_VENV)/bin/python -m pytest -m "not browser and not slow and not lint and not docs"

# The documentation as HTML, from docs/ and the docstrings; any Sphinx warning is an error
# (tests/test_reference.py builds it the same way in `make test`).
docs: $(VENV)/.installed
	$(BIN)/python -m sphinx -W --keep-going -b html docs docs/_build/html
	@echo "open docs/_build/html/index.html"

bench: $(VENV)/.installed
	$(BIN)/python benchmarks/run.py

lint: $(VENV)/.installed
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy --strict flask_stackone

format: $(VENV)/.installed
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

clean:
	rm -rf $(VENV) $(LOWEST_VENV) build dist *.egg-info test-artifacts .mypy_cache docs/_build
