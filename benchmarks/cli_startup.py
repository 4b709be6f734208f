"""How long does `etalon-monitor` take to answer `--help` and `--version`?

Each command runs as a fresh process (the console script, as a user types it), `--repeats` times,
alternating commands so machine noise falls on all of them alike. The budget (issue 18) is 0.3 s
for `--help` and `--version`; a sub-command's own help imports that command's module and is shown
for comparison.

    .venv/bin/python benchmarks/cli_startup.py [--repeats 15]
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

COMMANDS = (["--help"], ["--version"], ["-h"], ["run", "--help"], ["report", "--help"])


def exe() -> str:
    beside = Path(sys.executable).with_name("etalon-monitor")
    found = str(beside) if beside.exists() else shutil.which("etalon-monitor")
    if found is None:
        raise SystemExit("etalon-monitor is not installed in this environment")
    return found


def timed(cmd: list[str]) -> float:
    start = time.perf_counter()
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=15)
    args = parser.parse_args()
    program = exe()
    samples: dict[str, list[float]] = {" ".join(c): [] for c in COMMANDS}
    for _ in range(args.repeats):
        for c in COMMANDS:
            samples[" ".join(c)].append(timed([program, *c]))
    print("| command | median s | max s |")
    print("|---|---|---|")
    for name, values in samples.items():
        print(f"| `etalon-monitor {name}` | {statistics.median(values):.3f} | {max(values):.3f} |")


if __name__ == "__main__":
    main()
