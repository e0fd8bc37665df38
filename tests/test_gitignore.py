"""The shared .gitignore matcher: what the scope picker dims and the scanners skip (git's rules)."""

from __future__ import annotations

from pathlib import Path

from hypothesis import given
from hypothesis import strategies as st

from attune.gitignore import MAX_GITIGNORE_BYTES, GitIgnore, parse_gitignore


def write(root: Path, rel: str, text: str = "") -> None:
    path = root / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


def test_names_dirs_negations_and_anchors(tmp_path: Path) -> None:
    write(tmp_path, ".gitignore", "# comment\n\n*.log\nbuild/\n!keep.log\n/dist\ndocs/*.tmp\n")
    ignore = GitIgnore(tmp_path)
    assert ignore.is_ignored("a/b/x.log", is_dir=False)
    assert not ignore.is_ignored("keep.log", is_dir=False)
    assert not ignore.is_ignored("a/keep.log", is_dir=False)
    assert ignore.is_ignored("src/build", is_dir=True)
    assert not ignore.is_ignored("src/build", is_dir=False)  # a file named build
    assert ignore.is_ignored("dist", is_dir=True)
    assert not ignore.is_ignored("src/dist", is_dir=True)  # '/dist' is anchored at the root
    assert ignore.is_ignored("docs/a.tmp", is_dir=False)
    assert not ignore.is_ignored("src/a.tmp", is_dir=False)


def test_a_star_does_not_cross_folders(tmp_path: Path) -> None:
    write(tmp_path, ".gitignore", "docs/*.md\n")
    ignore = GitIgnore(tmp_path)
    assert ignore.is_ignored("docs/x.md", is_dir=False)
    assert not ignore.is_ignored("docs/sub/x.md", is_dir=False)
    assert not ignore.is_ignored("other/docs/x.md", is_dir=False)  # a '/' inside anchors it


def test_double_star_in_the_middle(tmp_path: Path) -> None:
    write(tmp_path, ".gitignore", "logs/**/debug.log\nsrc/**/gen/\n")
    ignore = GitIgnore(tmp_path)
    assert ignore.is_ignored("logs/debug.log", is_dir=False)  # '**/' matches no folder too
    assert ignore.is_ignored("logs/a/b/c/debug.log", is_dir=False)
    assert not ignore.is_ignored("old/logs/a/debug.log", is_dir=False)
    assert not ignore.is_ignored("logs/a/debug.txt", is_dir=False)
    assert ignore.is_ignored("src/gen", is_dir=True)
    assert ignore.is_ignored("src/x/y/gen", is_dir=True)
    assert not ignore.is_ignored("src/x/y/gen", is_dir=False)


def test_nested_gitignore_files_at_any_depth(tmp_path: Path) -> None:
    write(tmp_path, ".gitignore", "*.pyc\n")
    write(tmp_path, "web/.gitignore", "*.tmp\n/out/\nassets/*.js\n")
    ignore = GitIgnore(tmp_path)
    assert ignore.is_ignored("web/a/b/c/x.tmp", is_dir=False)  # two levels below its folder
    assert ignore.is_ignored("web/a/b/c/x.pyc", is_dir=False)
    assert ignore.is_ignored("web/out", is_dir=True)
    assert not ignore.is_ignored("web/a/out", is_dir=True)  # anchored at web/, not at the root
    assert ignore.is_ignored("web/assets/app.js", is_dir=False)
    assert not ignore.is_ignored("assets/app.js", is_dir=False)
    assert not ignore.is_ignored("other/x.tmp", is_dir=False)


def test_negation_and_a_deeper_file_overriding_a_shallower_one(tmp_path: Path) -> None:
    write(tmp_path, ".gitignore", "*.log\n!keep.log\n")
    write(tmp_path, "app/.gitignore", "!app.log\n")
    write(tmp_path, "app/deep/.gitignore", "keep.log\n")
    ignore = GitIgnore(tmp_path)
    assert ignore.is_ignored("x.log", is_dir=False)
    assert not ignore.is_ignored("keep.log", is_dir=False)
    assert not ignore.is_ignored("app/a/b/app.log", is_dir=False)  # re-included from app/
    assert ignore.is_ignored("app/other.log", is_dir=False)  # the root's rule still holds
    assert ignore.is_ignored("app/deep/keep.log", is_dir=False)  # the deepest file decides


def test_a_folder_whose_own_gitignore_ignores_everything_is_ignored(tmp_path: Path) -> None:
    write(tmp_path, ".pytest_cache/.gitignore", "# Created by pytest automatically.\n*\n")
    write(tmp_path, ".pytest_cache/v/cache/nodeids", "[]")
    write(tmp_path, "partial/.gitignore", "*\n!keep.txt\n")  # something in it is kept
    write(tmp_path, "logs/.gitignore", "*.log\n")
    ignore = GitIgnore(tmp_path)
    assert ignore.is_ignored(".pytest_cache", is_dir=True)
    assert ignore.is_ignored(".pytest_cache/v", is_dir=True)
    assert not ignore.is_ignored("partial", is_dir=True)
    assert not ignore.is_ignored("logs", is_dir=True)


def test_each_gitignore_is_read_once_per_matcher(tmp_path: Path) -> None:
    write(tmp_path, "a/.gitignore", "*.tmp\n")
    ignore = GitIgnore(tmp_path)
    assert ignore.is_ignored("a/b/x.tmp", is_dir=False)
    write(tmp_path, "a/.gitignore", "")  # an edit during one walk is not seen by that walk
    assert ignore.is_ignored("a/c/y.tmp", is_dir=False)
    assert not GitIgnore(tmp_path).is_ignored("a/c/y.tmp", is_dir=False)


def test_unusable_gitignore_files_mean_no_rules(tmp_path: Path) -> None:
    (tmp_path / ".gitignore").mkdir()  # a directory where the file should be
    write(tmp_path, "outside.txt", "*\n")
    (tmp_path / "linked").mkdir()
    (tmp_path / "linked" / ".gitignore").symlink_to(tmp_path / "outside.txt")  # git ignores it
    write(tmp_path, "huge/.gitignore", "*\n" + "#" * MAX_GITIGNORE_BYTES)
    ignore = GitIgnore(tmp_path / "missing")
    assert not ignore.is_ignored("x", is_dir=False)
    ignore = GitIgnore(tmp_path)
    assert not ignore.is_ignored("x", is_dir=False)
    assert not ignore.is_ignored("linked/x", is_dir=False)
    assert not ignore.is_ignored("huge/x", is_dir=False)


def test_a_line_git_rejects_is_dropped_not_the_whole_file(tmp_path: Path) -> None:
    write(tmp_path, ".gitignore", "*.tmp\n[z-a]\n!\n\\\n*.bak\n")
    ignore = GitIgnore(tmp_path)
    assert ignore.is_ignored("x.tmp", is_dir=False) and ignore.is_ignored("x.bak", is_dir=False)
    assert not ignore.is_ignored("x.txt", is_dir=False)


def test_a_byte_order_mark_is_not_part_of_the_first_pattern(tmp_path: Path) -> None:
    (tmp_path / ".gitignore").write_text("\ufeff*.tmp\n", encoding="utf-8")
    assert GitIgnore(tmp_path).is_ignored("x.tmp", is_dir=False)


@given(st.text(), st.text(min_size=1), st.booleans())
def test_never_crashes_on_any_text(text: str, name: str, is_dir: bool) -> None:
    parse_gitignore(text).check_file(f"a/{name}")
