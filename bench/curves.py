"""Benchmark table: full learning curves of a grid of configurations, recorded once, so that search
methods can be replayed against them many times (`bench.replay`), as LCBench or HPOBench do.

    python -m bench.curves [--quick] [--workers 2] [--limit N] [--out DIR]
    python -m bench.curves --check N      # the reduced data against the default data, N configs

The grid: a full factorial of seven knobs at two levels each (128 configurations) for each of the
default screen's top two architectures (bench/results/screen.json's ranking at its smallest latent
size), each trained for the whole epoch budget with no early stopping, recording after every epoch
the validation and test rel_l2 and the epoch's wall time. Everything else is the matched recipe
(gelu, 3x3 kernels, resize upsampling, no normalisation; depthwise's multipliers 2, 2, 2).

Data: the default data would take ~15 s per epoch, 256 x 30 epochs ~ 32 hours on 2 cores. The table
uses a documented reduced variant of it instead: the same 24 simulations (same Ra, Pr, seeds and
physics), written on a 100 x 50 grid (half the points in each direction) with 20 snapshots a
free-fall time apart (half as many, over the same span): 1/8 of the default data per epoch. `--check
N` trains N configurations of the table on the default data itself and reports the Spearman rank
correlation of their best validation rel_l2 with the table's (the issue's bar: >= 0.8).

Resumable: each configuration's rows are appended to <out>/curves.csv as it finishes (a fixed
shuffled order, so a partial table is a spread-out subset of the grid); a re-run trains only the
missing ones. <out>/curves.json holds the grid, the data, the epoch budget and the machine. Long:
run it in the background (`nohup python -m bench.curves &`) and commit the CSV as it grows.
"""

from __future__ import annotations

import argparse
import csv
import dataclasses
import itertools
import json
import math
import multiprocessing
import os
import random
import sys
import time
from pathlib import Path

RESULTS = Path(__file__).parent / "results"
REPO = Path(__file__).resolve().parents[1]

# The knobs that matter, two levels each (the searched space's interesting corners, at costs the
# reduced data can afford: filters 8/16 on the first level, doubling per level).
KNOBS = {
    "latent": (8, 16),
    "n_layers": (2, 3),
    "filters": (8, 16),
    "learning_rate": (1e-3, 3e-3),
    "schedule": ("constant", "cosine"),
    "batch_size": (8, 16),
    "augment": ("none", "shift-x,mirror-x"),
}
# The quick table (the smoke test): the latent size varied, the others at one level each.
QUICK_KNOBS = {
    **{name: levels[-1:] for name, levels in KNOBS.items()},
    "latent": (8, 16),
    "learning_rate": (1e-3,),
    "n_layers": (3,),
}
EPOCHS, QUICK_EPOCHS = 30, 2  # the screen's budget (hpo.optimize's default --epochs)
# The screen's configuration, as near as the grid has it: the smallest screened latent, three
# levels, the default rate, cosine schedule, batch 8, the declared symmetries on (bench.replay's
# two-stage).
SCREEN_LEVELS = {
    "latent": 8,
    "n_layers": 3,
    "filters": 8,
    "learning_rate": 1e-3,
    "schedule": "cosine",
    "batch_size": 8,
    "augment": "shift-x,mirror-x",
}
COLUMNS = ["architecture", "config", *KNOBS, "epoch", "val_rel_l2", "test_rel_l2", "seconds"]
ORDER_SEED = 0  # the shuffled order in which configurations are trained


def reduced_spec():
    """The default data's simulations on a 100 x 50 grid, 20 snapshots 1 free-fall time apart."""
    from hpo.data.embedded import DEFAULT_SPEC

    return dataclasses.replace(DEFAULT_SPEC, n_x=100, n_z=50, n_snapshots=20, snapshot_spacing=1.0)


def data_path(variant: str) -> Path:
    """The cached file of the variant ("reduced", "default" or "quick"), generated on first use."""
    from hpo.data.embedded import default_dataset_path, generate_dataset
    from hpo.workspace import Workspace

    if variant != "reduced":
        return default_dataset_path(quick=variant == "quick")
    spec = reduced_spec()
    path = Workspace().data_dir / f"rayleigh_benard-reduced-{spec.key()}.h5"
    if not path.exists():
        print(f"generating the reduced default data into {path}", flush=True)
        generate_dataset(path, spec=spec)
    return path


def grid(knobs: dict) -> list[dict]:
    """Every combination of the knobs' levels, in a fixed order (config id = index)."""
    return [dict(zip(knobs, values)) for values in itertools.product(*knobs.values())]


