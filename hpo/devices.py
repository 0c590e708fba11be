"""Where worker processes train: `--devices` and `--trials-per-device`, one slot per worker.

    slots = devices.place("0,1", trials_per_device=2)    # 4 slots: gpu:0 twice, gpu:1 twice
    devices.pin(slots[0].environment())                  # in the worker, before Keras is imported

A slot is one worker process's place: a device (a GPU, or the CPU) and how many workers share it.
Its environment pins the process to that GPU (CUDA_VISIBLE_DEVICES) and, when several share one,
makes each backend take GPU memory as it needs it: TensorFlow's memory growth, JAX without
preallocation and capped at its share (XLA_PYTHON_CLIENT_MEM_FRACTION), PyTorch as it is (its
caching allocator grows on demand). The CPU (`--devices cpu`) hides every GPU from the process.
Every backend reads these variables when it first touches a device, so they are set before Keras
is imported (hpo.backend imports it).

GPUs are found without importing a backend (`nvidia-smi -L`, or the CUDA_VISIBLE_DEVICES this
process was started with); tests pass a fake list instead. `auto` (the default) takes every GPU
found, or, with none, the CPU exactly as before devices existed: nothing pinned, `--workers`
processes. This module imports no backend, so a spawned worker can pin itself first (SlotPool).
"""

from __future__ import annotations

import contextlib
import multiprocessing
import os
import pickle
import queue
import re
import shutil
import subprocess
import sys
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass

from hpo.errors import ConfigError, HpoError

AUTO, CPU = "auto", "cpu"
DEFAULT_DEVICES = AUTO  # every GPU found, else the CPU as before
# Workers sharing one GPU leave this share of its memory to CUDA contexts and the parent process:
# each JAX worker is capped at (1 - this) / N of it.
GPU_MEMORY_RESERVE = 0.1

# The variables a slot sets, in one place (tests read them).
VISIBLE = "CUDA_VISIBLE_DEVICES"
TF_GROWTH = "TF_FORCE_GPU_ALLOW_GROWTH"
JAX_PREALLOCATE = "XLA_PYTHON_CLIENT_PREALLOCATE"
JAX_FRACTION = "XLA_PYTHON_CLIENT_MEM_FRACTION"
JAX_PLATFORMS = "JAX_PLATFORMS"
PINNED = "HPO_PINNED"  # which of them `pin` set, so a worker can drop what its parent pinned


@dataclass(frozen=True)
class Slot:
    """One worker process's place.

    Attributes:
        index: the worker's number (0, 1, ...).
        device: "cpu", or a GPU as CUDA_VISIBLE_DEVICES names it (an index as `nvidia-smi -L`
            numbers them, or a UUID).
        sharing: the workers on this device, this one included.
        pinned: False for the CPU that `auto` fell back to: the process is started as before
            devices existed, nothing set.
    """

    index: int
    device: str
    sharing: int = 1
    pinned: bool = True

    @property
    def label(self) -> str:
        """What trials record as their device: "cpu" or "gpu:<device>"."""
        return CPU if self.device == CPU else f"gpu:{self.device}"

    def environment(self) -> dict[str, str]:
        """The variables a worker in this slot starts with (on top of its parent's)."""
        if not self.pinned:
            return {}
        if self.device == CPU:  # no backend may grab a GPU
            return {VISIBLE: "", JAX_PLATFORMS: CPU}
        env = {VISIBLE: self.device}
        if self.sharing > 1:
            env |= {
                TF_GROWTH: "true",
                JAX_PREALLOCATE: "false",
                JAX_FRACTION: f"{(1 - GPU_MEMORY_RESERVE) / self.sharing:.3f}",
            }
        return env


def parent_environment(slots: tuple[Slot, ...]) -> dict[str, str]:
    """The variables of the process that starts the workers (and trains itself when there is one
    slot, or evaluates the best models at the end): one slot's own; with several, pinned to the
    first slot's device and taking its memory as needed, beside its workers."""
    if not slots:
        return {}
    if len(slots) == 1:
        return slots[0].environment()
    first = slots[0]
    env = Slot(0, first.device, sharing=1, pinned=first.pinned).environment()
    if first.pinned and first.device != CPU:
        env |= {TF_GROWTH: "true", JAX_PREALLOCATE: "false"}
    return env


