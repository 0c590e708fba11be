"""Benchmark: which rungs and η should the successive-halving screen use? Read off committed curves.

    python -m bench.rungs [--quick] [--out DIR] [--curves CSV ...]

A screen compares 5 architectures per latent size and hands `hpo.optimize --top 2` its best two.
Successive halving trains every run to a first rung, keeps the best share of them (never fewer than
2), trains those to the next rung, and so on to the full budget. It pays only if the order at the
early rungs keeps the runs the exhaustive screen would have ranked first and second.

The evidence is the learning curves already committed (no training here): every epoch's validation
rel_l2 of `bench.curves`' table (bench/results/curves.csv: 2 architectures x 2 latent sizes x 64
configurations, 30 epochs, the reduced default data) and of its check on the full default data
(curves-check.csv: 8 configurations). From one (architecture, latent) group of curves a draw takes
5 configurations, a stand-in for one latent size's 5 runs, and each candidate schedule is played on
them: at each rung the runs are ranked by their best validation value so far. Per schedule: how
often the exhaustive top two (best value over all 30 epochs) are the two it keeps to the end, how
often it keeps the exhaustive best, the median regret of its best, and its cost in epochs against
the exhaustive screen's 5 x 30.

Chosen on one set, reported on another: the schedule is chosen on the `conv` groups (the cheapest
that keeps the exhaustive top two in at least TARGET_TOP2 of the draws; if none does, the one that
keeps them most often) and reported on the `depthwise` groups and on the full-data check, which took
no part in the choice. Caveat: configurations of a factorial grid (learning rate, batch size,
filters...) may differ more from each other than five architectures at a matched size do; the
screen's own curves, when a full screen is stored, are the closer evidence.

A first rung on the reduced data (LOW_RES_RUNGS) is set against a full-data first rung at the same
epoch, on the configurations trained on both: every draw of 5 of them, the share of full-data epochs
each spends and how often it hands on the exhaustive top two.

Writes bench/results/rungs.json (and rungs.html). `--quick`: 200 draws instead of 4000.
"""

from __future__ import annotations

import argparse
import itertools
import json
import math
from pathlib import Path

import numpy as np
import pandas as pd

RESULTS = Path(__file__).parent / "results"
N_RUNS = 5  # runs per latent size in the default screen: five architectures, one repeat
KEEP_AT_LEAST = 2  # what `hpo.optimize --top 2` (the README's command) needs at the last rung
TARGET_TOP2 = 0.9  # the chosen schedule keeps the exhaustive top two in at least this share
CHOICE_ARCHITECTURE = "conv"  # chosen on conv's curves, reported on depthwise's and the full data
DRAWS, QUICK_DRAWS = 4000, 200

# Candidate rung lists for a 30-epoch budget (the last rung is the budget), η (the share kept is
# 1/η) and the fewest runs kept to the end. With 5 runs, η 2 and 3 both keep 2 (5 // η, at least
# 2), so a middle rung changes nothing unless 3 are kept.
CANDIDATES = [
    (rungs, eta, keep)
    for keep in (KEEP_AT_LEAST, KEEP_AT_LEAST + 1)
    for eta in (3, 2)  # a tie (η changes nothing) goes to the first: 3, halving's default
    for rungs in ((1, 30), (2, 30), (3, 30), (5, 30), (10, 30), (15, 30), (1, 3, 30), (3, 10, 30))
]


