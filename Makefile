# The README's two commands: `make demo` and `make test`. Each creates .venv if missing and installs what it needs.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip
STAMP := $(VENV)/.installed-dev

.PHONY: demo test lint venv clean

$(PY):
	$(PYTHON) -m venv $(VENV)

$(VENV)/.installed: pyproject.toml | $(PY)
	$(PIP) install -q -e .
	touch $@

$(STAMP): pyproject.toml | $(PY)
	$(PIP) install -q -e ".[dev]"
	touch $(VENV)/.installed $@

venv: $(VENV)/.installed

demo: $(VENV)/.installed
	$(VENV)/bin/polyopt study run examples/studies/quickstart.toml --workers 2

test: $(STAMP)
	$(PY) -m pytest -n 2 --timeout 600

# Types and lint are part of green (CI runs this after the tests): ruff's lint and format check, then mypy.
lint: $(STAMP)
	$(VENV)/bin/ruff check core plugins envs tests benchmarks examples
	$(VENV)/bin/ruff format --check core plugins envs tests benchmarks examples
	$(VENV)/bin/mypy

clean:
	rm -rf $(VENV) dist build
