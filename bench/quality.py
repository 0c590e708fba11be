"""Benchmark: the best autoencoder against PCA at latent sizes 8 and 16 (target: test rel_l2 <= 0.7x
    PCA's).

    python -m bench.quality [--quick] [--screen-storage URL] [--epochs N] [--epoch-budget N]
                            [--trials N] [--workdir DIR] [--out DIR]

What a user runs after the default screen: `hpo.optimize --top 2 --latent 8,16`, one study per
(architecture, latent size), each searching the declared space narrowed by bench/quality_space.toml
(three levels, 3x3 kernels: the declared space's one-level encoders cost minutes per epoch here, one
trial would take the hour) with the latent size fixed, with median pruning. The screen is
`bench.screen`'s (run "default" of studies/bench-screen/hpo.db, the default data; it is copied here,
so the studies resume without touching it). `--quick` screens two architectures of the quick data
for two epochs first (a smoke test).

For each latent size, the best model is the study's best with the lowest validation rel_l2; its
test rel_l2 is set against PCA with as many components, fitted here (independently of hpo.optimize)
on the same training split augmented alike (the screen's symmetries), and against plain PCA beside
it. Budget (default data, 2 cores): at most --epochs 20 per trial and --epoch-budget 60 epochs per
study, about an hour for the four studies. Prints a table; writes
bench/results/quality[-quick].json, .html and (full run) .png.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import time
from pathlib import Path

RESULTS = Path(__file__).parent / "results"
REPO = Path(__file__).resolve().parents[1]
LATENTS = (8, 16)
TARGET_RATIO = 0.7  # the issue's: the best autoencoder at <= 0.7x PCA's test rel_l2
FULL = {"epochs": 20, "epoch_budget": 60, "trials": 10}
QUICK = {"epochs": 2, "epoch_budget": 2, "trials": 1}  # each study: the screen's run, again
QUICK_ARCHITECTURES = "conv,dual"  # the quick screen's: two, so that --top 2 has its two
SCREEN_STORAGE = REPO / "studies" / "bench-screen" / "hpo.db"  # bench.screen's
SPACE = Path(__file__).parent / "quality_space.toml"  # the space narrowed to fit the hour


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="quick data, a quick screen made here")
    parser.add_argument(
        "--screen-storage",
        type=Path,
        default=SCREEN_STORAGE,
        help="SQLite file holding the default screen (bench.screen's)",
    )
    parser.add_argument("--epochs", type=int, default=None, help="max epochs per trial (20)")
    parser.add_argument("--epoch-budget", type=int, default=None, help="epochs per study (60)")
    parser.add_argument("--trials", type=int, default=None, help="at most this many per study (10)")
    parser.add_argument("--workdir", type=Path, default=None, help="where the studies are kept")
    parser.add_argument("--out", type=Path, default=RESULTS, help="folder of the JSON")
    return parser.parse_args(argv)


def _hpo(module: str, args: list[str], workdir: Path) -> None:
    """Run `python -m <module>` with its progress shown; the work folder is its --home."""
    command = [sys.executable, "-m", module, *args, "--home", str(workdir)]
    print("$ " + " ".join(command[1:]), flush=True)
    done = subprocess.run(command, cwd=REPO)
    if done.returncode != 0:
        raise SystemExit(f"{module} failed with exit code {done.returncode}")


def _data_path(quick: bool, workdir: Path) -> Path:
    """The embedded data cached in the work folder (generated there on first use)."""
    from hpo.data.embedded import default_dataset_path
    from hpo.workspace import Workspace

    return default_dataset_path(quick=quick, workspace=Workspace(workdir))


def prepare_screen(args, workdir: Path, storage: str, data: Path) -> None:
    """The screen the studies start from: bench.screen's copied here, or (quick) a tiny one."""
    db = workdir / "hpo.db"
    if db.exists():
        return
    if args.quick:
        _hpo(
            "hpo.screen",
            [
                "--quick",
                "--latent",
                ",".join(map(str, LATENTS)),
                "--epochs",
                "2",
                "--architectures",
                QUICK_ARCHITECTURES,
                "--data",
                str(data),
                "--storage",
                storage,
            ],
            workdir,
        )
        return
    if not args.screen_storage.exists():
        raise SystemExit(
            f"no default screen at {args.screen_storage}: run `python -m bench.screen` "
            "first (its storage is this benchmark's starting point)"
        )
    shutil.copy(args.screen_storage, db)


