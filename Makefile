# Two commands on a fresh machine: `make demo` and `make test`.
# `make demo` installs what bayeslead needs to run; `make test` adds the developer tools (pytest,
# ruff, pyxform, JAX). Both create (or refresh, when pyproject.toml changes) the virtual
# environment in .venv with a supported Python; choose one with `make demo PYTHON=python3.12`.
PYTHON ?= python3
SUPPORTED := 3.11 3.12 3.13
VENV := .venv
BIN := $(VENV)/bin
RUNTIME := $(VENV)/.runtime-stamp
DEV := $(VENV)/.dev-stamp
PYTEST_ARGS ?=

.DEFAULT_GOAL := env
.PHONY: demo test test-slow bench env clean

space := $(subst ,, )
comma := ,
python_version = $(shell $(1) -c 'import sys; print("%d.%d" % sys.version_info[:2])' 2>/dev/null)

# Before any target that uses .venv: rebuild a .venv whose Python is broken or unsupported (or
# not the PYTHON given on the command line), and refuse an unsupported PYTHON with a message.
ifneq ($(filter-out clean,$(or $(MAKECMDGOALS),$(.DEFAULT_GOAL))),)
  ifneq ($(wildcard $(VENV)),)
    VENV_VERSION := $(call python_version,$(BIN)/python)
    ifeq ($(filter $(VENV_VERSION),$(SUPPORTED)),)
      $(info $(VENV) was made by an unsupported or broken Python ($(or $(VENV_VERSION),not runnable)): rebuilding it)
      $(shell rm -rf $(VENV))
    else ifeq ($(origin PYTHON),command line)
      ifneq ($(VENV_VERSION),$(call python_version,$(PYTHON)))
        $(info $(VENV) has Python $(VENV_VERSION); rebuilding it with $(PYTHON))
        $(shell rm -rf $(VENV))
      endif
    endif
  endif
  ifeq ($(wildcard $(BIN)/python),)
    PYTHON_VERSION := $(call python_version,$(PYTHON))
    ifeq ($(filter $(PYTHON_VERSION),$(SUPPORTED)),)
      $(error bayeslead needs Python $(subst $(space),$(comma) ,$(SUPPORTED)) (the versions its numerical stack supports), but '$(PYTHON)' is $(or $(PYTHON_VERSION),not found). Point make at a supported interpreter, e.g. `make demo PYTHON=python3.12` or `make demo PYTHON=/usr/bin/python3.11`)
    endif
  endif
endif

# the runtime dependencies only; a failed install removes .venv so the next run starts clean;
# then the samplers of the bundled Bayesian configs are compiled once (python -m bayeslead.warmup)
$(RUNTIME): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e . || { rm -rf $(VENV); exit 1; }
	$(BIN)/python -m bayeslead.warmup || echo "warm-up failed: the first Bayesian fit of each model compiles instead"
	touch $@

# the developer tools on top (pytest, ruff, pyxform, numpyro/JAX)
$(DEV): $(RUNTIME)
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	touch $@

env: $(RUNTIME)

demo: $(RUNTIME)
	@echo "bayeslead is installed in $(VENV): 'source $(VENV)/bin/activate' puts the bayeslead command on PATH (or call $(BIN)/bayeslead)"
	$(BIN)/bayeslead fit configs/tl_dc_bi_sem.yaml

test: $(DEV)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/python -m pytest -n 2 $(PYTEST_ARGS)

test-slow: $(DEV)
	$(BIN)/python -m pytest -m slow $(PYTEST_ARGS)

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache
