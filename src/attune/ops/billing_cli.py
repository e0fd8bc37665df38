"""``attune ops setup-billing`` (arrives with the spend issue)."""

from __future__ import annotations

import argparse
import sys


def cmd_setup_billing(args: argparse.Namespace) -> int:
    """Store the Anthropic admin key. Example: ``attune ops setup-billing``."""
    print("attune ops setup-billing: not yet available", file=sys.stderr)
    return 2
