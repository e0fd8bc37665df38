"""The shared .gitignore reader: what the scope picker dims and the scanners skip."""

from __future__ import annotations

from pathlib import Path

from hypothesis import given
from hypothesis import strategies as st

from attune.gitignore import gitignore_rules, is_ignored, parse_gitignore


def test_names_dirs_negations_and_anchors() -> None:
    rules = parse_gitignore("# comment\n\n*.log\nbuild/\n!keep.log\n/dist\ndocs/*.tmp\n")
    assert is_ignored(rules, "a/b/x.log", "x.log", is_dir=False)
    assert not is_ignored(rules, "keep.log", "keep.log", is_dir=False)
    assert is_ignored(rules, "src/build", "build", is_dir=True)
    assert not is_ignored(rules, "src/build", "build", is_dir=False)  # a file named build
    assert is_ignored(rules, "dist", "dist", is_dir=True)
    assert is_ignored(rules, "docs/a.tmp", "a.tmp", is_dir=False)
    assert not is_ignored(rules, "src/a.tmp", "a.tmp", is_dir=False)


def test_a_nested_gitignore_applies_under_its_own_folder_only(tmp_path: Path) -> None:
    (tmp_path / ".gitignore").write_text("*.pyc\n")
    (tmp_path / "web").mkdir()
    (tmp_path / "web" / ".gitignore").write_text("out/*.js\nnode_cache/\n")
    rules = gitignore_rules(tmp_path, tmp_path / "web")
    assert is_ignored(rules, "web/out/app.js", "app.js", is_dir=False)
    assert is_ignored(rules, "web/node_cache", "node_cache", is_dir=True)
    assert is_ignored(rules, "web/x.pyc", "x.pyc", is_dir=False)
    assert not is_ignored(rules, "other/out/app.js", "app.js", is_dir=False)


def test_unreadable_or_missing_files_mean_no_rules(tmp_path: Path) -> None:
    assert gitignore_rules(tmp_path, tmp_path) == []
    (tmp_path / ".gitignore").mkdir()  # a directory where the file should be
    assert gitignore_rules(tmp_path, tmp_path) == []


@given(st.text(), st.text(min_size=1), st.booleans())
def test_never_crashes_on_any_text(text: str, name: str, is_dir: bool) -> None:
    is_ignored(parse_gitignore(text), f"a/{name}", name, is_dir)