def top_two(results: Path = RESULTS) -> list[str]:
    """The default screen's two best architectures at its smallest latent size (`--top 2`)."""
    screen = json.loads((results / "screen.json").read_text())
    smallest = min(screen["per_latent"], key=int)
    return screen["per_latent"][smallest]["ranking"][:2]


def params_of(architecture: str, levels: dict) -> dict:
    """Complete params: the matched recipe of `architecture` with the grid's levels set."""
    from hpo.architectures.presets import MATCHED_BASE

    n_layers = levels["n_layers"]
    symmetries = () if levels["augment"] == "none" else tuple(levels["augment"].split(","))
    params = {
        **MATCHED_BASE[architecture],
        "width": 1.0,
        "latent": levels["latent"],
        "n_layers": n_layers,
        "learning_rate": levels["learning_rate"],
        "schedule": levels["schedule"],
        "batch_size": levels["batch_size"],
        "shift_x": "shift-x" in symmetries,
        "mirror_x": "mirror-x" in symmetries,
    }
    params.update({f"filters_{i}": levels["filters"] * 2**i for i in range(n_layers)})
    return params


def train_one(job: tuple) -> list[dict]:
    """One configuration trained for `epochs` with no early stopping: a row per epoch."""
    architecture, config, levels, path, epochs = job
    from hpo.backend import import_keras_quietly

    keras = import_keras_quietly()
    from hpo import training

    data = _loaded(path)

    class TestEveryEpoch(keras.callbacks.Callback):
        def __init__(self):
            super().__init__()
            self.test = []

        def on_epoch_end(self, epoch, logs=None):
            self.test.append(training.evaluate(self.model, data.test, data)["rel_l2"])

    tester = TestEveryEpoch()
    # Patience beyond the budget: no early stopping, the whole curve is recorded.
    config_ = training.TrainConfig(epochs=epochs, patience=epochs + 1)
    result = training.fit(
        architecture,
        params_of(architecture, levels),
        data,
        config_,
        callbacks=[tester],
        progress=None,
        label=f"{architecture} #{config}",
    )
    rows = []
    for epoch in range(epochs):
        ran = epoch < len(result.history)  # a diverged run stops early: NaN from there on
        val = result.history[epoch].get("val_rel_l2", math.nan) if ran else math.nan
        rows.append(
            {
                "architecture": architecture,
                "config": config,
                **levels,
                "epoch": epoch + 1,
                "val_rel_l2": val if math.isfinite(val) else math.nan,
                "test_rel_l2": tester.test[epoch] if epoch < len(tester.test) else math.nan,
                "seconds": result.epoch_seconds[epoch] if ran else math.nan,
            }
        )
    return rows


_DATA = {}


def _loaded(path: str):
    """The data, loaded once per worker process."""
    if path not in _DATA:
        from hpo.data import load

        _DATA[path] = load(path)
    return _DATA[path]


def _worker_init() -> None:
    # Two single-threaded trainings in parallel beat one on two threads for models this small.
    os.environ["TF_NUM_INTRAOP_THREADS"] = "1"
    os.environ["TF_NUM_INTEROP_THREADS"] = "1"


def done_configs(csv_path: Path) -> set[tuple[str, int]]:
    if not csv_path.exists():
        return set()
    with csv_path.open() as handle:
        return {(row["architecture"], int(row["config"])) for row in csv.DictReader(handle)}


def append_rows(csv_path: Path, rows: list[dict]) -> None:
    new = not csv_path.exists()
    with csv_path.open("a", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=COLUMNS)
        if new:
            writer.writeheader()
        writer.writerows(rows)


