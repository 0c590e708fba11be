"""The README's figures, written from the committed JSON so that a sentence cannot drift from its
    numbers.

    python -m bench.readme            # rewrite every generated block of README.md
    python -m bench.readme --check    # exit 1 and name the blocks that differ (a test runs this)

A generated block sits between two HTML comments that markdown does not show:

    <!-- bench:NAME -->
    ...written by render_NAME(results) from bench/results/*.json; never edit by hand...
    <!-- /bench:NAME -->

Each renderer reads only the JSON; prose outside the blocks carries no measured figure. `python -m
bench` (full) runs this after the benchmarks, so a re-measurement updates the README in one step.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from collections.abc import Callable
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
README = REPO / "README.md"
RESULTS = Path(__file__).parent / "results"
BLOCK = re.compile(
    r"(?P<open><!-- bench:(?P<name>[a-z0-9-]+) -->\n)(?P<body>.*?)(?P<close><!-- /bench:(?P=name) "
    r"-->)",
    re.S,
)


class Results:
    """The JSON files under bench/results/, loaded on first use."""

    def __init__(self, folder: Path = RESULTS):
        self._folder, self._cache = folder, {}

    def has(self, name: str) -> bool:
        return (self._folder / f"{name}.json").exists()

    def __getitem__(self, name: str) -> dict:
        if name not in self._cache:
            self._cache[name] = json.loads((self._folder / f"{name}.json").read_text())
        return self._cache[name]


def _span(values: list[float], digits: int = 2, unit: str = "") -> str:
    low, high = min(values), max(values)
    return (
        f"{low:.{digits}f}{unit}"
        if f"{low:.{digits}f}" == f"{high:.{digits}f}"
        else f"{low:.{digits}f}–{high:.{digits}f}{unit}"
    )


def render_quality(results: Results) -> str:
    if not results.has("quality"):
        return (
            "Not measured on the v2 data yet: `python -m bench.quality` (about an hour on 2 cores, "
            "after `python -m bench.screen`) writes `bench/results/quality.json`, and this block."
        )
    quality = results["quality"]
    budget = quality["budget"]
    lines = [
        f"`{quality['command']}` on the default screen's top two at each size "
        f"({quality['wall_s']:.0f} s here; the PCA it is judged against is fitted on the "
        f"training split augmented with {', '.join(quality['augment']) or 'nothing'}, plain PCA "
        "beside it):",
        "",
        "| latent | architecture | trials (pruned) | epochs | val rel_l2 | test rel_l2 | "
        "screen's test rel_l2 | PCA | plain PCA | × PCA |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in quality["rows"]:
        screen = r["screen_test_rel_l2"]
        lines.append(
            f"| {r['latent']} | {r['architecture']} | {r['trials']} ({r['pruned']}) | "
            f"{r['epochs_spent']} | {r['val_rel_l2']:.4f} | {r['test_rel_l2']:.4f} | "
            f"{'–' if screen is None else f'{screen:.4f}'} | {r['pca_test_rel_l2']:.4f} | "
            f"{r['plain_pca_test_rel_l2']:.4f} | {r['ratio_to_pca']:.2f} |"
        )
    lines.append("")
    for latent, best in quality["by_latent"].items():
        lines.append(
            f"- **Latent {latent}: the best model ({best['architecture']}, chosen on "
            f"validation) reaches {best['ratio_to_pca']:.2f}× PCA's test rel_l2 (target ≤ "
            f"{quality['target_ratio']}×: {'met' if best['meets_target'] else 'not met'})**; "
            f"{best['ratio_to_plain_pca']:.2f}× plain PCA's."
        )
    lines.append(
        f"- Budget: at most {budget['epochs']} epochs per trial and {budget['epoch_budget']} "
        f"per study, at most {budget['trials']} trials."
    )
    return "\n".join(lines)


def _interval(stat: dict, share: bool = False, digits: int = 3) -> str:
    """A replay statistic as the replay prints it (a share in %, else to `digits` decimals)."""
    from bench.replay import show_interval

    return show_interval(stat, digits=digits, share=share)


def render_replay(results: Results) -> str:
    if not results.has("replay"):
        return (
            "**Not measured yet:** the table is being built (`python -m bench.curves`, "
            "resumable); `bench.replay` refuses a partial table. Until it runs, the live 3-seed "
            "tables below are the only search figures."
        )
    replay = results["replay"]
    n_seeds = len(replay["seeds"]) if isinstance(replay["seeds"], list) else replay["seeds"]
    lines = [
        f"{n_seeds} seeds per method; E = {replay['epochs']} epochs per trial, a budget of "
        f"{replay['budget_per_architecture']} epochs ({replay['budget_in_full_trials']} full "
        "trials) per architecture; median [95% bootstrap interval] over seeds. Regret: best "
        "validation rel_l2 found minus the table's best.",
        "",
    ]
    for scope, result in replay["scopes"].items():
        lines += [
            f"**{scope}: {', '.join(result['architectures'])}, {result['budget_epochs']} epochs:**",
            "",
            "| method | epochs to random's final best (share of budget) | regret at 25% | "
            "regret at 50% | regret at 100% | test rel_l2 of its best |",
            "|---|---|---|---|---|---|",
        ]
        for method, row in result["methods"].items():
            lines.append(
                f"| {method} | {_interval(row['share_to_random_best'], share=True)} | "
                + " | ".join(_interval(row["regret"][k], digits=4) for k in ("25%", "50%", "100%"))
                + f" | {_interval(row['test_rel_l2'])} |"
            )
        targets = result["targets"]
        reach, beat = (
            targets["default_reaches_random_best_within_40pct"],
            targets["default_beats_kerastuner"],
        )
        lines += [
            "",
            f"- Target 1 ({reach['method']} reaches random's final best within "
            f"{reach['threshold']:.0%} of the budget): **{'met' if reach['met'] else 'not met'}** "
            f"({_interval(reach['share'], share=True)}).",
            f"- Target 2 ({beat['method']} beats KerasTuner Hyperband at equal budget): "
            f"**{'met' if beat['met'] else 'not met'}** (regret "
            f"{_interval(beat['regret_at_100pct'], digits=4)} "
            f"against {_interval(beat['kerastuner_regret_at_100pct'], digits=4)}).",
            f"- Lowest median regret at 100%: {', '.join(result['best_method']['methods'])}.",
            "",
        ]
    if "defaults" in replay:
        lines += _replay_defaults(replay["defaults"])
    return "\n".join(lines)


def render_curves_check(results: Results) -> str:
    """The reduced table's ranking against the default data's (bench.curves --check)."""
    if not results.has("curves-check") or "spearman" not in results["curves-check"]:
        return (
            "**Not measured yet:** `python -m bench.curves --check 8` trains configurations of "
            "the table on the default data and compares the rankings."
        )
    check = results["curves-check"]
    verdict = "met" if check["spearman"] >= check["bar"] else "not met"
    lines = [
        f"`python -m bench.curves --check {check['n']}`: {check['n']} of the table's "
        f"configurations (the first {check['n']} it trained, spread over the grid) trained again "
        f"for {check['epochs']} epochs on the default data (200 x 100, 40 snapshots a "
        "simulation). Spearman rank correlation of their best validation rel_l2 on the two: "
        f"**{check['spearman']:.3f}** (bar ≥ {check['bar']}: {verdict}).",
        "",
        "| architecture | config | reduced data | default data |",
        "|---|---|---|---|",
    ]
    for row in sorted(check["configs"], key=lambda r: r["default_best_val"]):
        lines.append(
            f"| {row['architecture']} | {row['config']} | {row['reduced_best_val']:.4f} | "
            f"{row['default_best_val']:.4f} |"
        )
    return "\n".join(lines)


def render_live_check(results: Results) -> str:
    """The replay's searches trained live (bench.live_check)."""
    if not results.has("live_check"):
        return (
            "**Not measured yet:** `python -m bench.live_check` runs the replay's searches with "
            "every trial trained."
        )
    live = results["live_check"]
    rows = live["methods"]
    first = next(iter(rows.values()))
    lines = [
        f"`python -m bench.live_check`: {len(first['live_best'])} seeds per method, each study "
        f"trained live on the table's data and architecture ({live['architecture']}) with a "
        f"budget of {live['budget']} epochs ({live['budget'] // live['epochs']} full trials), "
        "beside "
        f"the replay of the same study (same sampler seed) and the replay's median over "
        f"{first['replay_seeds']} seeds with its 95% bootstrap interval:",
        "",
        "| method | live best val rel_l2, per seed | replayed, same seeds | live median | replay "
        f"median [95% interval], {first['replay_seeds']} seeds | inside |",
        "|---|---|---|---|---|---|",
    ]
    for method, row in rows.items():
        live_best = ", ".join(f"{v:.4f}" for v in row["live_best"].values())
        same = ", ".join(f"{v:.4f}" for v in row["replayed_best_same_seed"].values())
        low, high = row["replay_interval"]
        lines.append(
            f"| {method} | {live_best} | {same} | {row['live_median']:.4f} | "
            f"{row['replay_median']:.4f} [{low:.4f}, {high:.4f}] | "
            f"{'yes' if row['inside'] else '**no**'} |"
        )
    return "\n".join(lines)


PRUNER_NAMES = {
    "none": "no pruning",
    "median": "median pruning",
    "sha": "successive-halving pruning",
    "hyperband": "Hyperband pruning",
}


def _replay_defaults(defaults: dict, top: int = 8) -> list[str]:
    """The defaults grid by rank, its best `top` rows and the current default's, and one sentence:
    the best combination against the current default."""

    def name(row: dict) -> str:
        return (
            f"TPE + {PRUNER_NAMES.get(row['pruner'], row['pruner'])}, {row['startup']} "
            f"start-up trials, {row['epochs']} epochs per trial"
        )

    current, best = defaults["current"], defaults["best"]
    rows = sorted(
        defaults["grid"] + ([] if current["in_grid"] else [current]), key=lambda row: row["rank"]
    )
    shown = rows[:top] + ([current] if current["rank"] > top else [])
    lines = [
        (
            f"**Defaults from evidence ({defaults['scope']}: {defaults['architecture']}, "
            f"{defaults['budget_epochs']} epochs): {len(defaults['grid'])} combinations of "
            f"TPE's pruner, start-up trials and epochs per trial, ranked by {defaults['rule']}; "
            f"the best {min(top, len(rows))}"
            + (
                ", and the current default"
                if current["rank"] > top
                else ", the current default marked"
            )
            + ":**"
        ),
        "",
        (
            "| rank | pruner | start-up trials | epochs per trial | regret at 100% | epochs to "
            "random's final best (share of budget) |"
        ),
        "|---|---|---|---|---|---|",
    ]
    for row in shown:
        mark = " (current default)" if row["rank"] == current["rank"] else ""
        lines.append(
            f"| {row['rank']} | {row['pruner']}{mark} | {row['startup']} | "
            f"{row['epochs']} | {_interval(row['regret_at_100pct'], digits=4)} | "
            f"{_interval(row['share_to_random_best'], share=True)} |"
        )
    if defaults["current_default_is_best"]:
        verdict = (
            f"**Best: the current default, {name(best)}** (median regret "
            f"{_interval(best['regret_at_100pct'], digits=4)})."
        )
    else:
        lower = defaults["regret_lower_by"]
        verdict = (
            f"**Best: {name(best)}**, median regret {_interval(best['regret_at_100pct'], digits=4)}"
            f", {'–' if lower is None else f'{lower:.4f}'} below the current default ("
            f"{name(current)}: {_interval(current['regret_at_100pct'], digits=4)}); the intervals "
            f"{'overlap' if defaults['intervals_overlap'] else 'do not overlap'}."
        )
    lines += ["", f"- {verdict}"]
    targets = defaults.get("targets", {})
    reach = targets.get("default_reaches_random_best_within_40pct")
    beat = targets.get("default_beats_kerastuner")
    if reach:
        lines.append(
            f"- **Target 1 for hpo.optimize's default ({name(current)}): reach random search's "
            f"final best within {reach['threshold']:.0%} of its budget: "
            f"{'met' if reach['met'] else 'not met'}** "
            f"({_interval(reach['share'], share=True)} of the budget)."
        )
    if beat:
        lines.append(
            f"- **Target 2 for the default: a lower median regret than KerasTuner Hyperband at the "
            f"same budget: {'met' if beat['met'] else 'not met'}** ("
            f"{_interval(beat['regret_at_100pct'], digits=4)} against "
            f"{_interval(beat['kerastuner_regret_at_100pct'], digits=4)}; the intervals "
            f"{'overlap' if beat['intervals_overlap'] else 'do not overlap'})."
        )
    return lines + [f"- {defaults['note']}", ""]


