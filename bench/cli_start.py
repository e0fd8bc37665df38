"""How long ``attune --help`` and ``attune ops --help`` take: wall time and peak RSS.

Run: ``.venv/bin/python bench/cli_start.py [--rounds 5]``. Prints the median of N runs of each
command (a fresh interpreter every time, as a user's shell would start it).
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

ATTUNE = Path(sys.executable).with_name("attune")


def wall_of(cmd: list[str]) -> float:
    """Wall seconds of one run of ``cmd``."""
    start = time.perf_counter()
    subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)
    return time.perf_counter() - start


def rss_of(cmd: list[str]) -> float:
    """Peak RSS (MiB) of one run, measured in a child that runs nothing else."""
    code = (
        "import resource, subprocess, sys;"
        "subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL);"
        "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)"
    )
    out = subprocess.run([sys.executable, "-c", code, *cmd], capture_output=True, text=True)
    return int(out.stdout.strip()) / 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    env_note = f"python {sys.version.split()[0]}, {os.cpu_count()} cores"
    print(f"attune CLI start ({env_note}), median of {args.rounds} runs")
    for cmd in ([str(ATTUNE), "--help"], [str(ATTUNE), "ops", "--help"]):
        subprocess.run(cmd, stdout=subprocess.DEVNULL, check=True)  # warm the page cache
        walls = [wall_of(cmd) for _ in range(args.rounds)]
        rss = statistics.median(rss_of(cmd) for _ in range(3))
        label = " ".join(["attune", *cmd[1:]])
        print(
            f"  {label:<22} median {statistics.median(walls) * 1000:7.1f} ms   "
            f"min {min(walls) * 1000:7.1f} ms   peak RSS {rss:6.1f} MiB"
        )


if __name__ == "__main__":
    main()
