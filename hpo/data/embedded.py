"""The embedded default dataset: Rayleigh-Benard convection that the project generates itself.

A new user has no data; `python -m hpo.data generate` (or any command run without `--data`)
simulates a small parameter study with the NumPy solver in `hpo.data.rayleigh_benard` and writes it
in the seed layout, so the same loader reads it as it reads a user's file. The file is cached under
`studies/data/`, keyed by a hash of everything that determines its contents.
"""

from __future__ import annotations

import hashlib
import json
import multiprocessing
import os
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

import h5py
import numpy as np

from hpo import augment
from hpo.data.rayleigh_benard.simulation import CHANNELS, Case, simulate
from hpo.workspace import Workspace

# Bump when the solver or the file layout changes, so cached files are regenerated.
# 2: no-slip walls (Chebyshev in z), a time-dependent design, per-case attrs on scaled_data.
# 3: the root attr `symmetries` (hpo.augment): shift-x and mirror-x hold in a box periodic in x.
GENERATOR_VERSION = 3

# What the equations and the periodic box leave unchanged; every channel here (temperature,
# pressure, speed) is a scalar under x -> -x. hpo.augment reads the attr to switch augmentation on
# by default.
SYMMETRIES = augment.SYMMETRIES


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
    spinup_time: float | None = None  # None: each case runs until developed, plus a settling time
    lx: float = 2.0  # aspect ratio Lx/Lz = 2 (the original study's 200 x 100 grid)
    seed: int = 0  # scrambles the Sobol design and seeds each case's initial perturbation
    perturbation: float = 1e-2  # initial temperature noise per low mode
    walls: str = "no-slip"  # the original study's and The Well's boundary conditions

    def case(self, index: int, rayleigh: float, prandtl: float) -> Case:
        return Case(
            rayleigh,
            prandtl,
            walls=self.walls,
            lx=self.lx,
            n_x=self.n_x,
            n_z=self.n_z,
            n_snapshots=self.n_snapshots,
            snapshot_spacing=self.snapshot_spacing,
            spinup_time=self.spinup_time,
            seed=self.seed * 1000 + index,
            perturbation=self.perturbation,
        )

    def key(self) -> str:
        payload = json.dumps({"spec": asdict(self), "version": GENERATOR_VERSION}, sort_keys=True)
        return hashlib.sha256(payload.encode()).hexdigest()[:10]


# The seed's grid and a design whose flows are time-dependent (measured: no-slip, Lx = 2, every
# sampled (Ra, Pr) in [1e5, 1e6] x [0.7, 10] has temperature temporal variation >= 0.17, while
# Ra = 3e4 is steady, variation 0.03): 24 cases, so validation and test hold two each, 40 snapshots
# every 0.5 free-fall times after each case has developed.
DEFAULT_SPEC = DatasetSpec(
    n_cases=24,
    rayleigh_range=(1e5, 2e6),
    prandtl_range=(0.7, 10.0),
    n_x=200,
    n_z=100,
    n_snapshots=40,
    snapshot_spacing=0.5,
)
# Small enough for tests and demos (<= 20 s on 2 cores): 6 cases (a by-simulation 80/10/10 split),
# 64 x 32 grid, 12 snapshots; Pr >= 3 takes long steps, and Ra >= 1e5 keeps it time-dependent.
QUICK_SPEC = DatasetSpec(
    n_cases=6,
    rayleigh_range=(1e5, 3e5),
    prandtl_range=(3.0, 10.0),
    n_x=64,
    n_z=32,
    n_snapshots=12,
    snapshot_spacing=0.5,
)


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
    """Run one case of `spec` (see hpo.data.rayleigh_benard.simulation.simulate for what it
    returns)."""
    return {"index": index, **simulate(spec.case(index, rayleigh, prandtl))}


