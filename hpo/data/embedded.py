"""The embedded default dataset: Rayleigh-Benard convection that the project generates itself.

A new user has no data; `python -m hpo.data generate` (or any command run without `--data`) simulates
a small parameter study with the NumPy solver in `hpo.data.rayleigh_benard` and writes it in the seed
layout, so the same loader reads it as it reads a user's file. The file is cached under
`studies/data/`, keyed by a hash of everything that determines its contents.
"""

from __future__ import annotations

import hashlib
import json
import multiprocessing
import os
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Callable

import h5py
import numpy as np

from hpo.config import studies_dir
from hpo.data.rayleigh_benard.solver import Setup, Solver

# Bump when the solver or the file layout changes, so cached files are regenerated.
GENERATOR_VERSION = 1

CHANNELS = ("temperature", "pressure", "velocity")


@dataclass(frozen=True)
class DatasetSpec:
    """Everything that determines the generated file (its hash is the cache key)."""

    n_cases: int
    rayleigh_range: tuple[float, float]
    prandtl_range: tuple[float, float]
    n_x: int  # output grid points in x (axis 1)
    n_z: int  # output grid points in z (axis 2)
    n_snapshots: int  # per case
    snapshot_spacing: float  # free-fall time units between snapshots
    spinup_time: float  # time before the first snapshot, for the flow to develop
    lx: float = 2.0  # aspect ratio Lx/Lz = 2 (the seed's 200 x 100 grid)
    seed: int = 0  # scrambles the Sobol design and seeds each case's initial perturbation
    perturbation: float = 1e-2  # initial temperature noise; large enough to develop within spin-up

    def n_modes(self, rayleigh: float) -> int:
        """Spectral modes per direction: thinner boundary layers at high Ra need more."""
        if self.n_z <= 32:
            return 24 if rayleigh <= 2e4 else 32
        return 48 if rayleigh <= 1e5 else 64

    def key(self) -> str:
        payload = json.dumps({"spec": asdict(self), "version": GENERATOR_VERSION}, sort_keys=True)
        return hashlib.sha256(payload.encode()).hexdigest()[:10]


# The seed's grid and the design: 12 cases over Ra in [2e3, 3e5], Pr in [0.7, 10], 40 snapshots
# each every 0.5 time units after 40 units of spin-up (low-Ra, high-Pr rolls have settled by t ~ 35).
DEFAULT_SPEC = DatasetSpec(n_cases=12, rayleigh_range=(2e3, 3e5), prandtl_range=(0.7, 10.0),
                           n_x=200, n_z=100, n_snapshots=40, snapshot_spacing=0.5,
                           spinup_time=40.0)
# Small enough for tests and demos: 6 cases (enough for a by-simulation 80/10/10 split), 64 x 32 grid,
# moderate Ra so coarse modes resolve it.
QUICK_SPEC = DatasetSpec(n_cases=6, rayleigh_range=(2e3, 5e4), prandtl_range=(0.7, 10.0),
                         n_x=64, n_z=32, n_snapshots=12, snapshot_spacing=0.5, spinup_time=30.0)


def design(spec: DatasetSpec) -> list[tuple[float, float]]:
    """(Ra, Pr) per case: a scrambled Sobol design, log-uniform in both parameters."""
    from scipy.stats import qmc

    # Draw the next power of two (where Sobol' points are balanced) and keep the first n_cases.
    m = max(0, int(np.ceil(np.log2(spec.n_cases))))
    unit = qmc.Sobol(d=2, scramble=True, seed=spec.seed).random_base2(m)[: spec.n_cases]
    log_ra = np.log(spec.rayleigh_range)
    log_pr = np.log(spec.prandtl_range)
    ra = np.exp(log_ra[0] + unit[:, 0] * (log_ra[1] - log_ra[0]))
    pr = np.exp(log_pr[0] + unit[:, 1] * (log_pr[1] - log_pr[0]))
    return [(float(r), float(p)) for r, p in zip(ra, pr)]