def render_generate(results: Results) -> str:
    generate = results["generate"]
    lines = [
        "| dataset | simulations | snapshots | grid | walls | wall time (target) | CPU s, all "
        "cases |",
        "|---|---|---|---|---|---|---|",
    ]
    for row in generate["results"]:
        lines.append(
            f"| {row['dataset']} | {row['cases']} | {row['snapshots']} | {row['grid']} | "
            f"{row['walls']} | {row['wall_s']:.1f} s ({row['target_s']:.0f} s: "
            f"{'met' if row['within_target'] else 'NOT met'}) | {row['case_cpu_s_sum']:.1f} |"
        )
    lines += [
        "",
        "| Ra | Pr | walls | modes (x × z) | steps per time unit | CPU s per time unit |",
        "|---|---|---|---|---|---|",
    ]
    for row in generate["solvers"]:
        lines.append(
            f"| {row['rayleigh']:.3g} | {row['prandtl']:.3g} | {row['walls']} | "
            f"{row['modes'].replace('x', ' × ')} | {row['steps_per_time_unit']:.0f} | "
            f"{row['cpu_s_per_time_unit']:.3f} |"
        )
    default = next(row for row in generate["results"] if row["dataset"] == "default")
    cases = default["simulations"]
    varying = [case for case in cases if case["temporal_variation"] >= 0.1]
    lines += [
        "",
        f"The default dataset's {len(cases)} simulations: {len(varying)} of {len(cases)} "
        f"({100 * len(varying) / len(cases):.0f}%) have a temporal variation ≥ 0.1 on "
        f"temperature (target ≥ 75%); variation "
        f"{_span([c['temporal_variation'] for c in cases], 2)}, Nu "
        f"{_span([c['nusselt'] for c in cases], 2)}.",
        "",
        "| simulation | Ra | Pr | Nu | temporal variation |",
        "|---|---|---|---|---|",
    ]
    for case in sorted(cases, key=lambda c: c["rayleigh"]):
        lines.append(
            f"| {case['case']} | {case['rayleigh']:.3g} | {case['prandtl']:.2f} | "
            f"{case['nusselt']:.2f} | {case['temporal_variation']:.3f} |"
        )
    load = max(row["load_average_before"] for row in generate["results"])
    lines += ["", f"(2 cores; load average {load:.1f} when the timing started.)"]
    return "\n".join(lines)


