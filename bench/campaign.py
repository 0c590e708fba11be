"""The search benchmarks' shared runs: one search method, one architecture, one seed, an epoch
    budget.

    campaign = Campaign(quick=False)
    ranking = campaign.screen()["ranking"]               # the benchmark's screen, run once
    run = campaign.run("tpe+median", ranking[0], seed=0) # trials, epochs, best model's test metrics

Every run is a real `hpo.optimize` (or `--engine keras-tuner`) on a copy of the screen's storage, in
its own folder (its Workspace) and its own process (TensorFlow keeps memory per fitted model). Its
trials and its best model's scores are kept in `run.json`, so the search, screening-value and
quality benchmarks share runs instead of repeating them: a run is only ever computed once per work
folder.
"""

from __future__ import annotations

import json
import multiprocessing
import shutil
import time
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import numpy as np

from hpo import keys


@dataclass(frozen=True)
class Method:
    key: str  # the letter
    label: str
    engine: str = "optuna"
    sampler: str = "tpe"
    pruner: str = "none"


METHODS = {
    m.label: m
    for m in (
        Method("a", "tpe+median", sampler="tpe", pruner="median"),
        Method("b", "tpe+hyperband", sampler="tpe", pruner="hyperband"),
        Method("c", "random", sampler="random", pruner="none"),
        Method("d", "tpe", sampler="tpe", pruner="none"),
        Method("e", "kerastuner-hyperband", engine="keras-tuner"),
    )
}
BASELINE = "random"  # (c): what a user would do without this tool
# On the top two, (a), (c) and (e) only: all five would double the suite's hour on 2 cores; these
# are the pipeline's default, the baseline and the other engine.
TOP2_METHODS = ("tpe+median", "random", "kerastuner-hyperband")
PARTS = ("top1", "top2", "screening")  # and "screen" alone: only the screen they all read
SPACE = Path(__file__).parent / "space.toml"  # the declared space, narrowed alike for every method


@dataclass(frozen=True)
class Budget:
    epochs_per_trial: int  # max; pruning and early stopping cut trials short
    patience: int  # EarlyStopping inside a trial
    epochs_per_architecture: int  # the fixed compute budget each method gets per architecture
    seeds: tuple[int, ...]

    def all_five_epochs(self) -> int:
        """Per architecture when all five share the budget that the screen's top two get."""
        return 2 * self.epochs_per_architecture // 5


# Full: fits the 60-minute suite on 2 cores (33 runs of 2-3 minutes each on the default data, two
# at a time; an epoch of the top architectures costs 2-3 s): 5 epochs per trial, 6 trials' worth.
FULL = Budget(epochs_per_trial=5, patience=2, epochs_per_architecture=30, seeds=(0, 1, 2))
# Quick: a smoke test of every path (quick data, a few tiny trials, one seed, runs in this process).
QUICK = Budget(epochs_per_trial=2, patience=1, epochs_per_architecture=4, seeds=(0,))


def default_workdir(quick: bool) -> Path:
    from hpo.workspace import Workspace

    return Workspace().root.resolve() / "bench" / ("quick" if quick else "full")


class Campaign:
    """The runs of one benchmark setting (quick or full) in one work folder."""

    def __init__(self, quick: bool, workdir: Path | None = None, budget: Budget | None = None):
        from hpo.data.embedded import default_dataset_path

        self.quick = quick
        self.budget = budget or (QUICK if quick else FULL)
        self.workdir = (workdir or default_workdir(quick)).resolve()
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.data_path = default_dataset_path(quick=quick).resolve()

    def screen(self) -> dict:
        """Screen all five architectures once (`hpo.screen`, or its --quick settings); return the
        ranking, leaderboard and PCA baseline."""
        path = self.workdir / "screen.json"
        if path.exists():
            return json.loads(path.read_text())
        return _in_fresh_process(
            _screen, self.workdir, self.data_path, self.quick, path, fresh=True
        )

    def run(self, method: str, architecture: str, seed: int, epochs: int | None = None) -> dict:
        """One method's search of one architecture with `epochs` in all (default: the budget's
        epochs_per_architecture); cached in the work folder."""
        budget = replace(
            self.budget, epochs_per_architecture=epochs or self.budget.epochs_per_architecture
        )
        name = f"{method}-{architecture}-s{seed}-e{budget.epochs_per_architecture}"
        folder = self.workdir / "runs" / name
        path = folder / "run.json"
        if path.exists():
            record = json.loads(path.read_text())
            # JSON holds the seeds as a list: compare like with like. Other settings: redo the run.
            if record["budget"] == json.loads(json.dumps(asdict(budget))):
                return record
        self.screen()
        return _in_fresh_process(
            _run,
            self.workdir,
            self.data_path,
            METHODS[method],
            architecture,
            seed,
            budget,
            path,
            fresh=not self.quick,
        )

    def all_runs(self, parts: tuple[str, ...] = PARTS) -> None:
        """Every run the search, screening-value and quality benchmarks read, in `parts` (so two
        processes can share the work: their runs are disjoint)."""
        ranking = self.screen()["ranking"]
        if "top1" in parts:
            for seed in self.budget.seeds:
                for method in METHODS:
                    self.run(method, ranking[0], seed)
        if "top2" in parts:
            for seed in self.budget.seeds:
                for method in TOP2_METHODS:
                    self.run(method, ranking[1], seed)
        if "screening" in parts:
            for architecture in ranking[2:]:
                for seed in self.budget.seeds:
                    self.run("tpe+median", architecture, seed, self.budget.all_five_epochs())