def collect(storage: str, data, budget: dict) -> dict:
    """Per latent size: each study's best model on validation and test, the best of them, PCA."""
    import optuna

    from hpo import keys
    from hpo.baseline import fit_pca

    screen = optuna.load_study(study_name="default-screen", storage=storage)
    symmetries = tuple(screen.user_attrs.get(keys.AUGMENT) or ())
    rows, by_latent = [], {}
    for latent in LATENTS:
        fair = fit_pca(data, latent, augment=symmetries)
        plain = fit_pca(data, latent) if symmetries else fair
        pca = {
            "test": fair.evaluate(data.test, data)["rel_l2"],
            "plain_test": plain.evaluate(data.test, data)["rel_l2"],
        }
        ranking = screen.user_attrs[keys.RANKING_BY_LATENT][keys.latent_key(latent)][:2]
        screened = {
            row["architecture"]: row
            for row in screen.user_attrs[keys.LEADERBOARD_BY_LATENT][keys.latent_key(latent)]
        }
        mine = []
        for architecture in ranking:
            study = optuna.load_study(
                study_name=f"default-{architecture}-z{latent}", storage=storage
            )
            attrs = study.user_attrs
            if "best_test" not in attrs:
                continue
            best = next(
                t
                for t in study.get_trials(deepcopy=False)
                if t.number == attrs[keys.BEST_MODEL_TRIAL]
            )
            trials = study.get_trials(deepcopy=False)
            mine.append(
                {
                    "latent": latent,
                    "architecture": architecture,
                    "study": study.study_name,
                    "trials": len(trials),
                    "pruned": sum(t.state == optuna.trial.TrialState.PRUNED for t in trials),
                    "epochs_spent": sum(len(t.intermediate_values) for t in trials),
                    "best_trial": best.number,
                    "best_params": best.params,
                    "val_rel_l2": attrs[keys.BEST_VAL]["rel_l2"],
                    "test_rel_l2": attrs[keys.BEST_TEST]["rel_l2"],
                    "val_curve": [
                        best.intermediate_values[k] for k in sorted(best.intermediate_values)
                    ],
                    "screen_val_rel_l2": screened.get(architecture, {}).get("val_mean"),
                    "screen_test_rel_l2": screened.get(architecture, {}).get("test_mean"),
                    "pca_test_rel_l2": pca["test"],
                    "plain_pca_test_rel_l2": pca["plain_test"],
                    "ratio_to_pca": attrs[keys.BEST_TEST]["rel_l2"] / pca["test"],
                }
            )
        rows += mine
        if mine:
            best = min(mine, key=lambda row: row["val_rel_l2"])
            by_latent[keys.latent_key(latent)] = {
                "architecture": best["architecture"],
                "test_rel_l2": best["test_rel_l2"],
                "pca_test_rel_l2": pca["test"],
                "plain_pca_test_rel_l2": pca["plain_test"],
                "ratio_to_pca": best["ratio_to_pca"],
                "ratio_to_plain_pca": best["test_rel_l2"] / pca["plain_test"],
                "meets_target": best["ratio_to_pca"] <= TARGET_RATIO,
            }
    return {
        "latents": list(LATENTS),
        "augment": list(symmetries),
        "budget": budget,
        "target_ratio": TARGET_RATIO,
        "rows": rows,
        "by_latent": by_latent,
    }


def format_table(record: dict) -> str:
    lines = [
        f"{'latent':>6}  {'architecture':<13}{'trials':>7}{'pruned':>7}{'epochs':>7}"
        f"{'val':>8}{'test':>8}{'screen test':>12}{'PCA':>8}{'plain PCA':>10}{'x PCA':>7}"
    ]
    for r in record["rows"]:
        screen_test = r["screen_test_rel_l2"]
        lines.append(
            f"{r['latent']:>6}  {r['architecture']:<13}{r['trials']:>7}{r['pruned']:>7}"
            f"{r['epochs_spent']:>7}{r['val_rel_l2']:>8.4f}{r['test_rel_l2']:>8.4f}"
            f"{'-' if screen_test is None else f'{screen_test:.4f}':>12}"
            f"{r['pca_test_rel_l2']:>8.4f}{r['plain_pca_test_rel_l2']:>10.4f}"
            f"{r['ratio_to_pca']:>7.2f}"
        )
    for latent, best in record["by_latent"].items():
        lines.append(
            f"latent {latent}: best ({best['architecture']}, chosen on validation) test "
            f"rel_l2 {best['test_rel_l2']:.4f} = {best['ratio_to_pca']:.2f}x PCA "
            f"(target <= {TARGET_RATIO}x: {'met' if best['meets_target'] else 'not met'}); "
            f"{best['ratio_to_plain_pca']:.2f}x plain PCA"
        )
    return "\n".join(lines)