def _ratio(overhead: dict, clock: str, key: str) -> str:
    ratio = overhead["ratios"][clock][key]
    return f"{ratio['of_medians']:.2f}x ({ratio['per_round_min']:.2f}–{ratio['per_round_max']:.2f})"


def render_overhead(results: Results) -> str:
    overhead = results["overhead"]
    paths = {row["path"]: row for row in overhead["results"]}
    compiled = paths["keras_matched"].get("compiled", {})
    lines = [
        f"Same `conv` model, data and batch size, {overhead['rounds']} alternating rounds of "
        f"{overhead['epochs']} epochs (the first epoch of each fit left out). The matched baseline "
        f"is plain `model.fit` compiled as hpo compiles: "
        f"{compiled.get('steps_per_execution', '?')} batches per compiled call, the same metrics, "
        f"the same validation set. Ratios of the median seconds per epoch, with the range of the "
        f"same ratio within each round:",
        "",
        "| ratio | CPU seconds | wall seconds |",
        "|---|---|---|",
    ]
    for key, label in (
        ("hpo/keras_matched", "**hpo / matched plain Keras**"),
        ("hpo/keras_defaults", "hpo / `model.fit` with Keras defaults"),
        ("keras_matched/keras_defaults", "matched / defaults (what compiling alike buys)"),
        ("hpo_streamed/keras_matched", "hpo streamed from HDF5 / matched"),
    ):
        lines.append(
            f"| {label} | {_ratio(overhead, 'cpu', key)} | {_ratio(overhead, 'wall', key)} |"
        )
    target = overhead["target_ratio"]
    per_round = overhead["ratios"]["cpu"]["hpo/keras_matched"]
    lines += [
        "",
        f"- Target hpo / matched ≤ {target}: the median is "
        f"{'within' if per_round['of_medians'] <= target else 'above'} it (CPU), but the "
        f"rounds span {per_round['per_round_min']:.2f}–{per_round['per_round_max']:.2f}, "
        f"wider than the target's margin: the data show hpo within noise of plain Keras, "
        f"not a {100 * (target - 1):.0f}% bound.",
    ]
    if overhead.get("shared_machine"):
        lines.append(
            f"- Measured while other processes used "
            f"{100 * overhead['other_processes_cpu_share']:.0f}% of the machine's CPU: wall "
            f"seconds are noisy, CPU seconds steadier."
        )
    return "\n".join(lines)