def add_arguments(parser) -> None:
    """`--devices` and `--trials-per-device` for a CLI (hpo.screen, hpo.optimize); pass their
    values to `place`."""
    parser.add_argument(
        "--devices",
        metavar="auto|cpu|0,1",
        default=DEFAULT_DEVICES,
        help="where runs train: auto (default: every GPU nvidia-smi lists, else the CPU as "
        "before), cpu, or GPU indices; one worker process per device and trial, pinned with "
        "CUDA_VISIBLE_DEVICES",
    )
    parser.add_argument(
        "--trials-per-device",
        type=int,
        default=None,
        metavar="N",
        help="worker processes sharing each device (default 1; they take GPU memory as needed)",
    )


def find_gpus(
    environ: Mapping[str, str] | None = None, run: Callable = subprocess.run
) -> tuple[str, ...] | None:
    """The GPUs this process may use, named as CUDA_VISIBLE_DEVICES names them; None when it cannot
    tell (no nvidia-smi, no CUDA_VISIBLE_DEVICES). No backend is imported.

    A CUDA_VISIBLE_DEVICES already set wins (its items, "" or -1: none); else `nvidia-smi -L`'s
    lines "GPU <i>: ...".
    """
    environ = os.environ if environ is None else environ
    if VISIBLE in environ:
        items = [item.strip() for item in environ[VISIBLE].split(",") if item.strip()]
        visible = []
        for item in items:
            if item.startswith("-"):  # CUDA stops at the first invalid id
                break
            visible.append(item)
        return tuple(visible)
    if run is subprocess.run and shutil.which("nvidia-smi") is None:
        return None
    try:
        listed = run(["nvidia-smi", "-L"], capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.SubprocessError):
        return None
    if listed.returncode != 0:
        return None
    return tuple(re.findall(r"^GPU (\d+):", listed.stdout, flags=re.MULTILINE))


def place(
    devices: str = DEFAULT_DEVICES,
    trials_per_device: int | None = None,
    n_workers: int | None = None,
    gpus: Callable[[], tuple[str, ...] | None] | None = None,
) -> tuple[Slot, ...]:
    """The slots of `--devices` x `--trials-per-device`, one worker each.

    On the CPU, `--workers N` and `--trials-per-device N` say the same (N processes sharing the
    cores); either gives the count (default 1). On GPUs the workers are the slots: `--workers`, if
    given, must equal devices x trials per device.

    Args:
        devices: "auto" (every GPU found, else the CPU unpinned), "cpu", or GPU indices "0,1"
            (counted among the GPUs this process sees).
        trials_per_device: workers per device (None: 1, or `n_workers` on the CPU).
        n_workers: `--workers` (None: not given).
        gpus: finds the GPUs (default `find_gpus`; tests pass a fake list).

    Raises:
        ConfigError: a malformed flag, an index beyond the GPUs found, a count below 1, or
            `--workers` that disagrees with the slots.
    """
    text = str(devices).strip().lower()
    gpus = gpus or find_gpus  # looked up now: tests replace it
    for flag, value in (("--trials-per-device", trials_per_device), ("--workers", n_workers)):
        if value is not None and (
            isinstance(value, bool) or not isinstance(value, int) or value < 1
        ):
            raise ConfigError(f"{flag} must be at least 1, but got {value}")
    if text == AUTO:
        chosen = list(gpus() or ())
    elif text == CPU:
        chosen = []
    else:
        chosen = _listed_gpus(text, devices, gpus)
    if not chosen:  # the CPU: pinned when asked for, as before devices existed under auto
        if trials_per_device and n_workers and trials_per_device != n_workers:
            raise ConfigError(
                f"--workers {n_workers} and --trials-per-device {trials_per_device} both count the "
                "worker processes on the CPU; pass one of them"
            )
        n = trials_per_device or n_workers or 1
        return tuple(Slot(i, CPU, sharing=n, pinned=text == CPU) for i in range(n))
    per = trials_per_device or 1
    slots = tuple(
        Slot(d * per + k, device, sharing=per)
        for d, device in enumerate(chosen)
        for k in range(per)
    )
    if n_workers is not None and n_workers != len(slots):
        raise ConfigError(
            f"--workers {n_workers}, but --devices {devices} with --trials-per-device {per} make "
            f"{len(slots)} slots, one worker each; drop --workers or set --trials-per-device"
        )
    return slots


