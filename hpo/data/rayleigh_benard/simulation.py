"""One Rayleigh-Benard simulation from rest to a window of snapshots, with its diagnostics.

`simulate(Case(...))` is what `python -m hpo.data simulate` and each case of the embedded dataset
run: spin-up (fixed, or until the flow has developed), then `n_snapshots` frames every
`snapshot_spacing` free-fall times on the uniform output grid, and time averages over that window
weighted by step.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from hpo.data.rayleigh_benard.blas import one_blas_thread
from hpo.data.rayleigh_benard.noslip import NoSlipSolver
from hpo.data.rayleigh_benard.solver import Setup, Solver

WALLS = ("no-slip", "free-slip")
CHANNELS = ("temperature", "pressure", "velocity")

# Automatic spin-up: the flow has developed once Nu > DEVELOPED_NUSSELT and the first overshoot of
# the kinetic energy is over (it fell below OVERSHOOT_DROP of its peak), or, for flows that approach
# their state without overshoot, once the energy has stayed within QUIET_BAND for QUIET_TIME.
# Snapshots start SETTLING_TIME after that. A flow that never develops (below onset) stops waiting
# at MAX_SPINUP_TIME.
DEVELOPED_NUSSELT = 1.2
OVERSHOOT_DROP = 0.8
QUIET_BAND, QUIET_TIME = 0.05, 10.0
SETTLING_TIME = 10.0
MAX_SPINUP_TIME = 300.0
# Kinetic energy and dissipation are evaluated every this many steps (Nu every step): they cost a
# sixth of a step, and change little over a few steps (the CFL limit).
ENERGY_EVERY = 4


# (largest Ra, x Fourier modes per unit length, z modes) for no-slip walls. Chosen by measurement:
# the last eighth of the modes holds < 1e-3 of the peak amplitude (temperature and vorticity, both
# directions) at Pr 0.7, the least smooth case, and 1.5x the modes changes Nu by < 1e-3.
_NO_SLIP_MODES = ((1.5e5, 16, 24), (4e5, 24, 32), (1.2e6, 24, 40), (4e6, 32, 48), (np.inf, 48, 64))


def default_modes(rayleigh: float, walls: str = "no-slip", lx: float = 2.0) -> tuple[int, int]:
    """(x Fourier modes, z modes) that resolve a case: the thermal boundary layer (~1/(2 Nu)) and
    the plumes thin as Ra grows (tests/test_rayleigh_benard_noslip.py checks that 1.5x the modes
    changes Nu by < 2% at the embedded design's highest Ra)."""
    if walls == "free-slip":  # the sine series of the previous generator, unchanged
        n_modes = 48 if rayleigh <= 1e5 else 64
        return n_modes, n_modes
    per_length, n_z = next((per, n) for top, per, n in _NO_SLIP_MODES if rayleigh <= top)
    return int(round(per_length * lx)), n_z


def make_solver(setup: Setup, walls: str = "no-slip") -> Solver | NoSlipSolver:
    """The solver for `walls`: Chebyshev collocation for no-slip, sine series for free-slip."""
    if walls == "no-slip":
        return NoSlipSolver(setup)
    if walls == "free-slip":
        return Solver(setup)
    raise ValueError(f"walls must be one of {', '.join(WALLS)}, but got {walls!r}")


@dataclass(frozen=True)
class Case:
    """One simulation: physics, box, output and schedule (free-fall time units)."""

    rayleigh: float
    prandtl: float
    walls: str = "no-slip"
    lx: float = 2.0  # aspect ratio Lx/Lz (the original study's 200 x 100 grid)
    n_x: int = 200  # output grid points in x
    n_z: int = 100  # output grid points in z (cell centres)
    n_snapshots: int = 40
    snapshot_spacing: float = 0.5
    # None: until developed (see DEVELOPED_NUSSELT) + SETTLING_TIME
    spinup_time: float | None = None
    seed: int = 0  # seeds the initial temperature perturbation
    perturbation: float = 1e-2  # amplitude of each low mode of the initial temperature noise
    n_x_modes: int | None = None  # None: default_modes(rayleigh, walls, lx)
    n_z_modes: int | None = None

    def modes(self) -> tuple[int, int]:
        n_x_modes, n_z_modes = default_modes(self.rayleigh, self.walls, self.lx)
        if self.walls == "free-slip":  # its output cannot drop modes: at most what n_x points hold
            n_x_modes = min(n_x_modes, (self.n_x + 1) // 2)
        return self.n_x_modes or n_x_modes, self.n_z_modes or n_z_modes

    def setup(self) -> Setup:
        n_x_modes, n_z_modes = self.modes()
        return Setup(
            self.rayleigh, self.prandtl, lx=self.lx, n_x_modes=n_x_modes, n_z_modes=n_z_modes
        )


class _SpinUpWatch:
    """Decides, step by step, when the flow has developed (see the module constants)."""

    def __init__(self):
        self.peak = 0.0
        self.quiet_since: float | None = None
        self.quiet_level = 0.0
        self.developed_at: float | None = None

    def update(self, t: float, nusselt: float, energy: float) -> bool:
        if self.developed_at is not None:
            return True
        if nusselt <= DEVELOPED_NUSSELT:
            self.quiet_since = None
            return False
        self.peak = max(self.peak, energy)
        if (
            self.quiet_since is None
            or abs(energy - self.quiet_level) > QUIET_BAND * self.quiet_level
        ):
            self.quiet_since, self.quiet_level = t, energy
        if energy < OVERSHOOT_DROP * self.peak or t - self.quiet_since >= QUIET_TIME:
            self.developed_at = t
        return self.developed_at is not None


def temporal_variation(frames: np.ndarray) -> float:
    """Mean over frames of ||x_t - xbar|| / ||xbar - <xbar>||: xbar the time mean, <.> its spatial
    mean.

    Args:
        frames: (T, ...) one channel of one simulation.
    """
    frames = np.asarray(frames, dtype=np.float64)
    mean = frames.mean(axis=0)
    spread = np.linalg.norm(mean - mean.mean())
    deviations = np.linalg.norm((frames - mean).reshape(len(frames), -1), axis=1)
    return float(deviations.mean() / spread) if spread > 0 else float("inf")


def simulate(
    case: Case, progress: Callable[[str], None] | None = None, progress_every: float = 5.0
) -> dict:
    """Run `case`; return its snapshots and diagnostics.

    Args:
        case: what to run.
        progress: receives a line (time, Nu, dt) every `progress_every` free-fall times; None:
        quiet.

    Returns:
        snapshots (n_snapshots, n_x, n_z, 3) float32 (temperature, pressure, velocity magnitude),
        times, x, z, and over the snapshot window (time averages weighted by step): nusselt,
        nusselt_min, nusselt_max, wall_nusselt_bottom, wall_nusselt_top, dissipation,
        mean_flow_energy_share; temporal_variation (on temperature), spinup_time (when the window
        started), developed_time (NaN when given or never developed), n_steps, n_modes, seconds
        (wall) and cpu_seconds.

    Runs with one BLAS thread (see hpo.data.rayleigh_benard.blas).

    Raises:
        FloatingPointError: the solution blew up.
    """
    with one_blas_thread():
        return _simulate(case, progress, progress_every)


def _simulate(
    case: Case, progress: Callable[[str], None] | None = None, progress_every: float = 5.0
) -> dict:
    """The body of simulate."""
    started, cpu_started = time.perf_counter(), time.process_time()
    solver = make_solver(case.setup(), case.walls)
    state = solver.initial_state(seed=case.seed, amplitude=case.perturbation)
    n_steps = 0
    last_report = [-np.inf]

    def report(state, dt, nusselt):
        if progress is not None and state.time - last_report[0] >= progress_every:
            last_report[0] = state.time
            progress(f"  t = {state.time:7.2f}  Nu = {nusselt:7.3f}  dt = {dt:.2e}")

    # Spin-up.
    watch = _SpinUpWatch()
    if case.spinup_time is not None:

        def on_spinup_step(state, dt):
            report(state, dt, solver.nusselt(state))

        n_steps += solver.advance(state, case.spinup_time, on_step=on_spinup_step)
        spinup_time, developed_time = case.spinup_time, float("nan")
    else:
        while state.time < MAX_SPINUP_TIME:
            dt = solver.step(state)
            n_steps += 1
            if n_steps % ENERGY_EVERY == 0:
                values = solver.diagnostics(state)
                report(state, dt, values["nusselt"])
                if watch.update(state.time, values["nusselt"], values["energy"]):
                    break
        developed_time = float("nan") if watch.developed_at is None else watch.developed_at
        spinup_time = state.time + (SETTLING_TIME if watch.developed_at is not None else 0.0)

    # The snapshot window, with step-weighted averages: Nu every step, the costlier energies and
    # dissipation every ENERGY_EVERY steps (weighted by the time since the last sample).
    sums = dict.fromkeys(
        (
            "time",
            "nusselt",
            "bottom",
            "top",
            "sampled_time",
            "dissipation",
            "energy",
            "mean_energy",
        ),
        0.0,
    )
    extremes = [np.inf, -np.inf]
    unsampled = [0.0]

    def accumulate(state, dt):
        nonlocal n_steps
        n_steps += 1
        nusselt = solver.nusselt(state)
        if state.time > spinup_time:
            bottom, top = solver.wall_nusselts(state)
            for key, value in (
                ("time", 1.0),
                ("nusselt", nusselt),
                ("bottom", bottom),
                ("top", top),
            ):
                sums[key] += dt * value
            extremes[0], extremes[1] = min(extremes[0], nusselt), max(extremes[1], nusselt)
            unsampled[0] += dt
            if n_steps % ENERGY_EVERY == 0:
                values = solver.diagnostics(state)
                for key in ("dissipation", "energy", "mean_energy"):
                    sums[key] += unsampled[0] * values[key]
                sums["sampled_time"] += unsampled[0]
                unsampled[0] = 0.0
        report(state, dt, nusselt)

    times = spinup_time + case.snapshot_spacing * np.arange(case.n_snapshots)
    snapshots = np.empty((case.n_snapshots, case.n_x, case.n_z, len(CHANNELS)), np.float32)
    fields = None
    for k, snapshot in enumerate(solver.snapshots(state, times, on_step=accumulate)):
        fields = solver.fields(snapshot, case.n_x, case.n_z)
        snapshots[k] = np.stack([fields.temperature, fields.pressure, fields.speed], axis=-1)
    window = sums["time"]
    if sums["sampled_time"] == 0:  # a window too short to sample: take the values at its end
        values = solver.diagnostics(state)
        sums.update(
            {key: values[key] for key in ("dissipation", "energy", "mean_energy")}, sampled_time=1.0
        )
    if window == 0:  # a single snapshot: the window is a point
        values = solver.diagnostics(state)
        sums.update({key: values[key] for key in ("nusselt", "bottom", "top")})
        window = 1.0
        extremes = [values["nusselt"]] * 2
    return {
        "rayleigh": case.rayleigh,
        "prandtl": case.prandtl,
        "walls": case.walls,
        "snapshots": snapshots,
        "times": times,
        "x": fields.x,
        "z": fields.z,
        "nusselt": sums["nusselt"] / window,
        "nusselt_min": float(extremes[0]),
        "nusselt_max": float(extremes[1]),
        "wall_nusselt_bottom": sums["bottom"] / window,
        "wall_nusselt_top": sums["top"] / window,
        "dissipation": sums["dissipation"] / sums["sampled_time"],
        "mean_flow_energy_share": sums["mean_energy"] / max(sums["energy"], 1e-300),
        "temporal_variation": temporal_variation(snapshots[..., 0]),
        "spinup_time": float(spinup_time),
        "developed_time": developed_time,
        "n_steps": n_steps,
        "n_modes": case.modes(),
        "seconds": time.perf_counter() - started,
        "cpu_seconds": time.process_time() - cpu_started,
    }