def render_workers(results: Results) -> str:
    optimize, stress = results["optimize"], results["stress"]
    by_workers = {row["workers"]: row for row in optimize["workers"]}
    one, two = by_workers[1], by_workers[2]
    lines = [
        "| measurement | 1 worker | more workers |",
        "|---|---|---|",
        f"| `hpo.optimize` on PostgreSQL, `conv`, {one['trials']} trials | "
        f"{one['trials_per_hour']:.0f} trials/h | 2 workers: {two['trials_per_hour']:.0f} "
        f"trials/h ({two['trials_per_hour'] / one['trials_per_hour']:.2f}x) |",
    ]
    rows = {(row["backend"], row["workers"]): row for row in stress["results"]}
    for backend in ("postgres", "sqlite"):
        many = max(workers for (name, workers) in rows if name == backend)
        base, loaded = rows[(backend, 1)], rows[(backend, many)]
        lines.append(
            f"| storage stress through `hpo.optimize.worker.Worker`, trivial objective, "
            f"{stress['trials_per_run']} trials, {backend} | {base['trials_per_s']} trials/s | "
            f"{many} workers: {loaded['trials_per_s']} trials/s "
            f"({loaded['trials_per_s'] / base['trials_per_s']:.2f}x), {loaded['lost']} lost, "
            f"{loaded['duplicated']} duplicated |"
        )
    lines += [
        "",
        "The negative control: the same harness and the same `Worker` code with the claim lock "
        "switched off (a test-only switch), and a pause between counting and asking so the "
        "race is reliable:",
        "",
        "| storage | workers | lock | trials asked | trials stored | check |",
        "|---|---|---|---|---|---|",
    ]
    for row in stress.get("negative_control", []):
        lines.append(
            f"| {row['backend']} | {row['workers']} | {row['lock']} | "
            f"{stress['trials_per_run']} | {row['trials']} | "
            f"{'passes' if row['ok'] else 'fails: ' + ', '.join(row['problems'])} |"
        )
    pruning = optimize["pruning"]
    by_stopping = pruning["epochs_max"] - pruning["epochs_run"] - pruning["epochs_saved_by_pruning"]
    lines += [
        "",
        f"- Pruning (quick budget, median pruner): {pruning['pruned']} of {pruning['trials']} "
        f"trials pruned; of the {pruning['epochs_max']} epochs the trials could have run, "
        f"pruning saved {pruning['epochs_saved_by_pruning']} "
        f"({100 * pruning['epochs_saved_by_pruning'] / pruning['epochs_max']:.1f}%) and early "
        f"stopping {by_stopping} more.",
    ]
    for label, memory in optimize["memory"].items():
        start = memory.get("rss_mib_at_start")
        lines.append(
            f"- Memory, {label.replace('_', ' ')} ({memory['trials']} trials, a fresh process "
            f"at {start} MiB): RSS after the first trial {memory['rss_mib_after_each'][0]} MiB, "
            f"peak {memory['peak']} MiB."
        )
    return "\n".join(lines)


def _halving_line(screen: dict) -> str:
    """The default screen (successive halving) against the exhaustive one above, or that it has not
    been measured yet."""
    halving = screen.get("halving")
    if not halving:
        return (
            "The default screen (successive halving) has not been measured against this exhaustive "
            "screen yet: `python -m bench.screen` runs both."
        )
    parts = []
    for latent, at in halving["per_latent"].items():
        if at["same_top2"]:
            parts.append(f"latent {latent}: the same top two ({', '.join(at['full_top2'])})")
        else:
            costs = ", ".join(f"{c:+.4f}" for c in at["val_rel_l2_cost"])
            parts.append(
                f"latent {latent}: **missed {', '.join(at['missed'])}** (its replacement is "
                f"{costs} validation rel_l2 worse at the full budget)"
            )
    wall = halving.get("wall_s")
    return (
        f"The default screen (successive halving, rungs "
        f"{', '.join(map(str, halving['settings'].get('rungs', [])))} epochs): "
        + (
            ""
            if wall is None
            else f"{wall / 60:.0f} min wall (target 30 min: "
            f"{'met' if wall <= 1800 else 'not met'}), "
        )
        + f"{halving['training_s'] / 60:.0f} min of training, "
        f"{halving['training_share_of_full']:.0%} of the exhaustive screen's; "
        + "; ".join(parts)
        + "."
    )