def _in_fresh_process(target, *args, fresh: bool = True) -> dict:
    """Run target(*args) in a spawned process (its own TensorFlow; or in this one, when not
    `fresh`); return the JSON it wrote to its last argument."""
    if not fresh:
        target(*args)
        return json.loads(args[-1].read_text())
    process = multiprocessing.get_context("spawn").Process(target=target, args=args)
    process.start()
    process.join()
    if process.exitcode != 0:
        raise RuntimeError(f"{target.__name__}{args[2:]} exited with {process.exitcode}")
    return json.loads(args[-1].read_text())


def _screen(workdir: Path, data_path: Path, quick: bool, out: Path) -> None:
    from hpo.backend import import_keras_quietly, quiet_optuna

    import_keras_quietly()
    quiet_optuna()
    from hpo.data import load
    from hpo.screen.config import ScreenConfig
    from hpo.screen.config import quick as quick_settings
    from hpo.screen.screening import screen
    from hpo.workspace import Workspace

    # One repeat: the screen a user runs before optimizing (quick: a few epochs at one latent size,
    # only the ranking's shape matters in the smoke test).
    config = ScreenConfig(run="bench", repeats=1, workspace=Workspace(workdir))
    config = replace(quick_settings(config), epochs=4, latent=(8,)) if quick else config
    started = time.perf_counter()
    screen(config, load(data_path), f"sqlite:///{workdir}/screen.db", progress=print)
    import optuna

    study = optuna.load_study(study_name="bench-screen", storage=f"sqlite:///{workdir}/screen.db")
    attrs = study.user_attrs
    out.write_text(
        json.dumps(
            {
                "ranking": attrs[keys.RANKING],
                "leaderboard": attrs.get(keys.LEADERBOARD),
                "pca": attrs.get(keys.PCA),
                "metric": attrs.get(keys.METRIC),
                "wall_s": round(time.perf_counter() - started, 1),
                "epochs": config.epochs,
                "repeats": config.repeats,
            },
            indent=1,
        )
    )


