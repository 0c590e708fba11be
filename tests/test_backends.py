"""hpo.backend on every backend, and the JAX smoke subset.

On any backend: out-of-memory errors are recognised whichever backend raised them, the backend is
chosen before Keras is imported (or refused in one line), a missing backend package is named, and a
worker's share of threads is set.

The JAX smoke subset runs where Keras runs on JAX (.ci/run's second pytest, KERAS_BACKEND=jax), and
is skipped elsewhere: `hpo.screen --quick`, an `hpo.optimize` study with pruning, a KerasTuner
trial, and a worker killed with -9 mid-trial then resumed. Each runs the real command in a process
where `import tensorflow` fails, as on a machine without it: nothing on the JAX path may need it.
"""

from __future__ import annotations

import argparse
import csv
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import optuna
import pytest
from optuna.trial import TrialState

from hpo import backend
from hpo.errors import ConfigError
from hpo.keys import FAILURE, WORKER_PID
from hpo.optimize.trials import finished_trials
from hpo.storage import open_storage

from helpers import cli_args, sqlite

REPO = Path(__file__).resolve().parents[1]


def _named(name: str, base: type = Exception) -> type:
    return type(name, (base,), {})


@pytest.mark.parametrize(
    "exc, expected",
    [
        (_named("ResourceExhaustedError")(None, None, "OOM when allocating tensor"), True),  # TF
        (_named("JaxRuntimeError", RuntimeError)("RESOURCE_EXHAUSTED: Out of memory 1 B"), True),
        (_named("XlaRuntimeError", RuntimeError)("RESOURCE_EXHAUSTED: Out of memory"), True),
        (_named("JaxRuntimeError", RuntimeError)("INVALID_ARGUMENT: bad shapes"), False),
        (_named("OutOfMemoryError", RuntimeError)("CUDA out of memory. Tried to allocate"), True),
        (RuntimeError("DefaultCPUAllocator: can't allocate memory: you tried to allocate"), True),
        (MemoryError(), True),
        (ValueError("out of memory"), False),
        (RuntimeError("shapes do not match"), False),
    ],
)
def test_out_of_memory_is_recognised_whichever_backend_raised_it(exc, expected):
    assert backend.is_out_of_memory(exc) is expected


def test_a_real_jax_out_of_memory_is_recognised():
    jnp = pytest.importorskip("jax.numpy")
    with pytest.raises(Exception) as caught:
        jnp.ones((2**42,), jnp.float32).block_until_ready()  # 16 TiB
    assert backend.is_out_of_memory(caught.value), caught.value


def test_the_backend_is_chosen_before_keras_is_imported(monkeypatch):
    import keras

    running = keras.config.backend()
    monkeypatch.setenv("KERAS_BACKEND", running)  # restored after the test
    backend.select(None)
    backend.select(running)  # already so: nothing to do
    assert os.environ["KERAS_BACKEND"] == running
    other = next(name for name in backend.BACKENDS if name != running)
    with pytest.raises(ConfigError, match=f"--backend {other}: Keras already runs on {running}"):
        backend.select(other)
    with pytest.raises(ConfigError, match="unknown backend 'numpy'; choose from: tensorflow, jax"):
        backend.select("numpy")
    parser = argparse.ArgumentParser()
    backend.add_argument(parser)
    assert parser.parse_args(["--backend", "jax"]).backend == "jax"
    assert parser.parse_args([]).backend is None


def test_a_missing_backend_package_is_named_in_one_line(tmp_path):
    missing = next((name for name in ("torch", "jax") if not _installed(name)), None)
    if missing is None:
        pytest.skip("every backend is installed here")
    code = (
        "from hpo.backend import import_keras_quietly\n"
        "from hpo.errors import ConfigError\n"
        "try:\n"
        f"    import_keras_quietly({missing!r})\n"
        "except ConfigError as exc:\n"
        "    print(exc)\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=REPO, env=_env(), capture_output=True, text=True
    )
    assert f"Keras backend {missing} is not installed: pip install 'hpo[{missing}]'" in out.stdout


def test_a_workers_share_of_threads_is_set_on_the_running_backend(monkeypatch):
    monkeypatch.delenv("XLA_PYTHON_CLIENT_PREALLOCATE", raising=False)  # restored after
    backend.set_threads(1, shared=True)  # a started backend keeps what it has, without error
    if backend.name() == "jax":
        assert os.environ["XLA_PYTHON_CLIENT_PREALLOCATE"] == "false"


def _installed(name: str) -> bool:
    import importlib.util

    return importlib.util.find_spec(name) is not None


# --- The JAX smoke subset ----------------------------------------------------------------------

jax_only = pytest.mark.skipif(
    not _installed("jax") or os.environ.get("KERAS_BACKEND") != "jax",
    reason="the JAX smoke subset runs under KERAS_BACKEND=jax (.ci/run's second pytest)",
)


@pytest.fixture(scope="module")
def no_tensorflow(tmp_path_factory) -> Path:
    """A folder whose `tensorflow` package fails to import, put first on a command's path."""
    folder = tmp_path_factory.mktemp("no_tensorflow")
    (folder / "tensorflow").mkdir()
    (folder / "tensorflow" / "__init__.py").write_text(
        'raise ImportError("tensorflow is blocked: the JAX path must not need it")\n'
    )
    return folder


