"""Discovered workflows beside attune.toml: precedence, ``[discovery]``, broken files, live
edits, hostile files, and what ``GET /api/workflows`` and the page say about them."""

from __future__ import annotations

import os
from pathlib import Path

import httpx

from attune.ops.runs.workflows import WorkflowRegistry
from tests.discovery_trees import write_all_sources
from tests.helpers import astart_run, await_finished


def _touch(path: Path, text: str) -> None:
    path.write_text(text)
    st = path.stat()
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns + 1_000_000))


def _names(root: Path) -> set[str]:
    return set(WorkflowRegistry(root).load().names())


def test_attune_toml_wins_a_clash(project: Path) -> None:
    (project / "Makefile").write_text("test: ## from make\n\techo make\n")
    (project / "tests").mkdir()
    (project / "attune.toml").write_text(
        '[workflows."make:test"]\ndescription = "mine"\ncommand = ["echo", "mine"]\n'
        'timeout_s = 5\n\n[workflows.pytest]\ncommand = ["echo", "mine too"]\n'
    )
    found = WorkflowRegistry(project).load()
    mine = found.get("make:test")
    assert (mine.source, mine.command, mine.timeout_s) == ("project", ("echo", "mine"), 5.0)
    assert mine.origin == "attune.toml:1"
    assert found.get("pytest").source == "project"
    assert [w.name for w in found.workflows].count("make:test") == 1


def test_discovery_table_turns_it_off_or_picks_sources(project: Path) -> None:
    write_all_sources(project)
    all_sources = _names(project)
    assert any(n.startswith("npm:") for n in all_sources)
    (project / "attune.toml").write_text('[discovery]\nsources = ["make", "pytest"]\n')
    picked = _names(project)
    assert {n.split(":")[0] for n in picked if ":" in n} == {"make"}
    assert "pytest" in picked and "todo-scan" in picked
    _touch(project / "attune.toml", "[discovery]\nenabled = false\n")
    assert _names(project) == {"todo-scan", "secrets-scan"} | ({"claude-review"} & _names(project))


def test_discovery_table_in_pyproject_and_attune_toml_first(project: Path) -> None:
    (project / "Makefile").write_text("a:\n")
    (project / "package.json").write_text('{"scripts": {"b": "x"}}')
    (project / "pyproject.toml").write_text('[tool.attune.discovery]\nsources = ["npm"]\n')
    assert "npm:b" in _names(project) and "make:a" not in _names(project)
    (project / "attune.toml").write_text('[discovery]\nsources = ["make"]\n')
    assert "make:a" in _names(project) and "npm:b" not in _names(project)


def test_a_bad_discovery_table_is_located_and_the_rest_applies(project: Path) -> None:
    (project / "Makefile").write_text("a:\n")
    (project / "attune.toml").write_text(
        '[discovery]\nenabled = "yes"\nsources = ["make", "gulp"]\ncolour = 1\n'
    )
    found = WorkflowRegistry(project).load()
    problems = {(e.key, e.line) for e in found.errors}
    assert problems == {
        ("discovery.enabled", 2),
        ("discovery.sources", 3),
        ("discovery.colour", 4),
    }
    assert "make:a" in found.names()
    gulp = next(e for e in found.errors if e.key == "discovery.sources")
    assert "'gulp'" in gulp.message and "npm" in gulp.message


def test_edits_to_a_source_are_picked_up_without_a_restart(project: Path) -> None:
    registry = WorkflowRegistry(project)
    assert "make:a" not in registry.load().names()
    (project / "Makefile").write_text("a:\n")
    assert "make:a" in registry.load().names()
    _touch(project / "Makefile", "a:\nb: ## new\n")
    assert registry.get("make:b").description == "new"
    (project / "yarn.lock").write_text("")  # a new lockfile changes the runner
    (project / "package.json").write_text('{"scripts": {"s": "x"}}')
    assert registry.get("npm:s").command[0] == "yarn"
    (project / "Makefile").unlink()
    assert "make:a" not in registry.load().names()


