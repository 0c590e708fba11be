"""Benchmark 5, quality floor: each search's best model on the test split against PCA at its latent size.

    python -m bench.quality [--quick] [--workdir DIR] [--out DIR]

For every method and seed of the search benchmark (the screen's two best architectures; its best
one for (b) and (d), which the search benchmark runs there only), the best model (lowest
validation value) is scored on the held-out test split by `hpo.optimize` (rel_l2 and MSE, in
scaled units); PCA with the same number of components as that model's latent size is fitted on
the training split and scored on the same test split. An autoencoder that does not beat PCA at
equal latent size has not earned its nonlinearity. Prints a table; writes
bench/results/quality[-quick].json and .html.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from bench.campaign import (METHODS, TOP2_METHODS, Campaign, best_model, campaign_parser,
                            write_record)

RESULTS = Path(__file__).parent / "results"


def best_models(campaign: Campaign) -> list[dict]:
    """Per method and seed: the best model over the architectures the search benchmark gave it (the
    screen's top two, or for (b) and (d) its best one)."""
    ranking = campaign.screen()["ranking"]
    rows = []
    for method in METHODS:
        searched = ranking[:2] if method in TOP2_METHODS else ranking[:1]
        for seed in campaign.budget.seeds:
            runs = [campaign.run(method, a, seed) for a in searched]
            best = best_model(runs)
            if best is None:
                continue
            rows.append({"method": method, "key": METHODS[method].key, "seed": seed,
                         "architecture": best["architecture"], "latent": best["latent"],
                         "val": best["val"], "test_rel_l2": best["test_rel_l2"],
                         "test_mse": best["test_mse"]})
    return rows


def add_pca(rows: list[dict], data) -> None:
    """PCA at each row's latent size, fitted once per size."""
    from hpo.baseline import fit_pca

    fitted = {}
    for row in rows:
        latent = int(row["latent"])
        if latent not in fitted:
            baseline = fit_pca(data, latent)  # capped at n_train - 1 components (quick data)
            fitted[latent] = (baseline.n_components, baseline.evaluate(data.test, data))
        components, pca = fitted[latent]
        row.update({"pca_components": components, "pca_test_rel_l2": pca["rel_l2"],
                    "pca_test_mse": pca["mse"],
                    "rel_l2_ratio_to_pca": row["test_rel_l2"] / pca["rel_l2"],
                    "mse_ratio_to_pca": row["test_mse"] / pca["mse"]})


def summarize(rows: list[dict]) -> list[dict]:
    summary = []
    for method in METHODS:
        mine = [r for r in rows if r["method"] == method]
        if mine:
            summary.append({"method": method, "key": METHODS[method].key, **{
                f"{field}_median": float(np.median([r[field] for r in mine]))
                for field in ("test_rel_l2", "test_mse", "pca_test_rel_l2", "pca_test_mse",
                              "rel_l2_ratio_to_pca", "mse_ratio_to_pca")},
                "beats_pca_seeds": sum(r["test_rel_l2"] < r["pca_test_rel_l2"] for r in mine),
                "seeds": len(mine)})
    return summary


def format_table(rows: list[dict], summary: list[dict]) -> str:
    lines = [f"{'method':<24}{'seed':>5}  {'architecture':<13}{'latent':>7}{'test rel_l2':>12}"
             f"{'PCA rel_l2':>11}{'ratio':>7}{'test MSE':>10}{'PCA MSE':>9}{'ratio':>7}"]
    for r in rows:
        lines.append(f"({r['key']}) {r['method']:<20}{r['seed']:>5}  {r['architecture']:<13}"
                     f"{r['latent']:>7}{r['test_rel_l2']:>12.4f}{r['pca_test_rel_l2']:>11.4f}"
                     f"{r['rel_l2_ratio_to_pca']:>7.2f}{r['test_mse']:>10.4f}"
                     f"{r['pca_test_mse']:>9.4f}{r['mse_ratio_to_pca']:>7.2f}")
    lines.append("medians over seeds (ratio < 1: the autoencoder beats PCA at its latent size)")
    for s in summary:
        lines.append(f"({s['key']}) {s['method']:<20} test rel_l2 {s['test_rel_l2_median']:.4f} vs "
                     f"PCA {s['pca_test_rel_l2_median']:.4f} ({s['rel_l2_ratio_to_pca_median']:.2f}x);"
                     f" MSE {s['test_mse_median']:.4f} vs {s['pca_test_mse_median']:.4f} "
                     f"({s['mse_ratio_to_pca_median']:.2f}x); beats PCA in {s['beats_pca_seeds']}/"
                     f"{s['seeds']} seeds")
    return "\n".join(lines)


def write_chart(rows: list[dict], path: Path) -> None:
    import plotly.graph_objects as go

    fig = go.Figure()
    labels = [f"({r['key']}) s{r['seed']} {r['architecture']}/{r['latent']}" for r in rows]
    fig.add_trace(go.Bar(x=labels, y=[r["test_rel_l2"] for r in rows], name="best model"))
    fig.add_trace(go.Bar(x=labels, y=[r["pca_test_rel_l2"] for r in rows],
                         name="PCA, same latent size"))
    fig.update_layout(title="Quality floor: test rel_l2 of each search's best model vs PCA",
                      barmode="group", template="plotly_white", yaxis_title="test rel_l2",
                      xaxis_title="method, seed, architecture/latent")
    fig.write_html(path, include_plotlyjs="cdn")  # plotly.js from its CDN: the page stays small


def main() -> None:
    args = campaign_parser(__doc__.split("\n")[0], RESULTS).parse_args()

    from bench.machine import machine
    from hpo.data import load

    campaign = Campaign(args.quick, args.workdir)
    rows = best_models(campaign)
    add_pca(rows, load(campaign.data_path))
    summary = summarize(rows)
    facts = machine()
    print(f"machine: {facts}")
    print(format_table(rows, summary))
    path = write_record(args.out, "quality", args.quick,
                        {"machine": facts, "quick": args.quick, "rows": rows, "summary": summary,
                         "screen_pca_latent50": campaign.screen().get("pca")})
    write_chart(rows, path.with_suffix(".html"))
    print(f"wrote {path} and {path.with_suffix('.html').name}")


if __name__ == "__main__":
    main()
