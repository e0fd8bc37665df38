"""The commands: argv in, exit code out. ``attune ops`` is :func:`cmd_ops` (DESIGN §3).

Kept empty of imports: ``attune --help`` loads ``cli/args.py`` through this package and must
not pay for the config, the store or the web stack.
"""

from __future__ import annotations

from collections.abc import Sequence

__all__ = ["cmd_ops"]


def cmd_ops(argv: Sequence[str] | None = None) -> int:
    """Run ``attune ops …`` (the words after ``ops``); see :func:`attune.ops.cli.ops.cmd_ops`.

    Example: ``cmd_ops(["--port", "9000", "--no-browser"])``.
    """
    from attune.ops.cli.ops import cmd_ops as run

    return run(argv)
