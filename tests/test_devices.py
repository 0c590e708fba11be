"""hpo.devices: placement on a fake device list, the environment each worker process starts with,
the flags' one-line errors, and tiny real runs of both stages on two CPU slots and in mixed
precision."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import optuna
import pytest

from hpo import devices
from hpo.devices import (
    JAX_FRACTION,
    JAX_PLATFORMS,
    JAX_PREALLOCATE,
    PINNED,
    TF_GROWTH,
    VISIBLE,
    Slot,
    SlotFailed,
    SlotPool,
    find_gpus,
    parent_environment,
    pin,
    place,
)
from hpo.errors import ConfigError

from helpers import cli_args, sqlite, workspace_of, write_original

MANAGED = (VISIBLE, TF_GROWTH, JAX_PREALLOCATE, JAX_FRACTION, JAX_PLATFORMS, PINNED)


def found(*names: str):
    """A fake GPU discovery: `place(..., gpus=found("0", "1"))`."""
    return lambda: tuple(names)


# --- Placement ------------------------------------------------------------------------------------


@pytest.mark.parametrize("gpus", [None, ()], ids=["cannot-tell", "none"])
def test_auto_without_a_gpu_is_the_cpu_as_before_nothing_pinned(gpus):
    (slot,) = place("auto", gpus=lambda: gpus)
    assert slot == Slot(0, "cpu", sharing=1, pinned=False)
    assert slot.label == "cpu" and slot.environment() == {}
    assert parent_environment((slot,)) == {}
    # --workers N on the CPU is what it was: N processes, unpinned
    slots = place("auto", n_workers=3, gpus=lambda: gpus)
    assert [s.index for s in slots] == [0, 1, 2]
    assert all(s.environment() == {} and s.sharing == 3 for s in slots)


def test_auto_takes_every_gpu_found_one_worker_each():
    slots = place("auto", gpus=found("0", "1"))
    assert [(s.index, s.label) for s in slots] == [(0, "gpu:0"), (1, "gpu:1")]
    assert [s.environment() for s in slots] == [{VISIBLE: "0"}, {VISIBLE: "1"}]


def test_two_gpus_times_two_trials_make_four_slots_sharing_memory():
    slots = place("0,1", trials_per_device=2, gpus=found("0", "1", "2"))
    assert [(s.index, s.device, s.sharing) for s in slots] == [
        (0, "0", 2),
        (1, "0", 2),
        (2, "1", 2),
        (3, "1", 2),
    ]
    shared = {TF_GROWTH: "true", JAX_PREALLOCATE: "false", JAX_FRACTION: "0.450"}
    assert slots[1].environment() == {VISIBLE: "0", **shared}
    assert slots[2].environment() == {VISIBLE: "1", **shared}
    # The parent: on the first GPU, taking memory as it needs it, uncapped
    assert parent_environment(slots) == {VISIBLE: "0", TF_GROWTH: "true", JAX_PREALLOCATE: "false"}
    assert parent_environment(slots[:1]) == slots[0].environment()
    assert place("0,1", 2, n_workers=4, gpus=found("0", "1")) == slots  # --workers may agree


def test_indices_count_among_the_gpus_this_process_sees():
    assert find_gpus({VISIBLE: "2,3"}) == ("2", "3")
    (slot,) = place("1", gpus=lambda: find_gpus({VISIBLE: "2,3"}))
    assert slot.device == "3" and slot.environment() == {VISIBLE: "3"}
    assert place("0", gpus=found("GPU-5f1e"))[0].environment() == {VISIBLE: "GPU-5f1e"}


def test_cpu_slots_hide_every_gpu_and_workers_is_trials_per_device_there():
    slots = place("cpu", trials_per_device=2, gpus=found("0"))
    assert [(s.index, s.label, s.pinned) for s in slots] == [(0, "cpu", True), (1, "cpu", True)]
    assert slots[1].environment() == {VISIBLE: "", JAX_PLATFORMS: "cpu"}
    assert place("cpu", n_workers=2, gpus=found("0")) == slots
    assert place("cpu", 2, n_workers=2, gpus=found("0")) == slots


def test_gpus_are_found_without_a_backend():
    lines = (
        "GPU 0: NVIDIA H200 (UUID: GPU-aaaa)\n"
        "  MIG 1g.18gb Device 0: (UUID: MIG-bbbb)\n"
        "GPU 1: NVIDIA H200 (UUID: GPU-cccc)\n"
    )

    def smi(stdout="", code=0, error=None):
        def run(*args, **kwargs):
            if error:
                raise error
            return subprocess.CompletedProcess(args, code, stdout=stdout)

        return run

    assert find_gpus({}, run=smi(lines)) == ("0", "1")
    assert find_gpus({}, run=smi("", code=9)) is None  # no driver: cannot tell
    assert find_gpus({}, run=smi(error=FileNotFoundError())) is None
    assert find_gpus({VISIBLE: ""}, run=smi(lines)) == ()  # set by the user: it wins
    assert find_gpus({VISIBLE: "-1"}) == ()
    assert find_gpus({VISIBLE: "0,-1,1"}) == ("0",)  # CUDA stops at the first invalid id


@pytest.mark.parametrize(
    "flags, gpus, message",
    [
        ({"devices": "gpu0"}, (), "--devices must be auto, cpu or GPU indices like 0,1, but got"),
        ({"devices": "0,,1"}, ("0", "1"), "--devices must be auto, cpu or GPU indices"),
        ({"devices": "0,0"}, ("0",), "names a GPU twice; to run several trials on one GPU"),
        ({"devices": "2"}, ("0", "1"), "GPUs 0-1 found (nvidia-smi -L"),
        ({"devices": "0"}, None, "no GPU found"),
        ({"devices": "cpu", "trials_per_device": 0}, (), "--trials-per-device must be at least 1"),
        ({"devices": "cpu", "trials_per_device": 2, "n_workers": 3}, (), "both count the worker"),
        ({"devices": "0,1", "trials_per_device": 2, "n_workers": 3}, ("0", "1"), "make 4 slots"),
    ],
)
def test_bad_placements_say_what_is_wrong_and_the_fix(flags, gpus, message):
    with pytest.raises(ConfigError) as error:
        place(**flags, gpus=lambda: gpus)
    assert message in str(error.value) and "\n" not in str(error.value)


# --- Pinning and the environment each worker gets -------------------------------------------------


def test_pin_sets_the_slot_and_drops_only_what_the_parent_pinned(monkeypatch):
    environ = {
        VISIBLE: "0",
        TF_GROWTH: "true",
        PINNED: f"{TF_GROWTH},{VISIBLE}",  # the parent pinned these two
        JAX_FRACTION: ".5",  # the user's own
    }
    monkeypatch.setattr(os, "environ", dict(environ))
    monkeypatch.delitem(sys.modules, "keras", raising=False)
    assert pin(Slot(1, "1").environment())
    assert os.environ == {VISIBLE: "1", JAX_FRACTION: ".5", PINNED: VISIBLE}

    # Once Keras is imported it is too late: nothing changes, and the caller is told.
    monkeypatch.setitem(sys.modules, "keras", object())
    assert not pin({VISIBLE: "7"})
    assert os.environ[VISIBLE] == "1"
    assert pin({VISIBLE: "1"})  # nothing to change: fine
    with pytest.raises(RuntimeError, match="imported Keras before it was pinned"):
        devices.pin_worker(Slot(0, "7"))


def _record_environment(slot: Slot, folder: str) -> int:
    """A SlotPool setup: what the worker process started with, before it imported anything."""
    seen = {key: os.environ.get(key) for key in MANAGED}
    seen["backend_loaded"] = any(m in sys.modules for m in ("keras", "tensorflow", "jax", "torch"))
    Path(folder, f"slot{slot.index}.json").write_text(json.dumps(seen))
    return slot.index


def _square(state: int, x: int) -> tuple[int, int]:
    if x < 0:
        raise ValueError(f"negative {x}")
    if x == 99:
        os._exit(3)  # as the out-of-memory killer ends a worker
    return state, x * x


def test_each_pool_worker_starts_pinned_to_its_slot_before_any_backend(tmp_path):
    slots = place("0,1", trials_per_device=2, gpus=found("0", "1"))  # fake GPUs: nothing runs
    with SlotPool(slots, _record_environment, (str(tmp_path),)) as pool:
        done = list(pool.map(_square, [1, 2, 3, 4, 5]))
    assert sorted(result for _, (_, result) in done) == [1, 4, 9, 16, 25]
    # The first tasks go to slots 0, 1, 2, 3 in order, each to an idle one: all four served.
    assert {slot for _, (slot, _) in done} == {0, 1, 2, 3}
    for slot in slots:
        seen = json.loads((tmp_path / f"slot{slot.index}.json").read_text())
        assert not seen.pop("backend_loaded")
        assert {k: seen[k] for k in slot.environment()} == slot.environment()
        assert seen[PINNED] == ",".join(sorted(slot.environment()))


def test_a_pool_raises_a_task_error_and_a_dead_worker():
    cpu = place("cpu", 2)
    with pytest.raises(ValueError, match="negative -1"), SlotPool(cpu, _record_nothing) as pool:
        list(pool.map(_square, [2, -1]))
    dead = r"on cpu \(slot \d\) exited with code 3 while on 99"
    with pytest.raises(SlotFailed, match=dead), SlotPool(cpu, _record_nothing) as pool:
        list(pool.map(_square, [99], name=str))


def _record_nothing(slot: Slot) -> int:
    return slot.index


def _record_optimize_worker(config, name, architecture, storage_url, index, deadline, first):
    """An hpo.optimize worker process target: note what it started with, then die (so the
    supervisor stops instead of replacing it)."""
    seen = {key: os.environ.get(key) for key in MANAGED}
    seen["backend_loaded"] = "keras" in sys.modules
    (config.workspace.root / f"worker{index}.json").write_text(json.dumps(seen))
    os._exit(9)


def test_each_optimize_worker_process_starts_pinned_to_its_slot(tmp_path):
    from hpo.errors import StudyFailed
    from hpo.optimize.config import OptimizeConfig
    from hpo.optimize.processes import run_workers
    from hpo.optimize.settings import StudySettings
    from hpo.workspace import Workspace

    url = f"sqlite:///{tmp_path / 'w.db'}"
    optuna.create_study(study_name="s", storage=url)
    slots = place("1,0", gpus=found("0", "1"))
    config = OptimizeConfig(
        run="t",
        architectures=("conv",),
        settings=StudySettings(n_trials=2),
        n_workers=len(slots),
        slots=slots,
        workspace=Workspace(tmp_path),
    )
    with pytest.raises(StudyFailed, match="exited with"):
        run_workers(config, "s", "conv", url, {}, None, print, _record_optimize_worker)
    for index, device in ((0, "1"), (1, "0")):
        seen = json.loads((tmp_path / f"worker{index}.json").read_text())
        assert seen[VISIBLE] == device and not seen["backend_loaded"]


# --- The flags ------------------------------------------------------------------------------------


def _isolate(monkeypatch) -> None:
    """Two fake GPUs, and an environment of this test's own: a CLI pins the process it runs in."""
    monkeypatch.setattr(devices, "find_gpus", found("0", "1"))
    monkeypatch.setattr(os, "environ", dict(os.environ))


