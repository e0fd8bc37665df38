"""``attune ops doctor`` (arrives with the trust issue)."""

from __future__ import annotations

import argparse
import sys

from attune.ops.config import Config


def cmd_doctor(config: Config, args: argparse.Namespace) -> int:
    """Diagnose this setup. Example: ``attune ops doctor --json``."""
    print("attune ops doctor: not yet available", file=sys.stderr)
    return 2