def _estimated_cost(case: Case) -> float:
    """Relative run time: work per step (modes) times steps, which grow with Ra and shrink with Pr
    (measured: a Pr 0.7 case takes ~3x the steps of a Pr 10 case at the same Ra)."""
    n_x_modes, n_z_modes = case.modes()
    return n_x_modes * n_z_modes**2 * case.rayleigh**0.3 * case.prandtl**-0.45


def _simulate_case_args(args) -> dict:
    return simulate_case(*args)


def _case_name(rayleigh: float, prandtl: float) -> str:
    return f"ra{rayleigh:.3g}_pr{prandtl:.3g}"


def default_dataset_path(
    quick: bool = False, workspace: Workspace | None = None, progress: Callable[[str], None] = print
) -> Path:
    """Path of the cached default (or quick) dataset in `workspace` (default ./studies),
    generated on first use."""
    spec = QUICK_SPEC if quick else DEFAULT_SPEC
    path = cached_path(spec, workspace)
    if not path.exists():
        progress(
            f"generating the embedded Rayleigh-Benard dataset ({'quick' if quick else 'default'})"
            f" into {path}; it is cached for later runs"
        )
        generate_dataset(path, quick=quick, progress=progress)
    return path


def cached_path(spec: DatasetSpec, workspace: Workspace | None = None) -> Path:
    """Where `spec`'s file is cached: named by the spec's key, so a changed design is a new file."""
    name = "quick" if spec == QUICK_SPEC else "default" if spec == DEFAULT_SPEC else "custom"
    return (workspace or Workspace()).data_dir / f"rayleigh_benard-{name}-{spec.key()}.h5"


def generate_dataset(
    out: Path | None = None,
    quick: bool = False,
    progress: Callable[[str], None] = print,
    spec: DatasetSpec | None = None,
    n_workers: int | None = None,
    workspace: Workspace | None = None,
) -> Path:
    """Generate the default (or quick) dataset in the original layout and return its path.

    Args:
        out: file to write; default: the cache path under studies/data/.
        quick: the small variant (QUICK_SPEC) instead of DEFAULT_SPEC.
        progress: receives one line per finished case.
        spec: a custom spec (overrides `quick`).
        n_workers: processes, one case each at a time; default: all cores.
    """
    spec = spec or (QUICK_SPEC if quick else DEFAULT_SPEC)
    out = Path(out) if out is not None else cached_path(spec, workspace)
    out.parent.mkdir(parents=True, exist_ok=True)
    cases = design(spec)
    n_workers = n_workers or min(len(cases), os.cpu_count() or 1)
    started = time.perf_counter()
    # Longest cases first so the last worker does not finish alone.
    order = sorted(range(len(cases)), key=lambda i: -_estimated_cost(spec.case(i, *cases[i])))
    jobs = [(spec, i, *cases[i]) for i in order]
    results = {}
    for result in _run_jobs(jobs, n_workers):
        results[result["index"]] = result
        progress(
            f"  case {len(results):>2}/{len(cases)}  Ra={result['rayleigh']:9.3g}  "
            f"Pr={result['prandtl']:5.2f}  Nu={result['nusselt']:6.2f}  "
            f"variation={result['temporal_variation']:.3f}  "
            f"mean-flow share={result['mean_flow_energy_share']:.2f}  "
            f"({result['n_steps']} steps, {result['seconds']:.1f} s, cpu "
            f"{result['cpu_seconds']:.1f} s)"
        )
    write_simulations(
        out,
        [results[i] for i in range(len(cases))],
        generator={"spec": asdict(spec), "version": GENERATOR_VERSION},
    )
    progress(
        f"wrote {out} ({len(cases)} cases x {spec.n_snapshots} snapshots, "
        f"{spec.n_x} x {spec.n_z} grid) in {time.perf_counter() - started:.1f} s"
    )
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


# Per-case values written as arrays (one entry per simulation) on `scaled_data`, beside idx and
# cases.
CASE_ATTRS = (
    "rayleigh",
    "prandtl",
    "nusselt",
    "nusselt_min",
    "nusselt_max",
    "temporal_variation",
    "wall_nusselt_bottom",
    "wall_nusselt_top",
    "dissipation",
    "mean_flow_energy_share",
    "spinup_time",
    "developed_time",
)


