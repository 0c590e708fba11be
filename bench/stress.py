"""Benchmark: storage stress, a trivial objective run by 8 worker processes through hpo's real
    worker.

    python -m bench.stress [--quick] [--postgres URL] [--out DIR]

Each worker process runs `hpo.optimize.worker.Worker` itself (its claim under the study's
`ClaimLock`: fail stale trials, stop once the study holds n_trials, ask; its heartbeat, its tell),
with a trivial objective that suggests x and returns (x - 2)^2. So the storage and the claim
protocol, not the model, are what is timed and checked. Per backend (PostgreSQL in a fresh database,
SQLite in a temp file) it runs 8 workers and, as the baseline, 1 worker, and checks the stored
trials: exactly N, all COMPLETE, numbered 0..N-1, each value that of its own x, and each told by
exactly one worker, the one whose process id the trial records (none lost or duplicated).

A negative control shows that the check can fail: the same harness with the lock switched off
(`ClaimLock(..., unlocked_for_tests=True)`) must run more than N trials. So that this does not
depend on luck, the control's study makes each `ask` wait at a gate until every worker has counted
(a barrier, injected into the control's study only; Worker._claim is unchanged): the worst
interleaving a missing lock allows, forced instead of hoped for. Without the lock the workers then
move in rounds that all count the same number, and 3 workers overshoot 40 or 400 trials by 2 (N is
no multiple of 3); with the lock on, the gate cannot fill (one worker at a time is between count and
ask), gives way after its timeout, and the run holds exactly N. Prints a table, writes
bench/results/stress[-quick].json and stress[-quick].html.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import multiprocessing
import os
import queue as queues
import sys
import tempfile
import threading
import time
import traceback
from pathlib import Path

import optuna

RESULTS = Path(__file__).parent / "results"
STUDY = "stress"
WORKERS = (8, 1)  # 1 worker is the baseline of the 8-worker ratio
TIMEOUT_S = 600  # a worker that neither reports nor exits within this is reported as stuck
# The negative control: 3 workers (40 and 400 are no multiples of 3, so rounds of 3 overshoot),
# whose asks wait at a gate until all have counted, or this long (a worker that stopped never
# comes).
CONTROL_WORKERS = 3
GATE_TIMEOUT_S = 2.0


def _objective(trial: optuna.Trial):
    """The trivial objective: the storage round trips of a trial, and nothing else."""
    from optuna.trial import TrialState

    from hpo.optimize.worker import TrialResult

    x = trial.suggest_float("x", -10, 10)
    return TrialResult(TrialState.COMPLETE, (x - 2) ** 2)


class _GatedAskStudy(optuna.Study):
    """The negative control's study: `ask` first waits at `gate` (a barrier of all workers) until
    every worker has counted; once the gate has given way (timed out), it no longer waits."""

    gate = None

    def ask(self, *args, **kwargs):
        with contextlib.suppress(threading.BrokenBarrierError):
            self.gate.wait(GATE_TIMEOUT_S)
        return super().ask(*args, **kwargs)


def _worker(
    url: str, n_trials: int, index: int, messages, start, locked: bool = True, gate=None
) -> None:
    """One spawned worker: open the storage, say ready, wait for the start, run hpo's Worker."""
    try:
        from hpo.backend import quiet_optuna
        from hpo.optimize.claims import ClaimLock
        from hpo.optimize.settings import StudySettings
        from hpo.optimize.worker import Worker
        from hpo.storage import open_storage

        quiet_optuna()
        # A real worker's settings (heartbeat, max failures), for n_trials.
        settings = StudySettings(n_trials=n_trials)
        storage = open_storage(
            url,
            heartbeat_interval=settings.heartbeat_interval,
            grace_period=settings.grace_period,
            max_retry=settings.max_retry,
        )
        # Random sampling: TPE's cost grows with the trials and would be timed instead of the
        # storage.
        sampler = optuna.samplers.RandomSampler(seed=index)
        if gate is not None:  # the negative control only
            study = _GatedAskStudy(STUDY, storage, sampler=sampler)
            study.gate = gate
        else:
            study = optuna.Study(STUDY, storage, sampler=sampler)
        lock = ClaimLock(url, STUDY, unlocked_for_tests=not locked)
        with lock.held():  # opens the lock's connection now, outside the timed run
            pass
        messages.put(("ready", index, None))
        start.wait()
        try:
            outcomes = Worker(study, settings, lock, _objective, progress=None).run()
        finally:
            lock.close()
        messages.put(("done", index, (os.getpid(), [outcome.number for outcome in outcomes])))
    except BaseException:  # reported to the parent, which marks the row not ok
        messages.put(("error", index, traceback.format_exc()))