def render_screen(results: Results) -> str:
    """The default screen's compression curve as a table: test rel_l2 per architecture and latent
    size beside PCA's, and what the screen cost."""
    screen = results["screen"]
    runs = [r for r in screen["runs"] if r["state"] == "complete"]
    names = list(dict.fromkeys(r["architecture"] for r in screen["runs"]))
    lines = [
        "| latent | " + " | ".join(f"`{n}`" for n in names) + " | PCA (augmented) | plain PCA | "
        "beat PCA on test |",
        "|---" * (len(names) + 4) + "|",
    ]
    for latent in screen["latents"]:
        at = screen["per_latent"][str(latent)]
        cells = []
        for name in names:
            values = [
                r["test_rel_l2"]
                for r in runs
                if r["architecture"] == name and r["latent"] == latent
            ]
            cells.append(f"{sum(values) / len(values):.3f}" if values else "–")
        lines.append(
            f"| {latent} | " + " | ".join(cells) + f" | {at['pca_test_rel_l2']:.3f} | "
            f"{at['plain_pca_test_rel_l2']:.3f} | "
            f"{', '.join(at['beat_pca_on_test']) or 'none'} |"
        )
    repeats = max(r["repeat"] for r in screen["runs"]) + 1
    per_epoch = list(screen["seconds_per_epoch"].values())
    lines += [
        "",
        f"Test rel_l2 of each run (`{screen['command']}`: {screen['n_runs']} runs of at most "
        f"{screen['settings']['epochs']} epochs, augmented with "
        f"{', '.join(screen['augment']) or 'nothing'}; PCA fitted on the same augmented "
        f"training set, plain PCA on the training set as it is). Training took "
        f"{screen['training_s'] / 3600:.1f} h ({screen['training_s'] / 60:.0f} min) on "
        f"{screen['machine']['cores']} cores "
        f"({min(per_epoch):.1f}–{max(per_epoch):.1f} s per epoch)."
        + ("" if repeats == 1 else f" Means over {repeats} repeats."),
    ]
    lines.append("\n" + _halving_line(screen))
    gains = sorted(r["late_gain"] for r in runs if r.get("late_gain") is not None)
    if gains:
        lines.append(
            f"\nPlateau: in the last quarter of the epoch budget the validation rel_l2 "
            f"improved by {100 * gains[len(gains) // 2]:.1f}% of its best (median over the "
            f"runs; at most {100 * gains[-1]:.1f}%)."
        )
    steps = [r for r in runs if r.get("next_step_test_rel_l2") is not None]
    for r in steps:
        lines.append(
            f"\n`{r['architecture']}`'s next-step head at latent {r['latent']}: test rel_l2 "
            f"{r['next_step_test_rel_l2']:.3f}; persistence x̂(t+1) = x(t) "
            f"{r['persistence_test_rel_l2']:.3f}; persistence through PCA of the same size "
            f"{r['pca_persistence_test_rel_l2']:.3f}."
        )
    return "\n".join(lines)


def render_rungs(results: Results) -> str:
    """bench.rungs: the successive-halving schedules played on the committed curves, the chosen one
    and how it fares on the curves it was not chosen on."""
    from bench.rungs import format_table

    rungs = results["rungs"]
    chosen = rungs["chosen"]
    picked = [
        r
        for r in rungs["report"]
        if r["rungs"] == chosen["rungs"]
        and r["eta"] == chosen["eta"]
        and r["keep"] == chosen["keep"]
    ][0]
    check = rungs.get("full_data_check")
    checked = (
        [r for r in check["rows"] if r["rungs"] == chosen["rungs"] and r["keep"] == chosen["keep"]][
            0
        ]
        if check
        else None
    )
    lines = [
        f"`python -m bench.rungs`: {rungs['choice'][0]['draws']} draws of "
        f"{rungs['runs_per_latent']} configurations from each group of committed curves "
        f"({', '.join(rungs['curves'])}); a schedule is chosen on "
        f"{', '.join(rungs['choice_groups'])} (the cheapest that keeps the exhaustive top two in "
        f"{rungs['target_same_top2']:.0%} of the draws) and reported on "
        f"{', '.join(rungs['report_groups'])}, which took no part in the choice:",
        "",
        format_table(rungs["report"]),
        "",
        f"**Chosen: rungs {', '.join(map(str, chosen['rungs']))} epochs, {chosen['keep']} kept to "
        f"the end** (η {chosen['eta']}: with 5 runs any η ≥ 2 keeps the same number). On the "
        f"held-out curves it keeps the exhaustive top two in {picked['same_top2']:.0%} of the "
        f"draws (target {rungs['target_same_top2']:.0%}: "
        f"{'met' if picked['same_top2'] >= rungs['target_same_top2'] else 'not met'}) and the "
        f"exhaustive best in {picked['keeps_best']:.0%}, for {picked['epoch_share']:.0%} of the "
        f"exhaustive screen's epochs.",
    ]
    if checked:
        lines.append(
            f"On the {check['configurations']} configurations trained on the full default data "
            f"it keeps the top two in {checked['same_top2']:.0%} of the draws."
        )
    low = rungs.get("low_resolution_first_rung")
    if low:
        from bench.rungs import format_low_resolution

        def row(first):
            return next(
                r
                for r in low["rows"]
                if r["first_rung"] == first
                and r["rung"] == chosen["rungs"][0]
                and r["keep"] == chosen["keep"]
            )

        reduced, full = row("reduced"), row("full")
        lines += [
            "",
            f"A first rung on the reduced data (a reduced epoch costs "
            f"{low['reduced_epoch_cost']:.2f} of a full one; the survivors train the whole "
            f"budget again at full resolution), every draw of {rungs['runs_per_latent']} of the "
            f"{low['configurations']} configurations trained on both:",
            "",
            format_low_resolution(low),
            "",
            f"At the chosen rung ({chosen['rungs'][0]} epochs, {chosen['keep']} kept) the reduced "
            f"first rung hands on the same top two in {reduced['same_top2']:.0%} of the draws "
            f"(full: {full['same_top2']:.0%}) for {reduced['epoch_share']:.0%} of the exhaustive "
            f"screen's epochs (full: {full['epoch_share']:.0%}).",
        ]
    return "\n".join(lines)


