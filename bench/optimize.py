"""Benchmark: hpo.optimize throughput, pruning savings and memory, on the quick embedded dataset.

    python -m bench.optimize [--quick] [--trials N] [--memory-trials N] [--postgres URL] [--out DIR]

1. Workers: trials per hour with 1 and 2 workers on PostgreSQL (a fresh database per measurement;
   `conv`, no pruning and a fixed epoch count, so every trial does the same work).
2. Pruning: the share of trials pruned and of epochs saved by median pruning (vs every trial
   running its maximum epochs) in a quick-budget study.
3. Memory: the process's resident memory after each of N trials in one worker (it must stay flat:
   every trial clears the Keras session and collects garbage, and a worker process is replaced
   after `trials_per_process` trials because TensorFlow itself keeps memory per fitted model).
Prints tables and writes bench/results/optimize[-quick].json and optimize[-quick].html (trials per
hour by workers, and RSS after each trial). Without a reachable PostgreSQL server the workers part
is skipped and the JSON says why. `--quick` is a smoke run: 2 trials of 2 epochs per worker
measurement, a pruning study of 4 trials of 3 epochs, 4 memory trials recycled every 2.
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
import uuid
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path

RESULTS = Path(__file__).parent / "results"
ADMIN_URL = os.environ.get("HPO_TEST_POSTGRES", "postgresql://postgres@127.0.0.1:5432/postgres")
# What --quick changes: (full, quick).
DEFAULTS = {"trials": (8, 2), "worker_epochs": (30, 2), "memory_trials": (20, 4)}
PRUNING = {False: {"trials": 10, "epochs": 8}, True: {"trials": 4, "epochs": 3}}
RECYCLE_EVERY = {False: 10, True: 2}  # the recycled memory variant: a fresh process every N trials


def rss_mib() -> float:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


@contextmanager
def fresh_postgres(admin_url: str):
    import psycopg

    name = f"hpo_bench_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(admin_url.replace("postgresql+psycopg", "postgresql"), autocommit=True) as c:
        c.execute(f'CREATE DATABASE "{name}"')
    try:
        yield admin_url.rsplit("/", 1)[0] + "/" + name
    finally:
        with psycopg.connect(admin_url.replace("postgresql+psycopg", "postgresql"),
                             autocommit=True) as c:
            c.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s",
                      (name,))
            c.execute(f'DROP DATABASE IF EXISTS "{name}"')


def screened_storage(url: str, data_path: Path) -> None:
    from hpo.data import load
    from hpo.screening import ScreenConfig, screen

    screen(ScreenConfig(architectures=("conv",), epochs=1, repeats=1, run="bench"),
           load(data_path), url, progress=None)


def postgres_unreachable(admin_url: str) -> str | None:
    """None if the server accepts a connection within 3 s, else why not (one line)."""
    import psycopg

    try:
        with psycopg.connect(admin_url.replace("postgresql+psycopg", "postgresql"), connect_timeout=3):
            return None
    except psycopg.Error as exc:
        return (str(exc).strip().splitlines() or [type(exc).__name__])[0]


def write_chart(results: dict, path: Path) -> None:
    """(a) trials per hour by workers, (b) RSS after each trial, one line per memory variant."""
    from plotly.subplots import make_subplots

    workers = results["workers"]
    fig = make_subplots(rows=1, cols=2, subplot_titles=(
        "Workers on PostgreSQL" + ("" if isinstance(workers, list) else " (skipped)"),
        "Resident memory after each trial"))
    if isinstance(workers, list):
        fig.add_bar(x=[f"{row['workers']} worker{'s' if row['workers'] > 1 else ''}"
                       for row in workers],
                    y=[row["trials_per_hour"] for row in workers], showlegend=False,
                    customdata=[[row["trials"], row["seconds"]] for row in workers],
                    hovertemplate="%{x}: %{y} trials/h<br>%{customdata[0]} trials in "
                                  "%{customdata[1]} s<extra></extra>", row=1, col=1)
    else:
        fig.add_annotation(text=workers, showarrow=False, xref="x domain", yref="y domain",
                           x=0.5, y=0.5, row=1, col=1)
    for label, memory in results["memory"].items():
        series = memory["rss_mib_after_each"]
        fig.add_scatter(x=list(range(1, len(series) + 1)), y=series, mode="lines+markers",
                        name=label.replace("_", " "), row=1, col=2)
    fig.update_yaxes(title_text="trials / hour", row=1, col=1)
    fig.update_xaxes(title_text="trial", row=1, col=2)
    fig.update_yaxes(title_text="RSS (MiB)", row=1, col=2)
    pruning = results["pruning"]
    fig.update_layout(title=f"hpo.optimize on {results['data']}: median pruning pruned "
                            f"{pruning['pruned']} of {pruning['trials']} trials, "
                            f"{pruning['epochs_saved_share']:.0%} of the epochs saved")
    # plotly.js from its CDN: a committed result page stays small.
    fig.write_html(path, include_plotlyjs="cdn")


def run_study(url: str, data_path: Path, **settings_changes):
    from hpo.optimization import OptimizeConfig, optimize
    from hpo.study import StudySettings

    n_workers = settings_changes.pop("n_workers", 1)
    config = OptimizeConfig(run="bench", architectures=("conv",), n_workers=n_workers,
                            settings=replace(StudySettings(seed=0), **settings_changes),
                            data_kwargs={"path": data_path})
    samples = []
    started = time.perf_counter()
    optimize(config, url, progress=lambda line: samples.append(rss_mib()) if "trial" in line else None)
    return time.perf_counter() - started, samples


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true",
                        help="smoke run: tiny worker, pruning and memory measurements")
    parser.add_argument("--trials", type=int, default=None,
                        help="trials per worker measurement (default 8, quick 2)")
    parser.add_argument("--worker-epochs", type=int, default=None,
                        help="epochs of each timed trial (default 30, quick 2)")
    parser.add_argument("--memory-trials", type=int, default=None, help="default 20, quick 4")
    parser.add_argument("--postgres", default=ADMIN_URL, help="admin URL of a PostgreSQL server")
    parser.add_argument("--out", type=Path, default=RESULTS, help="folder of the JSON and HTML")
    args = parser.parse_args()
    for name, (full, quick) in DEFAULTS.items():
        if getattr(args, name) is None:
            setattr(args, name, quick if args.quick else full)

    from bench.machine import machine
    from hpo.backend import import_keras_quietly, quiet_optuna
    from hpo.data.embedded import default_dataset_path

    import_keras_quietly()
    quiet_optuna()
    data_path = default_dataset_path(quick=True)
    home = tempfile.mkdtemp(prefix="hpo-bench-")
    os.environ["HPO_HOME"] = home
    results = {"machine": machine(), "quick": args.quick, "data": data_path.name}
    print(f"machine: {results['machine']}")

    # 1. Workers on PostgreSQL: same trials, same work per trial.
    import optuna

    reason = postgres_unreachable(args.postgres)
    if reason is None:
        workers = []
        for n_workers in (1, 2):
            with fresh_postgres(args.postgres) as url:
                screened_storage(url, data_path)
                seconds, _ = run_study(url, data_path, n_workers=n_workers, n_trials=args.trials,
                                       epochs=args.worker_epochs, patience=100,
                                       pruner="none")
                trials = optuna.load_study(study_name="bench-conv", storage=url).get_trials()
                workers.append({"workers": n_workers, "trials": len(trials),
                                "seconds": round(seconds, 1),
                                "trials_per_hour": round(3600 * len(trials) / seconds, 1),
                                "unique_numbers": len({t.number for t in trials}) == len(trials)})
        results["workers"] = workers
        speedup = workers[1]["trials_per_hour"] / workers[0]["trials_per_hour"]
        print(f"{'workers':>7}{'trials':>8}{'seconds':>9}{'trials/h':>10}  unique")
        for row in workers:
            print(f"{row['workers']:>7}{row['trials']:>8}{row['seconds']:>9.1f}"
                  f"{row['trials_per_hour']:>10.1f}  {row['unique_numbers']}")
        print(f"2 workers / 1 worker: {speedup:.2f}x ({results['machine']['cores']} cores)")
    else:
        results["workers"] = f"skipped: {reason}"
        print(f"workers: skipped, PostgreSQL not reachable at {args.postgres} ({reason})")

    # 2. Pruning savings: median pruning, quick budget (10 trials of <= 8 epochs; --quick: 4 of <= 3),
    # SQLite.
    n_trials, max_epochs = PRUNING[args.quick]["trials"], PRUNING[args.quick]["epochs"]
    url = f"sqlite:///{home}/pruning.db"
    screened_storage(url, data_path)
    run_study(url, data_path, n_trials=n_trials, epochs=max_epochs, patience=3, pruner="median")
    trials = optuna.load_study(study_name="bench-conv", storage=url).get_trials()
    pruned = [t for t in trials if t.state == optuna.trial.TrialState.PRUNED]
    epochs_run = sum(len(t.intermediate_values) for t in trials)
    pruning = {"trials": len(trials), "pruned": len(pruned),
               "pruned_share": round(len(pruned) / len(trials), 3), "epochs_run": epochs_run,
               "epochs_max": max_epochs * len(trials),
               "epochs_saved_share": round(1 - epochs_run / (max_epochs * len(trials)), 3),
               "epochs_saved_by_pruning": sum(max_epochs - len(t.intermediate_values)
                                              for t in pruned)}
    results["pruning"] = pruning
    print(f"pruning: {pruning['pruned']}/{pruning['trials']} trials pruned "
          f"({pruning['pruned_share']:.0%}); {pruning['epochs_run']} of {pruning['epochs_max']} "
          f"epochs run ({pruning['epochs_saved_share']:.0%} saved, "
          f"{pruning['epochs_saved_by_pruning']} of them by pruning, the rest by early stopping)")

    # 3. Memory across N trials: in one process (TensorFlow keeps ~17 MiB per fitted model), and as
    # hpo runs them, with a fresh worker process every `trials_per_process` trials.
    memory = {}
    recycle = RECYCLE_EVERY[args.quick]
    for label, per_process in (("one_process", 10**6), (f"recycled_every_{recycle}", recycle)):
        url = f"sqlite:///{home}/memory-{label}.db"
        screened_storage(url, data_path)
        run_study(url, data_path, n_trials=args.memory_trials, epochs=3, patience=100,
                  pruner="none", trials_per_process=per_process)
        trials = optuna.load_study(study_name="bench-conv", storage=url).get_trials()
        series = [t.user_attrs["rss_mib"] for t in sorted(trials, key=lambda t: t.number)]
        half = len(series) // 2
        memory[label] = {"trials": len(series), "rss_mib_after_each": series,
                         "max_first_half": max(series[:half]), "max_second_half": max(series[half:]),
                         "peak": max(series)}
        print(f"memory ({label}): RSS after trial 1 {series[0]} MiB, peak {max(series)} MiB; "
              f"max over trials 1-{half}: {max(series[:half])} MiB, over {half + 1}-{len(series)}: "
              f"{max(series[half:])} MiB")
    results["memory"] = memory
    suffix = "-quick" if args.quick else ""
    args.out.mkdir(parents=True, exist_ok=True)
    out, page = args.out / f"optimize{suffix}.json", args.out / f"optimize{suffix}.html"
    out.write_text(json.dumps(results, indent=2) + "\n")
    write_chart(results, page)
    print(f"wrote {out} and {page}")


if __name__ == "__main__":
    main()
