"""Benchmark: wall time of `hpo.screen` on the embedded dataset (quick, and default with --repeats 1).

    python -m bench.screen [--quick] [--out DIR]

Each run uses a fresh SQLite storage in a temporary folder. Target (issue 3): default <= 5 min on
2 cores with --repeats 1; the default --repeats 3 costs about three times that. `--quick` times only
the quick screen (the smoke test). Prints a table and writes bench/results/screen[-quick].json.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

RESULTS = Path(__file__).parent / "results"
REPO = Path(__file__).resolve().parents[1]


def time_screen(flags: list[str]) -> dict:
    with tempfile.TemporaryDirectory() as folder:
        env = {**os.environ, "HPO_HOME": str(Path(folder) / "studies")}
        # The embedded data are cached in the checkout's studies/ (generation is benchmarked apart).
        data = subprocess.run([sys.executable, "-c", "from hpo.data.embedded import "
                               f"default_dataset_path as d; print(d(quick={'--quick' in flags}))"],
                              cwd=REPO, capture_output=True, text=True, check=True).stdout.split()[-1]
        started = time.perf_counter()
        done = subprocess.run([sys.executable, "-m", "hpo.screen", *flags, "--data",
                               str(REPO / data), "--storage", f"sqlite:///{folder}/hpo.db"],
                              cwd=REPO, env=env, capture_output=True, text=True)
        wall = time.perf_counter() - started
    if done.returncode != 0:
        raise SystemExit(done.stderr[-2000:])
    ranking = [line for line in done.stdout.splitlines() if line.startswith("ranking")]
    return {"command": "python -m hpo.screen " + " ".join(flags), "wall_s": round(wall, 1),
            "ranking": ranking[0] if ranking else ""}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    # --quick-only: this benchmark's flag before every benchmark took --quick
    parser.add_argument("--quick", "--quick-only", action="store_true",
                        help="time only the quick screen (the smoke test)")
    parser.add_argument("--out", type=Path, default=RESULTS, help="folder of the JSON")
    args = parser.parse_args()
    from bench.machine import machine

    runs = [["--quick"]] + ([] if args.quick else [["--repeats", "1"]])
    rows = [time_screen(flags) for flags in runs]
    facts = machine()
    print(f"machine: {facts}")
    print(f"{'command':<42}{'wall s':>8}  ranking")
    for row in rows:
        print(f"{row['command']:<42}{row['wall_s']:>8.1f}  {row['ranking']}")
    args.out.mkdir(parents=True, exist_ok=True)
    out = args.out / ("screen-quick.json" if args.quick else "screen.json")
    out.write_text(json.dumps({"machine": facts, "results": rows, "target_default_s": 300},
                              indent=2) + "\n")
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