def simulate_case(spec: DatasetSpec, index: int, rayleigh: float, prandtl: float) -> dict:
    """Run one case; return its snapshots (n_snapshots, n_x, n_z, 3) and time-averaged diagnostics."""
    started = time.perf_counter()
    n_modes = spec.n_modes(rayleigh)
    solver = Solver(Setup(rayleigh, prandtl, lx=spec.lx, n_x_modes=n_modes, n_z_modes=n_modes))
    state = solver.initial_state(seed=spec.seed * 1000 + index, amplitude=spec.perturbation)
    n_steps = solver.advance(state, spec.spinup_time)

    # Time averages over the snapshot window, accumulated every step (weighted by its dt).
    sums = {"time": 0.0, "nusselt": 0.0, "wall_nusselt": 0.0, "energy": 0.0, "mean_energy": 0.0}

    def accumulate(state, dt):
        total, mean = solver.kinetic_energies(state)
        sums["time"] += dt
        sums["nusselt"] += dt * solver.nusselt(state)
        sums["wall_nusselt"] += dt * solver.wall_nusselt(state)
        sums["energy"] += dt * total
        sums["mean_energy"] += dt * mean

    snapshots = np.empty((spec.n_snapshots, spec.n_x, spec.n_z, len(CHANNELS)), np.float32)
    times = np.empty(spec.n_snapshots)
    for k in range(spec.n_snapshots):
        if k > 0:
            n_steps += solver.advance(state, spec.spinup_time + k * spec.snapshot_spacing,
                                      on_step=accumulate)
        fields = solver.fields(state, spec.n_x, spec.n_z)
        snapshots[k] = np.stack([fields.temperature, fields.pressure, fields.speed], axis=-1)
        times[k] = state.time
    window = max(sums["time"], 1e-300)
    return {
        "index": index, "rayleigh": rayleigh, "prandtl": prandtl, "snapshots": snapshots,
        "times": times, "n_steps": n_steps, "n_modes": n_modes,
        "nusselt": sums["nusselt"] / window, "wall_nusselt": sums["wall_nusselt"] / window,
        "mean_flow_energy_share": sums["mean_energy"] / max(sums["energy"], 1e-300),
        "seconds": time.perf_counter() - started,
    }


def _simulate_case_args(args) -> dict:
    return simulate_case(*args)


def _case_name(rayleigh: float, prandtl: float) -> str:
    return f"ra{rayleigh:.3g}_pr{prandtl:.3g}"


def default_dataset_path(quick: bool = False,
                         progress: Callable[[str], None] = print) -> Path:
    """Path of the cached default (or quick) dataset, generated on first use."""
    spec = QUICK_SPEC if quick else DEFAULT_SPEC
    path = cached_path(spec)
    if not path.exists():
        progress(f"generating the embedded Rayleigh-Benard dataset ({'quick' if quick else 'default'})"
                 f" into {path}; it is cached for later runs")
        generate_dataset(path, quick=quick, progress=progress)
    return path


def cached_path(spec: DatasetSpec) -> Path:
    name = "quick" if spec == QUICK_SPEC else "default" if spec == DEFAULT_SPEC else "custom"
    return studies_dir() / "data" / f"rayleigh_benard-{name}-{spec.key()}.h5"


