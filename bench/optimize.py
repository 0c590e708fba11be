"""Benchmark: hpo.optimize throughput, pruning savings and memory, on the quick embedded dataset.

    python -m bench.optimize [--quick] [--only PART ...] [--trials N] [--memory-trials N]
                             [--postgres URL] [--out DIR]

1. workers: trials per hour with 1 and 2 workers on PostgreSQL (a fresh database per measurement;
   `conv`, no pruning and a fixed epoch count, so every trial does the same work).
2. pruning: the share of trials pruned and of epochs saved by median pruning (vs every trial
   running its maximum epochs) in a quick-budget study.
3. memory: the resident memory after each of N trials, each variant started in a fresh process
   (spawned for it alone, after its storage was screened elsewhere): all N trials in that one
   process, and as hpo runs them by default, a fresh worker process every `trials_per_process`
   trials (TensorFlow itself keeps memory per fitted model). Every variant records its process id
   and its RSS before the first trial, and which process ran each trial.
Prints tables and writes bench/results/optimize[-quick].json and optimize[-quick].html (trials per
hour by workers, and RSS after each trial). Without a reachable PostgreSQL server the workers part
is skipped and the JSON says why. `--only memory` (or any of the parts) measures those parts alone
and keeps the others' results from the JSON already at --out (`measured_at` says when each part was
measured). `--quick` is a smoke run: 2 trials of 2 epochs per worker measurement, a pruning study of
4 trials of 3 epochs, 4 memory trials recycled every 2.
"""

from __future__ import annotations

import argparse
import datetime
import json
import multiprocessing
import os
import tempfile
import threading
import time
import uuid
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path

from hpo import keys

RESULTS = Path(__file__).parent / "results"
ADMIN_URL = os.environ.get("HPO_TEST_POSTGRES", "postgresql://postgres@127.0.0.1:5432/postgres")
# What --quick changes: (full, quick).
DEFAULTS = {"trials": (8, 2), "worker_epochs": (30, 2), "memory_trials": (20, 4)}
PRUNING = {False: {"trials": 10, "epochs": 8}, True: {"trials": 4, "epochs": 3}}
RECYCLE_EVERY = {False: 10, True: 2}  # the recycled memory variant: a fresh process every N trials
PARTS = ("workers", "pruning", "memory")
# Per memory trial: the memory a fitted model leaves, not the training, is measured
MEMORY_EPOCHS = 3


def rss_mib() -> float:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


class SpawnedWorkers:
    """Watches the processes this process spawns (multiprocessing's spawn), from a thread.

    Optuna's trials do not say which process ran them, so each spawned worker's lifetime is recorded
    (first and last time seen, polled every 0.2 s) and a trial is placed in the worker alive when it
    started (`trial_pids`). Only this process's main thread's children are seen, which is where hpo
    starts its workers.
    """

    def __init__(self, every_s: float = 0.2):
        self.every_s = every_s
        self.seen: dict[int, list[float]] = {}  # pid -> [first seen, last seen] (time.time())
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._watch, daemon=True)

    def __enter__(self) -> SpawnedWorkers:
        self._poll()
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()

    def _watch(self) -> None:
        while not self._stop.wait(self.every_s):
            self._poll()

    def _poll(self) -> None:
        pid = os.getpid()
        try:
            with open(f"/proc/{pid}/task/{pid}/children") as children:
                pids = [int(p) for p in children.read().split()]
        except OSError:
            return
        now = time.time()
        for child in pids:
            if child in self.seen:
                self.seen[child][1] = now
                continue
            # Read again at each poll: between fork and exec a child still shows our command line.
            try:
                with open(f"/proc/{child}/cmdline", "rb") as cmdline:
                    spawned = b"spawn_main" in cmdline.read()
            except OSError:
                continue
            if spawned:
                self.seen[child] = [now, now]

    def trial_pids(self, trials) -> list[int | None]:
        """The process that ran each trial: the spawned worker alive when it started, this process
        when none was, None when two were (parallel workers: not told apart)."""
        pids = []
        for trial in trials:
            started = trial.datetime_start.timestamp()  # Optuna stores local naive datetimes
            alive = [pid for pid, (first, last) in self.seen.items() if first <= started <= last]
            pids.append(os.getpid() if not alive else alive[0] if len(alive) == 1 else None)
        return pids


