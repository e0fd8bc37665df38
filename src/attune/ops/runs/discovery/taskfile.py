"""``Taskfile.yml`` tasks (go-task): their ``desc`` as the description.

The YAML is composed into nodes, never constructed into objects (no tag runs code, an alias is
one shared node, not a copy), so every task keeps the line it is written on. Tasks marked
``internal: true`` and wildcard names (``start:*``) are left out; ``includes`` are not
followed. A task whose commands use ``{{.CLI_ARGS}}`` takes the scope (``task NAME -- PATH``).
"""

from __future__ import annotations

import yaml

from attune.ops.runs.discovery.base import Found
from attune.ops.runs.project_file import ProjectFiles

__all__ = ["FILES", "discover"]

# go-task's own order of names.
FILES = (
    "Taskfile.yml",
    "taskfile.yml",
    "Taskfile.yaml",
    "taskfile.yaml",
    "Taskfile.dist.yml",
    "taskfile.dist.yml",
    "Taskfile.dist.yaml",
    "taskfile.dist.yaml",
)


def discover(files: ProjectFiles) -> Found:
    found = Found("task")
    name = files.first(FILES)
    text = files.text(name) if name else None
    if name is None or text is None:
        return found
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark is not None else None
        found.error(name, line, f"invalid YAML: {exc.problem or exc}")
        return found
    except (yaml.YAMLError, RecursionError) as exc:
        found.error(name, None, f"invalid YAML: {exc}")
        return found
    tasks = _get(root, "tasks")
    if tasks is None:
        return found
    if not isinstance(tasks, yaml.MappingNode):
        found.error(name, tasks.start_mark.line + 1, "'tasks' must be a mapping of task names")
        return found
    for key, value in tasks.value:
        if not isinstance(key, yaml.ScalarNode):
            continue
        task = str(key.value)
        if "*" in task or _scalar(_get(value, "internal")) == "true":
            continue
        takes = "CLI_ARGS" in text[value.start_mark.index : value.end_mark.index]
        found.add(
            task,
            ("task", task, *(("--", "{path}") if takes else ())),
            file=name,
            line=key.start_mark.line + 1,
            description=_describe(value),
            accepts_path=takes,
        )
    return found


def _get(node: yaml.Node | None, key: str) -> yaml.Node | None:
    if not isinstance(node, yaml.MappingNode):
        return None
    for k, v in node.value:
        if isinstance(k, yaml.ScalarNode) and k.value == key:
            found: yaml.Node = v
            return found
    return None


def _scalar(node: yaml.Node | None) -> str:
    return str(node.value).strip().lower() if isinstance(node, yaml.ScalarNode) else ""


def _describe(task: yaml.Node) -> str:
    """``desc``, else the first line of ``summary``, else the first command."""
    if isinstance(task, yaml.ScalarNode):  # `build: go build ./...`
        return str(task.value)
    for key in ("desc", "summary"):
        node = _get(task, key)
        if isinstance(node, yaml.ScalarNode) and str(node.value).strip():
            return str(node.value).strip().splitlines()[0]
    cmds = task if isinstance(task, yaml.SequenceNode) else _get(task, "cmds")
    if isinstance(cmds, yaml.SequenceNode) and cmds.value:
        first = cmds.value[0]
        command = first if isinstance(first, yaml.ScalarNode) else _get(first, "cmd")
        if isinstance(command, yaml.ScalarNode):
            return str(command.value)
    return ""
