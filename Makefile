# attune ops — two commands set everything up on a fresh machine:
#   make run    create .venv, install, serve the dashboard on this project
#   make test   create .venv, install what tests need (Debian's chromium too), run every check
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
ARGS ?=

.PHONY: run test lint typecheck pytest bench chromium clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(VENV)/.installed-ops: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[ops]'
	touch $@

$(VENV)/.installed-dev: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[ops,dev]'
	touch $@ $(VENV)/.installed-ops

run: $(VENV)/.installed-ops
	$(BIN)/attune ops $(ARGS)

# Browser tests drive Debian's chromium (never a downloaded browser); install it only when missing.
chromium:
	@if ! command -v chromium >/dev/null 2>&1; then \
	  echo "installing Debian's chromium for the browser tests"; \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq chromium >/dev/null; \
	fi

lint: $(VENV)/.installed-dev
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench

typecheck: $(VENV)/.installed-dev
	$(BIN)/mypy

pytest: $(VENV)/.installed-dev chromium
	$(BIN)/python -m pytest $(ARGS)

test: lint typecheck pytest

# Side by side with the reference (PyPI attune-ai 16.4.0, in its own venv under .bench/).
# GNU time gives each command's peak RSS; install Debian's package only when it is missing.
bench: $(VENV)/.installed-dev
	@if [ ! -x /usr/bin/time ]; then \
	  echo "installing GNU time for the benchmark's peak RSS figures"; \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq time >/dev/null; \
	fi
	$(BIN)/python bench/compare.py $(ARGS)

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache build src/*.egg-info