def survivors(n_alive: int, eta: int, keep: int = KEEP_AT_LEAST) -> int:
    """How many of `n_alive` runs go on past a rung: the best 1/eta, never fewer than `keep` (and
    never more than there are)."""
    return min(n_alive, max(keep, n_alive // eta))


def play(
    best_so_far: np.ndarray, rungs: tuple[int, ...], eta: int, keep: int = KEEP_AT_LEAST
) -> tuple[list[int], int]:
    """Successive halving on curves (runs x epochs, each the best value so far): the indices of the
    runs trained to the last rung, best first, and the epochs spent."""
    alive = list(range(best_so_far.shape[0]))
    spent, trained = 0, 0
    for i, rung in enumerate(rungs):
        spent += len(alive) * (rung - trained)
        trained = rung
        order = sorted(alive, key=lambda run: best_so_far[run, rung - 1])
        alive = order if i == len(rungs) - 1 else order[: survivors(len(alive), eta, keep)]
    return alive, spent


def groups(curves: pd.DataFrame, epochs: int) -> dict[str, np.ndarray]:
    """(architecture, latent) -> configurations x epochs of validation rel_l2 (the best so far)."""
    out = {}
    for (architecture, latent), group in curves.groupby(["architecture", "latent"]):
        table = group.pivot_table(index="config", columns="epoch", values="val_rel_l2")
        table = table.loc[:, 1:epochs].dropna()
        out[f"{architecture} z{latent}"] = np.minimum.accumulate(table.to_numpy(), axis=1)
    return out


def score(
    curve_groups: dict[str, np.ndarray],
    rungs: tuple[int, ...],
    eta: int,
    keep: int,
    draws: int,
    seed: int,
) -> dict:
    rng = np.random.default_rng(seed)
    top2 = best = 0
    regrets, second, shares = [], [], []
    n = 0
    for curves in curve_groups.values():
        for _ in range(draws // len(curve_groups)):
            picked = curves[rng.choice(len(curves), size=N_RUNS, replace=False)]
            final = np.argsort(picked[:, -1], kind="stable")
            kept, spent = play(picked, rungs, eta, keep)
            top2 += set(kept[:2]) == set(final[:2].tolist())
            best += int(final[0]) in kept
            regrets.append(picked[kept[0], -1] - picked[final[0], -1])
            second.append(picked[kept[1], -1] - picked[final[1], -1])
            shares.append(spent / (N_RUNS * rungs[-1]))
            n += 1
    return {
        "rungs": list(rungs),
        "eta": eta,
        "keep": keep,
        "draws": n,
        "same_top2": top2 / n,
        "keeps_best": best / n,
        "median_regret": float(np.median(regrets)),
        "p90_regret": float(np.quantile(regrets, 0.9)),
        # How much worse the second model handed to `hpo.optimize --top 2` is than the exhaustive
        # screen's second: a miss between near-equal runs costs little.
        "p90_second_regret": float(np.quantile(second, 0.9)),
        "epoch_share": float(np.mean(shares)),
    }


def choose(rows: list[dict]) -> dict:
    """The cheapest schedule that keeps the exhaustive top two in TARGET_TOP2 of the draws, else the
    one that keeps them most often (ties: cheaper)."""
    meeting = [r for r in rows if r["same_top2"] >= TARGET_TOP2]
    if meeting:
        return min(meeting, key=lambda r: (r["epoch_share"], -r["same_top2"]))
    return max(rows, key=lambda r: (r["same_top2"], -r["epoch_share"]))


def measure(curve_files: list[Path], draws: int, epochs: int = 30) -> dict:
    curves = pd.concat([pd.read_csv(path) for path in curve_files], ignore_index=True)
    table = curves[curves["epoch"] <= epochs]
    by_group = groups(table, epochs)
    choice = {k: v for k, v in by_group.items() if k.startswith(CHOICE_ARCHITECTURE + " ")}
    report = {k: v for k, v in by_group.items() if k not in choice}
    candidates = [c for c in CANDIDATES if c[0][-1] == epochs]
    chosen_on = [score(choice, *c, draws, seed=0) for c in candidates]
    chosen = choose(chosen_on)
    reported = [score(report, *c, draws, seed=1) for c in candidates]
    return {
        "curves": [_shown(path) for path in curve_files],
        "runs_per_latent": N_RUNS,
        "keep_at_least": KEEP_AT_LEAST,
        "target_same_top2": TARGET_TOP2,
        "choice_groups": sorted(choice),
        "report_groups": sorted(report),
        "choice": chosen_on,
        "report": reported,
        "chosen": {k: chosen[k] for k in ("rungs", "eta", "keep")},
    }


def _shown(path: Path) -> str:
    """A curve file as the README names it: relative to the repository when inside it."""
    repo = RESULTS.parent.parent
    return str(path.relative_to(repo)) if path.is_relative_to(repo) else str(path)


def _full_data_check(draws: int) -> dict | None:
    """The chosen schedule's candidates on the 8 configurations trained on the full default data."""
    path = RESULTS / "curves-check.csv"
    if not path.exists():
        return None
    table = pd.read_csv(path)
    # 8 configurations of both architectures and latent sizes, one group: too few to split.
    table = table.assign(architecture="all", latent="all")
    curves = groups(table, 30)
    return {
        "configurations": int(next(iter(curves.values())).shape[0]),
        "rows": [score(curves, *c, draws, seed=2) for c in CANDIDATES if c[0][-1] == 30],
    }


# A first rung on the reduced data (half the points in x and z, half the snapshots) instead of the
# full data: its epochs are cheaper, but a model's Dense layers depend on the grid, so the survivors
# start again at full resolution and train the whole budget there.
LOW_RES_RUNGS = (3, 5, 10)


def low_resolution_check(
    full_path: Path = RESULTS / "curves-check.csv", reduced_path: Path = RESULTS / "curves.csv"
) -> dict | None:
    """A reduced-data first rung against a full-data one, on the configurations trained on both
    (curves-check.csv on the full data, the same configurations in curves.csv on the reduced): every
    draw of N_RUNS of them, each schedule's share of the exhaustive screen's full-data epochs (a
    reduced epoch costs what the two tables' median epoch times say) and how often it hands on the
    exhaustive top two."""
    if not (full_path.exists() and reduced_path.exists()):
        return None
    full, reduced = pd.read_csv(full_path), pd.read_csv(reduced_path)
    configs = full[["architecture", "config"]].drop_duplicates().itertuples(index=False)
    full_curves, reduced_curves = [], []
    for architecture, config in configs:
        for table, out in ((full, full_curves), (reduced, reduced_curves)):
            rows = table[(table.architecture == architecture) & (table.config == config)]
            out.append(np.minimum.accumulate(rows.sort_values("epoch")["val_rel_l2"].to_numpy()))
    full_curves, reduced_curves = np.array(full_curves), np.array(reduced_curves)
    cost = float(reduced["seconds"].median() / full["seconds"].median())
    budget = full_curves.shape[1]
    rows = []
    for keep in (KEEP_AT_LEAST + 1, KEEP_AT_LEAST):
        for rung in LOW_RES_RUNGS:
            for first in ("reduced", "full"):
                curves = reduced_curves if first == "reduced" else full_curves
                top2 = best = n = 0
                for draw in itertools.combinations(range(len(full_curves)), N_RUNS):
                    final = sorted(draw, key=lambda i: full_curves[i, -1])
                    kept = sorted(draw, key=lambda i: curves[i, rung - 1])[:keep]
                    kept = sorted(kept, key=lambda i: full_curves[i, -1])
                    top2 += set(kept[:2]) == set(final[:2])
                    best += final[0] in kept
                    n += 1
                # The reduced rung's survivors train the whole budget again at full resolution.
                spent = (
                    N_RUNS * rung * cost + keep * budget
                    if first == "reduced"
                    else N_RUNS * rung + keep * (budget - rung)
                )
                rows.append(
                    {
                        "first_rung": first,
                        "rung": rung,
                        "keep": keep,
                        "draws": n,
                        "same_top2": top2 / n,
                        "keeps_best": best / n,
                        "epoch_share": spent / (N_RUNS * budget),
                    }
                )
    return {"configurations": len(full_curves), "reduced_epoch_cost": cost, "rows": rows}


def format_low_resolution(check: dict) -> str:
    head = (
        "| first rung on | rung (epochs) | kept | same top two | keeps the best "
        "| full-data epochs (share of exhaustive) |\n|---|---|---|---|---|---|"
    )
    lines = [
        f"| {r['first_rung']} data | {r['rung']} | {r['keep']} | {r['same_top2']:.0%} | "
        f"{r['keeps_best']:.0%} | {r['epoch_share']:.0%} |"
        for r in check["rows"]
    ]
    return "\n".join([head, *lines])


def _row(r: dict) -> str:
    return (
        f"| {', '.join(map(str, r['rungs']))} | {r['eta']} | {r['keep']} | {r['same_top2']:.0%} | "
        f"{r['keeps_best']:.0%} | {r['p90_regret']:.4f} | {r['p90_second_regret']:.4f} | "
        f"{r['epoch_share']:.0%} |"
    )


def format_table(rows: list[dict]) -> str:
    head = (
        "| rungs (epochs) | η | kept to the end | same top two | keeps the best "
        "| best's regret, 90% | second's regret, 90% | epochs (share of exhaustive) |\n"
        "|---|---|---|---|---|---|---|---|"
    )
    # η changes nothing where 5 // η is below the number kept: one row for each such pair.
    seen, shown = set(), []
    for r in sorted(rows, key=lambda r: (r["epoch_share"], -r["eta"])):
        key = (tuple(r["rungs"]), r["keep"], r["same_top2"], r["epoch_share"])
        if key not in seen:
            seen.add(key)
            shown.append(r)
    return "\n".join([head, *map(_row, shown)])


def write_chart(record: dict, path: Path) -> None:
    import plotly.graph_objects as go

    fig = go.Figure()
    for label, rows in (
        ("chosen on conv", record["choice"]),
        ("reported: depthwise", record["report"]),
    ):
        fig.add_trace(
            go.Scatter(
                x=[r["epoch_share"] for r in rows],
                y=[r["same_top2"] for r in rows],
                text=[f"rungs {r['rungs']}, η {r['eta']}, keep {r['keep']}" for r in rows],
                mode="markers",
                name=label,
            )
        )
    fig.add_hline(y=TARGET_TOP2, line_dash="dash", annotation_text="target")
    fig.update_layout(
        title="Successive halving on committed curves: cost against keeping the exhaustive top two",
        xaxis_title="epochs, share of the exhaustive screen",
        yaxis_title="draws whose top two equal the exhaustive screen's",
        xaxis_tickformat=".0%",
        yaxis_tickformat=".0%",
    )
    fig.write_html(path, include_plotlyjs="cdn")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.rungs", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--quick", action="store_true", help=f"{QUICK_DRAWS} draws, not {DRAWS}")
    parser.add_argument("--out", type=Path, default=RESULTS)
    parser.add_argument(
        "--curves", type=Path, nargs="*", default=[RESULTS / "curves.csv"], help="curve tables"
    )
    args = parser.parse_args(argv)
    draws = QUICK_DRAWS if args.quick else DRAWS
    record = measure([p.resolve() for p in args.curves], draws)
    record["full_data_check"] = _full_data_check(draws)
    record["low_resolution_first_rung"] = low_resolution_check()
    record["quick"] = args.quick
    from bench.machine import machine

    record["machine"] = machine()
    args.out.mkdir(parents=True, exist_ok=True)
    name = "rungs-quick" if args.quick else "rungs"
    (args.out / f"{name}.json").write_text(json.dumps(record, indent=2))
    write_chart(record, args.out / f"{name}.html")
    print(f"chosen on {', '.join(record['choice_groups'])}:")
    print(format_table(record["choice"]))
    print(f"\nreported on {', '.join(record['report_groups'])} (not used to choose):")
    print(format_table(record["report"]))
    if record["full_data_check"]:
        check = record["full_data_check"]
        print(f"\nfull default data, {check['configurations']} configurations:")
        print(format_table(check["rows"]))
    if record["low_resolution_first_rung"]:
        check = record["low_resolution_first_rung"]
        print(
            f"\na first rung on the reduced data ({check['reduced_epoch_cost']:.2f} of a full-data "
            f"epoch), {check['configurations']} configurations trained on both:"
        )
        print(format_low_resolution(check))
    chosen = record["chosen"]
    print(
        f"\nchosen: rungs {chosen['rungs']}, η {chosen['eta']}, {chosen['keep']} kept to the end "
        f"(wrote {args.out / name}.json)"
    )
    return 0 if all(math.isfinite(r["epoch_share"]) for r in record["report"]) else 1


if __name__ == "__main__":
    raise SystemExit(main())
