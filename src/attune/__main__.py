"""``python -m attune`` is the ``attune`` command."""

from __future__ import annotations

import sys

from attune.cli import main

sys.exit(main())
