"""What a fresh install gets: SPDX license metadata (no setuptools deprecation wall on
``make run``), the extras that the code really imports, and a doctor that agrees with them."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

from attune.ops.doctor import CheckStatus, check_web_extra

PYPROJECT = tomllib.loads((Path(__file__).resolve().parents[1] / "pyproject.toml").read_text())
SRC = Path(__file__).resolve().parents[1] / "src"


def test_the_license_is_an_spdx_string_with_a_backend_that_reads_it() -> None:
    assert PYPROJECT["project"]["license"] == "MIT"
    [backend] = [r for r in PYPROJECT["build-system"]["requires"] if r.startswith("setuptools")]
    major = int(re.search(r">=\s*(\d+)", backend).group(1))  # type: ignore[union-attr]
    assert major >= 77  # SPDX strings in project.license need setuptools 77
    assert (SRC.parent / "LICENSE").read_text().startswith("MIT License")


def _imported_top_levels() -> set[str]:
    names = set()
    for path in SRC.rglob("*.py"):
        for match in re.finditer(r"^\s*(?:from|import)\s+([a-zA-Z_]\w*)", path.read_text(), re.M):
            names.add(match.group(1))
    return names


def test_every_declared_dependency_is_imported_somewhere() -> None:
    declared = [
        *PYPROJECT["project"]["dependencies"],
        *PYPROJECT["project"]["optional-dependencies"]["ops"],
    ]
    modules = {"markdown-it-py": "markdown_it", "pyyaml": "yaml", "jinja2": "jinja2"}
    imported = _imported_top_levels()
    for requirement in declared:
        name = re.split(r"[<>=\[; ]", requirement, maxsplit=1)[0].lower()
        assert modules.get(name, name.replace("-", "_")) in imported, requirement


def test_the_doctor_checks_the_web_extra_as_declared() -> None:
    # sse-starlette was declared and checked but never imported: it is gone from both, so a
    # fresh install (which no longer has it) passes.
    check = check_web_extra()
    assert check.status is CheckStatus.PASS, check.summary
    assert "sse" not in check.summary
