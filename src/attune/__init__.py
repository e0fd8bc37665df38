"""attune ops: a local operations dashboard for projects built with Claude.

Importing this package is deliberately cheap: it pulls in none of the web stack
(FastAPI, uvicorn, Jinja2) nor httpx, so ``attune --help`` starts fast.
"""

from __future__ import annotations

from collections.abc import Sequence

from attune._version import __version__

__all__ = ["__version__", "cmd_ops"]


def cmd_ops(argv: Sequence[str] | None = None) -> int:
    """Run ``attune ops …`` with ``argv`` (the words after ``ops``) and return the exit code.

    Example: ``attune.cmd_ops(["--port", "9000", "--no-browser"])``.
    """
    from attune.ops.cli.ops import cmd_ops as _cmd_ops

    return _cmd_ops(argv)
