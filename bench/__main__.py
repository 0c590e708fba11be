"""Every benchmark, one after the other.

    python -m bench [--quick] [--out DIR]

1. search efficiency (bench.search), 2. screening value (bench.screening_value): these two share the
search runs of bench/campaign.py, computed once (in full mode by two processes first, one per half
of the runs: on 2 cores that overlaps one run's single-threaded parts with the other's training);
3. overhead (bench.overhead); 4. workers (bench.optimize) and storage stress (bench.stress), timed
alone; data generation (bench.generate); the default screen's compression curve (bench.screen, 2-3
hours, resumable); 5. the best autoencoder against PCA at latent 8 and 16 (bench.quality, about an
hour, from bench.screen's screen); the learning-curve table (bench.curves, 1-2 hours, resumable)
and the search methods replayed against it (bench.replay, minutes). Full: several hours on 2
cores; --quick: a few minutes, the smoke
test of every benchmark. Each
writes its JSON and HTML under --out (default bench/results/); this writes suite[-quick].json with
each benchmark's wall time. A full run into bench/results/ then rewrites the README's figures from
the new JSON (bench.readme).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

RESULTS = Path(__file__).parent / "results"
REPO = Path(__file__).resolve().parents[1]
# (module, takes --workdir: the campaign's shared runs)
# bench.quality starts from bench.screen's stored default screen, so it runs after it.
BENCHMARKS = (
    ("bench.search", True),
    ("bench.screening_value", True),
    ("bench.overhead", False),
    ("bench.optimize", False),
    ("bench.stress", False),
    ("bench.generate", False),
    ("bench.rungs", False),
    ("bench.screen", False),
    ("bench.limits", False),
    ("bench.recipe", False),
    ("bench.quality", False),
    ("bench.curves", False),
    ("bench.replay", False),
    ("bench.live_check", False),
)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="every benchmark's --quick mode")
    parser.add_argument("--out", type=Path, default=RESULTS)
    parser.add_argument("--workdir", type=Path, default=None, help="where search runs are kept")
    args = parser.parse_args()
    timings = []
    if not args.quick:
        timings.append(_campaign_in_two_processes(args.workdir))
    for module, shares_runs in BENCHMARKS:
        command = [sys.executable, "-m", module, "--out", str(args.out)]
        command += ["--quick"] if args.quick else []
        command += ["--workdir", str(args.workdir)] if shares_runs and args.workdir else []
        print(f"== {' '.join(command[1:])}", flush=True)
        started = time.perf_counter()
        code = subprocess.call(command, cwd=REPO)
        timings.append(
            {
                "benchmark": module,
                "wall_s": round(time.perf_counter() - started, 1),
                "exit_code": code,
            }
        )
        if code != 0:
            sys.exit(f"{module} failed with exit code {code}")
    total = sum(t["wall_s"] for t in timings)
    print(f"{'benchmark':<24}{'wall s':>8}")
    for t in timings:
        print(f"{t['benchmark']:<24}{t['wall_s']:>8.1f}")
    print(f"{'total':<24}{total:>8.1f}")
    suffix = "-quick" if args.quick else ""
    (args.out / f"suite{suffix}.json").write_text(
        json.dumps(
            {"quick": args.quick, "benchmarks": timings, "total_s": round(total, 1)}, indent=1
        )
        + "\n"
    )
    if not args.quick and args.out.resolve() == RESULTS.resolve():
        subprocess.check_call([sys.executable, "-m", "bench.readme"], cwd=REPO)


def _campaign_in_two_processes(workdir: Path | None) -> dict:
    """Compute the search runs with two processes, on disjoint parts of the campaign."""
    base = [sys.executable, "-m", "bench.campaign"]
    base += ["--workdir", str(workdir)] if workdir else []
    print(f"== {' '.join(base[1:])} (two processes)", flush=True)
    started = time.perf_counter()
    subprocess.check_call(base + ["--parts", "screen"], cwd=REPO)  # the screen both read, once
    halves = [
        subprocess.Popen(base + ["--parts", parts], cwd=REPO)
        for parts in ("top1", "top2,screening")
    ]
    codes = [half.wait() for half in halves]
    if any(codes):
        sys.exit(f"bench.campaign failed with exit codes {codes}")
    return {
        "benchmark": "bench.campaign (2 processes)",
        "wall_s": round(time.perf_counter() - started, 1),
        "exit_code": 0,
    }


if __name__ == "__main__":
    main()
