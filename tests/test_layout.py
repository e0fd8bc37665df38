"""The house rules of ``../shared/ARCHITECTURE.md``, read from the code with ``ast``.

Every module under ``src/attune`` is parsed (top-level and function-level imports alike) and
checked: no import circle, imports only point down the floors below, the domain packages
(``runs/``, ``specs/``, ``spend/``) never import one another, the web stack only under
``web/``, ``store/`` only on ``errors.py``, ``app.state`` only in the app factory and the
services module, nothing inside the package through a face, one class per error code, and no
module far past the size budget. The checker is tried on small planted trees too, so each rule
is seen to fail.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src"

# Floors, lowest first: a module may import its own floor's package or any floor below.
FLOORS: list[tuple[str, ...]] = [
    ("attune._version", "attune.files", "attune.text", "attune.ops.errors"),
    ("attune.gitignore",),  # reads each .gitignore through attune.files
    ("attune.ops.store",),
    ("attune.ops.config",),
    (
        "attune.ops.runs",
        "attune.ops.specs",
        "attune.ops.spend",
        "attune.ops.listen",
        "attune.ops.server_file",
    ),
    ("attune.ops.doctor",),
    ("attune.ops.web",),
    ("attune.ops.server", "attune.ops.anthropic_cost", "attune.ops.completion_candidates"),
    ("attune.ops.cli",),
    ("attune.ops", "attune.cli", "attune"),
    ("attune.__main__",),
]
FACES = {"attune.ops.server", "attune.ops.anthropic_cost", "attune.ops.completion_candidates"}
# The built-in workflows are programs of their own: they may lean on the ground floor only.
WORKFLOWS = "attune.workflows"
WORKFLOWS_MAY_IMPORT = (
    "attune.workflows",
    "attune.files",
    "attune.gitignore",
    "attune.text",
    "attune._version",
)
WEB_STACK = ("fastapi", "starlette", "jinja2", "markdown_it", "pydantic", "sse_starlette")
APP_STATE_OWNERS = {"attune.ops.web.app", "attune.ops.web.services"}
MAX_LINES = 420  # "no module over ~400 lines"


@dataclass(frozen=True)
class Import:
    importer: str
    target: str
    line: int


def module_name(root: Path, path: Path) -> str:
    parts = list(path.relative_to(root).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def modules(root: Path) -> dict[str, Path]:
    return {module_name(root, p): p for p in sorted((root / "attune").rglob("*.py"))}


def imports_of(name: str, path: Path, known: set[str]) -> Iterator[Import]:
    """Every ``attune`` import and every web-stack import of one module, at any depth."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield Import(name, alias.name, node.lineno)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")
                anchor = anchor[: len(anchor) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            for alias in node.names:
                full = f"{base}.{alias.name}"
                yield Import(name, full if full in known else base, node.lineno)


def floor_of(name: str) -> int | None:
    best: tuple[int, int] | None = None  # (length of the matching prefix, floor)
    for floor, prefixes in enumerate(FLOORS):
        for prefix in prefixes:
            if (name == prefix or name.startswith(prefix + ".")) and (
                best is None or len(prefix) > best[0]
            ):
                best = (len(prefix), floor)
    return None if best is None else best[1]


def room_of(name: str) -> str:
    """The package (or single module) a name lives in, on its floor."""
    for prefixes in FLOORS:
        for prefix in sorted(prefixes, key=len, reverse=True):
            if name == prefix or name.startswith(prefix + "."):
                return prefix
    return name


def in_package(name: str, prefix: str) -> bool:
    return name == prefix or name.startswith(prefix + ".")


def check_imports(edges: list[Import]) -> list[str]:
    problems = []
    for e in edges:
        src, dst = e.importer, e.target
        where = f"{src}:{e.line} imports {dst}"
        if dst.split(".")[0] in WEB_STACK and not in_package(src, "attune.ops.web"):
            problems.append(f"{where}: the web stack is imported only under attune.ops.web")
        if not in_package(dst, "attune"):
            continue
        if in_package(src, WORKFLOWS):
            if not any(in_package(dst, p) for p in WORKFLOWS_MAY_IMPORT):
                problems.append(f"{where}: a built-in workflow leans on the ground floor only")
            continue
        if dst in FACES:
            problems.append(f"{where}: code inside the package imports the real module, not a face")
        if in_package(src, "attune.ops.store") and not (
            in_package(dst, "attune.ops.store") or dst == "attune.ops.errors"
        ):
            problems.append(f"{where}: store/ imports nothing from attune.ops but errors.py")
        low, high = floor_of(dst), floor_of(src)
        if low is None or high is None:
            problems.append(f"{where}: a module on no floor of ARCHITECTURE.md")
        elif low > high:
            problems.append(f"{where}: an upward import (floor {high} → floor {low})")
        elif low == high and room_of(src) != room_of(dst):
            problems.append(f"{where}: {room_of(src)} and {room_of(dst)} never import one another")
    return problems


def find_cycles(edges: list[Import]) -> list[list[str]]:
    graph: dict[str, set[str]] = {}
    for e in edges:
        graph.setdefault(e.importer, set()).add(e.target)
    cycles: list[list[str]] = []
    state: dict[str, int] = {}  # 1 on the stack, 2 done
    stack: list[str] = []

    def visit(node: str) -> None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                cycles.append([*stack[stack.index(nxt) :], nxt])
            elif nxt not in state:
                visit(nxt)
        stack.pop()
        state[node] = 2

    for node in sorted(graph):
        if node not in state:
            visit(node)
    return cycles


def app_state_users(mods: dict[str, Path]) -> list[str]:
    found = []
    for name, path in mods.items():
        for node in ast.walk(ast.parse(path.read_text())):
            if (
                isinstance(node, ast.Attribute)
                and node.attr == "state"
                and isinstance(node.value, ast.Attribute | ast.Name)
                and (getattr(node.value, "attr", None) or getattr(node.value, "id", None)) == "app"
                and name not in APP_STATE_OWNERS
            ):
                found.append(f"{name}:{node.lineno}")
    return found


def error_codes(mods: dict[str, Path]) -> dict[str, list[str]]:
    """``code = "..."`` class attributes → the classes that declare them."""
    codes: dict[str, list[str]] = {}
    for name, path in mods.items():
        for node in ast.walk(ast.parse(path.read_text())):
            if not isinstance(node, ast.ClassDef):
                continue
            for stmt in node.body:
                target = stmt.target if isinstance(stmt, ast.AnnAssign) else None
                if isinstance(stmt, ast.Assign) and len(stmt.targets) == 1:
                    target = stmt.targets[0]
                value = getattr(stmt, "value", None)
                if (
                    isinstance(target, ast.Name)
                    and target.id == "code"
                    and isinstance(value, ast.Constant)
                    and isinstance(value.value, str)
                ):
                    codes.setdefault(value.value, []).append(f"{name}.{node.name}")
    return codes


def layout_problems(root: Path) -> list[str]:
    mods = modules(root)
    known = set(mods)
    edges = [e for name, path in mods.items() for e in imports_of(name, path, known)]
    inner = [e for e in edges if e.target in known or e.target.split(".")[0] in WEB_STACK]
    problems = check_imports(inner)
    problems += [" → ".join(c) + ": an import circle" for c in find_cycles(inner)]
    problems += [
        f"{w}: app.state outside the app factory and services" for w in app_state_users(mods)
    ]
    problems += [
        f"error code {code!r} is declared by {', '.join(owners)}: one class per code"
        for code, owners in error_codes(mods).items()
        if len(owners) > 1
    ]
    for name, path in mods.items():
        lines = len(path.read_text().splitlines())
        if lines > MAX_LINES:
            problems.append(f"{name} has {lines} lines (budget ~400): split it by concept")
    return problems


# -- the real tree -------------------------------------------------------------------------------


def test_the_source_tree_keeps_every_rule() -> None:
    assert layout_problems(SRC) == []


def test_every_module_is_on_a_floor() -> None:
    names = [n for n in modules(SRC) if not in_package(n, WORKFLOWS)]
    assert [n for n in names if floor_of(n) is None] == []


def test_the_documented_names_import_from_their_documented_paths() -> None:
    from attune import cmd_ops as top
    from attune.ops.anthropic_cost import (
        CostFetchError,
        CostFetchErrorKind,
        CostSummary,
        fetch_summary,
        load_admin_key,
    )
    from attune.ops.cli import cmd_ops
    from attune.ops.completion_candidates import detect_candidates
    from attune.ops.config import Config, build_config
    from attune.ops.server import create_app

    assert all(
        callable(x)
        for x in (top, cmd_ops, fetch_summary, load_admin_key, detect_candidates, create_app)
    )
    assert {k.value for k in CostFetchErrorKind} >= {"no_key", "auth_failed", "cache_invalid"}
    assert CostFetchError.__dataclass_params__.frozen  # type: ignore[attr-defined]
    assert "today_usd" in CostSummary.__dataclass_fields__
    assert Config.__dataclass_params__.frozen  # type: ignore[attr-defined]
    assert callable(build_config)


# -- the checker catches what it should: planted trees ------------------------------------------


def plant(tmp_path: Path, files: dict[str, str]) -> Path:
    root = tmp_path / "src"
    for rel, text in {"attune/__init__.py": "", "attune/ops/__init__.py": "", **files}.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    for folder in [p for p in root.rglob("*") if p.is_dir()]:
        (folder / "__init__.py").touch()
    return root


@pytest.mark.parametrize(
    ("files", "expected"),
    [
        (  # a deliberate upward import: the store reaching for the runner
            {
                "attune/ops/errors.py": "",
                "attune/ops/runs/runner.py": "",
                "attune/ops/store/database.py": "from attune.ops.runs.runner import Runner\n",
            },
            "an upward import",
        ),
        (  # the same, hidden in a function
            {
                "attune/ops/config.py": "",
                "attune/ops/store/runs.py": "def f():\n    from attune.ops import config\n",
            },
            "store/ imports nothing",
        ),
        (
            {
                "attune/ops/runs/runner.py": "from attune.ops.specs.index import SpecIndex\n",
                "attune/ops/specs/index.py": "",
            },
            "never import one another",
        ),
        (
            {"attune/ops/doctor.py": "import fastapi\n"},
            "the web stack is imported only under attune.ops.web",
        ),
        (
            {
                "attune/ops/web/a.py": "from attune.ops.web import b\n",
                "attune/ops/web/b.py": "def f():\n    from attune.ops.web import a\n",
            },
            "an import circle",
        ),
        (
            {"attune/ops/web/routes/x.py": "def f(request):\n    return request.app.state.x\n"},
            "app.state outside",
        ),
        (
            {
                "attune/ops/errors.py": "class A(Exception):\n    code = 'x'\n",
                "attune/ops/runs/runner.py": "class B(Exception):\n    code = 'x'\n",
            },
            "one class per code",
        ),
        (
            {
                "attune/ops/specs/candidates.py": "",
                "attune/ops/web/x.py": "from attune.ops.completion_candidates import y\n",
                "attune/ops/completion_candidates.py": "",
            },
            "not a face",
        ),
        ({"attune/ops/runs/big.py": "x = 1\n" * 500}, "budget ~400"),
    ],
)
def test_the_checker_reports_a_broken_rule(
    tmp_path: Path, files: dict[str, str], expected: str
) -> None:
    problems = layout_problems(plant(tmp_path, files))
    assert any(expected in p for p in problems), problems


def test_a_clean_planted_tree_passes(tmp_path: Path) -> None:
    root = plant(
        tmp_path,
        {
            "attune/ops/errors.py": "",
            "attune/ops/store/database.py": "from attune.ops.errors import X\n",
            "attune/ops/config.py": "from attune.ops.store.database import Store\n",
            "attune/ops/runs/runner.py": "from attune.ops.config import Config\n",
            "attune/ops/web/app.py": "import fastapi\nfrom attune.ops.runs.runner import R\n",
        },
    )
    assert layout_problems(root) == []
