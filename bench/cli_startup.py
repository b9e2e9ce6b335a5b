"""How fast the command line starts, as whole processes (the way a user meets it):
`dain --help`, `dain audit --help`, `dain sim` with its defaults, and `import torch` alone
as the baseline `dain sim` cannot beat. Each is run 5 times; medians are reported. Ends
with one JSON line with help_s, audit_help_s, sim_default_s, torch_import_s and
sim_minus_torch_s. Targets: both helps at most 0.3 s; sim at most 0.5 s above the torch
import. Other work on the machine shows up in these figures: compare within one run."""

from __future__ import annotations

import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

RUNS = 5
DAIN = [sys.executable, "-m", "dain"]
# the installed entry point when present: that is what a user types
SCRIPT = Path(sys.executable).with_name("dain")
if SCRIPT.exists():
    DAIN = [str(SCRIPT)]


def median_seconds(command: list[str], cwd: Path) -> float:
    times = []
    for _ in range(RUNS):
        began = time.perf_counter()
        subprocess.run(command, cwd=cwd, check=True, capture_output=True)
        times.append(time.perf_counter() - began)
    return statistics.median(times)


def main() -> None:
    with tempfile.TemporaryDirectory() as scratch:
        cwd = Path(scratch)  # no stray files from `dain sim` in the checkout
        figures = {
            "help_s": median_seconds([*DAIN, "--help"], cwd),
            "audit_help_s": median_seconds([*DAIN, "audit", "--help"], cwd),
            "python_s": median_seconds([sys.executable, "-c", "pass"], cwd),
            "torch_import_s": median_seconds([sys.executable, "-c", "import torch"], cwd),
            "sim_default_s": median_seconds([*DAIN, "sim"], cwd),
        }
    result = {name: round(value, 3) for name, value in figures.items()}
    result["sim_minus_torch_s"] = round(figures["sim_default_s"] - figures["torch_import_s"], 3)
    result["runs"] = RUNS
    result["target_help_s"] = 0.3
    result["target_sim_minus_torch_s"] = 0.5
    print(json.dumps(result))


if __name__ == "__main__":
    main()
