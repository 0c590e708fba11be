"""The Well's `rayleigh_benard` layout.

Root attrs `dataset_name`, `Rayleigh`, `Prandtl`, `n_trajectories`; fields `t0_fields/buoyancy` and
`t0_fields/pressure` shaped (B, T, X, Y) and `t1_fields/velocity` shaped (B, T, X, Y, 2);
`dimensions/{time, x, y}`. Each trajectory is one simulation (`traj_0`, ...), samples run
trajectory-major (sample = b * T + t), and the grid keeps the file's order: x before y, nothing
transposed. Channels: buoyancy, pressure, velocity (magnitude) by default; velocity_x and velocity_y
on request; `temperature` names buoyancy (it plays that role in the original study's data).
"""

from __future__ import annotations

from pathlib import Path

import h5py
import numpy as np

from hpo.data.channels import ChannelSpec, select_channels
from hpo.data.source import Simulation, Source, runs
from hpo.errors import DataError

SCALARS = ("buoyancy", "pressure")  # in t0_fields, (B, T, X, Y)
VELOCITY = ("velocity", "velocity_x", "velocity_y")  # from t1_fields/velocity, (B, T, X, Y, 2)
DEFAULT = ("buoyancy", "pressure", "velocity")
ALIASES = {"temperature": "buoyancy"}


def is_the_well(f: h5py.File) -> bool:
    return isinstance(f.get("t0_fields"), h5py.Group)


def open_the_well(path: Path, f: h5py.File, channels: ChannelSpec) -> Source:
    """Describe a The Well file as a Source (see the module docstring for the layout)."""
    shapes = {name: tuple(f["t0_fields"][name].shape) for name in SCALARS if name in f["t0_fields"]}
    if isinstance(f.get("t1_fields/velocity"), h5py.Dataset):
        shapes["velocity"] = tuple(f["t1_fields/velocity"].shape)
    if not shapes:
        raise DataError(
            f"{path} looks like a The Well file but holds none of t0_fields/buoyancy, "
            "t0_fields/pressure, t1_fields/velocity; is it the rayleigh_benard dataset?"
        )
    base = next(iter(shapes.values()))[:4]
    for name, shape in shapes.items():
        expected = (*base, 2) if name == "velocity" else base
        if len(base) != 4 or shape != expected:
            listing = ", ".join(f"{key} {value}" for key, value in shapes.items())
            raise DataError(
                f"The Well fields in {path} have shapes {listing}, but (B, T, X, Y) and "
                "(B, T, X, Y, 2) for velocity are needed; the file may be damaged"
            )
    n_traj, n_steps, size_x, size_y = (int(side) for side in base)
    available = tuple(
        name
        for name in (*SCALARS, *VELOCITY)
        if name in shapes or (name in VELOCITY and "velocity" in shapes)
    )
    default = tuple(name for name in DEFAULT if name in available)
    chosen = select_channels(channels, available, default, ALIASES)
    return Source(
        path=Path(path),
        layout="the_well",
        dataset="t0_fields,t1_fields",
        n_rows=n_traj * n_steps,
        grid=(size_x, size_y),
        available=available,
        channels=chosen,
        simulations=tuple(
            Simulation(f"traj_{b}", b * n_steps, (b + 1) * n_steps) for b in range(n_traj)
        ),
        physical=None,
        reader=_WellReader(n_steps, (size_x, size_y), chosen),
    )


class _WellReader:
    """Reads samples b * T + t as (n, X, Y, C), computing the velocity magnitude when asked."""

    def __init__(self, n_steps: int, grid: tuple[int, int], channels: tuple[str, ...]):
        self.n_steps = n_steps
        self.grid = grid
        self.channels = channels

    def __call__(self, f: h5py.File, rows: np.ndarray) -> np.ndarray:
        out = np.empty((len(rows), *self.grid, len(self.channels)), np.float32)
        pos = 0
        for lo, hi in runs(rows, period=self.n_steps):  # one run never crosses two trajectories
            traj, t0 = divmod(lo, self.n_steps)
            t1, end = t0 + hi - lo, pos + hi - lo
            velocity = None
            for c, name in enumerate(self.channels):
                if name in SCALARS:
                    out[pos:end, ..., c] = f["t0_fields"][name][traj, t0:t1]
                    continue
                if velocity is None:
                    # (n, X, Y, 2)
                    velocity = f["t1_fields/velocity"][traj, t0:t1].astype(np.float32)
                if name == "velocity":
                    vx, vy = velocity[..., 0], velocity[..., 1]
                    # sqrt(vx*vx + vy*vy) rather than hypot: plain IEEE ops give the same bits
                    # whichever batch a sample is read in.
                    out[pos:end, ..., c] = np.sqrt(vx * vx + vy * vy)
                else:
                    out[pos:end, ..., c] = velocity[..., VELOCITY.index(name) - 1]
            pos = end
        return out
