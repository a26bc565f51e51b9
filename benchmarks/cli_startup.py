"""How fast ``aigc --help`` answers, as a ratio to a bare ``python -c pass`` (the floor any Python
command pays). The CLI builds only the parser of the command being run and imports no torch.

    python benchmarks/cli_startup.py [--runs 20]

Writes ``benchmarks/results/cli_startup.json`` with ``{"aigc_help_s", "python_pass_s", "ratio",
"train_help_s", "machine", "command"}`` (medians of alternating runs).
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path

RESULTS = Path(__file__).parent / "results" / "cli_startup.json"


def _time(argv: list[str]) -> float:
    start = time.perf_counter()
    subprocess.run(argv, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - start


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--runs", type=int, default=20, help="alternating runs of each command (default 20)")
    args = ap.parse_args()
    commands = {"aigc_help": [sys.executable, "-m", "aigc.cli", "--help"],
                "python_pass": [sys.executable, "-c", "pass"],
                "train_help": [sys.executable, "-m", "aigc.cli", "train", "--help"]}
    for argv in commands.values():  # warm the file cache
        _time(argv)
    times: dict[str, list[float]] = {k: [] for k in commands}
    for _ in range(args.runs):
        for name, argv in commands.items():
            times[name].append(_time(argv))
    med = {k: statistics.median(v) for k, v in times.items()}
    result = {"aigc_help_s": round(med["aigc_help"], 4), "python_pass_s": round(med["python_pass"], 4),
              "ratio": round(med["aigc_help"] / med["python_pass"], 2), "train_help_s": round(med["train_help"], 4),
              "goal_s": 0.3, "runs": args.runs,
              "machine": f"{platform.machine()} {platform.processor() or ''} {platform.system()}, "
                         f"Python {platform.python_version()}",
              "command": "python benchmarks/cli_startup.py " + " ".join(sys.argv[1:])}
    RESULTS.parent.mkdir(exist_ok=True)
    RESULTS.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
