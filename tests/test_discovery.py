"""Zero-config workflows: every task source read statically from a real small project tree,
with names, lines, commands and scopes; nothing of the project is ever run to find them."""

from __future__ import annotations

import json
import os
import stat
import sys
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from attune.ops.runs.discovery import make, npm, tox
from attune.ops.runs.discovery.just import parse_justfile
from attune.ops.runs.workflows import Workflow, WorkflowRegistry, WorkflowSet
from tests.discovery_trees import EXPECTED, write_all_sources


def _load(root: Path) -> WorkflowSet:
    return WorkflowRegistry(root).load()


def _by_name(found: WorkflowSet) -> dict[str, Workflow]:
    return {w.name: w for w in found.workflows}


def _line_of(root: Path, workflow: Workflow) -> str:
    """The text of the line a workflow's origin points at."""
    assert workflow.origin is not None
    file, line = workflow.origin.rsplit(":", 1)
    return (root / file).read_text().split("\n")[int(line) - 1]


def _touch(path: Path, text: str) -> None:
    path.write_text(text)
    st_ = path.stat()  # a quick second write must look changed
    os.utime(path, ns=(st_.st_atime_ns, st_.st_mtime_ns + 1_000_000))


@pytest.fixture
def tree(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("PATH", "/usr/bin:/bin")  # no `just` here: the static reader is tested
    return write_all_sources(tmp_path / "demo")


# -- the whole tree ---------------------------------------------------------------------------


def test_every_source_is_found_with_its_origin_and_command(tree: Path) -> None:
    found = _load(tree)
    names = _by_name(found)
    assert set(names) >= EXPECTED
    discovered = {n for n, w in names.items() if w.source not in ("builtin", "project")}
    assert discovered == EXPECTED
    for workflow in names.values():
        if workflow.source not in ("builtin", "project", "pytest"):
            assert workflow.name.startswith(workflow.source + ":")
            assert workflow.origin and ":" in workflow.origin
    # The one error: the poe task without a kind, located at its table.
    [error] = found.errors
    assert error.file == "pyproject.toml" and error.key == "tool.poe.tasks.bad"
    assert (tree / "pyproject.toml").read_text().split("\n")[error.line - 1] == (
        "[tool.poe.tasks.bad]"
    )
    body = names["make:build"].to_json()
    assert body == {
        "name": "make:build",
        "description": "Build the thing",
        "accepts_path": False,
        "source": "make",
        "origin": "Makefile:9",
        "command": ["make", "build"],
    }


def test_discovery_runs_no_project_code(tree: Path) -> None:
    """The Makefile's `$(shell touch …)` and the noxfile's `open(…, 'w')` at import never run."""
    for _ in range(2):
        _load(tree)
    assert not (tree / "pwned-by-make").exists()
    assert not (tree / "pwned-by-nox").exists()
    assert not (tree / "pwned").exists()


def test_groups_come_in_source_order_and_file_order(tree: Path) -> None:
    order = [w.source for w in _load(tree).workflows]
    seen = list(dict.fromkeys(order))
    assert seen == [
        "npm",
        "make",
        "just",
        "task",
        "poe",
        "pdm",
        "hatch",
        "tox",
        "nox",
        "pytest",
        "builtin",
    ]
    makes = [w.name for w in _load(tree).workflows if w.source == "make"]
    assert makes == ["make:build", "make:test", "make:lint", "make:clean", "make:docs/html",
                     "make:deploy"]  # fmt: skip


# -- package.json -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("files", "manager"),
    [
        ({}, "npm"),
        ({"package-lock.json": "{}"}, "npm"),
        ({"pnpm-lock.yaml": "lockfileVersion: 9"}, "pnpm"),
        ({"yarn.lock": "# yarn"}, "yarn"),
        ({"bun.lockb": ""}, "bun"),
        ({"bun.lock": "{}"}, "bun"),
        ({"yarn.lock": "", "package-lock.json": "{}"}, "yarn"),
    ],
)
def test_npm_scripts_run_with_the_lockfiles_manager(
    tmp_path: Path, files: dict[str, str], manager: str
) -> None:
    (tmp_path / "package.json").write_text('{"scripts": {"build": "tsc"}}')
    for name, text in files.items():
        (tmp_path / name).write_text(text)
    build = _by_name(_load(tmp_path))["npm:build"]
    assert build.command == (manager, "run", "build")
    assert build.description == "tsc" and build.origin == "package.json:1"


