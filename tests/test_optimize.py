"""hpo.optimize on tiny data: studies with pruning, resume, workers, kill -9, failures, errors."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from collections import Counter
from dataclasses import replace
from pathlib import Path

import numpy as np
import optuna
import pytest
from optuna.trial import TrialState

from hpo.cli import run
from hpo.keys import FAILURE, FROM_SCREEN, STOPPED, WORKER_PID
from hpo.optimize.__main__ import main as optimize_main
from hpo.optimize.artifacts import load_best_model
from hpo.optimize.optimization import optimize
from hpo.optimize.trials import epochs_spent, finished_trials
from hpo.storage import open_storage

from helpers import (
    SCREENED,
    cli_args,
    optimize_config,
    screen_into,
    sqlite,
    workspace_of,
    write_original,
)

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[1]
DONE = (TrialState.COMPLETE, TrialState.PRUNED)  # the states --trials counts


def test_optimize_top_1_completes_stores_best_model_and_resumes(home):
    result = optimize(optimize_config(home), sqlite(home), progress=None)
    storage = open_storage(sqlite(home))
    top = optuna.load_study(study_name="t-screen", storage=storage).user_attrs["ranking"][0]
    # At the latent size the screen ranked (8): a fixed-size study, the default.
    assert result.studies == [f"t-{top}-z8"]
    study = optuna.load_study(study_name=f"t-{top}-z8", storage=open_storage(sqlite(home)))
    trials = study.get_trials()
    assert len(trials) == 4 and finished_trials(study) == 4
    complete = [t for t in trials if t.state == TrialState.COMPLETE]
    assert complete and all(len(t.intermediate_values) >= 1 for t in complete)
    # The best model is kept as an artifact and evaluated on the test split.
    attrs = study.user_attrs
    assert attrs["best_model_trial"] == study.best_trial.number
    assert attrs["best_model_value"] == pytest.approx(study.best_value)
    assert Path(attrs["best_model_path"]).exists()
    assert len(list((home / "studies" / "artifacts").iterdir())) == 1  # one file per study
    assert set(attrs["best_test"]) >= {"rel_l2", "mse", "mse_per_channel"}
    assert result.summary.iloc[0]["test_rel_l2"] == pytest.approx(attrs["best_test"]["rel_l2"])
    assert (home / "studies" / "t" / "optimize.html").exists()
    # The kept model is the best trial's: reloaded and scored on validation by hand (mean relative
    # L2 error per sample), it gives the stored best value back.
    assert val_rel_l2_by_hand(load_best_model(study, workspace_of(home)), home) == pytest.approx(
        study.best_value, rel=1e-3
    )

    # The same command again runs nothing; a larger --trials runs only the difference.
    optimize(optimize_config(home), sqlite(home), progress=None)
    assert len(study.get_trials()) == 4
    optimize(optimize_config(home, settings={"n_trials": 6}), sqlite(home), progress=None)
    assert len(study.get_trials()) == 6 and finished_trials(study) == 6


def screen_also_at(home: Path, latents: tuple[int, ...]) -> None:
    """Screen `home`'s run "t" at more latent sizes (a resume: only the new sizes train), with the
    settings of helpers.screen_into."""
    from hpo.data import load
    from hpo.screen import ScreenConfig, screen

    screen(
        ScreenConfig(
            epochs=1,
            repeats=1,
            n_params=6000,
            latent=latents,
            batch_size=4,
            architectures=SCREENED,
            run="t",
            seed=0,
            workspace=workspace_of(home),
        ),
        load(recorded_data(home)["path"], seed=0),
        sqlite(home),
        progress=None,
    )


def recorded_data(home: Path) -> dict:
    """What the screen of run "t" recorded about its data (FlowData.describe())."""
    study = optuna.load_study(study_name="t-screen", storage=open_storage(sqlite(home)))
    return study.user_attrs["data"]


def test_by_default_one_study_per_screened_latent_size_with_the_size_fixed(home, capsys):
    screen_also_at(home, (8, 12))
    url = sqlite(home)
    args = cli_args(home, url, "--top", "1", "--trials", "2", "--epochs", "2")
    assert run(optimize_main, args) == 0  # no --latent: every size the screen ranked
    storage = open_storage(url)
    screen_attrs = optuna.load_study(study_name="t-screen", storage=storage).user_attrs
    top = screen_attrs["ranking"][0]
    summary_lines = capsys.readouterr().out
    for latent in (8, 12):
        study = optuna.load_study(study_name=f"t-{top}-z{latent}", storage=storage)
        assert study.user_attrs["latent"] == latent
        trials = study.get_trials()
        assert len(trials) == 2 and {t.user_attrs["latent"] for t in trials} == {latent}
        assert "latent" not in trials[0].params  # fixed, not searched
        assert f"t-{top}-z{latent}" in summary_lines
    assert f"t-{top}" not in [s.study_name for s in storage.get_all_studies()]  # no searched study
    assert not re.search(r"\bnan\b", summary_lines, re.IGNORECASE), summary_lines
    # PCA beside each best model is fitted at that size on the same training split: at 8 it
    # matches the screen's own PCA.
    html = (home / "studies" / "t" / "optimize.html").read_text()
    assert "Error against latent size" in html
    pca_8 = screen_attrs["pca_by_latent"]["8"]["test"]["rel_l2"]
    row = next(line for line in summary_lines.splitlines() if line.startswith(f"t-{top}-z8 "))
    assert f"{pca_8:.4g}" in row.split()
    # The same command again trains nothing; --latent 12,8 names the same studies, --latent 12 one.
    for again in (args, [*args, "--latent", "12,8"], [*args, "--latent", "12"]):
        assert run(optimize_main, again) == 0
        assert all(
            len(optuna.load_study(study_name=f"t-{top}-z{z}", storage=storage).get_trials()) == 2
            for z in (8, 12)
        )


def test_latent_search_is_explicit_and_its_summary_says_a_single_objective_prefers_large_codes(
    home, capsys
):
    url = sqlite(home)
    args = cli_args(home, url, "--top", "1", "--latent", "search", "--trials", "2", "--epochs", "1")
    assert run(optimize_main, args) == 0
    out = capsys.readouterr().out
    top = optuna.load_study(study_name="t-screen", storage=open_storage(url)).user_attrs["ranking"]
    study = optuna.load_study(study_name=f"t-{top[0]}", storage=open_storage(url))
    assert study.user_attrs["latent"] is None
    assert all("latent" in t.params for t in study.get_trials())  # searched
    row = next(line for line in out.splitlines() if line.startswith(f"t-{top[0]} "))
    assert row.split()[1].endswith("*"), row  # the best trial's latent size, marked as searched
    assert "One objective, validation error, prefers large codes" in out, out
    assert not re.search(r"\bnan\b", out, re.IGNORECASE), out


def without_data_flag(args: list[str]) -> list[str]:
    at = args.index("--data")
    return args[:at] + args[at + 2 :]


def test_without_data_flags_the_file_the_screen_recorded_is_loaded(home, capsys):
    args = cli_args(home, sqlite(home), "--top", "1", "--trials", "1", "--epochs", "1")
    assert run(optimize_main, without_data_flag(args)) == 0, capsys.readouterr().err
    top = optuna.load_study(study_name="t-screen", storage=open_storage(sqlite(home)))
    study = optuna.load_study(
        study_name=f"t-{top.user_attrs['ranking'][0]}-z8", storage=open_storage(sqlite(home))
    )
    assert study.user_attrs["data"]["path"] == recorded_data(home)["path"]
    assert study.user_attrs["data"]["fingerprint"] == recorded_data(home)["fingerprint"]
    assert not (home / "studies" / "data").exists()  # the embedded dataset was not generated


def test_the_screens_file_gone_is_one_line_naming_it(home, capsys):
    screen = optuna.load_study(study_name="t-screen", storage=open_storage(sqlite(home)))
    moved = home / "moved-away.h5"
    screen.set_user_attr("data", {**recorded_data(home), "path": str(moved)})
    args = cli_args(home, sqlite(home), "--top", "1", "--trials", "1", "--epochs", "1")
    code, _ = invoke(without_data_flag(args))
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1, err
    assert f"the screen of run 't' trained on {moved}, which no longer exists" in err[0], err
    assert "pass --data" in err[0], err
    assert not (home / "studies" / "data").exists()  # refused before generating anything


def test_the_screens_winner_is_each_studys_first_trial(home):
    """Trial 0 repeats the screen's best run of the architecture (same params, seed and budget), so
    a study's best is never worse than what the screen found. The tiny screen's widths lie below the
    declared space's 4 filters, so the space is widened to hold them (else the nearest point inside
    is queued: see the SIGTERM tests, whose trial 0 is that)."""
    space = home / "wide.toml"
    space.write_text("[all]\nfilters = { low = 1, high = 128 }\n")
    optimize(
        optimize_config(home, settings={"n_trials": 2, "epochs": 1}, space_file=space),
        sqlite(home),
        progress=None,
    )
    storage = open_storage(sqlite(home))
    screen = optuna.load_study(study_name="t-screen", storage=storage)
    top = screen.user_attrs["ranking"][0]
    screened = min(
        (
            t
            for t in screen.trials
            if t.params["architecture"] == top and t.state == TrialState.COMPLETE
        ),
        key=lambda t: t.value,
    )
    study = optuna.load_study(study_name=f"t-{top}-z8", storage=storage)
    first = study.trials[0]
    assert first.user_attrs[FROM_SCREEN] == {
        "study": "t-screen",
        "trial": screened.number,
        "latent": 8,
        "repeat": 0,
        "value": screened.value,
        "moved": [],
    }
    built = screened.user_attrs["params"]
    assert first.params["learning_rate"] == built["learning_rate"]
    assert first.params["batch_size"] == built["batch_size"]
    # The same model: the screen's width multiplier folded into the filters.
    assert first.user_attrs["n_params"] == screened.user_attrs["n_params"]
    assert first.value == pytest.approx(screened.value, rel=1e-2)
    assert study.best_value <= screened.value * (1 + 1e-2)
    # Resuming the study queues nothing again.
    optimize(
        optimize_config(home, settings={"n_trials": 3, "epochs": 1}, space_file=space),
        sqlite(home),
        progress=None,
    )
    assert [FROM_SCREEN in t.user_attrs for t in study.trials] == [True, False, False]


def val_rel_l2_by_hand(model, home: Path) -> float:
    from hpo.data import load

    x = load(home / "tiny.h5", seed=0).val.arrays()
    predicted = model.predict(x, verbose=0)
    predicted = predicted["reconstruction"] if isinstance(predicted, dict) else predicted
    n = len(x)
    errors = np.linalg.norm((predicted - x).reshape(n, -1), axis=1)
    return float(np.mean(errors / np.linalg.norm(x.reshape(n, -1), axis=1)))


def test_pruning_prunes_and_max_params_rejects(home):
    # Median pruning after 3 finished trials; 8 trials of 3 epochs: the worse half gets pruned.
    optimize(
        optimize_config(home, architectures=("conv",), settings={"n_trials": 8, "epochs": 4}),
        sqlite(home),
        progress=None,
    )
    study = optuna.load_study(study_name="t-conv-z8", storage=open_storage(sqlite(home)))
    states = [t.state for t in study.get_trials()]
    assert states.count(TrialState.PRUNED) >= 1 and states.count(TrialState.COMPLETE) >= 3
    # Every trial above --max-params is rejected before training (no epoch reported).
    optimize(
        optimize_config(
            home, architectures=("conv_dropout",), settings={"n_trials": 3, "max_params": 100}
        ),
        sqlite(home),
        progress=None,
    )
    rejected = optuna.load_study(
        study_name="t-conv_dropout-z8", storage=open_storage(sqlite(home))
    ).get_trials()
    assert [t.state for t in rejected] == [TrialState.PRUNED] * 3
    assert all("rejected" in t.user_attrs and not t.intermediate_values for t in rejected)


def test_a_nan_or_out_of_memory_trial_fails_alone_and_is_replaced(home, monkeypatch, capsys):
    import keras
    import tensorflow as tf

    from hpo import training

    real_fit, real_model_fit = training.fit, keras.Model.fit
    calls = []

    def fit_exploding_first(name, params, *args, **kwargs):
        calls.append(name)
        if len(calls) == 1:  # the first trial's loss overflows to NaN at once
            params = {**params, "learning_rate": 1e30}
            params.update({k: "linear" for k in params if k.startswith("activation_")})
        return real_fit(name, params, *args, **kwargs)

    def model_fit_out_of_memory_second(self, *args, **kwargs):
        if len(calls) == 2:  # the second trial runs out of memory, as too large a batch does
            raise tf.errors.ResourceExhaustedError(None, None, "OOM when allocating tensor")
        return real_model_fit(self, *args, **kwargs)

    monkeypatch.setattr(training, "fit", fit_exploding_first)
    monkeypatch.setattr(keras.Model, "fit", model_fit_out_of_memory_second)
    code = run(
        optimize_main,
        cli_args(home, sqlite(home), "--architectures", "conv", "--trials", "2", "--epochs", "1"),
    )
    assert code == 0, capsys.readouterr().err
    trials = optuna.load_study(study_name="t-conv-z8", storage=open_storage(sqlite(home))).trials
    assert trials[0].state == TrialState.FAIL and "diverged" in trials[0].user_attrs[FAILURE]
    assert trials[1].state == TrialState.FAIL and "out of memory" in trials[1].user_attrs[FAILURE]
    # Two failures in a row are under --max-failures 3: the study went on and ran the 2 trials
    # asked for, failed ones not counted.
    assert len(trials) == 4 and all(t.state in DONE for t in trials[2:])


def test_a_bug_failing_every_trial_stops_the_run_with_exit_1_and_loses_nothing(
    home, monkeypatch, capsys
):
    from hpo import training

    args = cli_args(home, sqlite(home), "--architectures", "conv", "--epochs", "1")
    assert run(optimize_main, [*args, "--trials", "1"]) == 0
    study = optuna.load_study(study_name="t-conv-z8", storage=open_storage(sqlite(home)))
    before = [(t.number, t.state, t.value, t.user_attrs) for t in study.get_trials()]
    kept = study.user_attrs
    capsys.readouterr()

    def broken_fit(name, params, *args, **kwargs):  # a bug, as a typo in a parameter name is
        return params["latent_dimension"]

    monkeypatch.setattr(training, "fit", broken_fit)
    code = run(optimize_main, [*args, "--trials", "3", "--max-failures", "2"])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 1 and len(err) == 1, err
    assert "'t-conv-z8' stopped: its last 2 trials failed (--max-failures 2)" in err[0], err
    assert "trial 2: KeyError: 'latent_dimension'" in err[0], err
    trials = study.get_trials()
    assert [(t.number, t.state, t.value, t.user_attrs) for t in trials[:1]] == before
    assert [t.state for t in trials[1:]] == [TrialState.FAIL] * 2
    assert study.user_attrs == kept and Path(kept["best_model_path"]).exists()


def test_two_workers_on_sqlite_reach_exactly_the_requested_trials(home):
    config = optimize_config(
        home, architectures=("conv",), n_workers=2, settings={"n_trials": 5, "epochs": 2}
    )
    # No data flags: the processes load the file the screen recorded.
    optimize(replace(config, data_kwargs={}), sqlite(home), progress=None)
    study = optuna.load_study(study_name="t-conv-z8", storage=open_storage(sqlite(home)))
    assert_ran_by_workers(study.trials, n_trials=5, n_workers=2)
    assert study.user_attrs["data"]["path"] == recorded_data(home)["path"]
    assert not (home / "studies" / "data").exists()  # no process fell back on the embedded data


def assert_ran_by_workers(trials, n_trials: int, n_workers: int) -> None:
    """Exactly the trials asked for, all COMPLETE or PRUNED, run by spawned worker processes."""
    assert [t.state in DONE for t in trials] == [True] * n_trials, [t.state for t in trials]
    pids = {t.user_attrs[WORKER_PID] for t in trials}
    assert os.getpid() not in pids and 1 <= len(pids) <= n_workers, pids


def test_two_workers_on_postgres_reach_exactly_the_requested_trials(home, postgres_url):
    screen_into(postgres_url, home / "tiny.h5", workspace_of(home))
    optimize(
        optimize_config(
            home, architectures=("conv",), n_workers=2, settings={"n_trials": 5, "epochs": 2}
        ),
        postgres_url,
        progress=None,
    )
    study = optuna.load_study(study_name="t-conv-z8", storage=open_storage(postgres_url))
    assert_ran_by_workers(study.get_trials(), n_trials=5, n_workers=2)


def _kill_mid_trial_then_rerun(home: Path, storage: str, study_name: str) -> optuna.Study:
    """Start a worker, kill -9 it while its last trial runs, re-run the same command."""
    args = [
        sys.executable,
        "-m",
        "hpo.optimize",
        *cli_args(
            home,
            storage,
            "--architectures",
            "conv",
            "--trials",
            "3",
            "--heartbeat",
            "1",
            "--pruner",
            "none",
        ),
    ]
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    worker = subprocess.Popen(
        args, cwd=home, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    deadline = time.monotonic() + 120
    running = []
    while time.monotonic() < deadline and not running:
        time.sleep(0.1)
        try:
            study = optuna.load_study(study_name=study_name, storage=open_storage(storage))
            # Mid-training of the last trial (the others finished): the re-run must then still
            # run the trial queued again, though the count of trials is already full.
            # Signed by its worker (which beats first): the kill hits the heartbeat path. A kill
            # before that is tests/test_trial_accounting.py's orphan.
            running = [
                t
                for t in study.get_trials()
                if t.state == TrialState.RUNNING and t.number == 2 and WORKER_PID in t.user_attrs
            ]
        except KeyError:
            pass
    assert running, "the worker never got a trial running"
    worker.send_signal(signal.SIGKILL)
    worker.wait()
    killed = running[0].number
    time.sleep(4)  # past the grace period (3 x 1 s heartbeat): the trial is stale
    rerun = subprocess.run(args, cwd=home, env=env, capture_output=True, text=True, timeout=300)
    assert rerun.returncode == 0, rerun.stderr[-2000:]
    study = optuna.load_study(study_name=study_name, storage=open_storage(storage))
    trials = study.get_trials()
    assert trials[killed].state == TrialState.FAIL and FAILURE not in trials[killed].user_attrs
    assert trials[killed].user_attrs[WORKER_PID] == worker.pid  # the process killed ran it
    # Optuna's retry callback queues a copy (same params, if it had drawn them) naming the original.
    retried = [t for t in trials if t.system_attrs.get("failed_trial") == killed]
    assert len(retried) == 1 and retried[0].state == TrialState.COMPLETE
    assert retried[0].user_attrs[WORKER_PID] not in (worker.pid, os.getpid())  # the re-run ran it
    assert finished_trials(study) == 3  # the requested count, nothing lost
    return study


def _stop_mid_trial_then_rerun(home: Path, storage: str, n_workers: int) -> None:
    """Start `hpo.optimize`, send SIGTERM (what `docker stop` sends) while its trials train: it
    exits 0 within seconds, each running trial FAIL (attr `stopped`, no failure of the study's) with
    one WAITING copy of the same params; the same command then completes them."""
    args = [
        sys.executable,
        "-m",
        "hpo.optimize",
        *cli_args(
            home,
            storage,
            "--architectures",
            "conv",
            "--trials",
            str(n_workers),
            "--pruner",
            "none",
            "--workers",
            str(n_workers),
            "--heartbeat",
            "2",
        ),
    ]
    long_trials = [*args, "--epochs", "400"]  # minutes of training: the signal lands mid-trial
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    worker = subprocess.Popen(
        long_trials, cwd=home, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True
    )
    deadline = time.monotonic() + 180
    training = []
    while time.monotonic() < deadline and len(training) < n_workers:
        time.sleep(0.2)
        try:
            trials = optuna.load_study(study_name="t-conv-z8", storage=open_storage(storage)).trials
        except KeyError:
            continue
        training = [t for t in trials if t.state == TrialState.RUNNING and t.intermediate_values]
    assert len(training) == n_workers, "the trials never started training"
    # Trial 0 is the screen's conv, moved inside the space (its widths are below 4 filters): the
    # queued copy below must still pass Optuna's re-validation.
    assert training[0].number != 0 or training[0].user_attrs[FROM_SCREEN]["moved"]
    sent = time.monotonic()
    worker.send_signal(signal.SIGTERM)
    stderr = worker.communicate(timeout=120)[1]
    assert worker.returncode == 0, stderr[-2000:]
    assert time.monotonic() - sent < 30, "the worker took more than a few seconds to stop"
    assert "stopped by SIGTERM" in stderr and "Traceback" not in stderr

    trials = optuna.load_study(study_name="t-conv-z8", storage=open_storage(storage)).trials
    assert TrialState.RUNNING not in [t.state for t in trials]
    stopped = [t for t in trials if t.state == TrialState.FAIL]
    assert sorted(t.number for t in stopped) == sorted(t.number for t in training)
    for trial in stopped:
        assert trial.user_attrs.get(STOPPED) == "stopped by SIGTERM; queued again", trial.user_attrs
        # No failure of the study's: --max-failures ignores it
        assert FAILURE not in trial.user_attrs
        copies = [t for t in trials if t.system_attrs.get("failed_trial") == trial.number]
        assert [(c.state, c.params) for c in copies] == [(TrialState.WAITING, trial.params)]
        assert STOPPED not in copies[0].user_attrs  # the copy runs afresh

    rerun = subprocess.run(args, cwd=home, env=env, capture_output=True, text=True, timeout=300)
    assert rerun.returncode == 0, rerun.stderr[-2000:]
    study = optuna.load_study(study_name="t-conv-z8", storage=open_storage(storage))
    copies = [t for t in study.trials if t.system_attrs.get("failed_trial") is not None]
    assert len(copies) == n_workers and {t.state for t in copies} <= set(DONE)
    assert finished_trials(study) == n_workers  # the queued copies were the trials asked for


def test_sigterm_stops_a_worker_cleanly_on_sqlite(home):
    _stop_mid_trial_then_rerun(home, sqlite(home), n_workers=1)


def test_sigterm_stops_two_worker_processes_cleanly_on_postgres(home, postgres_url):
    """The parent passes the signal on to its spawned workers and waits for them."""
    if "t-screen" not in [s.study_name for s in open_storage(postgres_url).get_all_studies()]:
        screen_into(postgres_url, home / "tiny.h5", workspace_of(home))
    for summary in optuna.get_all_study_summaries(postgres_url):
        if summary.study_name == "t-conv-z8":  # left by another test
            optuna.delete_study(study_name="t-conv-z8", storage=open_storage(postgres_url))
    _stop_mid_trial_then_rerun(home, postgres_url, n_workers=2)


def test_kill_9_mid_trial_loses_nothing_on_sqlite(home):
    _kill_mid_trial_then_rerun(home, sqlite(home), "t-conv-z8")


def test_kill_9_mid_trial_loses_nothing_on_postgres(home, postgres_url):
    if "t-screen" not in [s.study_name for s in open_storage(postgres_url).get_all_studies()]:
        screen_into(postgres_url, home / "tiny.h5", workspace_of(home))
    for summary in optuna.get_all_study_summaries(postgres_url):
        if summary.study_name == "t-conv-z8":  # left by the workers test
            optuna.delete_study(study_name="t-conv-z8", storage=open_storage(postgres_url))
    _kill_mid_trial_then_rerun(home, postgres_url, "t-conv-z8")


def invoke(argv) -> tuple[int, list[str]]:
    try:
        return run(optimize_main, argv), []
    except SystemExit as exc:
        return exc.code, []


@pytest.mark.parametrize(
    "extra, expected",
    [
        (["--top", "3"], "--top must be between 1 and 2"),
        (["--top", "1", "--architectures", "conv"], "--top and --architectures both choose"),
        ([], "say which architectures to optimize"),
        (["--architectures", "mlp"], "unknown architecture 'mlp'"),
        (["--top", "1", "--trials", "0"], "--trials must be at least 1"),
        (["--top", "1", "--max-failures", "0"], "--max-failures must be at least 1, but got 0"),
        (["--top", "1", "--pruner", "always"], "invalid choice: 'always'"),
        (
            ["--top", "1", "--latent", "8,x"],
            "--latent must be one integer or a comma-separated list",
        ),
        (["--top", "1", "--latent", "1"], "--latent must list integers >= 2, but got 1"),
        (
            ["--top", "1", "--latent", "16,8"],
            "--latent 16: the screen of run 't' ranked latent sizes 8; pass some of those or "
            "screen that size first",
        ),
        (["--top", "1", "--augment", "rotate"], "--augment: unknown symmetry 'rotate'"),
    ],
)
def test_bad_flags_exit_2_with_one_line(home, capsys, extra, expected):
    code, _ = invoke(cli_args(home, sqlite(home), *extra))
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1 and expected in err[0], err


def test_no_screen_says_which_command_to_run(home, capsys):
    code, _ = invoke(cli_args(home, f"sqlite:///{home / 'empty.db'}", "--top", "2"))
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1
    assert "no screen stored for run 't'" in err[0] and "python -m hpo.screen --run t" in err[0]


def test_other_data_than_screened_is_refused_in_one_short_line_naming_both_files(home, capsys):
    other = write_original(home / "other.h5", n_sims=5, n_frames=7)
    args = cli_args(home, sqlite(home), "--top", "1")
    args[args.index("--data") + 1] = str(other)
    code, _ = invoke(args)
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1 and "the data differ from what run 't' screened" in err[0]
    assert str(other.resolve()) in err[0] and recorded_data(home)["path"] in err[0], err
    assert "{" not in err[0] and "..." not in err[0], err  # no cut-off JSON
    assert "file contents, shape, split differ" in err[0], err


def test_worker_processes_are_replaced_after_their_share_of_trials(home):
    # 5 trials, a fresh process every 2: three processes in turn, still exactly 5 trials.
    optimize(
        optimize_config(
            home,
            architectures=("conv",),
            settings={"n_trials": 5, "epochs": 2, "trials_per_process": 2},
        ),
        sqlite(home),
        progress=None,
    )
    trials = optuna.load_study(study_name="t-conv-z8", storage=open_storage(sqlite(home))).trials
    assert [t.state in DONE for t in trials] == [True] * 5
    # Which process ran each trial: spawned ones, none running more than its share of 2.
    per_process = Counter(t.user_attrs[WORKER_PID] for t in trials)
    assert os.getpid() not in per_process and len(per_process) >= 3, per_process
    assert max(per_process.values()) <= 2, per_process
    assert all(t.user_attrs["rss_mib"] > 0 for t in trials)  # each trial records its memory


def test_epoch_budget_stops_starting_trials_once_spent(home, capsys):
    budget = 7
    code = run(
        optimize_main,
        cli_args(
            home,
            sqlite(home),
            "--architectures",
            "conv",
            "--trials",
            "50",
            "--pruner",
            "none",
            "--epoch-budget",
            str(budget),
        ),
    )
    assert code == 0, capsys.readouterr().err
    study = optuna.load_study(study_name="t-conv-z8", storage=open_storage(sqlite(home)))
    epochs = [len(t.intermediate_values) for t in study.get_trials()]
    assert sum(epochs[:-1]) < budget <= sum(epochs) < budget + 3, epochs  # --epochs 3 per trial
    assert epochs_spent(study) == sum(epochs)


def test_epoch_budget_below_one_exits_2(home, capsys):
    code = run(
        optimize_main,
        cli_args(home, sqlite(home), "--architectures", "conv", "--epoch-budget", "0"),
    )
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and err == ["error: --epoch-budget must be at least 1, but got 0"], err