def _invoke(main, argv) -> int:
    from hpo.cli import run

    try:
        return run(main, argv)
    except SystemExit as exc:  # argparse's errors
        return exc.code


@pytest.mark.parametrize("stage", ["screen", "optimize"])
@pytest.mark.parametrize(
    "flags, expected",
    [
        (["--devices", "gpu0"], "--devices must be auto, cpu or GPU indices like 0,1"),
        (["--devices", "0,0"], "names a GPU twice"),
        (["--devices", "2"], "GPUs 0-1 found"),
        (["--devices", "cpu", "--trials-per-device", "0"], "--trials-per-device must be at least"),
        (["--precision", "float16"], "invalid choice: 'float16'"),
    ],
)
def test_bad_device_flags_exit_2_with_one_line(stage, flags, expected, monkeypatch, capsys):
    from hpo.optimize.__main__ import main as optimize_main
    from hpo.screen.__main__ import main as screen_main

    _isolate(monkeypatch)
    main = screen_main if stage == "screen" else optimize_main
    code = _invoke(main, [*flags, *(["--top", "1"] if stage == "optimize" else [])])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1 and expected in err[0], err
    assert "Traceback" not in err[0]


@pytest.mark.parametrize(
    "flags, expected",
    [
        (["--devices", "cpu", "--workers", "3", "--trials-per-device", "2"], "both count the"),
        (["--devices", "0,1", "--workers", "3"], "make 2 slots, one worker each"),
        (["--engine", "keras-tuner", "--devices", "cpu", "--trials-per-device", "2"], "--workers"),
    ],
)
def test_workers_and_slots_must_agree(flags, expected, monkeypatch, capsys):
    from hpo.optimize.__main__ import main as optimize_main

    _isolate(monkeypatch)
    code = _invoke(optimize_main, ["--top", "1", *flags])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1 and expected in err[0], err