def test_npm_package_manager_field_wins_over_the_lockfile(tmp_path: Path) -> None:
    (tmp_path / "package.json").write_text(
        '{"packageManager": "pnpm@9.1.0", "scripts": {"dev": "vite"}}'
    )
    (tmp_path / "package-lock.json").write_text("{}")
    assert _by_name(_load(tmp_path))["npm:dev"].command == ("pnpm", "run", "dev")


def test_npm_hooks_are_not_listed_and_lines_are_the_keys(tree: Path) -> None:
    names = _by_name(_load(tree))
    assert "npm:pretest" not in names
    for name in ("npm:build", "npm:test", "npm:lint:js"):
        assert _line_of(tree, names[name]).strip().startswith(json.dumps(name[4:]) + ":")


def test_npm_script_lines_ignore_nested_look_alikes() -> None:
    text = (
        '{\n  "config": {"scripts": {"x": "no"}},\n  "scripts": {\n'
        '    "a\\"b": "one",\n    "c": "two"\n  },\n  "d": {"c": 1}\n}\n'
    )
    assert npm.script_lines(text) == {"": 3, 'a"b': 4, "c": 5}


def test_broken_package_json_is_one_located_error_and_hides_nothing(tmp_path: Path) -> None:
    (tmp_path / "package.json").write_text('{\n  "scripts": {\n    "a": "x",\n  }\n}\n')
    (tmp_path / "Makefile").write_text("build:\n\techo hi\n")
    found = _load(tmp_path)
    [error] = found.errors
    assert error.file == "package.json" and error.line == 4
    assert error.message.startswith("invalid JSON")
    assert "make:build" in found.names() and "todo-scan" in found.names()


def test_npm_scripts_that_are_no_strings_are_errors(tmp_path: Path) -> None:
    (tmp_path / "package.json").write_text('{"scripts": {\n"ok": "x",\n"bad": 3\n}}')
    found = _load(tmp_path)
    assert "npm:ok" in found.names() and "npm:bad" not in found.names()
    assert [(e.line, e.key) for e in found.errors] == [(3, "scripts.bad")]


# -- Makefile ------------------------------------------------------------------------------------


def test_makefile_targets_help_and_what_is_left_out(tree: Path) -> None:
    names = _by_name(_load(tree))
    assert names["make:build"].description == "Build the thing"
    assert names["make:test"].description == "Run the tests"  # a `##` after the deps
    assert names["make:lint"].description == "Lint everything"  # a `##` line above
    assert names["make:clean"].description == ""
    assert _line_of(tree, names["make:deploy"]) == "deploy:"  # not the target variable line
    assert _line_of(tree, names["make:test"]).startswith("test: build")
    for left_out in ("make:%.o", "make:main.o", "make:$(BIN)/python", "make:.PHONY",
                     "make:.DEFAULT_GOAL", "make:not-a-target", "make:PYTEST_ADDOPTS",
                     "make:BIN", "make:include"):  # fmt: skip
        assert left_out not in names


@pytest.mark.parametrize(
    ("text", "targets"),
    [
        ("a b: c\n\techo\n", ["a", "b"]),
        ("all:: one\nall:: two\n", ["all"]),
        ("x y &: z\n", ["x", "y"]),
        ("X := a:b\nY = c:d\nZ ?= e\nW != f:g\nexport V := 1\n", []),
        ("ifeq ($(A),b)\nwin:\nelse\nlin:\nendif\n", ["win", "lin"]),
        ("long: \\\n  dep1 \\\n  dep2 ## the help\n", ["long"]),
        ("vpath %.c src:lib\noverride CFLAGS += -O2\n", []),
        ("\tnot-a-rule: really\n", []),
        ("out/file.txt:\n\ttouch $@\n.PHONY: out/file.txt\n", ["out/file.txt"]),
        ("build.all: ## documented\n", ["build.all"]),
        ("build.all:\n", []),
        ("hash: ## one \\# two\n", ["hash"]),
        ("t: ; @echo inline\n", ["t"]),
        ("define A =\nx: y\nendef\nz:\n", ["z"]),
        ("define OUTER\ndefine INNER\na:\nendef\nb:\nendef\nc:\n", ["c"]),
    ],
)
def test_makefile_shapes(text: str, targets: list[str]) -> None:
    parsed, errors = make.parse_makefile(text)
    assert [t.name for t in parsed] == targets and errors == []


def test_makefile_define_without_endef_is_an_error_with_its_line(tmp_path: Path) -> None:
    (tmp_path / "Makefile").write_text("ok:\n\techo\n\ndefine BROKEN\nbody\n")
    found = _load(tmp_path)
    [error] = found.errors
    assert (error.file, error.line) == ("Makefile", 4) and "endef" in error.message
    assert "make:ok" in found.names()