def run_workers(
    url: str, n_trials: int, n_workers: int, locked: bool = True, gated: bool = False
) -> tuple[float, dict[int, tuple[int, list[int]]], list[str]]:
    """Run the workers on a created study; return (seconds from start to the last report,
    (process id, numbers told) per worker, errors)."""
    context = multiprocessing.get_context("spawn")
    messages, start = context.Queue(), context.Event()
    gate = context.Barrier(n_workers) if gated else None
    processes = [
        context.Process(target=_worker, args=(url, n_trials, i, messages, start, locked, gate))
        for i in range(n_workers)
    ]
    for process in processes:
        process.start()
    told, errors, ready = {}, [], set()
    started = None
    deadline = time.monotonic() + TIMEOUT_S
    while len(told) + len(errors) < n_workers and time.monotonic() < deadline:
        try:
            kind, index, payload = messages.get(timeout=1)
        except queues.Empty:
            # A worker that died without a word (killed, crashed) would be waited on forever.
            silent = [
                i
                for i, p in enumerate(processes)
                if p.exitcode not in (None, 0)
                and i not in told
                and all(f"worker {i}:" not in e for e in errors)
            ]
            errors += [f"worker {i}: exited with {processes[i].exitcode}" for i in silent]
            continue
        if kind == "ready":
            ready.add(index)
            if len(ready) == n_workers:  # time from here: process start-up is not the storage's
                started = time.perf_counter()
                start.set()
        elif kind == "done":
            told[index] = payload
        else:
            errors.append(f"worker {index}: {payload.strip().splitlines()[-1]}")
            print(f"worker {index} failed:\n{payload}", file=sys.stderr)
            start.set()  # the others must not wait for one that will never be ready
    seconds = time.perf_counter() - (started or time.perf_counter())
    if len(told) + len(errors) < n_workers:
        errors.append(f"{n_workers - len(told) - len(errors)} worker(s) silent after {TIMEOUT_S} s")
    for process in processes:
        process.join(timeout=10)
        if process.is_alive():
            process.kill()
            process.join()
    return seconds, told, errors


def check(url: str, n_trials: int, told: dict[int, tuple[int, list[int]]]) -> dict:
    """What the storage holds against what was asked and what the workers say they told."""
    from optuna.trial import TrialState

    from hpo.keys import WORKER_PID

    trials = optuna.load_study(study_name=STUDY, storage=url).get_trials(deepcopy=False)
    complete = [t for t in trials if t.state == TrialState.COMPLETE]
    numbers = [t.number for t in trials]
    reported = [number for _, numbers_told in told.values() for number in numbers_told]
    told_by_pid = {pid: numbers_told for pid, numbers_told in told.values()}
    distinct_complete = {t.number for t in complete} & set(range(n_trials))
    # A value not that of its own x means two workers' writes were mixed up.
    wrong_values = [
        t.number
        for t in complete
        if not math.isclose(t.value, (t.params["x"] - 2) ** 2, rel_tol=1e-12, abs_tol=0)
    ]
    # The process id the trial records must be that of the worker that says it told the trial.
    wrong_worker = [
        t.number
        for t in trials
        if t.number not in told_by_pid.get(t.user_attrs.get(WORKER_PID), [])
    ]
    return {
        "trials": len(trials),
        "lost": n_trials - len(distinct_complete),
        # Repeats among the stored numbers plus numbers told more than once (by one or several
        # workers).
        "duplicated": (len(numbers) - len(set(numbers))) + (len(reported) - len(set(reported))),
        "not_complete": len(trials) - len(complete),
        "numbers_exact": sorted(numbers) == list(range(n_trials)),
        "reported_match": set(reported) == set(numbers),
        "wrong_values": wrong_values,
        "wrong_worker": wrong_worker,
    }


