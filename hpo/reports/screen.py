"""`<workspace>/<run>/screen.html`: the compression curve, leaderboards, learning curves and
reconstructions, drawn from what the screen stored."""

from __future__ import annotations

from pathlib import Path


def write_screen_report(
    path: Path, config, boards, runs, trials, pca, steps, samples, channels
) -> Path:
    from hpo.reports import figures as report

    metric = config.metric
    latents = sorted(boards)
    fair = "PCA on the augmented training set" if config.augment else "PCA"
    halved = len(config.rungs()) > 1
    shown = (
        f"runs trained to the full {config.epochs} epochs; successive halving stopped the others "
        f"at {', '.join(map(str, config.rungs()[:-1]))} epochs"
        if halved
        else "every run"
    )
    sections = [
        (
            f"Compression curve: {metric} against latent size (mean and min-max over repeats of "
            f"{shown}; {fair}, same size, dashed)",
            report.compression_curve_figure(runs, metric),
        ),
        ("Beats PCA at latent ...", report.beats_pca_html(boards, pca, metric)),
    ]
    two_headed = report.next_step_html(boards, pca, steps, metric)
    if two_headed:
        sections.append(("Next step: the second head against persistence", two_headed))
    for latent in latents:
        sections.append((f"Leaderboard, latent {latent}", report.table_html(boards[latent])))
    sections.append(
        (
            "Learning curves (validation solid, training dotted"
            + (
                "; a curve that ends early: stopped at a rung, or by early stopping)"
                if halved
                else ")"
            ),
            report.learning_curves_figure(trials, metric, latents),
        )
    )
    if samples:
        shown = [name for name in samples if name != "input"]
        sections.append(
            (
                f"One validation sample at latent {latents[0]}: input, reconstruction, error",
                report.reconstructions_figure(samples, channels, shown),
            )
        )
    return report.write_html(path, f"Screen: {config.run}", sections)