def test_gnumakefile_is_read_first_like_make(tmp_path: Path) -> None:
    (tmp_path / "GNUmakefile").write_text("gnu:\n")
    (tmp_path / "Makefile").write_text("plain:\n")
    found = _load(tmp_path)
    assert "make:gnu" in found.names() and "make:plain" not in found.names()
    assert _by_name(found)["make:gnu"].origin == "GNUmakefile:1"


def test_five_hundred_targets(tmp_path: Path) -> None:
    lines = [f"t{i}: ## target {i}\n\t@echo {i}\n" for i in range(500)]
    (tmp_path / "Makefile").write_text("".join(lines))
    found = [w for w in _load(tmp_path).workflows if w.source == "make"]
    assert len(found) == 500 and found[499].description == "target 499"
    assert found[499].origin == "Makefile:999"


@given(st.text(alphabet="ab:=#%$.\t \\\n()", max_size=80))
def test_the_makefile_reader_never_raises(text: str) -> None:
    targets, _ = make.parse_makefile(text)
    assert all(t.name and "%" not in t.name and "$" not in t.name for t in targets)


# -- justfile ------------------------------------------------------------------------------------


def test_justfile_recipes_docs_parameters_and_private_ones(tree: Path) -> None:
    names = _by_name(_load(tree))
    assert names["just:build"].description == "Build the project"
    assert names["just:build"].command == ("just", "build") and not names["just:build"].accepts_path
    test = names["just:test"]
    assert test.description == "Run the tests on a path"  # the comment above the attribute
    assert test.command == ("just", "test", "{path}") and test.accepts_path
    assert test.argv("src") == ["just", "test", "src"]
    assert names["just:serve"].description == "Serve it on a port"  # [doc('…')]
    assert _line_of(tree, names["just:serve"]).startswith("serve ")
    for hidden in ("just:helper", "just:_also-hidden", "just:b", "just:version", "just:set"):
        assert hidden not in names


def test_justfile_static_reader_shapes() -> None:
    text = (
        "x := 'a:b'\n@quiet:\n  echo\nwith-deps: build test\n"
        "default-url url=\"http://x:1\" +rest:\n  echo\nmod sub\nimport 'more.just'\n"
        'export PATH := "/bin"\n'
    )
    assert [(r.name, r.parameters) for r in parse_justfile(text)] == [
        ("quiet", ()),
        ("with-deps", ()),
        ("default-url", ("url", "rest")),
    ]


def _fake_just(bin_dir: Path, script: str) -> None:
    bin_dir.mkdir()
    path = bin_dir / "just"
    path.write_text(f"#!{sys.executable}\n{script}")
    path.chmod(path.stat().st_mode | stat.S_IEXEC)


