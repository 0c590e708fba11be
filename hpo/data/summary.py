"""`info`: what a data file holds, read in chunks, so a user can pick --dataset and --channels."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import h5py
import numpy as np

from hpo.config import DEFAULT_MEMORY_BUDGET_BYTES
from hpo.data.layouts import list_datasets, open_source
from hpo.data.validation import check_file

# Simulations listed one per line before the rest are summarised.
N_LISTED = 50


def info(
    path: str | Path,
    dataset: str | None = None,
    memory_budget_bytes: int = DEFAULT_MEMORY_BUDGET_BYTES,
) -> dict[str, Any]:
    """Summarise a data file (every channel it offers), without loading it whole.

    Returns:
        A JSON-able dict: path, layout, dataset, datasets (name, shape, dtype), n_samples, grid,
        channels, default_channels, simulations (name, start, end) or None, nonfinite (total and
        per simulation, nonzero only), ranges (per channel min/max/mean of the finite values, file
        units) and physical (the file's offset/scale per channel, or None).

    Raises:
        DataError, ConfigError: as `hpo.data.load` for the file and the dataset.
    """
    path = check_file(path)
    default = open_source(path, dataset)
    source = open_source(path, dataset, list(default.available))
    with h5py.File(path, "r") as f:
        datasets = [
            {"name": name, "shape": list(shape), "dtype": dtype}
            for name, shape, dtype in list_datasets(f)
        ]
        per_simulation = _per_simulation_attrs(f, source.dataset, len(source.simulations or ()))
    n_channels = len(source.channels)
    low, high = np.full(n_channels, np.inf), np.full(n_channels, -np.inf)
    total, n_finite = np.zeros(n_channels), np.zeros(n_channels, np.int64)
    nonfinite_per_row = np.zeros(source.n_rows + 1, np.int64)
    chunk_rows = source.chunk_rows(memory_budget_bytes)
    for rows, data in source.iter_chunks(np.arange(source.n_rows), chunk_rows):
        finite = np.isfinite(data)
        nonfinite_per_row[rows + 1] = np.count_nonzero(~finite, axis=(1, 2, 3))
        for c in range(n_channels):
            values = data[..., c][finite[..., c]]
            if values.size:
                low[c], high[c] = min(low[c], values.min()), max(high[c], values.max())
                total[c] += values.sum(dtype=np.float64)
                n_finite[c] += values.size
    cumulative = np.cumsum(nonfinite_per_row)
    groups = source.simulations or ()
    by_simulation = {g.name: int(cumulative[g.end] - cumulative[g.start]) for g in groups}
    return {
        "path": str(path),
        "layout": source.layout,
        "dataset": source.dataset,
        "datasets": datasets,
        "n_samples": source.n_rows,
        "grid": list(source.grid),
        "channels": list(source.channels),
        "default_channels": list(default.channels),
        "simulations": None if source.simulations is None else [list(g) for g in groups],
        "simulation_attrs": per_simulation,
        "nonfinite": {
            "total": int(cumulative[-1]),
            "by_simulation": {name: n for name, n in by_simulation.items() if n},
        },
        "ranges": {
            name: {
                "min": float(low[c]),
                "max": float(high[c]),
                "mean": float(total[c] / n_finite[c]) if n_finite[c] else float("nan"),
            }
            for c, name in enumerate(source.channels)
        },
        "physical": None
        if source.physical is None
        else {
            name: {"offset": float(source.physical[0][c]), "scale": float(source.physical[1][c])}
            for c, name in enumerate(source.channels)
        },
    }


def _per_simulation_attrs(
    f: h5py.File, dataset: str | None, n_simulations: int
) -> dict[str, list[float]]:
    """Attrs holding one number per simulation (e.g. rayleigh, prandtl, nusselt), from the data
    set (where the original layout keeps them) or else the root."""
    found = {}
    holders = [f.attrs]
    if dataset is not None and isinstance(f.get(dataset), h5py.Dataset):
        holders.append(f[dataset].attrs)  # later wins: the dataset's own attrs
    for attrs in holders:
        for name, value in attrs.items():
            value = np.asarray(value)
            if (
                name not in ("idx", "offset", "scale")
                and n_simulations
                and value.shape == (n_simulations,)
                and np.issubdtype(value.dtype, np.number)
            ):
                found[name] = [float(v) for v in value]
    return found


# Per-simulation physics that `info` shows as columns when the file has them (the embedded data and
# `hpo.data simulate` write them): attr name, column title, format.
PHYSICS_COLUMNS = (
    ("rayleigh", "Ra", "{:>9.3g}"),
    ("prandtl", "Pr", "{:>6.3g}"),
    ("nusselt", "Nu", "{:>7.3f}"),
    ("temporal_variation", "variation", "{:>9.3f}"),
)


def _simulation_lines(simulations: list, extra: dict[str, list[float]]) -> list[str]:
    """One line per simulation: a table of name, Ra, Pr, Nu, temporal variation and snapshot count
    when the file records them, else name, rows and any per-simulation numbers."""
    shown = simulations[:N_LISTED]
    if all(key in extra for key, _, _ in PHYSICS_COLUMNS):
        width = max(len("name"), *(len(name) for name, _, _ in shown))
        header = f"  {'name':<{width}}" + "".join(
            f"  {title:>{len(fmt.format(0.0))}}" for _, title, fmt in PHYSICS_COLUMNS
        )
        lines = [header + "  snapshots  rows"]
        for i, (name, start, end) in enumerate(shown):
            cells = "".join("  " + fmt.format(extra[key][i]) for key, _, fmt in PHYSICS_COLUMNS)
            lines.append(f"  {name:<{width}}{cells}  {end - start:>9}  {start}-{end - 1}")
        return lines
    lines = []
    for i, (name, start, end) in enumerate(shown):
        values = "".join(f"  {key}={values[i]:.4g}" for key, values in extra.items())
        lines.append(f"  {name}  rows {start}-{end - 1}  ({end - start} steps){values}")
    return lines


def format_info(summary: dict[str, Any]) -> str:
    """The text `python -m hpo.data info` prints."""
    lines = [
        f"file: {summary['path']}",
        f"layout: {summary['layout']} (data: {summary['dataset']})",
        "datasets:",
    ]
    lines += [f"  {d['name']}  {tuple(d['shape'])}  {d['dtype']}" for d in summary["datasets"]]
    height, width = summary["grid"]
    lines.append(f"samples: {summary['n_samples']} of {height} x {width} (H x W)")
    channels = ", ".join(f"{i}={name}" for i, name in enumerate(summary["channels"]))
    lines.append(f"channels: {channels} (default: {','.join(summary['default_channels'])})")
    simulations = summary["simulations"]
    if simulations is None:
        lines.append("simulations: not marked (no idx attribute); every sample stands alone")
    else:
        lines.append(f"simulations: {len(simulations)}")
        lines += _simulation_lines(simulations, summary.get("simulation_attrs") or {})
        if len(simulations) > N_LISTED:
            lines.append(f"  ... and {len(simulations) - N_LISTED} more")
    nonfinite = summary["nonfinite"]
    if nonfinite["total"] == 0:
        lines.append("NaN/Inf values: none")
    else:
        where = ", ".join(f"{name}: {n}" for name, n in nonfinite["by_simulation"].items())
        lines.append(f"NaN/Inf values: {nonfinite['total']}" + (f" ({where})" if where else ""))
    lines.append("value ranges (file units, finite values):")
    width_name = max(len(name) for name in summary["ranges"])
    lines += [
        f"  {name:<{width_name}}  min {r['min']:.6g}  max {r['max']:.6g}  mean {r['mean']:.6g}"
        for name, r in summary["ranges"].items()
    ]
    if summary["physical"]:
        lines.append(
            "physical units: value * scale + offset with "
            + ", ".join(
                f"{name}: scale {p['scale']:.6g}, offset {p['offset']:.6g}"
                for name, p in summary["physical"].items()
            )
        )
    return "\n".join(lines)