def measure(
    backend: str, url: str, n_trials: int, n_workers: int, locked: bool = True, gated: bool = False
) -> dict:
    """One run of `n_workers` on a fresh study at `url`, checked; `locked=False` and `gated` are the
    negative control's."""
    from hpo.storage import open_storage

    storage = open_storage(url)
    optuna.create_study(study_name=STUDY, storage=storage, direction="minimize")
    seconds, told, errors = run_workers(url, n_trials, n_workers, locked, gated)
    facts = check(url, n_trials, told)
    storage.engine.dispose()  # let go of the database before it is dropped
    ok = (
        not errors
        and facts["trials"] == n_trials
        and facts["lost"] == 0
        and facts["duplicated"] == 0
        and facts["not_complete"] == 0
        and facts["numbers_exact"]
        and facts["reported_match"]
        and not facts["wrong_values"]
        and not facts["wrong_worker"]
    )
    return {
        "backend": backend,
        "workers": n_workers,
        "lock": "on" if locked else "off",
        "gated": gated,
        "trials": facts["trials"],
        "seconds": round(seconds, 3),
        "trials_per_s": round(facts["trials"] / seconds, 1) if seconds else None,
        "lost": facts["lost"],
        "duplicated": facts["duplicated"],
        "ok": ok,
        "per_worker": {str(i): len(told[i][1]) for i in sorted(told)},
        "problems": {
            key: value
            for key, value in {
                "errors": errors,
                "extra_trials": max(0, facts["trials"] - n_trials),
                "not_complete": facts["not_complete"],
                "numbers_not_0_to_n": not facts["numbers_exact"],
                "reported_differ_from_stored": not facts["reported_match"],
                "wrong_values": facts["wrong_values"],
                "wrong_worker": facts["wrong_worker"],
            }.items()
            if value
        },
    }


def control_as_expected(row: dict, n_trials: int) -> bool:
    """A negative-control row behaves as it must: without the lock, more than n_trials trials
    (and the check says not ok); with it, exactly n_trials (ok)."""
    if row["lock"] == "off":
        return row["trials"] > n_trials and not row["ok"]
    return row["ok"]


@contextlib.contextmanager
def _fresh_sqlite():
    with tempfile.TemporaryDirectory(prefix="hpo-stress-") as folder:
        yield f"sqlite:///{folder}/stress.db"


def write_chart(rows: list[dict], controls: list[dict], path: Path, n_trials: int) -> None:
    import plotly.graph_objects as go

    fig = go.Figure()
    for n_workers in WORKERS:
        subset = [row for row in rows if row["workers"] == n_workers]
        fig.add_bar(
            name=f"{n_workers} worker{'s' if n_workers > 1 else ''}",
            x=[row["backend"] for row in subset],
            y=[row["trials_per_s"] for row in subset],
            customdata=[
                [row["trials"], row["lost"], row["duplicated"], row["ok"]] for row in subset
            ],
            hovertemplate="%{x}: %{y} trials/s<br>trials %{customdata[0]}, "
            "lost %{customdata[1]}, duplicated %{customdata[2]}, "
            "ok %{customdata[3]}<extra></extra>",
        )
    lost = sum(row["lost"] for row in rows)
    duplicated = sum(row["duplicated"] for row in rows)
    overshoot = ", ".join(
        f"{row['backend']} +{row['trials'] - n_trials}" for row in controls if row["lock"] == "off"
    )
    fig.update_layout(
        barmode="group",
        yaxis_title="trials / s",
        xaxis_title="storage",
        title=f"Storage stress: {n_trials} trivial trials per run; "
        f"lost {lost}, duplicated {duplicated}<br><sup>negative control, lock "
        f"off: extra trials {overshoot or 'not run'}</sup>",
    )
    # plotly.js from its CDN: a committed result page stays small.
    fig.write_html(path, include_plotlyjs="cdn")


