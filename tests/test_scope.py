"""The scope API and path containment: listing, hidden entries, hostile paths."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from attune.ops.errors import InvalidPath, NotFound
from attune.ops.runs.scope import list_scope, resolve_scope


@pytest.fixture
def tree(project: Path, tmp_path: Path) -> Path:
    (project / "src" / "app").mkdir(parents=True)
    (project / "src" / "app" / "main.py").write_text("print()\n")
    (project / "docs").mkdir()
    (project / "README.md").write_text("hi\n")
    (project / "b.txt").write_text("b\n")
    for hidden in (".git", ".venv", "node_modules", "__pycache__", "build"):
        (project / hidden).mkdir()
    (project / "debug.log").write_text("x\n")
    (project / ".gitignore").write_text("# comment\n*.log\nbuild/\n")
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret.txt").write_text("s\n")
    (project / "escape").symlink_to(outside)
    (project / "inside-link").symlink_to(project / "src")
    return project


async def test_lists_one_level_dirs_first(client: httpx.AsyncClient, tree: Path) -> None:
    r = await client.get("/api/scope", params={"path": ""})
    assert r.status_code == 200
    body = r.json()
    assert body["path"] == ""
    assert body["entries"] == [
        {"name": "docs", "path": "docs", "kind": "dir"},
        {"name": "inside-link", "path": "inside-link", "kind": "dir"},
        {"name": "src", "path": "src", "kind": "dir"},
        {"name": ".gitignore", "path": ".gitignore", "kind": "file"},
        {"name": "b.txt", "path": "b.txt", "kind": "file"},
        {"name": "README.md", "path": "README.md", "kind": "file"},
    ]
    r = await client.get("/api/scope", params={"path": "src/app"})
    assert r.json() == {
        "path": "src/app",
        "entries": [{"name": "main.py", "path": "src/app/main.py", "kind": "file"}],
    }


async def test_hidden_entries_on_request(client: httpx.AsyncClient, tree: Path) -> None:
    r = await client.get("/api/scope", params={"hidden": 1})
    entries = {e["name"]: e for e in r.json()["entries"]}
    for name in (".git", ".venv", "node_modules", "__pycache__", "build", "debug.log"):
        assert entries[name]["hidden"] is True, name
    assert entries["src"]["hidden"] is False
    assert "escape" not in entries  # a link out of the project is never offered


def test_gitignore_negation_and_anchors(project: Path) -> None:
    (project / ".gitignore").write_text("*.tmp\n!keep.tmp\n/top-only\n")
    (project / "a.tmp").write_text("")
    (project / "keep.tmp").write_text("")
    (project / "top-only").mkdir()
    (project / "sub").mkdir()
    (project / "sub" / "top-only").mkdir()
    root = {e.name: e.hidden for e in list_scope(project, "", include_hidden=True)}
    assert root["a.tmp"] and not root["keep.tmp"] and root["top-only"]
    sub = {e.name: e.hidden for e in list_scope(project, "sub", include_hidden=True)}
    assert sub["top-only"] is False


def test_every_gitignore_from_the_root_down_applies(project: Path) -> None:
    (project / ".gitignore").write_text("docs/*.md\n")
    (project / "docs" / "sub").mkdir(parents=True)
    (project / "docs" / "top.md").write_text("")
    (project / "docs" / "sub" / "deep.md").write_text("")
    (project / "web" / "a" / "b").mkdir(parents=True)
    (project / "web" / ".gitignore").write_text("*.tmp\n")
    (project / "web" / "a" / "b" / "x.tmp").write_text("")
    (project / "web" / "a" / "b" / "x.txt").write_text("")

    def hidden(rel: str) -> dict[str, bool]:
        return {e.name: e.hidden for e in list_scope(project, rel, include_hidden=True)}

    assert hidden("docs")["top.md"] is True
    assert hidden("docs/sub")["deep.md"] is False  # '*' does not cross a '/'
    assert hidden("web/a/b") == {"x.tmp": True, "x.txt": False}  # web/.gitignore, two levels up


def test_a_folder_that_ignores_all_its_contents_is_dimmed(project: Path) -> None:
    for folder, rules in ((".pytest_cache", "*\n"), ("partial", "*\n!keep.txt\n")):
        (project / folder / "v").mkdir(parents=True)
        (project / folder / ".gitignore").write_text(rules)
        (project / folder / "keep.txt").write_text("")
    root = {e.name: e.hidden for e in list_scope(project, "", include_hidden=True)}
    assert root[".pytest_cache"] is True and root["partial"] is False
    assert ".pytest_cache" not in {e.name for e in list_scope(project, "")}
    inside = {e.name: e.hidden for e in list_scope(project, ".pytest_cache", include_hidden=True)}
    assert inside == {".gitignore": True, "keep.txt": True, "v": True}


LIST_SCOPE = """
import json, sys
from pathlib import Path
from attune.ops.runs.scope import list_scope
entries = list_scope(Path(sys.argv[1]), sys.argv[2], include_hidden=True)
print(json.dumps({e.name: e.hidden for e in entries}))
"""


@pytest.mark.parametrize("rel", ["", "sub"])
def test_fifos_never_block_the_listing(project: Path, rel: str) -> None:
    """A FIFO blocks open() until a writer comes: as an entry and as a .gitignore."""
    (project / "sub" / "inner").mkdir(parents=True)
    (project / "sub" / "a.txt").write_text("")
    for fifo in ("pipe", ".gitignore", "sub/pipe", "sub/.gitignore", "sub/inner/.gitignore"):
        os.mkfifo(project / fifo)
    proc = subprocess.run(
        [sys.executable, "-c", LIST_SCOPE, str(project), rel],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert proc.returncode == 0, proc.stderr
    names = json.loads(proc.stdout)
    assert names == (
        {"pipe": False, ".gitignore": False, "sub": False}
        if rel == ""
        else {"pipe": False, ".gitignore": False, "inner": False, "a.txt": False}
    )


@pytest.mark.parametrize(
    "path",
    [
        "/etc",
        "../",
        "src/../../x",
        "..",
        "escape",
        "escape/secret.txt",
        "a\x00b",
        "src\\..\\..",
        "C:/Windows",
        "~/x",
        "a/" * 2100,
        "x" * 300,
        "src/app/main.py",  # a file is not a folder to list
    ],
)
async def test_hostile_paths_are_400(client: httpx.AsyncClient, tree: Path, path: str) -> None:
    r = await client.get("/api/scope", params={"path": path})
    assert r.status_code == 400, r.text
    assert r.json()["error"]["code"] == "invalid_path"


async def test_missing_folder_is_404(client: httpx.AsyncClient, tree: Path) -> None:
    r = await client.get("/api/scope", params={"path": "nope/deeper"})
    assert r.status_code == 404
    assert r.json()["error"]["code"] == "not_found"


def test_resolve_accepts_links_inside(tree: Path) -> None:
    assert resolve_scope(tree, "inside-link/app") == (tree / "src" / "app").resolve()
    assert resolve_scope(tree, "./src//app/") == (tree / "src" / "app").resolve()
    assert resolve_scope(tree, None) == tree.resolve()


@settings(
    max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    st.lists(
        st.one_of(
            st.sampled_from(["..", ".", "", "src", "escape", "inside-link", "app", "/", "\\", "~"]),
            st.text(max_size=12),
        ),
        max_size=8,
    ).map("/".join)
)
def test_containment_property(tree: Path, rel: str) -> None:
    """Whatever the text, the result is inside the root or a clean InvalidPath / 404."""
    try:
        real = resolve_scope(tree, rel)
    except (InvalidPath, NotFound):
        return
    root = tree.resolve()
    assert real == root or root in real.parents
    assert os.path.realpath(real) == str(real)


async def test_huge_folder_is_cut_sorted_and_flagged(
    client: httpx.AsyncClient, project: Path
) -> None:
    big = project / "big"
    big.mkdir()
    for i in range(5003):
        (big / f"f{i:05d}").touch()
    (big / "zdir").mkdir()
    body = (await client.get("/api/scope", params={"path": "big"})).json()
    assert body["truncated"] is True and len(body["entries"]) == 5000
    assert body["entries"][0]["name"] == "zdir"  # dirs first, even past the cut
    assert body["entries"][1]["name"] == "f00000"
    small = (await client.get("/api/scope")).json()
    assert "truncated" not in small
