"""Benchmark: the default screen (successive halving) against the exhaustive one, the compression
curve and the cost (and the quick screen's wall time).

    python -m bench.screen [--quick] [--out DIR] [--home DIR] [--schedule both|sha|full]

Full: `python -m hpo.screen --repeats 1` on the default embedded data (every architecture at latent
sizes 8, 16 and 32, PCA at each size), twice, stored in studies/bench-screen/ (--home) so that an
interrupted run resumes where it stopped: the default screen by successive halving (run `default`,
which `bench.quality` starts its studies from) and the exhaustive screen, every run to 30 epochs
(`--schedule full --run full`). Writes bench/results/screen.json: the exhaustive screen's runs
beside PCA (the compression curve: every architecture at the full budget), the ranking per latent
size, the training time, and under "halving" the default screen's wall and training time and, per
latent size, whether it hands on the same top two as the exhaustive screen (and if not, how much
worse at the full budget the run it picked is than the one it missed). Also screen.csv (hpo.screen's
own table of the exhaustive screen) and screen.png (the curve for the README). `--quick` times
`hpo.screen --quick` in a temporary folder (the smoke test) and writes screen-quick.json.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

RESULTS = Path(__file__).parent / "results"
REPO = Path(__file__).resolve().parents[1]
HOME = REPO / "studies" / "bench-screen"
FULL_FLAGS = ["--repeats", "1"]  # one seed per run: 15 runs of 30 epochs are 2-3 hours on 2 cores
# The run name of each schedule's screen in --home: the default screen keeps hpo's default name.
RUNS = {"sha": "default", "full": "full"}


def _screen(flags: list[str], home: Path, quiet: bool) -> tuple[float, str]:
    """Run hpo.screen with `--home home` and its storage there; (wall seconds, stdout)."""
    # The embedded data are cached under `home` (generation is benchmarked apart).
    from hpo.data.embedded import default_dataset_path
    from hpo.workspace import Workspace

    data = str(default_dataset_path(quick="--quick" in flags, workspace=Workspace(home)))
    command = [
        sys.executable,
        "-m",
        "hpo.screen",
        *flags,
        "--data",
        data,
        "--home",
        str(home),
        "--storage",
        f"sqlite:///{home}/hpo.db",
    ]
    started = time.perf_counter()
    done = subprocess.run(command, cwd=REPO, text=True, stdout=subprocess.PIPE if quiet else None)
    if done.returncode != 0:
        raise SystemExit(f"hpo.screen failed with exit code {done.returncode}")
    return time.perf_counter() - started, done.stdout or ""


def quick(out: Path) -> None:
    from bench.machine import machine

    with tempfile.TemporaryDirectory() as folder:
        wall, stdout = _screen(["--quick"], Path(folder), quiet=True)
    ranking = next((line for line in stdout.splitlines() if line.startswith("ranking (")), "")
    record = {
        "machine": machine(),
        "quick": True,
        "command": "python -m hpo.screen --quick",
        "wall_s": round(wall, 1),
        "ranking": ranking,
    }
    print(f"{record['command']}: {wall:.1f} s; {ranking}")
    out.mkdir(parents=True, exist_ok=True)
    (out / "screen-quick.json").write_text(json.dumps(record, indent=2) + "\n")
    print(f"wrote {out / 'screen-quick.json'}")


def curve_record(home: Path, run: str = "default") -> dict:
    """What the README reads from a stored screen: every run beside PCA, per latent size the
    ranking and which architectures beat PCA, and the training time spent."""
    import optuna
    import pandas as pd

    from hpo import keys

    study = optuna.load_study(study_name=f"{run}-screen", storage=f"sqlite:///{home}/hpo.db")
    attrs = study.user_attrs
    runs = pd.read_csv(home / run / "screen.csv")
    trials = study.get_trials(deepcopy=False)
    seconds = sum(
        t.user_attrs.get(keys.SECONDS_PER_EPOCH, 0) * t.user_attrs.get(keys.EPOCHS_RUN, 0)
        for t in trials
    )
    per_latent = {}
    for latent, rows in runs.groupby("latent"):
        done = rows[rows["state"] == "complete"]
        pca = attrs[keys.PCA_BY_LATENT][keys.latent_key(latent)]
        per_latent[str(latent)] = {
            "ranking": attrs[keys.RANKING_BY_LATENT][keys.latent_key(latent)],
            "pca_val_rel_l2": pca["val"]["rel_l2"],
            "pca_test_rel_l2": pca["test"]["rel_l2"],
            "plain_pca_val_rel_l2": pca["plain"]["val"]["rel_l2"],
            "plain_pca_test_rel_l2": pca["plain"]["test"]["rel_l2"],
            "beat_pca_on_validation": sorted(
                done.loc[done["val_rel_l2"] < pca["val"]["rel_l2"], "architecture"]
            ),
            "beat_pca_on_test": sorted(
                done.loc[done["test_rel_l2"] < pca["test"]["rel_l2"], "architecture"]
            ),
        }
    columns = [
        "architecture",
        "latent",
        "repeat",
        "state",
        "n_params",
        "epochs_run",
        "val_rel_l2",
        "test_rel_l2",
        "next_step_test_rel_l2",
        "persistence_test_rel_l2",
        "pca_persistence_test_rel_l2",
    ]
    rows = json.loads(runs[columns].to_json(orient="records"))
    gains = {
        (t.params["architecture"], t.params["latent"], t.params["repeat"]): late_gain(t)
        for t in trials
    }
    for row in rows:
        row["late_gain"] = gains.get((row["architecture"], row["latent"], row["repeat"]))
    return {
        "latents": sorted(int(k) for k in per_latent),
        "settings": attrs[keys.SETTINGS],
        "augment": attrs.get(keys.AUGMENT, []),
        "per_latent": per_latent,
        "runs": rows,
        "training_s": round(seconds, 1),
        "n_runs": len(trials),
        "seconds_per_epoch": {
            f"{r.params['architecture']} z{r.params['latent']}": round(
                r.user_attrs.get(keys.SECONDS_PER_EPOCH, 0), 2
            )
            for r in trials
        },
    }


def halving_record(home: Path, sha: dict, full: dict) -> dict:
    """The default screen against the exhaustive one, per latent size: the top two each hands to
    `hpo.optimize --top 2`, and where they differ, how much worse at the full budget (in the
    exhaustive screen) the run halving picked is than the one it missed."""
    per_latent = {}
    full_val = {(r["architecture"], str(r["latent"])): r["val_rel_l2"] for r in full["runs"]}
    for latent, at in full["per_latent"].items():
        if latent not in sha["per_latent"]:
            continue
        picked, best = sha["per_latent"][latent]["ranking"][:2], at["ranking"][:2]
        missed = [name for name in best if name not in picked]
        instead = [name for name in picked if name not in best]
        per_latent[latent] = {
            "sha_top2": picked,
            "full_top2": best,
            "same_top2": not missed,
            "missed": missed,
            # > 0: the run halving picked instead is that much worse at the full budget.
            "val_rel_l2_cost": [
                round(full_val[(i, latent)] - full_val[(m, latent)], 4)
                for m, i in zip(missed, instead)
            ],
        }
    return {
        "training_s": sha["training_s"],
        "n_runs": sha["n_runs"],
        "settings": sha["settings"],
        "runs": sha["runs"],
        "per_latent": per_latent,
        "same_top2_everywhere": all(v["same_top2"] for v in per_latent.values()),
        "training_share_of_full": round(sha["training_s"] / full["training_s"], 3)
        if full["training_s"]
        else None,
    }


def late_gain(trial) -> float | None:
    """How much the validation rel_l2 still fell in the last quarter of the epoch budget, relative
    to the run's best: about 0 when the recipe reached its plateau within the budget."""
    values = [trial.intermediate_values[k] for k in sorted(trial.intermediate_values)]
    if len(values) < 4:
        return None
    cut = (3 * len(values)) // 4
    best = min(values)
    return round((min(values[:cut]) - best) / best, 4)


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    # --quick-only: this benchmark's flag before every benchmark took --quick
    parser.add_argument(
        "--quick",
        "--quick-only",
        action="store_true",
        help="time only the quick screen (the smoke test)",
    )
    parser.add_argument("--out", type=Path, default=RESULTS, help="folder of the JSON")
    parser.add_argument(
        "--home",
        type=Path,
        default=HOME,
        help="where the default screen is stored and resumed (its --home)",
    )
    parser.add_argument(
        "--schedule",
        choices=("both", *RUNS),
        default="both",
        help="which screens to run or resume (both: the default and the exhaustive one)",
    )
    parser.add_argument(
        "--latent",
        default=None,
        metavar="N[,N...]",
        help="the latent sizes (default: hpo.screen's); a subset of a stored screen "
        "reports those sizes without training the others",
    )
    args = parser.parse_args(argv)
    if args.quick:
        quick(args.out)
        return
    from bench.machine import machine

    home = args.home.resolve()
    home.mkdir(parents=True, exist_ok=True)
    flags = FULL_FLAGS + ([] if args.latent is None else ["--latent", args.latent])
    schedules = list(RUNS) if args.schedule == "both" else [args.schedule]
    walls = {}
    for schedule in schedules:  # each resumes: only missing runs train
        run_flags = [*flags, "--schedule", schedule, "--run", RUNS[schedule]]
        walls[schedule], _ = _screen(run_flags, home, quiet=False)
    stored = args.out / "screen.json"
    previous = json.loads(stored.read_text()) if stored.exists() else {}
    full = curve_record(home, RUNS["full"])
    sha = curve_record(home, RUNS["sha"])
    halving = halving_record(home, sha, full)
    halving["command"] = "python -m hpo.screen " + " ".join(flags)
    # A resumed call's wall time covers only what it trained: keep the first complete measurement.
    halving["wall_s"] = (
        round(walls["sha"], 1) if "sha" in walls else previous.get("halving", {}).get("wall_s")
    )
    record = {
        "machine": machine(),
        "quick": False,
        "command": "python -m hpo.screen --schedule full " + " ".join(flags),
        "wall_s_this_call": round(walls.get("full", 0.0), 1),
        **full,
        "halving": halving,
    }
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "screen.json").write_text(json.dumps(record, indent=1) + "\n")
    shutil.copy(home / RUNS["full"] / "screen.csv", args.out / "screen.csv")
    write_png(home, args.out / "screen.png")
    print(
        f"wrote {args.out / 'screen.json'}, screen.csv and screen.png ({record['n_runs']} runs, "
        f"{record['training_s'] / 3600:.2f} h of training)"
    )


