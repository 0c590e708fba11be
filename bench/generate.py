"""Benchmark: wall time of generating the embedded Rayleigh-Benard dataset (default and quick).

    python -m bench.generate [--quick-only]

Prints a table and writes bench/results/generate.json. Targets (issue 2): default <= 120 s and
quick <= 15 s on 2 cores. The speed-up column is the sum of the per-case seconds over the wall time:
how well the process-per-case pool uses the cores.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

from bench.machine import machine
from hpo.data.embedded import DEFAULT_SPEC, QUICK_SPEC, generate_dataset

RESULTS = Path(__file__).parent / "results"
TARGET_SECONDS = {"quick": 15.0, "default": 120.0}


def time_generation(name: str, spec) -> dict:
    case_seconds = []

    def collect(line: str) -> None:
        if line.strip().startswith("case"):
            case_seconds.append(float(line.rsplit(",", 1)[1].split("s)")[0]))

    with tempfile.TemporaryDirectory() as folder:
        started = time.perf_counter()
        generate_dataset(Path(folder) / f"{name}.h5", spec=spec, progress=collect)
        wall = time.perf_counter() - started
    return {"dataset": name, "cases": spec.n_cases, "snapshots": spec.n_cases * spec.n_snapshots,
            "grid": f"{spec.n_x}x{spec.n_z}", "wall_s": round(wall, 2),
            "case_s_sum": round(sum(case_seconds), 2),
            "speedup": round(sum(case_seconds) / wall, 2),
            "target_s": TARGET_SECONDS[name], "within_target": wall <= TARGET_SECONDS[name]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick-only", action="store_true", help="skip the default dataset")
    parser.add_argument("--out", type=Path, default=RESULTS / "generate.json")
    args = parser.parse_args()
    specs = [("quick", QUICK_SPEC)] + ([] if args.quick_only else [("default", DEFAULT_SPEC)])
    rows = [time_generation(name, spec) for name, spec in specs]
    facts = machine()
    print(f"machine: {facts}")
    header = f"{'dataset':<8} {'cases':>5} {'frames':>6} {'grid':>8} {'wall s':>7} " \
             f"{'sum s':>7} {'speed-up':>8} {'target s':>8}  ok"
    print(header)
    for r in rows:
        print(f"{r['dataset']:<8} {r['cases']:>5} {r['snapshots']:>6} {r['grid']:>8} "
              f"{r['wall_s']:>7.1f} {r['case_s_sum']:>7.1f} {r['speedup']:>8.2f} "
              f"{r['target_s']:>8.0f}  {'yes' if r['within_target'] else 'NO'}")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({"machine": facts, "results": rows}, indent=2) + "\n")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