def _listed_gpus(text: str, devices: str, gpus: Callable) -> list[str]:
    """`--devices 0,1` as the GPUs' CUDA_VISIBLE_DEVICES names."""
    items = [item.strip() for item in text.split(",")]
    if not items or not all(item.isdigit() for item in items):
        raise ConfigError(
            f"--devices must be auto, cpu or GPU indices like 0,1, but got {devices!r}"
        )
    indices = [int(item) for item in items]
    if len(set(indices)) != len(indices):
        raise ConfigError(
            f"--devices {devices} names a GPU twice; to run several trials on one GPU pass "
            "--trials-per-device N"
        )
    found = gpus() or ()
    beyond = [i for i in indices if i >= len(found)]
    if beyond:
        seen = f"GPUs 0-{len(found) - 1}" if found else "no GPU"
        raise ConfigError(
            f"--devices {devices}: {seen} found (nvidia-smi -L, or CUDA_VISIBLE_DEVICES when "
            f"set), so no GPU {beyond[0]}; pass auto, cpu or a GPU found"
        )
    return [found[i] for i in indices]


def describe(slots: tuple[Slot, ...]) -> str:
    """One line for the progress output: "2 workers: gpu:0 x2" ..."""
    counts: dict[str, int] = {}
    for slot in slots:
        counts[slot.label] = counts.get(slot.label, 0) + 1
    return f"{len(slots)} worker(s): " + ", ".join(f"{k} x{v}" for k, v in counts.items())


def pin(environment: Mapping[str, str]) -> bool:
    """Set `environment` in this process, before Keras (and its backend) is imported; whether it
    was set.

    The variables a parent process pinned for itself (and its children inherited) but this
    environment does not set are removed, so that a worker gets its slot's settings and no more;
    $HPO_PINNED lists them. Once Keras is imported it is too late: a backend may hold a device
    already, so nothing is changed and False is returned (a CLI called from a test process that
    trained before; its workers still pin themselves).
    """
    inherited = [k for k in os.environ.get(PINNED, "").split(",") if k and k not in environment]
    changes = {k: v for k, v in environment.items() if os.environ.get(k) != v}
    stale = [k for k in inherited if k in os.environ]
    if (changes or stale) and "keras" in sys.modules:
        return False
    for key in stale:
        del os.environ[key]
    os.environ.update(changes)
    if environment:
        os.environ[PINNED] = ",".join(sorted(environment))
    else:
        os.environ.pop(PINNED, None)
    return True


def pin_worker(slot: Slot) -> None:
    """`pin` a freshly spawned worker process to its slot.

    Raises:
        RuntimeError: Keras was imported before (a bug: the worker's device would be its parent's).
    """
    if not pin(slot.environment()):
        raise RuntimeError(
            f"the worker for {slot.label} imported Keras before it was pinned to its device"
        )


class SlotFailed(HpoError):
    """A worker process of a SlotPool exited while tasks were left: the run stops (exit code 1);
    what finished is kept and the same command resumes."""

    exit_code = 1