def generate_dataset(out: Path | None = None, quick: bool = False,
                     progress: Callable[[str], None] = print,
                     spec: DatasetSpec | None = None, n_workers: int | None = None) -> Path:
    """Generate the default (or quick) dataset in the seed layout and return its path.

    Args:
        out: file to write; default: the cache path under studies/data/.
        quick: the small variant (QUICK_SPEC) instead of DEFAULT_SPEC.
        progress: receives one line per finished case.
        spec: a custom spec (overrides `quick`).
        n_workers: processes, one case each at a time; default: all cores.
    """
    spec = spec or (QUICK_SPEC if quick else DEFAULT_SPEC)
    out = Path(out) if out is not None else cached_path(spec)
    out.parent.mkdir(parents=True, exist_ok=True)
    cases = design(spec)
    n_workers = n_workers or min(len(cases), os.cpu_count() or 1)
    started = time.perf_counter()
    # Longest cases first (cost grows with Ra) so the last worker does not finish alone.
    order = sorted(range(len(cases)), key=lambda i: -cases[i][0])
    jobs = [(spec, i, *cases[i]) for i in order]
    results = {}
    for result in _run_jobs(jobs, n_workers):
        results[result["index"]] = result
        progress(f"  case {len(results):>2}/{len(cases)}  Ra={result['rayleigh']:9.3g}  "
                 f"Pr={result['prandtl']:5.2f}  Nu={result['nusselt']:6.2f}  "
                 f"mean-flow share={result['mean_flow_energy_share']:.2f}  "
                 f"({result['n_steps']} steps, {result['seconds']:.1f} s)")
    _write(out, spec, [results[i] for i in range(len(cases))])
    progress(f"wrote {out} ({len(cases)} cases x {spec.n_snapshots} snapshots, "
             f"{spec.n_x} x {spec.n_z} grid) in {time.perf_counter() - started:.1f} s")
    return out


def _run_jobs(jobs: list, n_workers: int):
    if n_workers <= 1:
        yield from map(_simulate_case_args, jobs)
        return
    # Spawned workers (not forked: the parent may hold TensorFlow threads), one BLAS thread each so
    # the processes do not oversubscribe the cores.
    previous = {k: os.environ.get(k) for k in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS")}
    os.environ.update({k: "1" for k in previous})
    try:
        context = multiprocessing.get_context("spawn")
        with context.Pool(n_workers) as pool:
            yield from pool.imap_unordered(_simulate_case_args, jobs)
    finally:
        for key, value in previous.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def _write(out: Path, spec: DatasetSpec, results: list[dict]) -> None:
    """Write the seed layout atomically (a temporary file renamed at the end: no half-written cache)."""
    unscaled = np.concatenate([r["snapshots"] for r in results])  # (N, n_x, n_z, 3)
    low = unscaled.min(axis=(0, 1, 2)).astype(np.float64)
    span = unscaled.max(axis=(0, 1, 2)).astype(np.float64) - low
    span[span == 0] = 1.0
    scaled = ((unscaled - low) / span).astype(np.float32)  # per channel to [0, 1], like the seed
    starts = np.cumsum([0] + [len(r["snapshots"]) for r in results])
    tmp = out.with_name(out.name + ".tmp")
    with h5py.File(tmp, "w") as f:
        f.create_dataset("unscaled_data", data=unscaled, chunks=(1,) + unscaled.shape[1:])
        data = f.create_dataset("scaled_data", data=scaled, chunks=(1,) + scaled.shape[1:])
        data.attrs["offset"] = low  # physical = scaled * scale + offset
        data.attrs["scale"] = span
        f.create_dataset("time", data=np.concatenate([r["times"] for r in results]))
        f.create_dataset("x", data=np.arange(spec.n_x) * spec.lx / spec.n_x)
        f.create_dataset("z", data=(np.arange(spec.n_z) + 0.5) / spec.n_z)
        f.attrs["idx"] = np.stack([starts[:-1], starts[1:]], axis=1)
        f.attrs["cases"] = [_case_name(r["rayleigh"], r["prandtl"]) for r in results]
        f.attrs["channels"] = list(CHANNELS)
        for key in ("rayleigh", "prandtl", "nusselt", "wall_nusselt", "mean_flow_energy_share"):
            f.attrs[key] = np.array([r[key] for r in results])
        f.attrs["description"] = (
            "2D Boussinesq Rayleigh-Benard convection, free-slip walls, periodic x, Lx/Lz = "
            f"{spec.lx:g}, free-fall units; channels temperature (b), pressure (zero mean, incl. "
            "hydrostatic part), velocity magnitude; axis 1 = x, axis 2 = z (cell centres)")
        f.attrs["generator"] = json.dumps({"spec": asdict(spec), "version": GENERATOR_VERSION})
    tmp.replace(out)
