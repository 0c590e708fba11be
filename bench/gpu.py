"""Benchmark on a lent GPU, with JAX: what the pipeline costs and gives there.

    python -m bench.gpu [--dry-run] [--out DIR] [--home DIR] [--budget S] [--parts LIST]
                        [--trials-per-device N]

bench/gpu.sh is the wrapper a GPU machine runs (wheels for what it lacks, KERAS_BACKEND=jax, no
preallocation). Five parts, in order, each time-boxed within --budget (seconds for everything):

    data       `python -m hpo.data generate`: the default embedded dataset, timed
    speed      the default screen's five architectures at latent 8, trained alone one after the
               other: seconds per epoch (the first, with compilation, apart), beside the 2-core CPU
               figures of bench/results/screen.json
    curves     the exhaustive screen (`hpo.screen --repeats 1 --latent 8,16,32 --schedule full
               --devices auto --trials-per-device N`: hpo's own placement, N runs at once on the
               GPU), the validation rel_l2 of every epoch; beside it, the top two at latents 8 and
               16 again at 120 epochs (run `curves120`), to show what more epochs give
    workers    trials per hour of `hpo.optimize --workers N` (N = 1, 2, 4, 8) sharing the GPU: the
               screen's best at latent 8, short trials without pruning, a short --timeout
    optimize   if time remains: `hpo.optimize --top 2 --latent 8,16` at a GPU budget (100 epochs a
               trial, as many trials as fit), its best models' test error beside PCA of their size

Every command runs in its own process group, killed when its time is up. A part that fails records
its error and the next goes on; the JSON (gpu.json, gpu-dry.json for --dry-run) is written again
after every part and every batch of runs, so a timeout loses only what was running. Each command's
output goes to the log (gpu.log), its last lines when it is long. `--dry-run`: the same code path on
the quick data at 1-3 epochs and short timeouts, to prove it on a CPU.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import shutil
import signal
import statistics
import subprocess
import sys
import time
import traceback
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
CPU_SCREEN = REPO / "bench" / "results" / "screen.json"  # seconds_per_epoch on 2 cores (TF)
PARTS = ("data", "speed", "curves", "workers", "optimize")
LATENTS = (8, 16, 32)  # the exhaustive screen's
LONG_LATENTS = (8, 16)  # where the 120-epoch runs go on
WORKERS = (1, 2, 4, 8)
LOG_TAIL = 200_000  # characters of a command's output kept in the log
# Seconds each part is guaranteed when the parts before it run long (on the H200 as planned: the
# 19 screen runs at once and the ranking ~150 s; four worker counts of ~40 s). The data come first
# whatever they take (nothing runs without them); the optimize part only runs on what is left.
NEEDS = {"data": 0, "speed": 75, "curves": 150, "workers": 170, "optimize": 0}
DATA_TIMEOUT = 300


class Budget:
    """Seconds left of --budget, and the commands run within it."""

    def __init__(self, seconds: float, log: Path, scratch: Path):
        self.end = time.monotonic() + seconds
        self.log, self.scratch = log, scratch
        self.running: dict[subprocess.Popen, tuple] = {}  # process -> what start() returned

    def stop_all(self) -> None:
        """Kill every command still running (this process was told to stop), logging its output."""
        for started in list(self.running.values()):
            self.finish(started, 0)

    def left(self) -> float:
        return self.end - time.monotonic()

    def start(self, command: list[str], name: str, env: dict | None = None):
        """Start `command` in its own process group, its output in a scratch file."""
        output = self.scratch / f"{name}.out"
        with open(output, "w") as handle:
            process = subprocess.Popen(
                command,
                cwd=REPO,
                env={**os.environ, **(env or {})},
                stdout=handle,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # one group: its workers die with it
            )
        started = self.running[process] = (process, output, time.monotonic())
        return started

    def finish(self, started, timeout: float) -> dict:
        """Wait for a started command up to `timeout` s (then kill its group); its record."""
        process, output, began = started
        timed_out = False
        try:
            process.wait(timeout=max(1.0, timeout))
        except subprocess.TimeoutExpired:
            timed_out = True
            _kill(process)
        self.running.pop(process, None)
        text = output.read_text(errors="replace")
        with open(self.log, "a") as log:
            log.write(f"\n$ {' '.join(process.args)}\n")
            log.write(text[-LOG_TAIL:])
            log.write(f"[exit {process.returncode}{', timed out' if timed_out else ''}]\n")
        return {
            "command": " ".join(map(str, process.args[2:])),  # without the interpreter
            "rc": process.returncode,
            "timed_out": timed_out,
            "wall_s": round(time.monotonic() - began, 2),
            "tail": text.strip().splitlines()[-3:],
        }

    def run(self, command: list[str], name: str, timeout: float, env: dict | None = None) -> dict:
        return self.finish(self.start(command, name, env), min(timeout, self.left()))

    def run_all(self, commands: dict[str, list[str]], timeout: float, parallel: int) -> dict:
        """Run the commands `parallel` at a time, all within `timeout` s; name -> record."""
        end = time.monotonic() + min(timeout, self.left())
        waiting, running, done = list(commands.items()), {}, {}
        while waiting or running:
            while waiting and len(running) < parallel:
                name, command = waiting.pop(0)
                running[name] = self.start(command, name)
            time.sleep(0.5)
            for name in [n for n, s in running.items() if s[0].poll() is not None]:
                done[name] = self.finish(running.pop(name), 1)
            if time.monotonic() > end:
                for name, started in running.items():
                    done[name] = self.finish(started, 0)
                running = {}
                done.update({name: {"skipped": "no time left"} for name, _ in waiting})
                waiting = []
        return done


def _kill(process: subprocess.Popen) -> None:
    for sig in (signal.SIGTERM, signal.SIGKILL):  # SIGTERM first: hpo stops cleanly on it
        try:
            os.killpg(process.pid, sig)
            process.wait(timeout=10)
            return
        except ProcessLookupError:
            return
        except subprocess.TimeoutExpired:
            continue


def hpo(*args) -> list[str]:
    return [sys.executable, "-m", *map(str, args)]


class Bench:
    """The parts, their settings (full or --dry-run), and the record written after each step."""

    def __init__(self, args):
        self.args, self.dry = args, args.dry_run
        self.home = args.home.resolve()
        self.out = args.out.resolve()
        self.out.mkdir(parents=True, exist_ok=True)
        scratch = self.home / "bench-gpu"
        scratch.mkdir(parents=True, exist_ok=True)
        stem = "gpu-dry" if self.dry else "gpu"
        self.json_path, log = self.out / f"{stem}.json", self.out / f"{stem}.log"
        log.write_text("")
        self.budget = Budget(args.budget, log, scratch)
        self.storage = f"sqlite:///{self.home / 'hpo.db'}"
        self.quick = ["--quick"] if self.dry else []
        self.epochs = 2 if self.dry else 30
        self.long_epochs = 3 if self.dry else 120
        self.latents = LONG_LATENTS if self.dry else LATENTS
        self.reserve = 0.0  # seconds kept for the parts after the running one
        self.record: dict = {
            "dry_run": self.dry,
            "budget_s": args.budget,
            "environment": {
                k: os.environ.get(k) for k in ("KERAS_BACKEND", "XLA_PYTHON_CLIENT_PREALLOCATE")
            },
            "parts": {},
        }
        self.write()

    def write(self) -> None:
        partial = self.json_path.with_suffix(".tmp")
        partial.write_text(json.dumps(self.record, indent=2, default=str) + "\n")
        partial.replace(self.json_path)

    def part(self, name: str, method) -> None:
        """Run one part, leaving the later parts what they need (NEEDS)."""
        if name not in self.args.parts:
            return
        later = PARTS[PARTS.index(name) + 1 :]
        self.reserve = sum(NEEDS[p] for p in later if p in self.args.parts)
        left = self.budget.left() - self.reserve
        if name == "data":
            left = min(self.budget.left(), DATA_TIMEOUT)
        if left < 20:
            self.record["parts"][name] = {"skipped": f"no time left ({self.budget.left():.0f} s)"}
            self.write()
            return
        started = time.monotonic()
        entry = self.record["parts"][name] = {"running": True}
        try:
            entry.update(method(left, entry))
            entry["ok"] = True
        except Exception as exc:
            entry.update({"ok": False, "error": f"{type(exc).__name__}: {exc}"})
            entry["traceback"] = traceback.format_exc().splitlines()[-8:]
        entry.pop("running", None)
        entry["seconds"] = round(time.monotonic() - started, 1)
        print(f"bench.gpu: {name} {'ok' if entry['ok'] else 'FAILED'} in {entry['seconds']} s")
        self.write()

    # --- the parts ----------------------------------------------------------------------------

    def data(self, left: float, entry: dict) -> dict:
        from hpo.data.embedded import DEFAULT_SPEC, QUICK_SPEC, cached_path
        from hpo.workspace import Workspace

        path = cached_path(QUICK_SPEC if self.dry else DEFAULT_SPEC, Workspace(self.home))
        if path.exists():  # generated by an earlier call: a new file would not match its screens
            return {"cached": str(path), "note": "generated earlier; not timed again"}
        done = self.budget.run(
            hpo("hpo.data", "generate", "--home", self.home, *self.quick), "data", left
        )
        if done["rc"] != 0:
            raise RuntimeError(f"hpo.data generate failed: {done['tail']}")
        return {**done, "path": str(path), "mib": round(path.stat().st_size / 2**20)}

    def speed(self, left: float, entry: dict) -> dict:
        result = self.budget.scratch / "speed.json"
        command = hpo(
            "bench.gpu",
            "--task",
            "speed",
            "--home",
            self.home,
            "--result",
            result,
            "--epochs",
            2 if self.dry else 3,
            *(["--dry-run"] if self.dry else []),
        )
        entry["latent"] = 8
        try:
            entry["command"] = self.budget.run(command, "speed", left)
        finally:  # the architectures timed so far, even when this process is stopped
            timed = json.loads(result.read_text()) if result.exists() else {}
            rows = entry["architectures"] = timed
        cpu = json.loads(CPU_SCREEN.read_text()).get("seconds_per_epoch", {})
        for name, row in rows.items():
            cpu_s = cpu.get(f"{name} z8")
            row["cpu_2_cores_s_per_epoch"] = cpu_s
            if cpu_s and row.get("steady_s_per_epoch") and not self.dry:  # the same data
                row["speedup"] = round(cpu_s / row["steady_s_per_epoch"], 1)
        if not rows:
            raise RuntimeError(f"no architecture was timed: {entry['command']['tail']}")
        return {}

    def curves(self, left: float, entry: dict) -> dict:
        full = self._schedule_flags()
        entry["schedule_flag"] = full or "none: hpo.screen --help lists no --schedule"
        # hpo's own placement: one screen, its runs trained --trials-per-device at a time on the
        # GPU (the first try, 19 processes at once, finished no epoch; bench/results/gpu.json).
        placement = ["--devices", "auto", "--trials-per-device", self.args.trials_per_device]
        entry["placement"] = " ".join(map(str, placement))
        base = ["--home", self.home, "--storage", self.storage, "--repeats", 1, *full, *self.quick]
        latents = ",".join(map(str, self.latents))
        screen = hpo(
            "hpo.screen", *base, *placement, "--run", "curves", "--epochs", self.epochs,
            "--latent", latents,
        )  # fmt: skip
        # The 120-epoch runs go alongside: the top two at latents 8 and 16 of the exhaustive CPU
        # screen (bench/results/screen.json), every one of them at both sizes.
        cpu = json.loads(CPU_SCREEN.read_text())["per_latent"]
        top = {z: cpu[str(z)]["ranking"][:2] for z in LONG_LATENTS}
        names = ",".join(dict.fromkeys(name for pair in top.values() for name in pair))
        long_screen = hpo(
            "hpo.screen", *base, *placement, "--run", "curves120", "--epochs", self.long_epochs,
            "--latent", ",".join(map(str, LONG_LATENTS)), "--architectures", names,
        )  # fmt: skip
        rank_s = 20 if self.dry else 90
        done = self.budget.run_all(
            {"screen": screen, "screen120": long_screen}, left - rank_s, parallel=2
        )
        entry["screen"] = done["screen"]
        if done["screen"].get("rc") != 0:  # cut off: rank what is stored in the time left
            entry["rank"] = self.budget.run(
                screen, "rank-curves", max(rank_s, self.budget.left() - self.reserve)
            )
        entry.update(read_screen(self.home, "curves", self.budget.scratch / "screen.out"))
        entry["long"] = {
            "epochs": self.long_epochs,
            "top_two_from": "bench/results/screen.json (the exhaustive CPU screen's ranking)",
            "top_two": top,
            "command": done["screen120"],
            **read_screen(self.home, "curves120", self.budget.scratch / "screen120.out"),
        }
        return {}

    def workers(self, left: float, entry: dict) -> dict:
        counts = (1, 2) if self.dry else WORKERS
        trial_epochs = 1 if self.dry else 10
        # --timeout (no trial starts after it, counted from the command's start), as long as the
        # part's time allows: each count also spends ~25 s starting and finishing its trials.
        window = 10 if self.dry else int(min(60, max(15, left / len(counts) - 25)))
        entry.update({"epochs_per_trial": trial_epochs, "timeout_s": window, "pruner": "none"})
        results = entry["by_workers"] = {}
        for n in counts:
            if self.budget.left() < window + 20:
                results[str(n)] = {"skipped": "no time left"}
                continue
            copy = self.home / f"workers-{n}.db"
            shutil.copy(self.home / "hpo.db", copy)
            command = hpo(
                "hpo.optimize",
                "--run",
                "curves",
                "--home",
                self.home,
                "--storage",
                f"sqlite:///{copy}",
                "--top",
                1,
                "--latent",
                8,
                "--devices",
                "auto",
                "--trials-per-device",
                n,
                "--timeout",
                window,
                "--trials",
                100_000,
                "--epochs",
                trial_epochs,
                "--pruner",
                "none",
            )
            since = datetime.datetime.now()  # Optuna's clock: trials copied with the file are older
            done = self.budget.run(command, f"workers-{n}", window + 150)
            results[str(n)] = {"command": done, **throughput(copy, since)}
            self.write()
        return {}

    def optimize(self, left: float, entry: dict) -> dict:
        if left < (60 if self.dry else 150):
            return {"skipped": f"no time left ({left:.0f} s)"}
        n_studies = 2 * len(LONG_LATENTS)  # --top 2 at each size, one after the other
        # Each study also starts, finishes its running trials after --timeout, and is evaluated.
        tail = 40 if self.dry else 90
        per_study = max(10, int((left - tail) / n_studies * 0.6))
        result = self.budget.scratch / "optimize.json"
        argv = [
            "--run",
            "curves",
            "--home",
            self.home,
            "--storage",
            self.storage,
            "--top",
            2,
            "--latent",
            ",".join(map(str, LONG_LATENTS)),
            "--epochs",
            2 if self.dry else 100,
            "--timeout",
            per_study,
            "--trials",
            100_000,
            "--devices",
            "auto",
            "--trials-per-device",
            1 if self.dry else 4,
        ]
        command = hpo("bench.gpu", "--task", "optimize", "--result", result, "--", *argv)
        entry["command"] = self.budget.run(command, "optimize", left)
        if not result.exists():
            raise RuntimeError(f"no summary: {entry['command']['tail']}")
        return {"timeout_per_study_s": per_study, "summary": json.loads(result.read_text())}

    def _schedule_flags(self) -> list[str]:
        """`--schedule full` where hpo.screen has successive halving (it trains every run fully)."""
        done = subprocess.run(hpo("hpo.screen", "--help"), cwd=REPO, capture_output=True, text=True)
        return ["--schedule", "full"] if "--schedule" in done.stdout else []


def read_screen(home: Path, run: str, output: Path) -> dict:
    """A stored screen's runs with their validation curves (val rel_l2 per epoch), its ranking and
    PCA per latent size; runs that did not finish, with the curve their output shows."""
    import optuna

    from hpo import keys
    from hpo.screen.record import ScreenRecord, latent_of
    from hpo.storage import open_storage

    runs, rankings, pca = [], {}, {}
    try:
        study = optuna.load_study(
            study_name=f"{run}-screen", storage=open_storage(f"sqlite:///{home / 'hpo.db'}")
        )
    except KeyError:
        study = None
    if study is not None:
        record = ScreenRecord.from_study(study)
        for trial in study.get_trials(deepcopy=False):
            attrs, values = trial.user_attrs, trial.intermediate_values
            runs.append(
                {
                    "architecture": trial.params.get(keys.ARCHITECTURE),
                    "latent": latent_of(trial),
                    "state": trial.state.name,
                    "n_params": attrs.get(keys.N_PARAMS),
                    "epochs_run": attrs.get(keys.EPOCHS_RUN),
                    "s_per_epoch": attrs.get(keys.SECONDS_PER_EPOCH),
                    "val_rel_l2": (attrs.get(keys.VAL) or {}).get("rel_l2"),
                    "test_rel_l2": (attrs.get(keys.TEST) or {}).get("rel_l2"),
                    "val_rel_l2_curve": [values[e] for e in sorted(values)],
                }
            )
        pca = {
            str(z): {"val_rel_l2": p["val"]["rel_l2"], "test_rel_l2": p["test"]["rel_l2"]}
            for z, p in record.pca.items()
        }
        rankings = {str(z): list(names) for z, names in record.rankings.items()}
    stored = {f"{r['architecture']} z{r['latent']}" for r in runs}
    text = output.read_text(errors="replace") if output.exists() else ""
    unfinished = {run: c for run, c in logged_curves(text).items() if run not in stored}
    return {"stored_runs": runs, "unfinished_runs": unfinished, "rankings": rankings, "pca": pca}


def logged_curves(text: str) -> dict[str, list[float]]:
    """Each run's val rel_l2 per epoch from hpo's progress lines ("conv z8 #0  epoch 3/30  loss
    0.41  val_rel_l2 0.52  1.2 s"), by "architecture zN"."""
    curves: dict[str, list[float]] = {}
    for line in text.splitlines():
        words = line.split()
        if "epoch" in words and "val_rel_l2" in words and words.index("epoch") >= 2:
            run = " ".join(words[:2])
            curves.setdefault(run, []).append(float(words[words.index("val_rel_l2") + 1]))
    return curves


def throughput(path: Path, since: datetime.datetime) -> dict:
    """Trials started after `since` and finished, per hour, in a copy of the storage: from the
    first one's start to the last one's end (process start-up left out)."""
    import optuna

    from hpo.storage import open_storage

    url = f"sqlite:///{path}"
    summaries = optuna.get_all_study_summaries(open_storage(url))
    studies = [s.study_name for s in summaries if not s.study_name.endswith("-screen")]
    trials = [
        t
        for name in studies
        for t in optuna.load_study(study_name=name, storage=open_storage(url)).get_trials()
        if t.state in (optuna.trial.TrialState.COMPLETE, optuna.trial.TrialState.PRUNED)
        and t.datetime_start >= since
    ]
    if not trials:
        return {"finished": 0}
    start = min(t.datetime_start for t in trials)
    end = max(t.datetime_complete for t in trials)
    span = (end - start).total_seconds()
    per_trial = [(t.datetime_complete - t.datetime_start).total_seconds() for t in trials]
    return {
        "studies": studies,
        "finished": len(trials),
        "span_s": round(span, 1),
        "trials_per_hour": round(len(trials) / span * 3600, 1) if span > 0 else None,
        "median_trial_s": round(statistics.median(per_trial), 1),
    }


# --- tasks run in their own process ------------------------------------------------------------


def speed_task(home: Path, epochs: int, quick: bool, result: Path) -> None:
    """Train each architecture as the default screen does at latent 8, alone, for `epochs`;
    write the epoch times after each."""
    from hpo.backend import import_keras_quietly

    import_keras_quietly()
    from hpo import architectures, augment, keys, training
    from hpo.architectures.presets import preset_params
    from hpo.data import load
    from hpo.data.embedded import default_dataset_path
    from hpo.screen.config import ScreenConfig
    from hpo.workspace import Workspace

    data = load(default_dataset_path(quick=quick, workspace=Workspace(home)))
    config = ScreenConfig()  # the screen's defaults: budget, batch size, rate, seed
    symmetries = augment.resolve(None, data)
    train = training.TrainConfig(
        epochs=epochs,
        batch_size=config.batch_size,
        learning_rate=config.learning_rate,
        loss=config.loss,
        seed=config.seed,
        monitor=keys.monitor_key(config.metric),
    )
    rows = {}
    for name in architectures.names():
        params = {
            **preset_params(name, "matched", data.input_shape, config.n_params, 8),
            "learning_rate": config.learning_rate,
            "batch_size": config.batch_size,
            **augment.as_params(symmetries),
        }
        fitted = training.fit(name, params, data, train, progress=print)
        seconds = list(fitted.epoch_seconds)
        rows[name] = {
            "n_params": fitted.n_params,
            "epoch_seconds": [round(s, 3) for s in seconds],
            "first_epoch_s": round(seconds[0], 2),  # compilation included
            "steady_s_per_epoch": round(statistics.median(seconds[1:]), 3) if seconds[1:] else None,
            "augment": list(fitted.augment),
        }
        result.write_text(json.dumps(rows, indent=2))


def optimize_task(argv: list[str], result: Path) -> None:
    """`hpo.optimize` with these flags, its summary (best models on test beside PCA) as JSON."""
    from hpo.backend import import_keras_quietly, quiet_optuna
    from hpo.cli import storage_from_args
    from hpo.optimize.__main__ import build_parser, config_from_args
    from hpo.optimize.config import validate
    from hpo.optimize.optimization import optimize

    args = build_parser().parse_args(argv)
    config = config_from_args(args)
    validate(config)
    storage = storage_from_args(args, config.workspace)
    import_keras_quietly()
    quiet_optuna()
    outcome = optimize(config, storage)
    result.write_text(outcome.summary.to_json(orient="records", indent=2))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--dry-run", action="store_true", help="quick data, 1-3 epochs")
    parser.add_argument("--out", type=Path, default=Path(os.environ.get("OUT", ".")))
    parser.add_argument("--home", type=Path, default=Path("/tmp/hpo-gpu"), help="hpo's folder")
    parser.add_argument("--budget", type=float, default=440, help="seconds for all the parts")
    parser.add_argument("--parts", default=",".join(PARTS), help=f"some of {','.join(PARTS)}")
    parser.add_argument(
        "--trials-per-device", type=int, default=4, help="screen runs at once on the GPU"
    )
    parser.add_argument("--task", choices=("speed", "optimize"), help=argparse.SUPPRESS)
    parser.add_argument("--result", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--epochs", type=int, default=3, help=argparse.SUPPRESS)
    parser.add_argument("rest", nargs="*", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.task == "speed":
        speed_task(args.home.resolve(), args.epochs, args.dry_run, args.result)
        return 0
    if args.task == "optimize":
        optimize_task(args.rest, args.result)
        return 0
    args.parts = [p.strip() for p in args.parts.split(",") if p.strip()]
    unknown = set(args.parts) - set(PARTS)
    if unknown:
        parser.error(f"--parts: unknown {', '.join(sorted(unknown))}; choose from {PARTS}")
    bench = Bench(args)
    from bench.machine import machine

    bench.record["machine"] = machine()
    bench.record["machine"]["gpu"] = _nvidia_smi()
    bench.record["machine"]["versions"] = _versions("keras", "jax", "jaxlib", "optuna")

    def stop(signum, frame):  # the machine's time is up: what ran is written, nothing is left over
        raise SystemExit(128 + signum)

    signal.signal(signal.SIGTERM, stop)
    try:
        for name in PARTS:
            bench.part(name, getattr(bench, name))
    finally:
        bench.budget.stop_all()
        bench.record["total_s"] = round(args.budget - bench.budget.left(), 1)
        bench.write()
    print(f"bench.gpu: wrote {bench.json_path}")
    return 0


def _versions(*packages: str) -> dict[str, str | None]:
    """Installed versions, read without importing (importing JAX here would take the GPU)."""
    from importlib import metadata

    found = {}
    for package in packages:
        try:
            found[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            found[package] = None
    return found


def _nvidia_smi() -> str | None:
    try:
        done = subprocess.run(
            ["nvidia-smi", "--query-gpu=name,memory.total,driver_version", "--format=csv,noheader"],
            capture_output=True,
            text=True,
            timeout=20,
        )
        return done.stdout.strip() or None
    except (OSError, subprocess.SubprocessError):
        return None


if __name__ == "__main__":
    sys.exit(main())