def render_gpu(results: Results) -> str:
    """bench.gpu on the lent H200 (JAX): what was measured, and what did not finish."""
    if not results.has("gpu"):
        return "Not yet measured on a GPU: `bash bench/gpu.sh` is ready for the first chance."
    gpu = results["gpu"]
    parts = gpu["parts"]
    data = parts["data"]
    lines = [
        f"`bash bench/gpu.sh` on one NVIDIA H200 with JAX ({gpu['total_s']:.0f} s in all, "
        f"budget {gpu['budget_s']:.0f} s):",
        "",
        f"- The default embedded dataset generated in {data['wall_s']:.1f} s (16 cores).",
    ]
    speed = parts.get("speed", {}).get("architectures", {})
    if speed:
        lines += [
            "",
            "| architecture (latent 8) | first epoch, with compilation | s per epoch after it "
            "| 2 CPU cores (TensorFlow) | ratio |",
            "|---|---|---|---|---|",
        ]
        for name, row in speed.items():
            lines.append(
                f"| `{name}` | {row['first_epoch_s']:.1f} s | {row['steady_s_per_epoch']:.3f} s | "
                f"{row['cpu_2_cores_s_per_epoch']:.2f} s | {row['speedup']:.0f}x |"
            )
        missing = [
            n for n in ("conv", "conv_dropout", "vqvae2", "depthwise", "dual") if n not in speed
        ]
        if missing:
            lines.append(f"\n{', '.join(missing)}: not reached within the part's time.")
    runs = parts.get("curves", {}).get("runs", {})
    timed_out = [name for name, run in runs.items() if run.get("timed_out")]
    if runs:
        lines.append(
            f"\n- The exhaustive screen with every run its own process ({len(runs)} at once, "
            f"plus {len(parts['curves'].get('long', {}).get('runs', {}))} of 120 epochs): "
            f"{len(timed_out)} of {len(runs)} runs were cut off at their time limit before "
            "finishing a first epoch (alone, a first epoch with compilation took up to 32 s; the "
            "likely cause, not verified: that many processes compiling at once on 16 cores). "
            "Not measured: "
            "the screen's curves, trials per hour with 1–8 workers (they need that screen) and "
            "the GPU-budget search against PCA."
        )
    return "\n".join(lines)


