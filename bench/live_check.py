"""Check of the replay against reality: the same searches run live, trained for real, beside their
replay on the table (`bench.replay`).

    python -m bench.live_check [--quick] [--seeds 3] [--methods random,tpe+median]
                               [--budget-trials 6] [--table bench/results/curves.csv] [--out DIR]

For each method and seed, an Optuna study with the live run's sampler and pruner (bench.replay's
`make_study`, so hpo.optimize.settings' factories) searches the table's grid on the table's first
architecture and data (bench.curves' reduced variant), but each trial is trained: `hpo.training.fit`
with optuna-integration's KerasPruningCallback on val_rel_l2 (as hpo.optimize's objective) and the
live early stopping. The study stops at the same epoch budget as the replay's, and the trial that
crosses it is cut there and does not count, as in the replay. Reported per method: each seed's
best validation rel_l2 at the budget, live and replayed (the same sampler seed: the two runs draw
the same configurations for as long as they see the same values), and whether the live median
falls inside the replay's 95% bootstrap interval over 50 seeds at that budget (the issue's check).
Writes <out>/live_check[-quick].json.

Why the two can differ: a fresh training of a configuration repeats the table's run only up to
thread-scheduling noise, and a study that sees a slightly different value may draw differently
from then on.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from pathlib import Path

import numpy as np

from bench import replay

RESULTS = Path(__file__).parent / "results"
METHODS = ("random", "tpe+median")
SEEDS, QUICK_SEEDS = 3, 2
BUDGET_TRIALS, QUICK_BUDGET_TRIALS = 6, 2  # the study's budget in full trials' epochs
REPLAY_SEEDS = 50  # the interval the live medians are checked against


def budget_cut(epochs_left: int, max_epochs: int):
    """A Keras callback that stops training once the study's epoch budget is spent: the trial is
    then CUT (it would have gone on), as the replay cuts the trial that crosses the budget."""
    import keras

    class BudgetCut(keras.callbacks.Callback):
        def __init__(self):
            super().__init__()
            self.ran, self.cut = 0, False

        def on_epoch_end(self, epoch, logs=None):
            self.ran += 1
            # fit's EarlyStopping runs before this callback: a run that ends by itself is no cut.
            if self.ran >= epochs_left and epoch + 1 < max_epochs and not self.model.stop_training:
                self.cut = True
                self.model.stop_training = True

    return BudgetCut()


def live_study(
    table: replay.Table, data, method: str, seed: int, budget: int, progress=print
) -> list[replay.TrialRecord]:
    """`method`'s study on the table's first architecture, every trial trained for real."""
    from optuna.trial import TrialState
    from optuna_integration import KerasPruningCallback

    from bench.curves import params_of
    from hpo import training

    architecture = table.architectures[0]
    study = replay.make_study(
        method, seed, table.epochs, budget, name=f"replay-{architecture}-seed{seed}"
    )
    config = training.TrainConfig(epochs=table.epochs)  # patience scaled as the replay's
    records, spent, failures = [], 0, 0
    while spent < budget and failures < replay.max_failures():
        trial = study.ask()
        key = tuple(trial.suggest_categorical(name, levels) for name, levels in table.knobs.items())
        curve = table.curves[architecture][key]
        cut = budget_cut(budget - spent, table.epochs)
        pruning = KerasPruningCallback(trial, "val_rel_l2")
        state = replay.COMPLETE
        try:
            result = training.fit(
                architecture,
                params_of(architecture, dict(zip(table.knobs, key))),
                data,
                config,
                callbacks=[cut, pruning],
                progress=None,
            )
            ran = result.epochs_run
            if result.diverged:
                state = replay.FAIL
            elif cut.cut:
                state = replay.CUT
        except Exception as exc:  # optuna.TrialPruned, raised by the pruning callback
            if type(exc).__name__ != "TrialPruned":
                raise
            state, ran, result = replay.PRUNED, cut.ran, None
        history = result.history if result is not None else []
        vals = [h.get("val_rel_l2", math.nan) for h in history]
        finite = [v for v in vals if math.isfinite(v)]
        value = min(finite) if finite else None
        if state == replay.PRUNED:  # fit's history went with the exception; its reports stay
            reported = study.get_trials(deepcopy=False)[trial.number].intermediate_values
            value = min(reported.values()) if reported else None
        if state == replay.COMPLETE:
            study.tell(trial, value)
        else:
            study.tell(trial, state=TrialState.FAIL if state == replay.FAIL else TrialState.PRUNED)
        records.append(replay.TrialRecord(architecture, curve.config, state, ran, value, None))
        spent += ran
        failures = failures + 1 if state == replay.FAIL else 0
        progress(
            f"  {method} seed {seed}: trial {len(records) - 1} config {curve.config} {state} "
            f"after {ran} epochs, val {value if value is None else round(value, 4)}; "
            f"{spent}/{budget} epochs"
        )
    return records


def replayed(table: replay.Table, method: str, seed: int, budget: int) -> list[replay.TrialRecord]:
    architecture = table.architectures[0]
    study = replay.make_study(
        method, seed, table.epochs, budget, name=f"replay-{architecture}-seed{seed}"
    )
    return replay.run_study(study, table, architecture, budget)


def best(records: list[replay.TrialRecord], budget: int) -> float:
    return replay.best_at(replay.anytime(records), budget)


def check(table: replay.Table, data, methods, seeds: int, budget: int) -> dict:
    rows = {}
    for method in methods:
        started = time.perf_counter()
        live = {
            seed: best(live_study(table, data, method, seed, budget), budget)
            for seed in range(seeds)
        }
        same_seed = {
            seed: best(replayed(table, method, seed, budget), budget) for seed in range(seeds)
        }
        many = [best(replayed(table, method, seed, budget), budget) for seed in range(REPLAY_SEEDS)]
        median, low, high = replay.bootstrap_median(many)
        live_median = float(np.median(list(live.values())))
        rows[method] = {
            "live_best": live,
            "replayed_best_same_seed": same_seed,
            "live_median": live_median,
            "replay_median": median,
            "replay_interval": [low, high],
            "replay_seeds": REPLAY_SEEDS,
            "inside": bool(low <= live_median <= high),
            "wall_s": round(time.perf_counter() - started, 1),
        }
        print(
            f"{method}: live median best {live_median:.4f}; replay {median:.4f} [{low:.4f}, "
            f"{high:.4f}] over {REPLAY_SEEDS} seeds: "
            f"{'inside' if rows[method]['inside'] else 'OUTSIDE'}",
            flush=True,
        )
    return rows


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--quick", action="store_true", help="the quick table, 2 seeds, tiny budget"
    )
    parser.add_argument("--seeds", type=int, default=None, help=f"live seeds per method ({SEEDS})")
    parser.add_argument("--methods", default=",".join(METHODS), help="bench.replay's method names")
    parser.add_argument(
        "--budget-trials",
        type=int,
        default=None,
        help=f"the budget in full trials' epochs ({BUDGET_TRIALS})",
    )
    parser.add_argument(
        "--table",
        type=Path,
        default=None,
        help="curves.csv (default: bench/results/curves.csv; --quick: curves-quick.csv in --out)",
    )
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args(argv)
    methods = tuple(args.methods.split(","))
    unknown = [m for m in methods if m not in replay.OPTUNA_METHODS]
    if unknown:
        print(
            f"--methods: {', '.join(unknown)} is not an Optuna method of bench.replay; choose from "
            f"{', '.join(replay.OPTUNA_METHODS)}",
            file=sys.stderr,
        )
        return 2
    table_path = args.table or (
        args.out / "curves-quick.csv" if args.quick else replay.DEFAULT_TABLE
    )
    try:
        table = replay.load_table(table_path)
    except replay.TableError as exc:
        print(f"bench.live_check: {exc}", file=sys.stderr)
        return 2
    from bench.curves import data_path
    from bench.machine import machine
    from hpo.backend import import_keras_quietly
    from hpo.data import load

    import_keras_quietly()
    meta = json.loads(table_path.with_suffix(".json").read_text())
    data = load(data_path(meta["data"]["variant"]))  # the data the table was recorded on
    seeds = args.seeds or (QUICK_SEEDS if args.quick else SEEDS)
    budget = table.epochs * (
        args.budget_trials or (QUICK_BUDGET_TRIALS if args.quick else BUDGET_TRIALS)
    )
    print(f"machine: {machine()}")
    print(
        f"live against replayed searches of {table.architectures[0]}: {seeds} live seeds per "
        f"method, budget {budget} epochs (E = {table.epochs})",
        flush=True,
    )
    started = time.perf_counter()
    record = {
        "machine": machine(),
        "quick": args.quick,
        "table": str(table_path),
        "architecture": table.architectures[0],
        "epochs": table.epochs,
        "budget": budget,
        "seeds": seeds,
        "methods": check(table, data, methods, seeds, budget),
    }
    record["wall_s"] = round(time.perf_counter() - started, 1)
    args.out.mkdir(parents=True, exist_ok=True)
    path = args.out / f"live_check{'-quick' if args.quick else ''}.json"
    path.write_text(json.dumps(record, indent=1) + "\n")
    print(f"wrote {path} ({record['wall_s']:.0f} s)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