def write_png(home: Path, png: Path) -> None:
    """The compression curve (screen.png) and the learning curves at the smallest latent size
    (screen-learning.png), for the README."""
    import optuna
    import pandas as pd

    from bench.snapshot import save_png
    from hpo.reports.figures import compression_curve_figure, learning_curves_figure

    figure = compression_curve_figure(pd.read_csv(home / RUNS["full"] / "screen.csv"), "rel_l2")
    figure.update_layout(
        title="Compression curve, default data: rel_l2 against latent size "
        "(PCA of the same size dashed, fitted on the augmented training set)"
    )
    print(f"wrote {png}" if save_png(figure, png, height=560) else f"no {png}: chromium is missing")
    study = optuna.load_study(
        study_name=f"{RUNS['full']}-screen", storage=f"sqlite:///{home}/hpo.db"
    )
    trials = study.get_trials(deepcopy=False)
    smallest = min(t.params["latent"] for t in trials)
    figure = learning_curves_figure(
        [t for t in trials if t.params["latent"] == smallest], "rel_l2", [smallest]
    )
    figure.update_layout(
        title=f"Learning curves at latent {smallest}, default recipe: validation "
        "rel_l2 (solid) and training rel_l2 (dotted) per epoch"
    )
    learning = png.with_name(png.stem + "-learning.png")
    print(f"wrote {learning}" if save_png(figure, learning, height=520) else "no learning curves")


if __name__ == "__main__":
    main()