def render_recipe(results: Results) -> str:
    """bench.recipe: each knob against the screen's recipe on the choice seed, the adopted ones,
    and the chosen recipe against the screen's on the report seed."""
    if not results.has("recipe") or not results["recipe"].get("rows"):
        return "Not measured yet: `python -m bench.recipe` (about 1.5 hours on 2 cores)."
    from bench.recipe import ARMS, CHOOSE, CHOOSE_SEED, HEADER, REPORT_SEED, arm_name, format_row

    recipe = results["recipe"]
    rows = recipe["rows"]
    order = ["screen", *(arm_name({knob: value}) for knob, value in ARMS)]
    choice = sorted(
        (r for r in rows if r["phase"] == "choose"),
        key=lambda r: order.index(r["arm"]) if r["arm"] in order else len(order),
    )
    report = [r for r in rows if r["phase"] == "report"]
    architecture, latent = CHOOSE
    lines = [
        f"`python -m bench.recipe` ({recipe['backend']}, {recipe['machine']['cores']} cores): "
        f"{architecture} at latent {latent}, {recipe['n_params']:,} parameters, "
        f"{recipe['epochs']} epochs, the screen's recipe and symmetries "
        f"({', '.join(recipe['augment']) or 'none'}); one arm per knob value on seed "
        f"{CHOOSE_SEED}, adopted where its validation rel_l2 beats the screen recipe's by more "
        f"than {recipe['margin']:.0%}:",
        "",
        HEADER,
        *map(format_row, choice),
    ]
    if "chosen" not in recipe:
        lines += ["", f"Not finished: {len(choice)} arms of the choice measured."]
        return "\n".join(lines)
    chosen = recipe["chosen"]
    lines += [
        "",
        f"**Adopted: {arm_name(chosen) if chosen else 'nothing (the screen recipe stays)'}.** "
        f"Reported on seed {REPORT_SEED}, which took no part in the choice, and on an "
        f"architecture and latent size the choice never saw:",
        "",
        HEADER,
        *map(format_row, report),
        "",
    ]
    for model in dict.fromkeys((r["architecture"], r["latent"]) for r in report):
        pair = {r["arm"]: r for r in report if (r["architecture"], r["latent"]) == model}
        before, after = pair.get("screen"), pair.get(arm_name(chosen))
        if before and after:
            lines.append(
                f"- {model[0]} z{model[1]}: validation "
                f"{after['val_rel_l2'] / before['val_rel_l2'] - 1:+.1%}, "
                f"test {after['test_rel_l2'] / before['test_rel_l2'] - 1:+.1%}, "
                f"{after['seconds_per_epoch'] / before['seconds_per_epoch']:.2f}x the seconds per "
                "epoch."
            )
    lines.append(
        "\nSeconds per epoch compare within the report rows, which ran alone; the choice rows "
        "shared the machine with other work."
    )
    return "\n".join(lines)


RENDERERS: dict[str, Callable[[Results], str]] = {
    "recipe": render_recipe,
    "gpu": render_gpu,
    "screen": render_screen,
    "rungs": render_rungs,
    "overhead": render_overhead,
    "workers": render_workers,
    "generate": render_generate,
    "quality": render_quality,
    "replay": render_replay,
    "curves-check": render_curves_check,
    "live-check": render_live_check,
}


def render(text: str, results: Results) -> tuple[str, list[str]]:
    """`text` with every generated block rewritten; also the names of blocks whose body changed.

    Raises:
        SystemExit: a block names no renderer, or a renderer has no block in the text.
    """
    changed, seen = [], set()

    def rewrite(match: re.Match) -> str:
        name = match["name"]
        if name not in RENDERERS:
            raise SystemExit(
                f"README block {name!r} has no renderer in bench/readme.py; "
                f"known: {', '.join(RENDERERS)}"
            )
        seen.add(name)
        body = RENDERERS[name](results).rstrip("\n") + "\n"
        if body != match["body"]:
            changed.append(name)
        return match["open"] + body + match["close"]

    new = BLOCK.sub(rewrite, text)
    missing = set(RENDERERS) - seen
    if missing:
        raise SystemExit(
            f"README has no block for {', '.join(sorted(missing))}: add "
            f"<!-- bench:NAME --> ... <!-- /bench:NAME --> where it belongs"
        )
    return new, changed


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--check",
        action="store_true",
        help="change nothing; exit 1 if a block differs from what the JSON gives",
    )
    parser.add_argument("--readme", type=Path, default=README)
    parser.add_argument("--results", type=Path, default=RESULTS)
    args = parser.parse_args(argv)
    text = args.readme.read_text()
    new, changed = render(text, Results(args.results))
    if args.check:
        if changed:
            print(
                f"README blocks out of date with bench/results: {', '.join(changed)}; run "
                f"`python -m bench.readme`",
                file=sys.stderr,
            )
            return 1
        print("README figures match bench/results")
        return 0
    args.readme.write_text(new)
    print(
        f"rewrote {len(changed)} block(s) of {args.readme}: {', '.join(changed) or 'none changed'}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