def build_table(
    args,
    knobs: dict,
    epochs: int,
    variant: str,
    out: Path,
    name: str,
    only: set[tuple[str, int]] | None = None,
) -> Path:
    """Train the missing configurations (in parallel), appending each to <out>/<name>.csv; `only`:
    just these (architecture, config) pairs."""
    from bench.machine import machine

    architectures = top_two()
    path = str(data_path(variant))
    configs = grid(knobs)
    screen_config = next(
        i
        for i, levels in enumerate(configs)
        if all(levels[k] == SCREEN_LEVELS[k] or len(knobs[k]) == 1 for k in knobs)
    )
    out.mkdir(parents=True, exist_ok=True)
    csv_path = out / f"{name}.csv"
    meta = {
        "epochs": epochs,
        "knobs": {k: list(v) for k, v in knobs.items()},
        "architectures": architectures,
        "screen_config": {a: screen_config for a in architectures},
        "data": {
            "variant": variant,
            "file": Path(path).name,
            "description": __doc__.split("Data: ", 1)[1].split("`--check")[0].strip()
            if variant == "reduced"
            else variant,
        },
        "machine": machine(),
        "command": "python -m bench.curves" + (" --quick" if args.quick else ""),
    }
    (out / f"{name}.json").write_text(json.dumps(meta, indent=1) + "\n")
    jobs = [(a, i, levels, path, epochs) for a in architectures for i, levels in enumerate(configs)]
    random.Random(ORDER_SEED).shuffle(jobs)
    if only is not None:
        jobs = [job for job in jobs if (job[0], job[1]) in only]
    done = done_configs(csv_path)
    todo = [job for job in jobs if (job[0], job[1]) not in done]
    if args.limit is not None:
        todo = todo[: args.limit]
    print(
        f"{len(done)} of {len(jobs)} configurations in {csv_path}; training {len(todo)} "
        f"({epochs} epochs each, {args.workers} at a time)",
        flush=True,
    )
    started = time.perf_counter()
    with multiprocessing.get_context("spawn").Pool(
        args.workers, initializer=_worker_init, maxtasksperchild=8
    ) as pool:
        for n, rows in enumerate(pool.imap_unordered(train_one, todo), 1):
            append_rows(csv_path, rows)
            best = min(
                (r["val_rel_l2"] for r in rows if math.isfinite(r["val_rel_l2"])), default=math.nan
            )
            elapsed = time.perf_counter() - started
            print(
                f"[{n}/{len(todo)}] {rows[0]['architecture']} #{rows[0]['config']}: best val "
                f"rel_l2 {best:.4f}, {sum(r['seconds'] for r in rows):.0f} s; "
                f"{elapsed / n * (len(todo) - n) / 60:.0f} min left",
                flush=True,
            )
    return csv_path


def best_val(table):
    """Each configuration's best validation rel_l2 over its epochs, indexed (architecture,
    config)."""
    return table.groupby(["architecture", "config"]).val_rel_l2.min()


def check(args) -> None:
    """Train the first `args.check` configurations of the table's order on the default data; write
    <out>/curves-check.json with the Spearman rank correlation of their best validation rel_l2 on
    the reduced and the default data."""
    import pandas as pd
    from scipy.stats import spearmanr

    table = pd.read_csv(args.out / "curves.csv")
    trained = list(dict.fromkeys(zip(table.architecture, table.config)))[: args.check]
    csv_path = build_table(
        args, KNOBS, EPOCHS, "default", args.out, "curves-check", only=set(trained)
    )
    reduced, full = best_val(table), best_val(pd.read_csv(csv_path))
    pairs = [(key, reduced[key], full[key]) for key in trained if key in full.index]
    rho = spearmanr([r for _, r, _ in pairs], [f for _, _, f in pairs]).statistic
    meta = json.loads((args.out / "curves-check.json").read_text())  # build_table's: grid, data
    record = {
        **meta,
        "n": len(pairs),
        "spearman": rho,
        "bar": 0.8,
        "epochs": EPOCHS,
        "configs": [
            {"architecture": a, "config": int(c), "reduced_best_val": r, "default_best_val": f}
            for (a, c), r, f in pairs
        ],
    }
    (args.out / "curves-check.json").write_text(json.dumps(record, indent=1) + "\n")
    print(
        f"Spearman rank correlation of the best validation rel_l2, reduced against default data, "
        f"over {len(pairs)} configurations: {rho:.3f} (bar: >= 0.8)"
    )


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--quick", action="store_true", help="quick data, 2 configs per architecture, 2 epochs"
    )
    parser.add_argument("--workers", type=int, default=2, help="trainings at a time (2)")
    parser.add_argument(
        "--limit", type=int, default=None, help="train at most N configurations now"
    )
    parser.add_argument("--out", type=Path, default=RESULTS, help="folder of curves.csv/.json")
    parser.add_argument(
        "--check",
        type=int,
        default=None,
        metavar="N",
        help="train the table's first N configurations on the default data and "
        "compare the rankings (Spearman)",
    )
    args = parser.parse_args(argv)
    if (
        args.workers < 1
        or (args.limit is not None and args.limit < 0)
        or (args.check is not None and args.check < 3)
    ):
        print("--workers must be >= 1, --limit >= 0 and --check >= 3", file=sys.stderr)
        raise SystemExit(2)
    if args.check is not None:
        if not (args.out / "curves.csv").exists():
            print(
                f"no table at {args.out / 'curves.csv'}: run `python -m bench.curves` first",
                file=sys.stderr,
            )
            raise SystemExit(2)
        check(args)
    elif args.quick:
        build_table(args, QUICK_KNOBS, QUICK_EPOCHS, "quick", args.out, "curves-quick")
    else:
        build_table(args, KNOBS, EPOCHS, "reduced", args.out, "curves")


if __name__ == "__main__":
    main()