def _env(first: Path | None = None) -> dict[str, str]:
    """The environment of a command: this repository on the path, `first` before it."""
    paths = [str(REPO)] if first is None else [str(first), str(REPO)]
    return {**os.environ, "PYTHONPATH": os.pathsep.join(paths)}


def _hpo(*args: str, cwd: Path, blocker: Path) -> subprocess.CompletedProcess:
    """Run `python -m <args>` without TensorFlow; it must exit 0."""
    command = [sys.executable, "-m", *args]
    done = subprocess.run(
        command, cwd=cwd, env=_env(blocker), capture_output=True, text=True, timeout=900
    )
    assert done.returncode == 0, f"{' '.join(args)}:\n{done.stdout[-2000:]}\n{done.stderr[-3000:]}"
    return done


@pytest.mark.slow
@jax_only
def test_the_tensorflow_blocker_blocks(no_tensorflow):
    done = subprocess.run(
        [sys.executable, "-c", "import tensorflow"],
        env=_env(no_tensorflow),
        capture_output=True,
        text=True,
    )
    assert done.returncode != 0 and "blocked" in done.stderr


@pytest.mark.slow
@jax_only
def test_screen_quick_on_jax(tmp_path, no_tensorflow):
    # Every architecture trained, augmented, ranked beside PCA and reported; a short budget.
    done = _hpo(
        "hpo.screen",
        "--quick",
        "--latent",
        "8",
        "--epochs",
        "3",
        "--home",
        str(tmp_path),
        cwd=tmp_path,
        blocker=no_tensorflow,
    )
    assert "ranking at latent 8" in done.stdout
    with open(tmp_path / "default" / "screen.csv") as f:
        rows = list(csv.DictReader(f))
    assert {row["architecture"] for row in rows} == {
        "conv",
        "conv_dropout",
        "vqvae2",
        "depthwise",
        "dual",
    }
    assert all(float(row["val_rel_l2"]) > 0 for row in rows)


@pytest.mark.slow
@jax_only
def test_an_optimize_study_prunes_on_jax(home, no_tensorflow):
    _hpo(
        "hpo.optimize",
        *cli_args(home, sqlite(home), "--architectures", "conv", "--trials", "8", "--epochs", "4"),
        cwd=home,
        blocker=no_tensorflow,
    )
    study = optuna.load_study(study_name="t-conv-z8", storage=open_storage(sqlite(home)))
    states = [t.state for t in study.get_trials()]
    assert states.count(TrialState.PRUNED) >= 1 and states.count(TrialState.COMPLETE) >= 3
    assert all(t.intermediate_values for t in study.get_trials())  # reported every epoch


@pytest.mark.slow
@jax_only
def test_a_keras_tuner_trial_on_jax(home, no_tensorflow):
    _hpo(
        "hpo.optimize",
        *cli_args(home, sqlite(home), "--architectures", "conv", "--engine", "keras-tuner"),
        "--tuner",
        "random",
        "--trials",
        "1",
        "--epochs",
        "2",
        cwd=home,
        blocker=no_tensorflow,
    )
    mirrored = optuna.load_study(
        study_name="t-conv-z8-keras-tuner", storage=open_storage(sqlite(home))
    )
    [trial] = mirrored.get_trials()
    assert trial.state == TrialState.COMPLETE and len(trial.intermediate_values) == 2


@pytest.mark.slow
@jax_only
def test_a_worker_killed_mid_trial_is_resumed_on_jax(home, no_tensorflow):
    storage = sqlite(home)
    args = [
        sys.executable,
        "-m",
        "hpo.optimize",
        *cli_args(home, storage, "--architectures", "conv", "--trials", "3"),
        "--heartbeat",
        "1",
        "--pruner",
        "none",
    ]
    worker = subprocess.Popen(
        args,
        cwd=home,
        env=_env(no_tensorflow),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline, running = time.monotonic() + 300, []
    while time.monotonic() < deadline and not running and worker.poll() is None:
        time.sleep(0.1)
        try:
            study = optuna.load_study(study_name="t-conv-z8", storage=open_storage(storage))
        except KeyError:  # not created yet
            continue
        running = [
            t
            for t in study.get_trials()
            if t.state == TrialState.RUNNING and t.number == 2 and WORKER_PID in t.user_attrs
        ]
    assert running, "the worker never got its last trial running"
    worker.send_signal(signal.SIGKILL)
    worker.wait()
    time.sleep(4)  # past the grace period (3 x 1 s heartbeat): the trial is stale
    _hpo(*args[2:], cwd=home, blocker=no_tensorflow)
    study = optuna.load_study(study_name="t-conv-z8", storage=open_storage(storage))
    trials = study.get_trials()
    killed = trials[running[0].number]
    assert killed.state == TrialState.FAIL and FAILURE not in killed.user_attrs
    retried = [t for t in trials if t.system_attrs.get("failed_trial") == killed.number]
    assert len(retried) == 1 and retried[0].state == TrialState.COMPLETE
    assert finished_trials(study) == 3