@contextmanager
def fresh_postgres(admin_url: str):
    import psycopg

    name = f"hpo_bench_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(
        admin_url.replace("postgresql+psycopg", "postgresql"), autocommit=True
    ) as c:
        c.execute(f'CREATE DATABASE "{name}"')
    try:
        yield admin_url.rsplit("/", 1)[0] + "/" + name
    finally:
        with psycopg.connect(
            admin_url.replace("postgresql+psycopg", "postgresql"), autocommit=True
        ) as c:
            c.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s", (name,)
            )
            c.execute(f'DROP DATABASE IF EXISTS "{name}"')


_SCREENED: dict[Path, str] = {}  # data file -> the SQLite URL holding its screen, made once


def screened_storage(url: str, data_path: Path) -> None:
    """Give the storage at `url` the screen every part starts from: a one-epoch screen of conv,
    trained once per process and copied into each fresh storage (Optuna's copy_study: the study,
    its attrs and trials)."""
    import optuna

    if data_path not in _SCREENED:
        from hpo.data import load
        from hpo.screen.config import ScreenConfig
        from hpo.screen.screening import screen

        template = f"sqlite:///{tempfile.mkdtemp(prefix='hpo-bench-screen-')}/screen.db"
        screen(
            ScreenConfig(architectures=("conv",), epochs=1, repeats=1, run="bench"),
            load(data_path),
            template,
            progress=None,
        )
        _SCREENED[data_path] = template
    optuna.copy_study(
        from_study_name="bench-screen", from_storage=_SCREENED[data_path], to_storage=url
    )


def postgres_unreachable(admin_url: str) -> str | None:
    """None if the server accepts a connection within 3 s, else why not (one line)."""
    import psycopg

    try:
        with psycopg.connect(
            admin_url.replace("postgresql+psycopg", "postgresql"), connect_timeout=3
        ):
            return None
    except psycopg.Error as exc:
        return (str(exc).strip().splitlines() or [type(exc).__name__])[0]


def write_chart(results: dict, path: Path) -> None:
    """(a) trials per hour by workers, (b) RSS after each trial, one line per memory variant."""
    from plotly.subplots import make_subplots

    workers = results.get("workers", "not measured")
    fig = make_subplots(
        rows=1,
        cols=2,
        subplot_titles=(
            "Workers on PostgreSQL" + ("" if isinstance(workers, list) else " (skipped)"),
            "Resident memory after each trial, each variant from a fresh process",
        ),
    )
    if isinstance(workers, list):
        fig.add_bar(
            x=[f"{row['workers']} worker{'s' if row['workers'] > 1 else ''}" for row in workers],
            y=[row["trials_per_hour"] for row in workers],
            showlegend=False,
            customdata=[[row["trials"], row["seconds"]] for row in workers],
            hovertemplate="%{x}: %{y} trials/h<br>%{customdata[0]} trials in "
            "%{customdata[1]} s<extra></extra>",
            row=1,
            col=1,
        )
    else:
        fig.add_annotation(
            text=workers,
            showarrow=False,
            xref="x domain",
            yref="y domain",
            x=0.5,
            y=0.5,
            row=1,
            col=1,
        )
    for label, memory in results.get("memory", {}).items():
        # Trial 0: the fresh process before its first trial.
        series = [memory["rss_mib_at_start"], *memory["rss_mib_after_each"]]
        fig.add_scatter(
            x=list(range(len(series))),
            y=series,
            mode="lines+markers",
            name=label.replace("_", " "),
            customdata=[None, *memory["trial_pids"]],
            hovertemplate="after trial %{x}: %{y} MiB (process %{customdata})<extra></extra>",
            row=1,
            col=2,
        )
    fig.update_yaxes(title_text="trials / hour", row=1, col=1)
    fig.update_xaxes(title_text="trials run (0: fresh process, before the first)", row=1, col=2)
    fig.update_yaxes(title_text="RSS (MiB)", row=1, col=2)
    pruning = results.get("pruning")
    fig.update_layout(
        title=f"hpo.optimize on {results['data']}"
        + (
            ""
            if pruning is None
            else f": median pruning pruned {pruning['pruned']} of "
            f"{pruning['trials']} trials, {pruning['epochs_saved_share']:.0%} of the epochs saved"
        )
    )
    # plotly.js from its CDN: a committed result page stays small.
    fig.write_html(path, include_plotlyjs="cdn")


