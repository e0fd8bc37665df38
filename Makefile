# attune ops — two commands set everything up on a fresh machine:
#   make run    create .venv, install, serve the dashboard on this project
#   make test   create .venv, install what tests need (Debian's chromium and postgresql too),
#               run every check
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
ARGS ?=
USAGE_ARGS ?=
TEAM_ARGS ?=

.PHONY: run test lint typecheck pytest bench bench-usage bench-team chromium npm postgresql clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(VENV)/.installed-ops: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[ops,team]'
	touch $@

$(VENV)/.installed-dev: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[ops,dev,team]'
	touch $@ $(VENV)/.installed-ops

run: $(VENV)/.installed-ops ## Serve the dashboard on this project (ARGS="--port 9000")
	$(BIN)/attune ops $(ARGS)

# $(call apt_install_if_missing,COMMAND,PACKAGE,WHY): Debian's PACKAGE, only when COMMAND is
# missing (so a warm machine stays fast); as root directly, else through sudo.
apt_install_if_missing = $(call apt_install_unless,command -v $(1),$(2),$(3))

# $(call apt_install_unless,TEST,PACKAGE,WHY): the same, when the shell command TEST fails
# (for a program that is not on PATH).
define apt_install_unless
	@if ! $(1) >/dev/null 2>&1; then \
	  echo "installing Debian's $(2) $(3)"; \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq $(2) >/dev/null; \
	fi
endef

# Browser tests drive Debian's chromium (never a downloaded browser).
chromium: ## Install Debian's chromium when it is missing
	$(call apt_install_if_missing,chromium,chromium,for the browser tests)

# Discovered npm scripts really run in the tests (Debian's npm brings nodejs).
npm: ## Install Debian's npm when it is missing
	$(call apt_install_if_missing,npm,npm,for the npm-script tests)

lint: $(VENV)/.installed-dev ## ruff check and ruff format --check
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench

typecheck: $(VENV)/.installed-dev ## mypy --strict over src/
	$(BIN)/mypy

# The PostgreSQL store's tests start a throwaway cluster (tests/postgres_cluster.py) with
# initdb and pg_ctl for the tests' throwaway cluster: Debian puts them under
# /usr/lib/postgresql/<version>/bin, not on PATH; another install may have them on PATH.
postgresql: ## Install Debian's postgresql when it is missing
	$(call apt_install_unless,{ ls /usr/lib/postgresql/*/bin/initdb || command -v initdb; },postgresql,for the PostgreSQL store's tests)

pytest: $(VENV)/.installed-dev chromium npm postgresql ## The whole pytest suite (ARGS="-k name")
	$(BIN)/python -m pytest $(ARGS)

test: lint typecheck pytest ## Every check: lint, typecheck, pytest

# Side by side with the reference (PyPI attune-ai 16.4.0, in its own venv under .bench/).
# GNU time gives each command's peak RSS.
bench: $(VENV)/.installed-dev ## Benchmarks beside the reference implementation (and ccusage)
	$(call apt_install_if_missing,/usr/bin/time,time,for the benchmark's peak RSS figures)
	$(call apt_install_if_missing,npm,npm,for ccusage in the usage benchmark)
	$(BIN)/python bench/compare.py $(ARGS)
	$(if $(ARGS),,$(BIN)/python bench/usage.py $(USAGE_ARGS))

# Claude Code usage beside ccusage 20.0.24 (npm, installed into .bench/ccusage by the script).
bench-usage: $(VENV)/.installed-dev ## Claude Code usage beside ccusage (USAGE_ARGS="--mb 100")
	$(call apt_install_if_missing,/usr/bin/time,time,for the benchmark's peak RSS figures)
	$(call apt_install_if_missing,npm,npm,for ccusage in the usage benchmark)
	$(BIN)/python bench/usage.py $(USAGE_ARGS)

# SQLite beside PostgreSQL (a throwaway cluster, as in the tests): history, search, live stream.
bench-team: $(VENV)/.installed-dev postgresql ## Team mode, SQLite beside PostgreSQL (TEAM_ARGS="--small 10000")
	$(BIN)/python bench/team.py $(TEAM_ARGS)

clean: ## Remove the virtualenv and the caches
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache build src/*.egg-info
