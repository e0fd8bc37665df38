"""Small real project trees holding one file of every task source (written by the tests).

``write_all_sources(root)`` writes a project with a ``package.json`` (and an npm lockfile), a
Makefile, a justfile, a Taskfile, poe / pdm / hatch tables in ``pyproject.toml``, a ``tox.ini``,
a ``noxfile.py`` and a ``tests/`` folder; ``EXPECTED`` is what discovery must find in it.
"""

from __future__ import annotations

import json
from pathlib import Path

PACKAGE_JSON = {
    "name": "demo",
    "version": "1.0.0",
    "scripts": {
        "build": "node -e \"console.log('built')\"",
        "pretest": "node -e \"console.log('before the tests')\"",
        "test": 'node -e "process.stdout.write(process.env.FORCE_COLOR ? '
        "'\\u001b[32mgreen tests\\u001b[0m\\n' : 'plain tests\\n')\"",
        "lint:js": "eslint .",
    },
}

MAKEFILE = """\
# A real-world Makefile shape.
BIN := $(VENV)/bin
PWN := $(shell touch pwned-by-make)
include config.mk
-include $(wildcard *.d)

.PHONY: build test lint clean docs/html

build: ## Build the thing
\t@echo building

test: build ## Run the tests
\t@echo testing
\t@echo "two: lines"

## Lint everything
lint:
\t@echo linting

clean:
\trm -rf build

docs/html:
\t@echo docs

%.o: %.c
\tcc -c $<

$(BIN)/python:
\tpython3 -m venv .venv

main.o: main.c

.DEFAULT_GOAL := build
test: PYTEST_ADDOPTS = -x

define LONG
not-a-target: really
endef

deploy: export STAGE = prod
deploy:
\t@echo deploy
"""

JUSTFILE = """\
set shell := ["bash", "-c"]
alias b := build
version := "1.0"

# Build the project
build:
    echo building

# Run the tests on a path
[group('checks')]
test path='.' *flags:
    pytest {{path}} {{flags}}

[private]
helper:
    echo hidden

_also-hidden:
    echo hidden

[doc('Serve it on a port')]
serve port="127.0.0.1:8000":
    python -m http.server {{port}}
"""

TASKFILE = """\
version: '3'

tasks:
  build:
    desc: Build the binary
    cmds:
      - go build ./...
  test:
    summary: |
      Run the tests
      with more words
    cmds:
      - go test {{.CLI_ARGS}}
  internal-thing:
    internal: true
    cmds: [echo hidden]
  fmt: gofmt -w .
  start:*:
    cmds: [echo wildcard]
"""

PYPROJECT = """\
[project]
name = "demo"

[tool.pytest.ini_options]
testpaths = ["tests"]

[tool.poe.tasks]
fmt = "ruff format ."
check = ["fmt", "lint"]
_private = "echo hidden"

[tool.poe.tasks.lint]
cmd = "ruff check ."
help = "Lint the code"

[tool.poe.tasks.serve]
script = "demo.app:main"

[tool.poe.tasks.bad]
nothing = "here"

[tool.pdm.scripts]
_ = { env_file = ".env" }
start = "flask run -p 54321"
unit = { cmd = ["pytest", "{args}"], help = "Unit tests" }
clean = { shell = "rm -rf build && echo done" }

[tool.hatch.envs.default.scripts]
cov = "pytest --cov {args}"

[tool.hatch.envs.docs.scripts]
build = ["mkdocs build", "echo built"]
"""

TOX_INI = """\
[tox]
envlist = py{311,312}, lint

[testenv]
description = run the tests
commands = pytest {posargs}

[testenv:lint]
description = lint the code
commands = ruff check .

[testenv:docs]
commands = mkdocs build
"""

NOXFILE = """\
import nox
from nox import session as sess

open('pwned-by-nox', 'w').write('imported!')


@nox.session(python=["3.11", "3.12"])
def tests(session):
    \"\"\"Run the tests.

    More words.
    \"\"\"
    session.run("pytest", *session.posargs)


@nox.session(name="lint-all")
def lint(session):
    \"\"\"Lint.\"\"\"
    session.run("ruff", "check", ".")


@sess
@nox.parametrize("django", ["4.2", "5.0"])
def django(session, django):
    session.install(f"django=={django}")


def helper():
    pass
"""

EXPECTED = {
    "npm:build",
    "npm:test",
    "npm:lint:js",
    "make:build",
    "make:test",
    "make:lint",
    "make:clean",
    "make:docs/html",
    "make:deploy",
    "just:build",
    "just:test",
    "just:serve",
    "task:build",
    "task:test",
    "task:fmt",
    "poe:fmt",
    "poe:check",
    "poe:lint",
    "poe:serve",
    "pdm:start",
    "pdm:unit",
    "pdm:clean",
    "hatch:cov",
    "hatch:docs:build",
    "tox:py311",
    "tox:py312",
    "tox:lint",
    "tox:docs",
    "nox:tests",
    "nox:lint-all",
    "nox:django",
    "pytest",
}


def write_all_sources(root: Path) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    (root / "package.json").write_text(json.dumps(PACKAGE_JSON, indent=2) + "\n")
    (root / "package-lock.json").write_text('{"lockfileVersion": 3}\n')
    (root / "Makefile").write_text(MAKEFILE)
    (root / "justfile").write_text(JUSTFILE)
    (root / "Taskfile.yml").write_text(TASKFILE)
    (root / "pyproject.toml").write_text(PYPROJECT)
    (root / "tox.ini").write_text(TOX_INI)
    (root / "noxfile.py").write_text(NOXFILE)
    (root / "tests").mkdir(exist_ok=True)
    return root