def run_study(url: str, data_path: Path, home: str, **settings_changes):
    """hpo.optimize on conv, its outputs in the workspace `home`; (seconds, RSS per trial line)."""
    from hpo.optimize.config import OptimizeConfig
    from hpo.optimize.optimization import optimize
    from hpo.optimize.settings import StudySettings
    from hpo.workspace import Workspace

    n_workers = settings_changes.pop("n_workers", 1)
    config = OptimizeConfig(
        run="bench",
        architectures=("conv",),
        n_workers=n_workers,
        settings=replace(StudySettings(seed=0), **settings_changes),
        data_kwargs={"path": data_path},
        search_latent=True,  # as measured: one study per architecture, the latent size searched
        workspace=Workspace(home),
    )
    samples = []
    started = time.perf_counter()
    optimize(
        config, url, progress=lambda line: samples.append(rss_mib()) if "trial" in line else None
    )
    return time.perf_counter() - started, samples


def memory_variant(
    url: str, data_path: Path, home: str, n_trials: int, trials_per_process: int, result_path: Path
) -> None:
    """One memory variant, run in a process spawned for it alone; writes its JSON to result_path."""
    import optuna

    from hpo.backend import import_keras_quietly, quiet_optuna

    import_keras_quietly()
    quiet_optuna()
    at_start = rss_mib()  # a fresh process with Keras imported, as a fresh worker before its trials
    with SpawnedWorkers() as workers:
        run_study(
            url,
            data_path,
            home,
            n_trials=n_trials,
            epochs=MEMORY_EPOCHS,
            patience=100,
            pruner="none",
            trials_per_process=trials_per_process,
        )
    trials = sorted(
        optuna.load_study(study_name="bench-conv", storage=url).get_trials(), key=lambda t: t.number
    )
    result_path.write_text(
        json.dumps(
            {
                "pid": os.getpid(),
                "rss_mib_at_start": round(at_start),
                "rss_mib_after_each": [t.user_attrs[keys.RSS_MIB] for t in trials],
                "trial_pids": workers.trial_pids(trials),
                "worker_pids": sorted(workers.seen),
                "states": [t.state.name for t in trials],
            }
        )
    )


def measure_workers(args, data_path: Path, home: str) -> list[dict] | str:
    """Part 1: the same trials with 1 and 2 workers on PostgreSQL; a string when skipped."""
    import optuna

    reason = postgres_unreachable(args.postgres)
    if reason is not None:
        print(f"workers: skipped, PostgreSQL not reachable at {args.postgres} ({reason})")
        return f"skipped: {reason}"
    rows = []
    for n_workers in (1, 2):
        with fresh_postgres(args.postgres) as url:
            screened_storage(url, data_path)
            with SpawnedWorkers() as spawned:
                seconds, _ = run_study(
                    url,
                    data_path,
                    home,
                    n_workers=n_workers,
                    n_trials=args.trials,
                    epochs=args.worker_epochs,
                    patience=100,
                    pruner="none",
                )
            trials = optuna.load_study(study_name="bench-conv", storage=url).get_trials()
            states = [t.state.name for t in trials]
            rows.append(
                {
                    "workers": n_workers,
                    "trials": len(trials),
                    "seconds": round(seconds, 1),
                    "trials_per_hour": round(3600 * len(trials) / seconds, 1),
                    "states": {state: states.count(state) for state in sorted(set(states))},
                    # Spawned worker processes (none: the trials ran in this process).
                    "worker_pids": sorted(spawned.seen),
                }
            )
    speedup = rows[1]["trials_per_hour"] / rows[0]["trials_per_hour"]
    print(f"{'workers':>7}{'trials':>8}{'seconds':>9}{'trials/h':>10}{'processes':>11}  states")
    for row in rows:
        print(
            f"{row['workers']:>7}{row['trials']:>8}{row['seconds']:>9.1f}"
            f"{row['trials_per_hour']:>10.1f}{len(row['worker_pids']) or 1:>11}  {row['states']}"
        )
    print(f"2 workers / 1 worker: {speedup:.2f}x ({os.cpu_count()} cores)")
    return rows