def write_simulations(out: Path, results: list[dict], generator: dict) -> None:
    """Write simulations in the original layout, atomically (a temporary file renamed at the end).

    `scaled_data` (N, n_x, n_z, 3) holds each channel scaled to [0, 1] over the file (offset/scale
    attrs give the physical values back); its attrs also hold `idx`, `cases`, `channels`, `walls`
    and the CASE_ATTRS arrays, where the original study's files keep them.

    Args:
        out: the file to write.
        results: what hpo.data.rayleigh_benard.simulation.simulate returns, one per simulation.
        generator: JSON-able record of what made the file (root attr `generator`).
    """
    unscaled = np.concatenate([r["snapshots"] for r in results])  # (N, n_x, n_z, 3)
    low = unscaled.min(axis=(0, 1, 2)).astype(np.float64)
    span = unscaled.max(axis=(0, 1, 2)).astype(np.float64) - low
    span[span == 0] = 1.0
    # Per channel to [0, 1], like the original study's
    scaled = ((unscaled - low) / span).astype(np.float32)
    starts = np.cumsum([0] + [len(r["snapshots"]) for r in results])
    first = results[0]
    n_x, n_z = unscaled.shape[1:3]
    lx = float(first["x"][1] - first["x"][0]) * n_x
    modes = ", ".join(sorted({f"{m[0]} x {m[1]}" for m in (r["n_modes"] for r in results)}))
    out.parent.mkdir(parents=True, exist_ok=True)
    # This process's own temporary name: two processes generating the same cached file (parallel
    # test workers, two users) each write theirs, and the last rename wins with identical content.
    tmp = out.with_name(f"{out.name}.{os.getpid()}.tmp")
    with h5py.File(tmp, "w") as f:
        f.create_dataset("unscaled_data", data=unscaled, chunks=(1,) + unscaled.shape[1:])
        data = f.create_dataset("scaled_data", data=scaled, chunks=(1,) + scaled.shape[1:])
        data.attrs["offset"] = low  # physical = scaled * scale + offset
        data.attrs["scale"] = span
        data.attrs["idx"] = np.stack([starts[:-1], starts[1:]], axis=1)
        data.attrs["cases"] = [_case_name(r["rayleigh"], r["prandtl"]) for r in results]
        data.attrs["channels"] = list(CHANNELS)
        data.attrs["walls"] = [r["walls"] for r in results]
        for key in CASE_ATTRS:
            data.attrs[key] = np.array([r[key] for r in results], dtype=np.float64)
        f.create_dataset("time", data=np.concatenate([r["times"] for r in results]))
        f.create_dataset("x", data=first["x"])
        f.create_dataset("z", data=first["z"])
        walls = sorted({r["walls"] for r in results})
        f.attrs["description"] = (
            f"2D Boussinesq Rayleigh-Benard convection, {' and '.join(walls)} walls, periodic x, "
            f"Lx/Lz = {lx:g}, free-fall units; channels temperature (b, 1 at the bottom wall, 0 at "
            "the top), pressure (zero mean, incl. hydrostatic part), velocity magnitude; axis 1 = "
            "x, "
            "axis 2 = z"
        )
        f.attrs["x_points"] = f"x_i = i Lx / {n_x}, i = 0..{n_x - 1} (periodic)"
        f.attrs["z_points"] = (
            f"cell centres z_j = (j + 1/2) / {n_z}, j = 0..{n_z - 1}: no point on the walls"
        )
        f.attrs["solver_grid"] = (
            f"solved with (x Fourier modes x z modes) {modes} (no-slip: Chebyshev degree; "
            f"free-slip: "
            "sine modes) and evaluated spectrally on the output grid, which may be finer"
        )
        f.attrs["generator"] = json.dumps(generator)
        f.attrs[augment.ATTR] = list(SYMMETRIES)
    tmp.replace(out)
