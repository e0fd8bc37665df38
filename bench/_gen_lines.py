"""The benchmark's workload: print N numbered lines to stdout as fast as Python can.

``python _gen_lines.py N`` or ``python _gen_lines.py n1000`` or ``... --path /x/n1000`` (the
reference runner appends ``--path <abs>``; ours substitutes ``{path}``): the number is taken
from the last argument's basename. Every line carries the marker ``BENCHLN`` so a client can
count the lines it received without parsing either product's SSE framing.
"""

from __future__ import annotations

import os
import sys

LINE = "BENCHLN {:07d} the quick brown fox jumps over the lazy dog 0123456789\n"
BLOCK = 8192


def count_from(argv: list[str]) -> int:
    """The number of lines asked for: the last argument's basename, without a leading ``n``."""
    name = os.path.basename(argv[-1].rstrip("/"))
    return int(name.lstrip("n"))


def main(argv: list[str]) -> int:
    total = count_from(argv)
    out = sys.stdout.buffer
    for start in range(1, total + 1, BLOCK):
        stop = min(start + BLOCK, total + 1)
        out.write("".join(LINE.format(i) for i in range(start, stop)).encode())
    out.flush()
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