def test_justfile_through_just_dump_when_just_is_installed(
    tree: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With `just` on PATH its JSON dump is the authority (docs, parameters, privacy)."""
    dump = {
        "recipes": {
            "build": {"name": "build", "doc": "Build (from just)", "parameters": [],
                      "private": False},
            "test": {"name": "test", "doc": None, "private": False,
                     "parameters": [{"name": "path", "kind": "singular", "default": "."}]},
            "helper": {"name": "helper", "doc": None, "parameters": [], "private": True},
        }
    }  # fmt: skip
    _fake_just(
        tmp_path / "bin",
        "import json, sys\nassert '--dump' in sys.argv and '--justfile' in sys.argv\n"
        f"print(json.dumps({dump!r}))\n",
    )
    monkeypatch.setenv("PATH", f"{tmp_path / 'bin'}:/usr/bin:/bin")
    names = _by_name(_load(tree))
    assert names["just:build"].description == "Build (from just)"
    assert names["just:test"].accepts_path and names["just:test"].origin == "justfile:11"
    assert "just:serve" not in names and "just:helper" not in names


def test_a_justfile_just_refuses_is_an_error_with_its_line(
    tree: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _fake_just(
        tmp_path / "bin",
        "import sys\nsys.stderr.write('error: Unknown setting `shel`\\n ——▶ justfile:1:5\\n')\n"
        "sys.exit(1)\n",
    )
    monkeypatch.setenv("PATH", f"{tmp_path / 'bin'}:/usr/bin:/bin")
    found = _load(tree)
    [error] = [e for e in found.errors if e.file == "justfile"]
    assert error.line == 1 and "Unknown setting" in error.message
    assert not any(n.startswith("just:") for n in found.names())
    assert "make:build" in found.names()


# -- Taskfile ------------------------------------------------------------------------------------


def test_taskfile_desc_summary_short_forms_and_hidden_tasks(tree: Path) -> None:
    names = _by_name(_load(tree))
    assert names["task:build"].description == "Build the binary"
    assert names["task:test"].description == "Run the tests"  # summary's first line
    assert names["task:test"].command == ("task", "test", "--", "{path}")  # CLI_ARGS
    assert names["task:fmt"].description == "gofmt -w ."
    assert _line_of(tree, names["task:test"]) == "  test:"
    assert "task:internal-thing" not in names and "task:start:*" not in names


def test_broken_taskfile_is_an_error_with_its_line(tmp_path: Path) -> None:
    (tmp_path / "Taskfile.yml").write_text("version: '3'\ntasks:\n  a:\n    cmds: [x\n  b: y\n")
    found = _load(tmp_path)
    [error] = found.errors
    assert error.file == "Taskfile.yml" and error.line in (4, 5)
    assert error.message.startswith("invalid YAML")


def test_taskfile_tags_are_never_constructed(tmp_path: Path) -> None:
    (tmp_path / "Taskfile.yml").write_text(
        "tasks:\n  a: !!python/object/apply:os.system ['touch pwned']\n"
    )
    found = _load(tmp_path)
    assert "task:a" in found.names() and not (tmp_path / "pwned").exists()


# -- pyproject: poe, pdm, hatch -------------------------------------------------------------------


def test_poe_task_forms(tree: Path) -> None:
    names = _by_name(_load(tree))
    assert names["poe:fmt"].description == "ruff format ."
    assert names["poe:check"].description == "sequence: fmt, lint"
    assert names["poe:lint"].description == "Lint the code"  # help
    assert names["poe:serve"].description == "script: demo.app:main"
    assert names["poe:lint"].command == ("poe", "lint")
    assert _line_of(tree, names["poe:lint"]) == "[tool.poe.tasks.lint]"
    assert _line_of(tree, names["poe:fmt"]).startswith("fmt =")
    assert "poe:_private" not in names


def test_pdm_script_forms(tree: Path) -> None:
    names = _by_name(_load(tree))
    assert names["pdm:start"].command == ("pdm", "run", "start")
    unit = names["pdm:unit"]
    assert unit.description == "Unit tests" and unit.command == ("pdm", "run", "unit", "{path}")
    assert names["pdm:clean"].description == "shell: rm -rf build && echo done"
    assert "pdm:_" not in names


def test_hatch_scripts_of_every_env_and_hatch_toml_first(tree: Path) -> None:
    names = _by_name(_load(tree))
    assert names["hatch:cov"].command == ("hatch", "run", "cov", "{path}")
    assert names["hatch:docs:build"].command == ("hatch", "run", "docs:build")
    assert names["hatch:docs:build"].description == "mkdocs build && echo built"
    (tree / "hatch.toml").write_text('[envs.lint.scripts]\nstyle = "ruff check"\n')
    names = _by_name(_load(tree))
    assert names["hatch:lint:style"].origin == "hatch.toml:2"
    assert "hatch:cov" not in names


# -- tox -----------------------------------------------------------------------------------------


def test_tox_ini_envlist_factors_sections_and_posargs(tree: Path) -> None:
    names = _by_name(_load(tree))
    assert names["tox:py311"].command == ("tox", "-e", "py311", "--", "{path}")
    assert names["tox:py311"].description == "run the tests"
    assert names["tox:lint"].command == ("tox", "-e", "lint")
    assert _line_of(tree, names["tox:lint"]) == "[testenv:lint]"
    assert _line_of(tree, names["tox:py312"]).startswith("envlist")


@pytest.mark.parametrize(
    ("raw", "envs"),
    [
        ("py{311,312}-django{42,50}, lint", ["py311-django42", "py311-django50",
                                             "py312-django42", "py312-django50", "lint"]),
        ("py3{10-12}\n  docs # comment", ["py310", "py311", "py312", "docs"]),
        ("a,,a", ["a"]),
    ],
)  # fmt: skip
def test_tox_env_expansion(raw: str, envs: list[str]) -> None:
    assert tox.expand_envs(tox.split_envs(raw)) == envs


def test_tox_toml_and_tool_tox_native_tables(tmp_path: Path) -> None:
    (tmp_path / "tox.toml").write_text(
        'env_list = ["3.12", "type"]\n\n[env_run_base]\ndescription = "tests"\n'
        'commands = [["pytest", { replace = "posargs", extend = true }]]\n\n'
        '[env.type]\ndescription = "type check"\ncommands = [["mypy", "src"]]\n'
    )
    names = _by_name(_load(tmp_path))
    assert names["tox:3.12"].accepts_path and names["tox:3.12"].description == "tests"
    assert not names["tox:type"].accepts_path and names["tox:type"].origin == "tox.toml:7"
    (tmp_path / "pyproject.toml").write_text(
        '[tool.tox]\nenv_list = ["lint"]\n[tool.tox.env.lint]\ncommands = [["ruff", "check"]]\n'
    )
    names = _by_name(_load(tmp_path))  # pyproject's [tool.tox] comes before tox.toml
    assert "tox:lint" in names and "tox:type" not in names
    assert names["tox:lint"].origin == "pyproject.toml:3"


def test_tox_legacy_ini_in_pyproject_and_setup_cfg(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text(
        '[tool.tox]\nlegacy_tox_ini = """\n[tox]\nenvlist = py311\n[testenv]\n'
        'commands = pytest {posargs}\n"""\n'
    )
    assert _by_name(_load(tmp_path))["tox:py311"].accepts_path
    (tmp_path / "setup.cfg").write_text("[tox:tox]\nenvlist = cfg\n")
    assert "tox:cfg" in _load(tmp_path).names()