def main() -> None:
    from bench.optimize import ADMIN_URL, fresh_postgres, postgres_unreachable

    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="40 trials per run instead of 400")
    parser.add_argument("--postgres", default=ADMIN_URL, help="admin URL of a PostgreSQL server")
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args()

    from bench.machine import machine
    from hpo.backend import import_keras_quietly, quiet_optuna

    import_keras_quietly()  # machine() reports TensorFlow's version; keep its start-up lines out
    quiet_optuna()
    n_trials = 40 if args.quick else 400
    # Other processes on the machine slow the storage round trips: the throughput is only comparable
    # between runs at similar load.
    load = {"start": round(os.getloadavg()[0], 2)}
    rows, controls = [], []
    postgres = "measured"
    reason = postgres_unreachable(args.postgres)
    backends = [("sqlite", _fresh_sqlite)]
    if reason is None:  # a fresh database per measurement
        backends.insert(0, ("postgres", lambda: fresh_postgres(args.postgres)))
    else:
        postgres = f"skipped: {reason}"
        print(f"PostgreSQL not reachable at {args.postgres} ({reason}): measuring SQLite only")
    for backend, fresh in backends:
        for n_workers in WORKERS:
            with fresh() as url:
                rows.append(measure(backend, url, n_trials, n_workers))
        for locked in (False, True):  # the negative control, then the same with the lock
            with fresh() as url:
                controls.append(
                    measure(backend, url, n_trials, CONTROL_WORKERS, locked, gated=True)
                )

    facts = machine()
    load["end"] = round(os.getloadavg()[0], 2)
    ratios = {}
    for backend in ("postgres", "sqlite"):
        speed = {row["workers"]: row["trials_per_s"] for row in rows if row["backend"] == backend}
        if speed.get(8) and speed.get(1):
            ratios[backend] = round(speed[8] / speed[1], 2)
    print(
        f"machine: {facts}; 1-minute load average {load['start']} at the start, {load['end']} "
        f"at the end"
    )
    print(
        f"{'backend':<10}{'workers':>8}{'trials':>8}{'seconds':>9}{'trials/s':>10}{'lost':>6}"
        f"{'duplicated':>12}  ok"
    )
    for row in rows:
        print(
            f"{row['backend']:<10}{row['workers']:>8}{row['trials']:>8}{row['seconds']:>9.2f}"
            f"{row['trials_per_s'] or 0:>10.1f}{row['lost']:>6}{row['duplicated']:>12}  {row['ok']}"
            + (f"  {row['problems']}" if row["problems"] else "")
        )
    for backend, ratio in ratios.items():
        print(f"{backend}: 8 workers / 1 worker {ratio:.2f}x ({facts['cores']} cores)")
    print(f"negative control: {CONTROL_WORKERS} workers, each ask waiting until all have counted")
    for row in controls:
        verdict = "as it must" if control_as_expected(row, n_trials) else "NOT as it must"
        print(
            f"{row['backend']:<10}lock {row['lock']:<4}{row['trials']:>6} trials "
            f"({row['trials'] - n_trials:+d}), check ok: {row['ok']}  {verdict}"
        )
    suffix = "-quick" if args.quick else ""
    args.out.mkdir(parents=True, exist_ok=True)
    out = args.out / f"stress{suffix}.json"
    out.write_text(
        json.dumps(
            {
                "machine": facts,
                "quick": args.quick,
                "trials_per_run": n_trials,
                "postgres": postgres,
                "load_average_1min": load,
                "results": rows,
                "ratio_8_to_1_workers": ratios,
                "negative_control": controls,
            },
            indent=2,
        )
        + "\n"
    )
    write_chart(rows, controls, args.out / f"stress{suffix}.html", n_trials)
    print(f"wrote {out} and {args.out / f'stress{suffix}.html'}")
    if not all(row["ok"] for row in rows):
        sys.exit("lost, duplicated or wrong trials: see the problems above")
    if not all(control_as_expected(row, n_trials) for row in controls):
        sys.exit(
            "the negative control did not behave as it must (see above): without the lock the "
            "check must see extra trials, with it none"
        )


if __name__ == "__main__":
    main()