# --- Real runs on two CPU slots, and in mixed precision -------------------------------------------


def _cli(module: str, *argv: str) -> subprocess.CompletedProcess:
    """A stage as a shell runs it, in its own process (it pins itself: not this test process)."""
    return subprocess.run(
        [sys.executable, "-m", module, *argv], capture_output=True, text=True, timeout=900
    )


@pytest.mark.slow
def test_screen_on_two_cpu_slots_trains_in_parallel_as_it_does_alone(tmp_path):
    from hpo.data import load
    from hpo.screen import ScreenConfig, screen
    from hpo.workspace import Workspace

    data_path = write_original(tmp_path / "tiny.h5", n_sims=5, n_frames=6)
    url = f"sqlite:///{tmp_path / 's.db'}"
    names = ("conv", "depthwise")
    flags = ["--data", str(data_path), "--architectures", ",".join(names), "--epochs", "2"]
    flags += ["--rungs", "1", "--repeats", "1", "--params", "6000", "--latent", "8", "--seed", "0"]
    flags += ["--storage", url, "--home", str(tmp_path / "studies"), "--run", "par"]
    done = _cli("hpo.screen", *flags, "--devices", "cpu", "--trials-per-device", "2")
    assert done.returncode == 0, done.stderr[-2000:]
    # Each rung's two runs went to the two slots' processes, which printed their epochs.
    assert "s0 cpu [" in done.stdout and "s1 cpu [" in done.stdout, done.stdout

    parallel = optuna.load_study(study_name="par-screen", storage=url).get_trials()
    assert {t.user_attrs["device"] for t in parallel} == {"cpu"}
    assert sorted(t.user_attrs["slot"] for t in parallel) == [0, 1]
    assert all(t.user_attrs["epochs_run"] == 2 for t in parallel)

    # The same screen in this process, one run after another: the same results.
    config = ScreenConfig(
        architectures=names,
        epochs=2,
        rung_epochs=(1,),
        repeats=1,
        n_params=6000,
        latent=8,
        seed=0,
        run="alone",
        workspace=Workspace(tmp_path / "studies"),
    )
    screen(config, load(data_path, seed=0), url, progress=None)
    alone = optuna.load_study(study_name="alone-screen", storage=url).get_trials()
    assert {t.user_attrs["slot"] for t in alone} == {0}
    by_name = {t.params["architecture"]: t.value for t in alone}
    for trial in parallel:
        assert trial.value == pytest.approx(by_name[trial.params["architecture"]], rel=1e-4)