def measure_pruning(args, data_path: Path, home: str) -> dict:
    """Part 2: median pruning, quick budget (10 trials of <= 8 epochs; --quick: 4 of <= 3),
    SQLite."""
    import optuna

    n_trials, max_epochs = PRUNING[args.quick]["trials"], PRUNING[args.quick]["epochs"]
    url = f"sqlite:///{home}/pruning.db"
    screened_storage(url, data_path)
    run_study(
        url, data_path, home, n_trials=n_trials, epochs=max_epochs, patience=3, pruner="median"
    )
    trials = optuna.load_study(study_name="bench-conv", storage=url).get_trials()
    pruned = [t for t in trials if t.state == optuna.trial.TrialState.PRUNED]
    epochs_run = sum(len(t.intermediate_values) for t in trials)
    pruning = {
        "trials": len(trials),
        "pruned": len(pruned),
        "pruned_share": round(len(pruned) / len(trials), 3),
        "epochs_run": epochs_run,
        "epochs_max": max_epochs * len(trials),
        "epochs_saved_share": round(1 - epochs_run / (max_epochs * len(trials)), 3),
        "epochs_saved_by_pruning": sum(max_epochs - len(t.intermediate_values) for t in pruned),
    }
    print(
        f"pruning: {pruning['pruned']}/{pruning['trials']} trials pruned "
        f"({pruning['pruned_share']:.0%}); {pruning['epochs_run']} of {pruning['epochs_max']} "
        f"epochs run ({pruning['epochs_saved_share']:.0%} saved, "
        f"{pruning['epochs_saved_by_pruning']} of them by pruning, the rest by early stopping)"
    )
    return pruning


def measure_memory(args, data_path: Path, home: str) -> dict:
    """Part 3: RSS after each trial, every variant in a process spawned for it alone.

    The storage is screened here first, so the variant's process trains nothing but its trials.
    """
    memory = {}
    recycle = RECYCLE_EVERY[args.quick]
    context = multiprocessing.get_context("spawn")
    for label, per_process in (("one_process", 10**6), (f"recycled_every_{recycle}", recycle)):
        url = f"sqlite:///{home}/memory-{label}.db"
        screened_storage(url, data_path)
        result_path = Path(home) / f"memory-{label}.json"
        process = context.Process(
            target=memory_variant,
            args=(url, data_path, home, args.memory_trials, per_process, result_path),
        )
        process.start()
        process.join()
        if process.exitcode != 0:
            raise SystemExit(f"memory variant {label} failed with exit code {process.exitcode}")
        variant = json.loads(result_path.read_text())
        series = variant["rss_mib_after_each"]
        half = len(series) // 2
        memory[label] = {
            "trials": len(series),
            "trials_per_process": min(per_process, len(series)),
            **variant,
            "max_first_half": max(series[:half]),
            "max_second_half": max(series[half:]),
            "peak": max(series),
        }
        processes = sorted({pid for pid in variant["trial_pids"] if pid is not None})
        print(
            f"memory ({label}): fresh process {variant['pid']} at {variant['rss_mib_at_start']} "
            f"MiB before its first trial; after trial 1 {series[0]} MiB, peak {max(series)} MiB; "
            f"max over trials 1-{half}: {max(series[:half])} MiB, over {half + 1}-{len(series)}: "
            f"{max(series[half:])} MiB; trials ran in {len(processes)} process(es)"
        )
    return memory


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--quick",
        action="store_true",
        help="smoke run: tiny worker, pruning and memory measurements",
    )
    parser.add_argument(
        "--only",
        nargs="+",
        choices=PARTS,
        default=list(PARTS),
        help="measure these parts alone; the JSON keeps the others' earlier results",
    )
    parser.add_argument(
        "--trials",
        type=int,
        default=None,
        help="trials per worker measurement (default 8, quick 2)",
    )
    parser.add_argument(
        "--worker-epochs",
        type=int,
        default=None,
        help="epochs of each timed trial (default 30, quick 2)",
    )
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
    home = tempfile.mkdtemp(prefix="hpo-bench-")  # the workspace of every measured study
    suffix = "-quick" if args.quick else ""
    out, page = args.out / f"optimize{suffix}.json", args.out / f"optimize{suffix}.html"
    kept = {} if set(args.only) == set(PARTS) or not out.exists() else json.loads(out.read_text())
    results = {**kept, "machine": machine(), "quick": args.quick, "data": data_path.name}
    print(f"machine: {results['machine']}")
    measured_at = dict(kept.get("measured_at", {}))
    today = datetime.date.today().isoformat()
    for part in PARTS:
        if part not in args.only:
            continue
        if part == "workers":
            results["workers"] = measure_workers(args, data_path, home)
        elif part == "pruning":
            results["pruning"] = measure_pruning(args, data_path, home)
        else:
            results["memory"] = measure_memory(args, data_path, home)
        measured_at[part] = today
    results["measured_at"] = measured_at
    args.out.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(results, indent=2) + "\n")
    write_chart(results, page)
    print(f"wrote {out} and {page}")


if __name__ == "__main__":
    main()