def test_broken_tox_ini_is_an_error_with_its_line(tmp_path: Path) -> None:
    (tmp_path / "tox.ini").write_text("[tox]\nenvlist = a\nnot a key line\n")
    [error] = _load(tmp_path).errors
    assert (error.file, error.line) == ("tox.ini", 3) and "INI" in error.message


# -- nox -----------------------------------------------------------------------------------------


def test_nox_sessions_by_ast(tree: Path) -> None:
    names = _by_name(_load(tree))
    assert names["nox:tests"].description == "Run the tests."
    assert names["nox:tests"].command == ("nox", "-s", "tests", "--", "{path}")  # posargs
    assert names["nox:lint-all"].command == ("nox", "-s", "lint-all")  # name=
    assert names["nox:django"].command == ("nox", "-s", "django")  # parametrized: once
    assert _line_of(tree, names["nox:tests"]).startswith("def tests(")
    assert "nox:helper" not in names and "nox:lint" not in names


def test_nox_import_alias_and_broken_noxfile(tmp_path: Path) -> None:
    (tmp_path / "noxfile.py").write_text(
        "import nox as n\n\n@n.session\ndef a(s):\n    pass\n\n"
        "@other.session\ndef b(s):\n    pass\n"
    )
    assert {w.name for w in _load(tmp_path).workflows if w.source == "nox"} == {"nox:a"}
    _touch(tmp_path / "noxfile.py", "import nox\n\n@nox.session\ndef a(s:\n    pass\n")
    [error] = _load(tmp_path).errors
    assert error.file == "noxfile.py" and error.line == 4 and "invalid Python" in error.message


# -- pytest --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("files", "origin"),
    [
        ({"pytest.ini": "[pytest]\n"}, "pytest.ini:1"),
        ({"pyproject.toml": '[project]\nname="x"\n\n[tool.pytest.ini_options]\n'},
         "pyproject.toml:4"),
        ({"tox.ini": "[tox]\nenvlist = a\n\n[pytest]\naddopts = -q\n"}, "tox.ini:4"),
        ({"setup.cfg": "[metadata]\nname = x\n[tool:pytest]\n"}, "setup.cfg:3"),
        ({"conftest.py": ""}, "conftest.py:1"),
        ({"tests/test_x.py": ""}, None),
    ],
)  # fmt: skip
def test_pytest_workflow_when_configured_or_a_tests_folder(
    tmp_path: Path, files: dict[str, str], origin: str | None
) -> None:
    for name, text in files.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(text)
    workflow = _by_name(_load(tmp_path))["pytest"]
    assert workflow.origin == origin and workflow.accepts_path and workflow.source == "pytest"
    assert workflow.argv("tests/unit") == ["python3", "-m", "pytest", "tests/unit"]


def test_pytest_uses_the_projects_virtualenv(tmp_path: Path) -> None:
    (tmp_path / "tests").mkdir()
    assert "pytest" in _load(tmp_path).names()
    (tmp_path / ".venv" / "bin").mkdir(parents=True)
    (tmp_path / ".venv" / "bin" / "python").write_text("")
    assert _by_name(_load(tmp_path))["pytest"].command[0] == ".venv/bin/python"


def test_no_sources_no_discovered_workflows(tmp_path: Path) -> None:
    found = _load(tmp_path)
    assert {w.source for w in found.workflows} == {"builtin"} and found.errors == ()