def test_an_unchanged_tree_is_not_read_again(project: Path) -> None:
    (project / "Makefile").write_text("a:\n")
    registry = WorkflowRegistry(project)
    assert registry.load() is registry.load()


def test_a_fifo_or_a_symlink_out_of_the_root_is_an_error_not_a_hang(
    project: Path, tmp_path: Path
) -> None:
    os.mkfifo(project / "Makefile")
    outside = tmp_path / "elsewhere.json"
    outside.write_text('{"scripts": {"x": "y"}}')
    (project / "package.json").symlink_to(outside)
    (project / "justfile").write_text("ok:\n  echo\n")
    found = WorkflowRegistry(project).load()
    messages = {e.file: e.message for e in found.errors}
    assert "FIFO" in messages["Makefile"] and "outside the project root" in messages["package.json"]
    assert "just:ok" in found.names()


def test_a_source_over_the_size_cap_is_an_error(project: Path) -> None:
    (project / "Makefile").write_text("a:\n" + "# filler\n" * 150_000)
    [error] = WorkflowRegistry(project).load().errors
    assert error.file == "Makefile" and "over the limit" in error.message


# -- the API and the page ------------------------------------------------------------------------


async def test_api_items_carry_source_origin_command_and_record(
    client: httpx.AsyncClient, project: Path
) -> None:
    (project / "Makefile").write_text("ok: ## say ok\n\t@echo ok\nno:\n\t@exit 3\n")
    body = (await client.get("/api/workflows")).json()
    items = {w["name"]: w for w in body["workflows"]}
    assert items["make:ok"] == {
        "name": "make:ok",
        "description": "say ok",
        "accepts_path": False,
        "source": "make",
        "origin": "Makefile:1",
        "command": ["make", "ok"],
        "last_run": None,
        "success_rate": None,
    }
    assert items["todo-scan"]["source"] == "builtin" and items["todo-scan"]["origin"] is None
    for name in ("make:ok", "make:no", "make:ok"):
        run = await astart_run(client, name)
        await await_finished(client, run["id"])
    items = {w["name"]: w for w in (await client.get("/api/workflows")).json()["workflows"]}
    ok, no = items["make:ok"], items["make:no"]
    assert ok["last_run"]["status"] == "succeeded" and ok["success_rate"] == 1.0
    assert ok["last_run"]["duration_s"] is not None
    assert no["last_run"]["status"] == "failed" and no["success_rate"] == 0.0


async def test_the_page_groups_by_source_most_recently_used_first(
    client: httpx.AsyncClient, project: Path
) -> None:
    (project / "Makefile").write_text("first:\n\t@true\nsecond:\n\t@true\n")
    (project / "package.json").write_text('{"scripts": {"hello": "echo hi"}}')
    page = (await client.get("/workflows")).text
    order = [page.index(f'data-source="{s}"') for s in ("npm", "make", "builtin")]
    assert order == sorted(order)
    assert page.index('data-name="make:first"') < page.index('data-name="make:second"')
    assert "never run" in page and "Makefile:1" in page
    run = await astart_run(client, "make:second")
    await await_finished(client, run["id"])
    page = (await client.get("/workflows")).text
    assert page.index('data-source="make"') < page.index('data-source="npm"')
    assert page.index('data-name="make:second"') < page.index('data-name="make:first"')
    assert f'href="/runs/{run["id"]}"' in page and "100% ok" in page
    _touch(project / "Makefile", "first:\n\t@true\nsecond:\n\t@true\nthird: ## new\n")
    assert 'data-name="make:third"' in (await client.get("/workflows")).text  # no stale list
    # The first workflow shown (the one used last) is preselected.
    assert 'value="make:second"\n' in page or 'value="make:second"' in page.split("checked")[0]