def _run(
    workdir: Path,
    data_path: Path,
    method: Method,
    architecture: str,
    seed: int,
    budget: Budget,
    out: Path,
) -> None:
    """One search, in this (fresh) process: copy the screen's storage, optimize, record in `out`
    (run.json, in the run's own folder)."""
    folder = out.parent
    if folder.exists():  # a run cut short earlier: start it again from the screen
        shutil.rmtree(folder)
    folder.mkdir(parents=True)
    from hpo.storage import clear_storage_cache

    # An attempt's database may have been deleted above: no cached connection may reach it.
    clear_storage_cache()
    storage_file = folder / "storage.db"
    shutil.copy(workdir / "screen.db", storage_file)
    from hpo.backend import import_keras_quietly, quiet_optuna

    import_keras_quietly()
    quiet_optuna()
    import optuna

    from hpo.optimize.config import OptimizeConfig, study_name
    from hpo.optimize.optimization import optimize
    from hpo.optimize.settings import StudySettings
    from hpo.workspace import Workspace

    settings = StudySettings(
        n_trials=10_000,
        epochs=budget.epochs_per_trial,
        patience=budget.patience,
        pruner=method.pruner,
        sampler=method.sampler,
        seed=seed,
        epoch_budget=budget.epochs_per_architecture,
    )
    config = OptimizeConfig(
        run="bench",
        architectures=(architecture,),
        settings=settings,
        data_kwargs={"path": data_path},
        search_latent=True,  # as measured: one study per architecture, the latent size searched
        engine=method.engine,
        space_file=SPACE,
        tuner="hyperband",
        # artifacts, KerasTuner state, report of this run only
        workspace=Workspace(folder),
    )
    url = f"sqlite:///{storage_file}"
    print(
        f"[{method.label} {architecture} seed {seed}] budget {budget.epochs_per_architecture} "
        f"epochs",
        flush=True,
    )
    started = time.perf_counter()
    result = optimize(config, url, progress=None)
    wall = time.perf_counter() - started
    study = optuna.load_study(
        study_name=study_name("bench", architecture, method.engine), storage=url
    )
    trials = [
        {
            "number": t.number,
            "state": t.state.name,
            "epochs": len(t.intermediate_values),
            "value": t.value,
            "latent": t.params.get("latent"),
        }
        for t in sorted(study.get_trials(deepcopy=False), key=lambda t: t.number)
    ]
    row = result.summary.to_dict(orient="records")[0]
    best_trial = row.get("best_trial")
    best = None
    if best_trial is not None and best_trial == best_trial:  # NaN when nothing completed
        best = {
            "trial": int(best_trial),
            "val": row[keys.monitor_key(settings.metric)],
            "test_rel_l2": row["test_rel_l2"],
            "test_mse": row["test_mse"],
            "latent": study.trials[int(best_trial)].params.get("latent"),
        }
    record = {
        "method": method.label,
        "architecture": architecture,
        "seed": seed,
        "budget": asdict(budget),
        "metric": settings.metric,
        "trials": trials,
        "best": best,
        "wall_s": round(wall, 1),
    }
    shutil.rmtree(folder / "artifacts", ignore_errors=True)  # models: hundreds of MB per campaign
    shutil.rmtree(folder / "bench" / "keras-tuner", ignore_errors=True)
    out.write_text(json.dumps(record, indent=1))
    print(
        f"[{method.label} {architecture} seed {seed}] {len(trials)} trials, "
        f"{sum(t['epochs'] for t in trials)} epochs, best val {best and best['val']:.4g}, "
        f"{wall:.0f} s",
        flush=True,
    )


def best_model(runs: list[dict]) -> dict | None:
    """The best model (lowest validation value) over one seed's runs, with its architecture."""
    bests = [{**r["best"], "architecture": r["architecture"]} for r in runs if r["best"]]
    return min(bests, key=lambda b: b["val"]) if bests else None


def anytime_curve(runs: list[dict]) -> tuple[np.ndarray, np.ndarray]:
    """Best validation value (of completed trials) after each trial, against cumulative epochs; the
    runs (one per architecture, as hpo.optimize runs them: one after another) are concatenated."""
    epochs, best = [0], [np.inf]
    for run in runs:
        for trial in run["trials"]:
            epochs.append(epochs[-1] + trial["epochs"])
            value = (
                trial["value"]
                if trial["state"] == "COMPLETE" and trial["value"] is not None
                else np.inf
            )
            best.append(min(best[-1], value))
    return np.array(epochs), np.array(best)


def campaign_parser(description: str, results: Path):
    """The flags of the benchmarks that read campaign runs: --quick, --workdir, --out."""
    import argparse

    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--quick", action="store_true", help="quick data, tiny budget (smoke test)")
    parser.add_argument("--workdir", type=Path, default=None, help="where runs are kept (reused)")
    parser.add_argument("--out", type=Path, default=results)
    return parser


def write_record(out: Path, name: str, quick: bool, record: dict) -> Path:
    """`<out>/<name>[-quick].json`; returns the path."""
    out.mkdir(parents=True, exist_ok=True)
    path = out / f"{name}{'-quick' if quick else ''}.json"
    path.write_text(json.dumps(record, indent=1) + "\n")
    return path


def main() -> None:
    parser = campaign_parser("Run (or find cached) every benchmark search run", Path("."))
    parser.add_argument(
        "--parts",
        default=",".join(PARTS),
        help=f"some of {', '.join(PARTS)}; or screen (the screen alone)",
    )
    args = parser.parse_args()
    Campaign(args.quick, args.workdir).all_runs(tuple(args.parts.split(",")))


if __name__ == "__main__":
    main()
