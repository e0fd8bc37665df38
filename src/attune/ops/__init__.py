"""attune ops: the dashboard. ``create_app`` is imported lazily (it needs the ``ops`` extra)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from attune.ops.config import Config, ConfigError, build_config
    from attune.ops.web.app import create_app

__all__ = ["Config", "ConfigError", "build_config", "cmd_ops", "create_app"]


def cmd_ops(argv: Any = None) -> int:
    """Run ``attune ops …``; see :func:`attune.ops.cli.ops.cmd_ops`."""
    from attune.ops.cli.ops import cmd_ops as _cmd_ops

    return _cmd_ops(argv)


def __getattr__(name: str) -> Any:
    # Lazy, so ``attune --help`` (which imports attune.ops.cli.args) loads nothing else.
    if name == "create_app":
        from attune.ops.web.app import create_app

        return create_app
    if name in ("Config", "ConfigError", "build_config"):
        from attune.ops import config

        return getattr(config, name)
    raise AttributeError(f"module 'attune.ops' has no attribute {name!r}")
