"""Benchmark: generating the embedded Rayleigh-Benard dataset, and the solvers' speed.

    python -m bench.generate [--quick] [--out DIR]

Prints two tables and writes generate.json (generate-quick.json with --quick: the quick dataset
only) into DIR (default bench/results):
- wall time of the default and quick datasets (targets, issue 10: default <= 300 s, quick <= 20 s on
  2 cores), with the per-case wall and CPU seconds summed: their ratio to the wall time says how
  well the process-per-case pool uses the cores, and CPU seconds stay meaningful on a busy machine;
- seconds per simulated free-fall time unit at Ra = 1e5 (Pr = 1) and at the default design's highest
  Ra (its Pr), for no-slip and free-slip walls, each at its default modes, after the flow has
  developed.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import tempfile
import time
from pathlib import Path

from bench.machine import machine
from hpo.data.embedded import DEFAULT_SPEC, QUICK_SPEC, design, generate_dataset
from hpo.data.rayleigh_benard.simulation import default_modes, make_solver
from hpo.data.rayleigh_benard.solver import Setup

RESULTS = Path(__file__).parent / "results"
TARGET_SECONDS = {"quick": 20.0, "default": 300.0}
SPINUP_TIME = 20.0  # free-fall times before the timed window: the flow has developed
TIMED_WINDOW = 5.0  # free-fall times timed
_CASE_LINE = re.compile(r"\((\d+) steps, ([\d.]+) s, cpu ([\d.]+) s\)")


def time_generation(name: str, spec) -> dict:
    cases = []

    def collect(line: str) -> None:
        found = _CASE_LINE.search(line)
        if line.strip().startswith("case") and found:
            cases.append((int(found[1]), float(found[2]), float(found[3])))

    with tempfile.TemporaryDirectory() as folder:
        load_before = os.getloadavg()[0]
        started = time.perf_counter()
        path = generate_dataset(
            Path(folder) / f"{name}.h5", spec=spec, progress=collect, n_workers=2
        )
        wall = time.perf_counter() - started
        simulations = per_simulation(path)
    case_wall = sum(seconds for _, seconds, _ in cases)
    case_cpu = sum(cpu for _, _, cpu in cases)
    return {
        "dataset": name,
        "cases": spec.n_cases,
        "snapshots": spec.n_cases * spec.n_snapshots,
        "grid": f"{spec.n_x}x{spec.n_z}",
        "walls": spec.walls,
        "wall_s": round(wall, 2),
        "case_wall_s_sum": round(case_wall, 2),
        "case_cpu_s_sum": round(case_cpu, 2),
        "steps": sum(steps for steps, _, _ in cases),
        "speedup": round(case_wall / wall, 2),
        "load_average_before": round(load_before, 2),
        "target_s": TARGET_SECONDS[name],
        "within_target": wall <= TARGET_SECONDS[name],
        "simulations": simulations,
    }


def per_simulation(path: Path) -> list[dict]:
    """Each simulation's Ra, Pr, Nu and temporal variation, as the written file records them."""
    import h5py

    with h5py.File(path, "r") as f:
        attrs = f["scaled_data"].attrs
        return [
            {
                "case": str(case),
                "rayleigh": float(ra),
                "prandtl": round(float(pr), 3),
                "nusselt": round(float(nu), 3),
                "temporal_variation": round(float(tv), 3),
            }
            for case, ra, pr, nu, tv in zip(
                attrs["cases"],
                attrs["rayleigh"],
                attrs["prandtl"],
                attrs["nusselt"],
                attrs["temporal_variation"],
            )
        ]


def time_solver(rayleigh: float, prandtl: float, walls: str) -> dict:
    """Seconds (wall and CPU) per free-fall time unit once developed, at the default modes."""
    n_x_modes, n_z_modes = default_modes(rayleigh, walls)
    solver = make_solver(Setup(rayleigh, prandtl, n_x_modes=n_x_modes, n_z_modes=n_z_modes), walls)
    state = solver.initial_state(seed=0, amplitude=1e-2)
    solver.advance(state, SPINUP_TIME)
    started, cpu_started = time.perf_counter(), time.process_time()
    n_steps = solver.advance(state, SPINUP_TIME + TIMED_WINDOW)
    wall, cpu = time.perf_counter() - started, time.process_time() - cpu_started
    return {
        "rayleigh": rayleigh,
        "prandtl": round(prandtl, 3),
        "walls": walls,
        "modes": f"{n_x_modes}x{n_z_modes}",
        "steps_per_time_unit": round(n_steps / TIMED_WINDOW, 1),
        "s_per_time_unit": round(wall / TIMED_WINDOW, 3),
        "cpu_s_per_time_unit": round(cpu / TIMED_WINDOW, 3),
        "ms_per_step": round(1e3 * cpu / n_steps, 2),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--quick",
        action="store_true",
        help="the quick dataset only (no default dataset, no solver timings)",
    )
    parser.add_argument("--out", type=Path, default=RESULTS, help="folder for the JSON")
    args = parser.parse_args()
    specs = [("quick", QUICK_SPEC)] + ([] if args.quick else [("default", DEFAULT_SPEC)])
    rows = [time_generation(name, spec) for name, spec in specs]
    highest = max(design(DEFAULT_SPEC))
    solvers = (
        []
        if args.quick
        else [
            time_solver(rayleigh, prandtl, walls)
            for rayleigh, prandtl in ((1e5, 1.0), highest)
            for walls in ("no-slip", "free-slip")
        ]
    )
    facts = machine()
    print(f"machine: {facts}")
    print(
        f"{'dataset':<8} {'cases':>5} {'frames':>6} {'grid':>8} {'wall s':>7} {'sum s':>7} "
        f"{'cpu s':>7} {'speed-up':>8} {'load':>5} {'target s':>8}  ok"
    )
    for r in rows:
        print(
            f"{r['dataset']:<8} {r['cases']:>5} {r['snapshots']:>6} {r['grid']:>8} "
            f"{r['wall_s']:>7.1f} {r['case_wall_s_sum']:>7.1f} {r['case_cpu_s_sum']:>7.1f} "
            f"{r['speedup']:>8.2f} {r['load_average_before']:>5.1f} {r['target_s']:>8.0f}  "
            f"{'yes' if r['within_target'] else 'NO'}"
        )
    if solvers:
        print(
            f"\n{'Ra':>9} {'Pr':>6} {'walls':<10} {'modes':>7} {'steps/t':>8} {'s/t':>7} "
            f"{'cpu s/t':>8} {'ms/step':>8}"
        )
        for r in solvers:
            print(
                f"{r['rayleigh']:>9.3g} {r['prandtl']:>6.3g} {r['walls']:<10} {r['modes']:>7} "
                f"{r['steps_per_time_unit']:>8.1f} {r['s_per_time_unit']:>7.3f} "
                f"{r['cpu_s_per_time_unit']:>8.3f} {r['ms_per_step']:>8.2f}"
            )
    out = args.out / ("generate-quick.json" if args.quick else "generate.json")
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(
        json.dumps(
            {"machine": facts, "quick": args.quick, "results": rows, "solvers": solvers}, indent=2
        )
        + "\n"
    )
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
