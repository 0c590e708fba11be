"""Benchmark 2, screening value: optimizing the screen's top two against optimizing all five.

    python -m bench.screening_value [--quick] [--workdir DIR] [--out DIR]

Same total budget both ways, with method (a) (TPE + median pruning) and every seed of the campaign:
- top two: the screen's two best architectures get `epochs_per_architecture` each (the search
  benchmark's runs);
- all five: every architecture gets 2/5 of that. For the top two these are the same runs cut at
  that many epochs (counting the trials that ended within it), since a run's trials do not depend
  on its budget (the sampler's start-up is 3 trials either way); the other three get runs of
  their own with that budget, read the same way.
Reports per seed which architecture is best after the all-five optimization and whether the
screen's top two holds it, and the best validation value each way. Prints a table; writes
bench/results/screening_value[-quick].json and .html.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from bench.anytime import best_at
from bench.campaign import Campaign, anytime_curve, campaign_parser, write_record

RESULTS = Path(__file__).parent / "results"
METHOD = "tpe+median"  # (a): the pipeline's default search


def compare(campaign: Campaign) -> dict:
    ranking = campaign.screen()["ranking"]
    full, shared = campaign.budget.epochs_per_architecture, campaign.budget.all_five_epochs()
    seeds = []
    for seed in campaign.budget.seeds:
        # Each architecture's best within the all-five share of the budget.
        all_five = {}
        for architecture in ranking:
            epochs = full if architecture in ranking[:2] else shared
            run = campaign.run(METHOD, architecture, seed, epochs)
            all_five[architecture] = best_at(anytime_curve([run]), shared)
        top_two = {
            a: best_at(anytime_curve([campaign.run(METHOD, a, seed)]), full) for a in ranking[:2]
        }
        winner = min(all_five, key=all_five.get)
        top_winner = min(top_two, key=top_two.get)
        seeds.append(
            {
                "seed": seed,
                "all_five": _finite(all_five),
                "top_two": _finite(top_two),
                "all_five_best": all_five[winner],
                "all_five_winner": winner,
                "top_two_best": top_two[top_winner],
                "top_two_winner": top_winner,
                "winner_in_top_two": winner in ranking[:2],
                "top_two_better": top_two[top_winner] < all_five[winner],
            }
        )
    return {
        "ranking": ranking,
        "method": METHOD,
        "total_budget_epochs": 2 * full,
        "epochs_per_architecture": {"top_two": full, "all_five": shared},
        "seeds": seeds,
        "summary": {
            "winner_in_top_two_share": float(np.mean([s["winner_in_top_two"] for s in seeds])),
            "top_two_better_share": float(np.mean([s["top_two_better"] for s in seeds])),
            "top_two_best_median": float(np.median([s["top_two_best"] for s in seeds])),
            "all_five_best_median": float(np.median([s["all_five_best"] for s in seeds])),
        },
    }


def _finite(values: dict) -> dict:
    return {k: (v if math.isfinite(v) else None) for k, v in values.items()}


def format_table(result: dict, metric: str) -> str:
    per = result["epochs_per_architecture"]
    lines = [
        f"screen ranking: {', '.join(result['ranking'])}; total budget "
        f"{result['total_budget_epochs']} epochs (top two: {per['top_two']} each; all five: "
        f"{per['all_five']} each); method (a) {result['method']}",
        f"{'seed':>4}  {'top-two best':>13} {'(architecture)':<16}{'all-five best':>14} "
        f"{'(architecture)':<16}{'winner in top two':>18}",
    ]
    for row in result["seeds"]:
        lines.append(
            f"{row['seed']:>4}  {row['top_two_best']:>13.4f} ({row['top_two_winner']})"
            f"{'':<{14 - len(row['top_two_winner'])}}{row['all_five_best']:>14.4f} "
            f"({row['all_five_winner']}){'':<{14 - len(row['all_five_winner'])}}"
            f"{str(row['winner_in_top_two']):>18}"
        )
    summary = result["summary"]
    lines.append(
        f"median best {metric}: top two {summary['top_two_best_median']:.4f}, all five "
        f"{summary['all_five_best_median']:.4f}; the all-five winner is in the screen's top "
        f"two for {summary['winner_in_top_two_share']:.0%} of seeds; top two better for "
        f"{summary['top_two_better_share']:.0%}"
    )
    return "\n".join(lines)


def write_chart(result: dict, path: Path, metric: str) -> None:
    import plotly.graph_objects as go

    fig = go.Figure()
    for row in result["seeds"]:
        fig.add_trace(
            go.Bar(
                x=result["ranking"],
                y=[row["all_five"][a] for a in result["ranking"]],
                name=f"all five, seed {row['seed']}",
            )
        )
    summary = result["summary"]
    fig.add_hline(
        y=summary["top_two_best_median"], line_dash="dash", annotation_text="top two, median best"
    )
    fig.add_hline(
        y=summary["all_five_best_median"],
        line_dash="dot",
        annotation_text="all five, median best",
        annotation_position="bottom right",
    )
    per = result["epochs_per_architecture"]
    fig.update_layout(
        title=f"Screening value: best validation {metric} per architecture with "
        f"{per['all_five']} epochs each (all five) vs the top two with "
        f"{per['top_two']} each",
        barmode="group",
        template="plotly_white",
        xaxis_title="architecture (screen order)",
        yaxis_title=f"best validation {metric}",
    )
    fig.write_html(path, include_plotlyjs="cdn")  # plotly.js from its CDN: the page stays small


def main() -> None:
    args = campaign_parser(__doc__.split("\n")[0], RESULTS).parse_args()

    from bench.machine import machine

    campaign = Campaign(args.quick, args.workdir)
    metric = campaign.screen()["metric"]
    result = compare(campaign)
    facts = machine()
    print(f"machine: {facts}")
    print(format_table(result, metric))
    path = write_record(
        args.out,
        "screening_value",
        args.quick,
        {"machine": facts, "quick": args.quick, "metric": metric, **result},
    )
    write_chart(result, path.with_suffix(".html"), metric)
    print(f"wrote {path} and {path.with_suffix('.html').name}")


if __name__ == "__main__":
    main()