@pytest.mark.slow
def test_optimize_on_two_cpu_slots_records_each_trials_device(home):
    storage = sqlite(home)
    done = _cli(
        "hpo.optimize",
        *cli_args(home, storage, "--top", "1", "--trials", "3", "--epochs", "1"),
        "--devices",
        "cpu",
        "--trials-per-device",
        "2",
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert "2 worker(s): cpu x2" in done.stdout, done.stdout
    (name,) = [n for n in optuna.study.get_all_study_names(storage) if n.endswith("-z8")]
    trials = optuna.load_study(study_name=name, storage=storage).get_trials()
    assert len(trials) == 3 and {t.user_attrs["device"] for t in trials} == {"cpu"}
    # Two worker processes, one per slot, started at once: each ran some of the three trials.
    assert {t.user_attrs["slot"] for t in trials} == {0, 1}
    assert len({t.user_attrs["worker_pid"] for t in trials}) == 2


@pytest.mark.slow
def test_mixed_bfloat16_trains_a_tiny_trial_on_the_cpu(home):
    import keras

    from hpo.optimize.artifacts import load_best_model

    storage = sqlite(home)
    done = _cli(
        "hpo.optimize",
        *cli_args(home, storage, "--architectures", "conv", "--trials", "1", "--epochs", "1"),
        "--precision",
        "mixed_bfloat16",
    )
    assert done.returncode == 0, done.stderr[-2000:]
    study = optuna.load_study(study_name="t-conv-z8", storage=storage)
    (trial,) = study.get_trials()
    assert trial.state == optuna.trial.TrialState.COMPLETE and trial.value > 0
    assert trial.user_attrs["device"] == "cpu" and trial.user_attrs["slot"] == 0
    model = load_best_model(study, workspace_of(home))
    conv = next(layer for layer in model.layers if isinstance(layer, keras.layers.Conv2D))
    assert conv.dtype_policy.name == "mixed_bfloat16"  # computed in bfloat16, weights float32
    assert conv.kernel.dtype == "float32"
    assert model.output.dtype == "float32"  # fields handed on in full precision
    # Going on with that study in float32 would rank trials of both precisions as one search.
    again = _cli(
        "hpo.optimize",
        *cli_args(home, storage, "--architectures", "conv", "--trials", "2", "--epochs", "1"),
    )
    assert again.returncode == 2
    assert "trains in mixed_bfloat16, not float32: pass --precision mixed_bfloat16" in again.stderr
    assert "Traceback" not in again.stderr and len(study.get_trials()) == 1


@pytest.mark.slow
def test_a_mixed_precision_screen_is_kept_apart_from_float32(tiny_flow_data, tmp_path):
    import keras

    from hpo.screen import ScreenConfig, screen
    from hpo.workspace import Workspace

    url = f"sqlite:///{tmp_path / 's.db'}"
    config = ScreenConfig(
        architectures=("conv",),
        epochs=1,
        repeats=1,
        n_params=6000,
        latent=8,
        batch_size=4,
        precision="mixed_bfloat16",
        workspace=Workspace(tmp_path / "studies"),
    )
    result = screen(config, tiny_flow_data, url, progress=None)
    assert keras.config.dtype_policy().name == "float32"  # this process's policy is given back
    study = optuna.load_study(study_name=result.study_name, storage=url)
    assert study.user_attrs["settings"]["precision"] == "mixed_bfloat16"
    assert study.get_trials()[0].state == optuna.trial.TrialState.COMPLETE
    with pytest.raises(ConfigError, match="precision 'mixed_bfloat16' -> 'float32'"):
        screen(replace(config, precision="float32"), tiny_flow_data, url, progress=None)
    # A float32 screen stores no precision: its settings are what they were before the flag.
    assert "precision" not in ScreenConfig().comparable()
