"""Benchmark: search methods replayed against a table of recorded learning curves, many seeds each.

    python -m bench.replay [--table bench/results/curves.csv] [--seeds 50] [--quick] [--out DIR]

A tabular benchmark, as LCBench, HPOBench or YAHPO Gym: bench/curves.py trained every configuration
of a grid once for the full epoch budget E, recording validation and test rel_l2 after every epoch.
Here each search method runs against that table instead of training: seconds per method, so it can
be repeated over enough seeds to tell methods apart from seed noise.

Each study gets B epochs (B = 20 E; --quick 8 E, 5 seeds instead of 50) and asks for no trial once
they are spent; the trial that crosses B is cut there, charged only the epochs within B, and its
value does not count (it never finished), so no method ever spends more than B. The methods:
random, tpe, tpe+median, tpe+sha, tpe+hyperband, random+hyperband (Optuna: sampler + pruner);
kerastuner-hyperband; two-stage (the pipeline: screen, then search the better architecture).
Without a screen_config in curves.json, two-stage is left out.

The rooms, in the order the data flows:
    table.py       the table: curves.csv and its .json, read and checked (Table, load_table)
    trial.py       one replayed trial: a curve read as a live trial would (replay_trial)
    methods.py     the method drivers: Optuna studies, KerasTuner's Hyperband, two-stage
    statistics.py  anytime curves, the share re-trained, medians with bootstrap intervals
    benchmark.py   one replay: settings, every method on every seed, both scopes summarized,
                   the record (replay)
    defaults.py    defaults from evidence: hpo.optimize's candidate defaults, replayed and ranked
    report.py      the printed table and the chart
    cli.py         the command line (main)

Prints a table; writes <out>/replay[-quick].json (the summary and every seed's trials; for the
defaults, every seed's regret and share) and .html (anytime regret curves), and for a full run
replay.png. bench.live_check and bench.readme read this package's names below.
"""

from bench.replay.benchmark import (
    FULL_SEEDS,
    FULL_TRIALS,
    QUICK_SEEDS,
    QUICK_TRIALS,
    SCOPES,
    Runs,
    Settings,
    raw_trials,
    replay,
    run_methods,
    scope_architectures,
    summarize_scope,
)
from bench.replay.cli import main, parse_args
from bench.replay.defaults import (
    GRID_PRUNERS,
    Combination,
    combination_search,
    current_default,
    defaults_grid,
    live_startup_trials,
    rank_defaults,
    summarize_defaults,
)
from bench.replay.methods import (
    BASELINE,
    DEFAULT_METHOD,
    KERASTUNER,
    METHODS,
    OPTUNA_METHODS,
    TWO_STAGE,
    create_study,
    expected_trials,
    kerastuner_search,
    make_study,
    max_failures,
    optuna_search,
    run_search,
    run_study,
    two_stage,
)
from bench.replay.report import format_defaults, format_table, show_interval, write_chart
from bench.replay.statistics import (
    anytime,
    best_at,
    bootstrap_median,
    epochs_to_reach,
    on_grid,
    quantile,
    retrained_share,
)
from bench.replay.table import DEFAULT_TABLE, RESULTS, Curve, Table, TableError, load_table
from bench.replay.trial import (
    COMPLETE,
    CUT,
    DUPLICATE,
    FAIL,
    PRUNED,
    TRIAL_COLUMNS,
    TrialRecord,
    patience_for,
    replay_trial,
)

__all__ = [
    "BASELINE",
    "COMPLETE",
    "CUT",
    "DEFAULT_METHOD",
    "DEFAULT_TABLE",
    "DUPLICATE",
    "FAIL",
    "FULL_SEEDS",
    "FULL_TRIALS",
    "GRID_PRUNERS",
    "KERASTUNER",
    "METHODS",
    "OPTUNA_METHODS",
    "PRUNED",
    "QUICK_SEEDS",
    "QUICK_TRIALS",
    "RESULTS",
    "SCOPES",
    "TRIAL_COLUMNS",
    "TWO_STAGE",
    "Combination",
    "Curve",
    "Runs",
    "Settings",
    "Table",
    "TableError",
    "TrialRecord",
    "anytime",
    "best_at",
    "bootstrap_median",
    "combination_search",
    "create_study",
    "current_default",
    "defaults_grid",
    "epochs_to_reach",
    "expected_trials",
    "format_defaults",
    "format_table",
    "kerastuner_search",
    "live_startup_trials",
    "load_table",
    "main",
    "make_study",
    "max_failures",
    "on_grid",
    "optuna_search",
    "parse_args",
    "patience_for",
    "quantile",
    "rank_defaults",
    "raw_trials",
    "replay",
    "replay_trial",
    "retrained_share",
    "run_methods",
    "run_search",
    "run_study",
    "scope_architectures",
    "show_interval",
    "summarize_defaults",
    "summarize_scope",
    "two_stage",
    "write_chart",
]