def write_chart(record: dict, path: Path, png: Path | None) -> None:
    import plotly.graph_objects as go
    from plotly.subplots import make_subplots

    fig = make_subplots(
        rows=1,
        cols=2,
        subplot_titles=[
            "test rel_l2 of each study's best model, PCA of the same size",
            "validation rel_l2 per epoch of each study's best trial",
        ],
    )
    for r in record["rows"]:
        label = f"{r['architecture']} z{r['latent']}"
        fig.add_trace(go.Bar(x=[label], y=[r["test_rel_l2"]], name=label, showlegend=False), 1, 1)
        fig.add_trace(
            go.Scatter(
                y=r["val_curve"],
                x=list(range(1, len(r["val_curve"]) + 1)),
                mode="lines+markers",
                name=label,
            ),
            1,
            2,
        )
    for key, name, dash in (
        ("pca_test_rel_l2", "PCA (augmented like the models)", "dash"),
        ("plain_pca_test_rel_l2", "PCA (plain training set)", "dot"),
    ):
        fig.add_trace(
            go.Scatter(
                x=[f"{r['architecture']} z{r['latent']}" for r in record["rows"]],
                y=[r[key] for r in record["rows"]],
                mode="markers+lines",
                line={"dash": dash, "color": "black"},
                name=name,
            ),
            1,
            1,
        )
    fig.update_yaxes(title_text="rel_l2", row=1, col=1)
    fig.update_xaxes(title_text="epoch", row=1, col=2)
    fig.update_layout(
        template="plotly_white",
        height=480,
        title="hpo.optimize --top 2 --latent 8,16 on the default data, against PCA",
    )
    fig.write_html(path, include_plotlyjs="cdn")
    if png is not None:
        from bench.snapshot import save_png

        print(f"wrote {png}" if save_png(fig, png) else f"no {png}: chromium is not installed")


def main(argv=None) -> None:
    args = parse_args(argv)
    from bench.machine import machine

    defaults = QUICK if args.quick else FULL
    budget = {
        key: value if value is not None else defaults[key]
        for key, value in (
            ("epochs", args.epochs),
            ("epoch_budget", args.epoch_budget),
            ("trials", args.trials),
        )
    }
    workdir = (
        args.workdir
        or REPO / "studies" / ("bench-quality-quick" if args.quick else "bench-quality")
    ).resolve()
    workdir.mkdir(parents=True, exist_ok=True)
    storage = f"sqlite:///{workdir / 'hpo.db'}"
    # The screen's own file: the data fingerprint (size, mtime, ...) of a regenerated copy differs,
    # and hpo.optimize refuses data other than what the screen saw.
    data_path = _data_path(
        args.quick, workdir if args.quick else args.screen_storage.parent.resolve()
    )
    prepare_screen(args, workdir, storage, data_path)
    started = time.perf_counter()
    _hpo(
        "hpo.optimize",
        [
            "--top",
            "2",
            "--latent",
            ",".join(map(str, LATENTS)),
            "--run",
            "default",
            "--data",
            str(data_path),
            "--storage",
            storage,
            "--space",
            str(SPACE),
            "--epochs",
            str(budget["epochs"]),
            "--epoch-budget",
            str(budget["epoch_budget"]),
            "--trials",
            str(budget["trials"]),
        ],
        workdir,
    )
    wall = time.perf_counter() - started

    from hpo.backend import import_keras_quietly
    from hpo.data import load

    import_keras_quietly()
    record = collect(storage, load(data_path), budget)
    record.update(
        {
            "machine": machine(),
            "quick": args.quick,
            "wall_s": round(wall, 1),
            "command": f"python -m hpo.optimize --top 2 --latent 8,16 "
            f"--space bench/quality_space.toml --epochs "
            f"{budget['epochs']} --epoch-budget {budget['epoch_budget']} "
            f"--trials {budget['trials']}",
        }
    )
    print(f"machine: {record['machine']}")
    print(format_table(record))
    args.out.mkdir(parents=True, exist_ok=True)
    path = args.out / f"quality{'-quick' if args.quick else ''}.json"
    path.write_text(json.dumps(record, indent=1) + "\n")
    write_chart(record, path.with_suffix(".html"), None if args.quick else path.with_suffix(".png"))
    print(
        f"wrote {path} and {path.with_suffix('.html').name} ({wall:.0f} s of optimization; "
        "a second run resumes the stored studies)"
    )


if __name__ == "__main__":
    main()
