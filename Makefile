# The README's two commands: `make demo` and `make test`. Each creates .venv if missing and installs what it
# needs: torch first (its CPU build unless an NVIDIA GPU is present: 0.9 GB instead of about 5), then polyopt.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip
STAMP := $(VENV)/.installed-dev
# The torch release CI runs; the CPU build comes from PyTorch's CPU index, or from a wheel pip already sees.
TORCH_VERSION ?= 2.13.0
TORCH_CPU_INDEX ?= https://download.pytorch.org/whl/cpu

.PHONY: demo demo-banner test lint docs venv clean

$(PY):
	$(PYTHON) -m venv $(VENV)

# torch before polyopt, so that pip keeps it when it installs polyopt's dependencies. Kept as it is when the
# venv has one already (CI installs torch==$(TORCH_VERSION) itself).
$(VENV)/.torch: | $(PY)
	@if $(PY) -c "import torch" 2>/dev/null; then \
		echo "torch $$($(PY) -c 'import torch; print(torch.__version__)') is already in $(VENV)"; \
	elif nvidia-smi -L >/dev/null 2>&1; then \
		echo "An NVIDIA GPU is present: installing torch $(TORCH_VERSION) with CUDA (about 5 GB)"; \
		$(PIP) install -q "torch==$(TORCH_VERSION)"; \
	elif $(PY) -c "import urllib.request as u; u.urlopen('$(TORCH_CPU_INDEX)/torch/', timeout=10)" \
			>/dev/null 2>&1; then \
		echo "No NVIDIA GPU: installing the CPU build of torch $(TORCH_VERSION) from $(TORCH_CPU_INDEX)"; \
		$(PIP) install -q "torch==$(TORCH_VERSION)" --index-url $(TORCH_CPU_INDEX); \
	elif echo "No NVIDIA GPU, and $(TORCH_CPU_INDEX) is not reachable: looking for a torch" \
			"$(TORCH_VERSION)+cpu wheel pip can see" && \
		$(PIP) install -q "torch==$(TORCH_VERSION)+cpu" >/dev/null 2>&1; then \
		echo "Installed torch $(TORCH_VERSION)+cpu (the CPU build)"; \
	else \
		echo "warning: no CPU build of torch $(TORCH_VERSION) is reachable ($(TORCH_CPU_INDEX) or a" \
			"local torch==$(TORCH_VERSION)+cpu wheel): installing the default build, with CUDA" \
			"libraries (about 5 GB)" >&2; \
		$(PIP) install -q "torch==$(TORCH_VERSION)"; \
	fi
	@touch $@

$(VENV)/.installed: pyproject.toml $(VENV)/.torch | $(PY)
	@echo "Installing polyopt and its dependencies into $(VENV)"
	$(PIP) install -q -e .
	@touch $@

# dev and docs together: `make test` and `make docs` use one environment, installed one way.
$(STAMP): pyproject.toml $(VENV)/.torch | $(PY)
	@echo "Installing polyopt with its dev and docs extras into $(VENV)"
	$(PIP) install -q -e ".[dev,docs]"
	@touch $(VENV)/.installed $@

venv: $(VENV)/.installed

demo-banner:
	@if [ -f $(VENV)/.installed ]; then \
		echo "make demo: a study of 72 runs, about 2 minutes on 2 cores"; \
	else \
		echo "make demo: about 4 minutes on 2 cores: 2 to install torch (CPU build) and polyopt into" \
			"$(VENV) (1.4 GB), then a study of 72 runs, about 2 minutes"; \
	fi

demo: demo-banner $(VENV)/.installed
	$(VENV)/bin/polyopt study run examples/studies/quickstart.toml --workers 2

test: $(STAMP)
	$(PY) -m pytest -n 2 --timeout 600

# Types and lint are part of green (CI runs this after the tests): ruff's lint and format check, then mypy.
lint: $(STAMP)
	$(VENV)/bin/ruff check core plugins envs tests benchmarks examples docs
	$(VENV)/bin/ruff format --check core plugins envs tests benchmarks examples docs
	$(VENV)/bin/mypy

# The documentation site, into site/, strict: a broken link or reference, or a tutorial that raises, fails it.
# Tutorials run in parallel (POLYOPT_DOCS_JOBS, default: the number of CPUs); see docs/about.md.
docs: $(STAMP)
	NO_MKDOCS_2_WARNING=1 $(VENV)/bin/mkdocs build --strict --site-dir site

clean:
	rm -rf $(VENV) dist build site