class SlotPool:
    """One spawned process per slot, pinned before anything else runs there, each serving tasks.

        with SlotPool(slots, setup, (config,)) as pool:
            for task, result in pool.map(train_one, tasks):   # in the order they finish
                ...

    `setup(slot, *setup_args)` runs once per process (import Keras, load the data) and its return
    value is passed to every task: `fn(state, task)`. Functions and arguments are pickled and only
    unpickled in the worker after it is pinned, so importing them cannot load a backend first. The
    processes start on the first tasks; each takes one task at a time, handed to it when it is idle
    (the first tasks to slots 0, 1, ... in order). An exception raised by setup or a task is raised
    again here; a process that dies raises SlotFailed.
    """

    def __init__(self, slots: Iterable[Slot], setup: Callable, setup_args: tuple = ()):
        self.slots = tuple(slots)
        self._setup = pickle.dumps((setup, setup_args))
        self._context = multiprocessing.get_context("spawn")
        self._processes: list = []
        self._inboxes: list = []
        self._results = None

    def __enter__(self) -> SlotPool:
        return self

    def __exit__(self, *exc) -> None:
        if exc[0] is None:
            for inbox in self._inboxes:
                inbox.put(None)
            for process in self._processes:
                process.join(60)
        for process in self._processes:  # an error or a stop: the workers go too
            if process.exitcode is None:
                process.terminate()
                process.join(30)
                if process.exitcode is None:
                    process.kill()
                    process.join()

    def _start(self) -> None:
        self._results = self._context.Queue()
        for position, slot in enumerate(self.slots):
            inbox = self._context.Queue()
            process = self._context.Process(
                target=_serve,
                args=(position, slot, self._setup, inbox, self._results),
                name=f"hpo-slot-{slot.index}",
                daemon=True,
            )
            process.start()
            self._inboxes.append(inbox)
            self._processes.append(process)

    def map(self, fn: Callable, tasks: Iterable, name: Callable = repr) -> Iterator[tuple]:
        """(task, fn(state, task)) for every task, in the order they finish on the slots; `name`
        names a task in the error of a process that died with it."""
        waiting = list(enumerate(tasks))
        if waiting and not self._processes:
            self._start()
        idle = list(range(len(self.slots)))
        busy: dict[int, tuple] = {}  # slot position -> (number, task)
        while waiting or busy:
            while waiting and idle:
                index, (number, task) = idle.pop(0), waiting.pop(0)
                self._inboxes[index].put((number, pickle.dumps((fn, task))))
                busy[index] = (number, task)
            try:
                index, ok, payload = self._results.get(timeout=1.0)
            except queue.Empty:
                self._check_alive({position: name(task) for position, (_, task) in busy.items()})
                continue
            if not ok:
                raise _unpickled_error(payload)
            _, task = busy.pop(index)
            idle.append(index)
            yield task, payload

    def _check_alive(self, busy: dict[int, str]) -> None:
        for position, (slot, process) in enumerate(zip(self.slots, self._processes)):
            if process.exitcode is not None:
                holding = f" while on {busy[position]}" if position in busy else ""
                raise SlotFailed(
                    f"the worker process on {slot.label} (slot {slot.index}) exited with code "
                    f"{process.exitcode}{holding}; what finished is kept, run the same command "
                    "again to resume"
                )


def run_pinned(slot: Slot, target: Callable, args: tuple) -> None:
    """A spawned worker's entry point: pin it to `slot` (`pin_worker`), then `target(*args)`."""
    pin_worker(slot)
    target(*args)


def _serve(position: int, slot: Slot, setup: bytes, inbox, results) -> None:
    """A SlotPool worker: pin, set up, then run the tasks of its inbox until the None that ends
    them, or until its parent is gone (after the task in hand); each answer is (its position in the
    pool, ok, result or pickled exception)."""
    try:
        try:
            pin_worker(slot)
            function, args = pickle.loads(setup)
            state = function(slot, *args)
        except Exception as exc:  # reported to the parent, which stops the run with it
            results.put((position, False, _pickled_error(exc)))
            return
        parent = os.getppid()
        while True:
            try:
                item = inbox.get(timeout=5.0)
            except queue.Empty:
                if os.getppid() != parent:  # the parent was killed (SIGKILL, SIGTERM): end too
                    return
                continue
            if item is None:
                return
            number, payload = item
            try:
                fn, task = pickle.loads(payload)
                results.put((position, True, fn(state, task)))
            except Exception as exc:
                results.put((position, False, _pickled_error(exc)))
    except KeyboardInterrupt:  # Ctrl-C reaches the whole process group: the parent reports it
        return


def _pickled_error(exc: Exception) -> bytes:
    with contextlib.suppress(Exception):
        payload = pickle.dumps(exc)
        pickle.loads(payload)  # some exceptions pickle but cannot be rebuilt
        return payload
    return pickle.dumps(RuntimeError(f"{type(exc).__name__}: {exc}"))


def _unpickled_error(payload: bytes) -> Exception:
    return pickle.loads(payload)
