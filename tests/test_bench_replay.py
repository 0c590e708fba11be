"""bench/replay/: search methods replayed against a table of learning curves. A small synthetic
table (two architectures, three knobs at two levels, six epochs, with a plateau and a diverging run)
checks that trials read the table exactly, that budgets hold, and that the CLI writes what it
promises."""

from __future__ import annotations

import itertools
import json
import math
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import numpy as np
import optuna
import pytest

from bench import readme, replay
from bench.replay import COMPLETE, CUT, DUPLICATE, FAIL, PRUNED, Combination
from hpo.keys import DUPLICATE_OF
from hpo.optimize.duplicates import MAX_DUPLICATES_IN_A_ROW

ROOT = Path(__file__).resolve().parents[1]
# KerasTuner 1.4.8's oracle calls threading.currentThread().getName(), deprecated: not ours to fix.
pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning:keras_tuner")
EPOCHS = 6  # patience max(3, ceil(6 / 4)) = 3
# Three of the real table's seven knobs: the replay takes its knobs from the table.
KNOBS = {
    "latent": [8, 16],
    "learning_rate": [0.001, 0.003],
    "augment": ["none", "shift-x,mirror-x"],
}
ARCHITECTURES = ("conv", "depthwise")
# conv's config 5: best at epoch 2, then three epochs without improvement; its late drop is unseen.
PLATEAU = 5
PLATEAU_VAL = [0.5, 0.4, 0.41, 0.42, 0.43, 0.2]
DIVERGING = 6  # NaN from epoch 3 on, in both architectures
SCREEN = {"conv": 3, "depthwise": 3}


def synthetic_val(architecture: int, config: int) -> np.ndarray:
    """floor + amplitude * exp(-epoch / tau): each configuration its floor and pace."""
    if architecture == 0 and config == PLATEAU:
        return np.array(PLATEAU_VAL)
    epochs = np.arange(1, EPOCHS + 1)
    val = 0.1 + 0.03 * config + 0.05 * architecture + 0.5 * np.exp(-epochs / (1 + config % 3))
    if config == DIVERGING:
        val[2:] = np.nan
    return val


def write_table(
    folder: Path, screen: dict | None = None, meta: bool = True, drop_configs: int = 0
) -> Path:
    """curves.csv (bench/curves.py's schema) and curves.json in `folder`; returns the CSV's path.

    Args:
        screen: screen_config of curves.json (default SCREEN).
        meta: write curves.json at all.
        drop_configs: leave out the second architecture's last configurations (a partial table).
    """
    folder.mkdir(parents=True, exist_ok=True)
    lines = ["architecture,config," + ",".join(KNOBS) + ",epoch,val_rel_l2,test_rel_l2,seconds"]
    grid = list(itertools.product(*KNOBS.values()))
    for a, architecture in enumerate(ARCHITECTURES):
        kept = grid[: len(grid) - drop_configs] if a == 1 else grid
        for config, levels in enumerate(kept):
            val = synthetic_val(a, config)
            cells = [f'"{v}"' if "," in str(v) else str(v) for v in levels]
            for epoch in range(1, EPOCHS + 1):
                v = val[epoch - 1]
                test = "nan" if math.isnan(v) else repr(float(1.1 * v + 0.01))
                lines.append(
                    f"{architecture},{config},{','.join(cells)},{epoch},"
                    f"{'nan' if math.isnan(v) else repr(float(v))},{test},1.5"
                )
    path = folder / "curves.csv"
    path.write_text("\n".join(lines) + "\n")
    if meta:
        (folder / "curves.json").write_text(
            json.dumps(
                {
                    "epochs": EPOCHS,
                    "knobs": KNOBS,
                    "architectures": list(ARCHITECTURES),
                    "screen_config": SCREEN if screen is None else screen,
                    "data": "synthetic",
                    "machine": {},
                }
            )
        )
    return path


@pytest.fixture
def table(tmp_path) -> replay.Table:
    return replay.load_table(write_table(tmp_path))


def test_the_table_is_read_with_its_own_knobs_and_levels(table):
    assert table.epochs == EPOCHS and table.architectures == ARCHITECTURES
    assert table.knobs == {name: tuple(levels) for name, levels in KNOBS.items()}
    assert len(table.curves["conv"]) == 8
    curve = table.curves["conv"][(16, 0.001, "shift-x,mirror-x")]  # config 5
    assert curve.config == PLATEAU and curve.val.tolist() == PLATEAU_VAL
    assert np.isnan(table.curve_of("depthwise", DIVERGING).val[2:]).all()
    # The optimum: conv's config 0 at its last epoch (curves fall monotonically), any epoch counted.
    best = table.optimum(("conv",))
    assert (best["config"], best["epoch"]) == (0, EPOCHS)
    assert best["val_rel_l2"] == pytest.approx(synthetic_val(0, 0)[-1])


def test_knobs_are_inferred_from_the_columns_without_curves_json(tmp_path):
    table = replay.load_table(write_table(tmp_path, meta=False))
    assert set(table.knobs) == set(KNOBS) and table.epochs == EPOCHS
    assert table.screen_config == {}  # so main leaves two-stage out


def _study(pruner=None) -> optuna.Study:
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    return optuna.create_study(sampler=optuna.samplers.RandomSampler(0), pruner=pruner)


def test_a_trial_reports_the_table_and_stops_early_where_the_rule_says(table):
    study = _study()
    records = replay.run_study(
        study, table, "conv", EPOCHS, first_params=table.levels_of("conv", PLATEAU)
    )
    record = records[0]
    # Best at epoch 2, then 3 epochs without improvement (patience 3): stopped after epoch 5,
    # never seeing epoch 6's 0.2; the value is the best epoch's, the test value that epoch's.
    assert record.state == COMPLETE and record.epochs == 5
    assert record.value == 0.4 and record.test == pytest.approx(1.1 * 0.4 + 0.01)
    reported = study.trials[0].intermediate_values
    # Reported at step epoch - 1 (Keras' epoch index), the table's values exactly.
    assert reported == {step: PLATEAU_VAL[step] for step in range(5)}
    trained = [r for r in records if r.state != DUPLICATE]  # the same config proposed again
    assert len(trained) == 2 and trained[1].state == CUT and trained[1].epochs == 1  # budget 6


def test_a_monotone_curve_runs_every_epoch_and_a_nan_fails_the_trial(table):
    falling = replay.replay_trial("conv", table.curve_of("conv", 0), 3, epochs_left=100)
    assert (falling.state, falling.epochs) == (COMPLETE, EPOCHS)
    assert falling.value == table.curve_of("conv", 0).val.min()
    diverged = replay.replay_trial("conv", table.curve_of("conv", DIVERGING), 3, epochs_left=100)
    # NaN at epoch 3: failed, charged 3 epochs.
    assert (diverged.state, diverged.epochs, diverged.counts()) == (FAIL, 3, False)
    cut = replay.replay_trial("conv", table.curve_of("conv", 0), 3, epochs_left=2)
    assert (cut.state, cut.epochs, cut.counts()) == (CUT, 2, False)


def test_an_equal_value_is_no_improvement_as_for_keras_early_stopping():
    flat = replay.Curve(0, np.array([0.5, 0.4, 0.4, 0.4, 0.4, 0.3]), np.arange(6.0))
    record = replay.replay_trial("conv", flat, patience=3, epochs_left=100)
    assert (record.epochs, record.value, record.test) == (5, 0.4, 1.0)  # the first 0.4's epoch


def _failed_in_a_row(records: list[replay.TrialRecord]) -> bool:
    """The study stopped as a live one does: its last max_failures (3) trials failed (TPE proposes
    a diverged configuration again, as Optuna's samplers ignore failed trials)."""
    return [r.state for r in records[-3:]] == [FAIL] * 3


class _PruneAtSecondEpoch(optuna.pruners.BasePruner):
    def prune(self, study, trial) -> bool:
        return trial.last_step is not None and trial.last_step >= 1


def test_a_pruned_trial_costs_the_epochs_it_ran(table):
    study = _study(_PruneAtSecondEpoch())
    records = replay.run_study(study, table, "conv", budget=12)
    trained = [r for r in records if r.state != DUPLICATE]
    assert all(r.state == PRUNED and r.epochs == 2 for r in trained if r.config != DIVERGING)
    assert sum(r.epochs for r in records) == 12


def test_a_configuration_already_finished_is_answered_without_an_epoch(table):
    """hpo.optimize's own answer (hpo.optimize.duplicates): the stored curve replayed through the
    pruner, the same end, no epoch charged; every configuration trained once."""
    study = _study(_PruneAtSecondEpoch())
    for config in (0, 0, 1, 0, 1):
        study.enqueue_trial(table.levels_of("conv", config))
    records = replay.run_study(study, table, "conv", budget=4)
    assert [(r.config, r.state, r.epochs) for r in records] == [
        (0, PRUNED, 2),
        (0, DUPLICATE, 0),
        (1, PRUNED, 2),
    ]
    duplicate = study.trials[1]
    assert duplicate.state == optuna.trial.TrialState.PRUNED
    assert duplicate.intermediate_values == study.trials[0].intermediate_values
    assert replay.retrained_share(records) == 0.0
    # Trained again, the same configuration would have been a repeat.
    again = [records[0], replace(records[0], first_epoch=0), records[2]]
    assert replay.retrained_share(again) == pytest.approx(2 / 6)


def _out_of_points(records: list, n_points: int = 8) -> bool:
    """Whether a study stopped because its space was exhausted (hpo.optimize.duplicates)."""
    finished = {r.config for r in records if r.state in (COMPLETE, PRUNED)}
    tail = list(itertools.takewhile(lambda r: r.state == DUPLICATE, reversed(records)))
    return len(finished) == n_points or len(tail) >= MAX_DUPLICATES_IN_A_ROW


def _stopped_by_failures(records: list) -> bool:
    """Its last max_failures trained trials failed (answered duplicates in between count neither
    way, as in hpo.optimize)."""
    return _failed_in_a_row([r for r in records if r.state != DUPLICATE])


@pytest.mark.parametrize("method", list(replay.OPTUNA_METHODS))
def test_optuna_methods_spend_their_budget_and_never_more(table, method):
    budget = 5 * EPOCHS + 2  # not a multiple of E: the last trial is cut
    for seed in range(3):
        study = replay.make_study(method, seed, EPOCHS, budget)
        records = replay.run_study(study, table, "conv", budget)
        # It spends the budget unless trials failed in a row, or its 8 points ran out.
        spent = sum(r.epochs for r in records)
        assert spent <= budget
        assert spent == budget or _stopped_by_failures(records) or _out_of_points(records)
        assert all(r.state != CUT for r in records[:-1])  # only the last can cross the budget
        for record, trial in zip(records, study.trials):
            if record.state == DUPLICATE:  # answered from a finished trial: no epoch
                assert trial.user_attrs[DUPLICATE_OF] < trial.number
                continue
            # Every epoch run was reported, except a diverged run's NaN epoch.
            assert record.epochs == len(trial.intermediate_values) + (record.state == FAIL)
            assert record.state != PRUNED or trial.state == optuna.trial.TrialState.PRUNED


def test_a_replay_is_reproducible_seed_by_seed(table, tmp_path):
    """Same seed, same trials: Optuna's HyperbandPruner picks brackets from the study's name, and
    KerasTuner takes seed 0 for no seed at all."""
    for method in ("tpe+hyperband", "random+hyperband"):
        runs = [replay.optuna_search(table, "conv", method, 0, 8 * EPOCHS) for _ in range(2)]
        assert runs[0] == runs[1]
    runs = [replay.kerastuner_search(table, "conv", 0, 8 * EPOCHS, tmp_path) for _ in range(2)]
    assert runs[0] == runs[1]


def test_random_search_reaches_its_own_final_best_within_its_budget(table):
    budget = 8 * EPOCHS
    for seed in range(5):
        curve = replay.anytime(replay.optuna_search(table, "conv", "random", seed, budget))
        target = replay.best_at(curve, budget)
        share = replay.epochs_to_reach(curve, target) / budget
        assert math.isfinite(target) and 0 < share <= 1


def test_kerastuner_hyperband_replays_the_table_within_its_budget(table, tmp_path):
    budget, folder = 4 * EPOCHS, tmp_path / "kerastuner"
    folder.mkdir()
    records = replay.kerastuner_search(table, "conv", seed=0, budget=budget, directory=folder)
    assert sum(r.epochs for r in records) <= budget
    assert list(folder.iterdir()) == []  # its project folder is removed
    # Hyperband with max_epochs 6, factor 3: its first bracket runs 5 trials for 2 epochs, then
    # continues the best 2 from epoch 2 to 6, charged only the 4 epochs they add.
    assert [(r.first_epoch, r.epochs) for r in records[:5]] == [(0, 2)] * 5
    continued = [r for r in records if r.first_epoch > 0]
    assert len(continued) == 2 and all(r.first_epoch == 2 and r.epochs <= 4 for r in continued)
    ran_before = {r.config for r in records if r.first_epoch == 0}
    assert all(r.config in ran_before for r in continued)  # a promoted trial continues its parent's
    # The best it claims is the table's value of that configuration over the epochs it ran.
    best = min((r for r in records if r.counts()), key=lambda r: r.value)
    val = table.curve_of("conv", best.config).val
    assert best.value == np.nanmin(val[best.first_epoch : best.first_epoch + best.epochs])


def test_kerastuner_hyperband_is_cut_at_a_small_budget(table, tmp_path):
    records = replay.kerastuner_search(table, "conv", seed=3, budget=7, directory=tmp_path)
    assert [(r.state, r.epochs) for r in records] == [(COMPLETE, 2)] * 3 + [(CUT, 1)]


@pytest.mark.parametrize(
    "screen, chosen",
    [
        (SCREEN, "conv"),  # conv's config 3 is lower
        ({"conv": 7, "depthwise": 0}, "depthwise"),
    ],
)
def test_two_stage_screens_both_and_searches_the_better(tmp_path, screen, chosen):
    table = replay.load_table(write_table(tmp_path, screen=screen))
    budget = 2 * 8 * EPOCHS
    picked, records = replay.two_stage(table, ARCHITECTURES, seed=0, budget=budget)
    assert picked == chosen
    screens = records[:2]
    assert [(r.architecture, r.config) for r in screens] == list(screen.items())
    assert all(r.state == COMPLETE and r.epochs == EPOCHS for r in screens)  # charged in full
    assert all(r.architecture == chosen for r in records[2:])
    assert records[2].config == screen[chosen]  # the study starts from the screen's configuration
    spent = sum(r.epochs for r in records)
    assert spent == budget or _stopped_by_failures(records) or _out_of_points(records[2:])
    curve = replay.anytime(records)
    assert curve[0][2] == 2 * EPOCHS and curve[1][2] == min(r.value for r in screens)


def test_quantile_matches_numpy_and_keeps_never_infinite():
    values = np.array([3.0, 1.0, 4.0, 1.5, 9.0])
    for q in (0.025, 0.25, 0.5, 0.975):
        assert replay.quantile(values, q) == pytest.approx(np.percentile(values, 100 * q))
    assert replay.quantile(np.array([1.0, 2.0, 3.0, math.inf]), 0.5) == 2.5
    assert replay.quantile(np.array([1.0, 2.0, math.inf, math.inf]), 0.5) == math.inf
    assert replay.quantile(np.array([1.0, 2.0, math.inf]), 0.5) == 2.0


def test_bootstrap_interval_holds_the_median_and_narrows_with_more_seeds():
    rng = np.random.default_rng(1)
    few, many = rng.normal(size=10), rng.normal(size=400)
    for values in (few, many):
        median, low, high = replay.bootstrap_median(values)
        assert median == np.median(values) and low <= median <= high
    width = [replay.bootstrap_median(v)[2] - replay.bootstrap_median(v)[1] for v in (few, many)]
    assert width[1] < width[0] / 2
    # Hand computations. Of five values, a resample's median is the outlier 1000 when 3 or more of
    # its 5 picks are (probability 0.058 > 2.5%), likewise the lowest: the interval spans them all.
    assert replay.bootstrap_median([1.0, 2.0, 3.0, 4.0, 1000.0]) == (3.0, 1.0, 1000.0)
    # A constant sample has a zero-width interval at that constant.
    assert replay.bootstrap_median([0.3] * 7) == (0.3, 0.3, 0.3)
    assert replay.bootstrap_median([math.inf] * 5 + [1.0])[0] == math.inf  # "never"


@pytest.fixture(scope="module")
def quick_run(tmp_path_factory) -> tuple[subprocess.CompletedProcess, dict, Path]:
    """`python -m bench.replay --quick` on the synthetic table, once for the tests that read it:
    the process, its JSON record and its --out folder."""
    folder = tmp_path_factory.mktemp("quick")
    table, out = write_table(folder / "table"), folder / "out"
    result = subprocess.run(
        [sys.executable, "-m", "bench.replay", "--quick", "--table", str(table), "--out", str(out)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return result, json.loads((out / "replay-quick.json").read_text()), out


def test_quick_run_writes_every_method_in_both_scopes(quick_run):
    result, record, out = quick_run
    assert result.stdout.startswith("machine:")
    assert "Traceback" not in result.stderr  # KerasTuner's failed-trial tracebacks stay quiet
    assert record["quick"] and record["seeds"] == list(range(replay.QUICK_SEEDS))
    assert record["budget_per_architecture"] == replay.QUICK_TRIALS * EPOCHS
    for scope, n_architectures in (("top1", 1), ("top2", 2)):
        result = record["scopes"][scope]
        assert result["budget_epochs"] == n_architectures * record["budget_per_architecture"]
        assert list(result["methods"]) == list(replay.METHODS)
        assert set(result["targets"]) == {
            "default_reaches_random_best_within_40pct",
            "default_beats_kerastuner",
        }
        assert all(isinstance(t["met"], bool) for t in result["targets"].values())
        random = result["methods"]["random"]
        assert random["seeds_reaching_random_best"] == replay.QUICK_SEEDS
        assert random["share_to_random_best"]["high"] <= 1
        for row in result["methods"].values():
            regrets = [row["regret"][k]["median"] for k in ("25%", "50%", "100%")]
            finite = [r for r in regrets if r is not None]
            assert all(r >= 0 for r in finite) and finite == sorted(finite, reverse=True)
            assert row["epochs_spent"]["high"] <= result["budget_epochs"]
        assert result["best_method"]["methods"]
    # The raw trials recompute the figures: random's top1 spend, seed by seed (the whole budget,
    # unless the 8 configurations ran out first, or the diverging one failed 3 times in a row); no
    # epoch re-trains a finished configuration.
    studies = record["trials"]["studies"]["random"]
    for by_arch in studies.values():
        rows = [replay.TrialRecord(*row) for row in by_arch["conv"]]
        spent = sum(r.epochs for r in rows)
        assert (
            spent == record["budget_per_architecture"]
            or _out_of_points(rows)
            or _stopped_by_failures(rows)
        )
    for method in replay.OPTUNA_METHODS:  # two-stage trains the screen's winner again, by design
        assert record["scopes"]["top1"]["methods"][method]["retrained_share"]["high"] == 0, method
    assert record["defaults"]["current"]["retrained_share"]["high"] == 0
    assert set(record["trials"]["two-stage"]) == {"top1", "top2"}
    assert "plotly" in (out / "replay-quick.html").read_text()


def _main_error(capsys, *argv: str) -> str:
    assert replay.main(list(argv)) == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err
    return err


def test_a_missing_table_exits_2_with_one_line(tmp_path):
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "bench.replay",
            "--quick",
            "--table",
            str(tmp_path / "nothing.csv"),
            "--out",
            str(tmp_path),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 2
    assert len(result.stderr.strip().splitlines()) == 1 and "Traceback" not in result.stderr
    assert "nothing.csv" in result.stderr and "bench.curves" in result.stderr


def test_bad_tables_exit_2_naming_the_problem(tmp_path, capsys):
    path = write_table(tmp_path / "a")
    path.write_text(path.read_text().replace("val_rel_l2", "val"))
    assert "val_rel_l2" in _main_error(capsys, "--table", str(path))

    partial = write_table(tmp_path / "b", drop_configs=3)
    error = _main_error(capsys, "--table", str(partial))
    assert "5 of the 8 configurations of 'depthwise'" in error

    missing = write_table(tmp_path / "c")
    meta = json.loads(missing.with_suffix(".json").read_text())
    meta["architectures"].append("vqvae2")
    missing.with_suffix(".json").write_text(json.dumps(meta))
    assert "vqvae2" in _main_error(capsys, "--table", str(missing))


# --- defaults from evidence ---------------------------------------------------------------------


def _combination(row: dict) -> Combination:
    return Combination(row["pruner"], row["startup"], row["epochs"])


def test_the_defaults_grid_has_every_combination(quick_run):
    full = replay.defaults_grid(30, quick=False)  # the real table's E
    assert len(full) == len(set(full)) == 4 * 3 * 3
    assert set(full) == {
        Combination(p, n, m)
        for p in ("none", "median", "sha", "hyperband")
        for n in (3, 5, 10)
        for m in (10, 20, 30)
    }
    # The quick run's JSON: every combination of its levels, once, each over every seed.
    _, record, _ = quick_run
    defaults = record["defaults"]
    quick = replay.defaults_grid(EPOCHS, quick=True)
    assert {c.epochs for c in quick} == {EPOCHS // 3, EPOCHS}
    levels = defaults["levels"]
    assert (
        [_combination(row) for row in defaults["grid"]]
        == list(quick)
        == [
            Combination(p, n, m)
            for p in levels["pruner"]
            for n in levels["startup"]
            for m in levels["epochs"]
        ]
    )
    assert all(
        row["regret_at_100pct"]["n"] == row["share_to_random_best"]["n"] == replay.QUICK_SEEDS
        for row in defaults["grid"]
    )
    assert "cosine" in defaults["note"]
    # Printed after the methods' tables: every candidate, the current default marked.
    printed = quick_run[0].stdout.split("\ndefaults (top1")[1]
    # ... and the current default when it is not one of them (the quick grid has no sha)
    ranked = len(quick) + (0 if defaults["current"]["in_grid"] else 1)
    assert sum(line.strip()[:1].isdigit() for line in printed.splitlines()) == ranked
    assert "<- current default" in printed


def _late_drop_table(path: Path, drop_after: int) -> replay.Table:
    """One knob, four configurations; every curve falls to 0.01 after epoch `drop_after`."""
    curves = {}
    for config in range(4):
        val = np.full(EPOCHS, 0.01)
        val[:drop_after] = 0.5 - 0.05 * np.arange(drop_after) + 0.01 * config  # falling slowly
        curves[(config,)] = replay.Curve(config, val, val + 0.01)
    return replay.Table(
        path, EPOCHS, {"x": (0, 1, 2, 3)}, ("a", "b"), {}, {"a": curves, "b": curves}
    )


@pytest.mark.parametrize("pruner", list(replay.GRID_PRUNERS))
def test_a_truncated_trial_never_reads_beyond_its_epochs(tmp_path, pruner):
    short = 2
    table = _late_drop_table(tmp_path / "curves.csv", drop_after=short)
    lowest_seen = 0.5 - 0.05 * (short - 1)  # config 0 at epoch 2
    for seed in range(3):
        records = replay.combination_search(table, Combination(pruner, 3, short), seed, 40)
        # Each of the 4 configurations trained once, for at most `short` epochs: the space is then
        # exhausted, well within the budget.
        trained = [r for r in records if r.state != DUPLICATE]
        assert sorted(r.config for r in trained) == [0, 1, 2, 3]
        assert all(r.epochs <= short for r in records)
        assert min(r.value for r in records if r.value is not None) == pytest.approx(lowest_seen)
    # The control: with E epochs per trial the late drop is found.
    records = replay.combination_search(table, Combination(pruner, 3, EPOCHS), 0, 40)
    assert min(r.value for r in records if r.value is not None) == 0.01


def test_truncated_rows_of_the_quick_run_never_beat_the_first_epochs(quick_run):
    """Every seed's regret of an M-epoch row is at least what the table's first M epochs allow."""
    _, record, _ = quick_run
    table = replay.load_table(Path(record["table"]))
    defaults = record["defaults"]
    optimum = table.optimum(table.architectures[:1])["val_rel_l2"]
    for row in defaults["grid"]:
        floor = (
            min(np.nanmin(c.val[: row["epochs"]]) for c in table.curves["conv"].values()) - optimum
        )
        assert all(r >= floor - 1e-4 for r in row["per_seed"]["regret_at_100pct"])  # 5 digits kept
        if row["epochs"] < EPOCHS:
            assert floor > 0.05  # the synthetic curves fall to their last epoch


def _check_defaults(defaults: dict) -> None:
    """The JSON's best is the argmin of the stated rule over the grid and the current default, the
    ranks follow the rule, and the comparison with the current default is the JSON's own numbers."""
    current = defaults["current"]
    rows = defaults["grid"] + ([] if current["in_grid"] else [current])
    assert current["in_grid"] == (_combination(current) in map(_combination, defaults["grid"]))

    def inf(value):
        return math.inf if value is None else value

    def key(row):
        return (
            inf(row["regret_at_100pct"]["median"]),
            inf(row["share_to_random_best"]["median"]),
            row["epochs"],
            _combination(row) != _combination(current),
        )

    best = min(rows, key=key)
    assert _combination(defaults["best"]) == _combination(best) and best["rank"] == 1
    assert sorted(row["rank"] for row in rows) == list(range(1, len(rows) + 1))
    by_rank = sorted(rows, key=lambda row: row["rank"])
    assert [key(row) for row in by_rank] == sorted(key(row) for row in rows)
    assert defaults["current_default_is_best"] == (_combination(best) == _combination(current))
    if defaults["current_default_is_best"]:
        assert defaults["regret_lower_by"] is None and defaults["intervals_overlap"] is None
    else:
        ours, theirs = best["regret_at_100pct"], current["regret_at_100pct"]
        assert defaults["regret_lower_by"] == pytest.approx(theirs["median"] - ours["median"])
        assert defaults["regret_lower_by"] >= 0
        assert defaults["intervals_overlap"] == (
            ours["high"] >= theirs["low"] and theirs["high"] >= ours["low"]
        )


def test_the_best_combination_is_the_argmin_of_the_rule(quick_run):
    _check_defaults(quick_run[1]["defaults"])


def test_ranking_breaks_ties_by_share_then_epochs_then_the_current_default():
    def row(regret, share, epochs):
        return {
            "regret_at_100pct": {"median": regret},
            "share_to_random_best": {"median": share},
            "epochs": epochs,
        }

    rows = [
        row(None, 0.1, 10),  # 0: no result in most seeds: last
        row(0.02, 0.9, 30),  # 1
        row(0.01, None, 10),  # 2: never reached random's best
        row(0.01, 0.5, 30),  # 3
        row(0.01, 0.5, 20),  # 4: ties 3 and 5 on regret and share, fewer epochs
        row(0.01, 0.5, 30),
    ]  # 5: ties 3 in full; the current default wins the tie
    assert replay.rank_defaults(rows, current=5) == [4, 5, 3, 2, 1, 0]
    assert replay.rank_defaults(rows, current=0) == [4, 3, 5, 2, 1, 0]


def _overfitting_table(path: Path) -> replay.Table:
    """Curves that bottom out at epoch 2 and rise after: a third of E loses nothing."""
    curves = {}
    for config in range(8):
        val = 0.2 + 0.02 * config + 0.05 * np.abs(np.arange(1, EPOCHS + 1) - 2)
        curves[(config,)] = replay.Curve(config, val, val)
    return replay.Table(
        path, EPOCHS, {"x": tuple(range(8))}, ("a", "b"), {}, {"a": curves, "b": curves}
    )


def test_the_current_default_is_the_live_studys_settings_and_is_replayed(quick_run, tmp_path):
    from hpo.optimize.settings import StudySettings

    for n_trials in range(1, 40):  # make_sampler's rule when start-up trials are not set
        assert replay.live_startup_trials(n_trials) == max(3, min(10, n_trials // 3))
    live = StudySettings()
    assert (live.pruner, live.n_startup_trials, live.epochs) == ("sha", 3, 30)  # from the evidence
    assert f"{live.sampler}+{live.pruner}" == replay.DEFAULT_METHOD  # the methods' nearest
    assert replay.current_default(30, 20 * 30) == Combination("sha", 3, 30)
    assert replay.current_default(8, 20 * 8) == Combination("sha", 3, 8)  # at most the table's E
    _, record, _ = quick_run
    current = record["defaults"]["current"]
    assert _combination(current) == Combination("sha", 3, EPOCHS)
    # Out of the quick grid, it is replayed and ranked beside it, and the targets are its own.
    assert not current["in_grid"] and 1 <= current["rank"] <= len(record["defaults"]["grid"]) + 1
    targets = record["defaults"]["targets"]
    reach, beat = (
        targets["default_reaches_random_best_within_40pct"],
        targets["default_beats_kerastuner"],
    )
    assert (
        reach["share"] == current["share_to_random_best"]
        and reach["method"] == f"tpe+sha s3 e{EPOCHS}"
    )
    assert beat["regret_at_100pct"] == current["regret_at_100pct"]
    kerastuner = record["scopes"]["top1"]["methods"]["kerastuner-hyperband"]["regret"]["100%"]
    assert beat["kerastuner_regret_at_100pct"] == kerastuner
    assert beat["met"] == (
        current["regret_at_100pct"]["median"] is not None
        and (
            kerastuner["median"] is None
            or current["regret_at_100pct"]["median"] < kerastuner["median"]
        )
    )
    table = _overfitting_table(tmp_path / "curves.csv")
    settings = replay.Settings(
        20 * EPOCHS, (0, 1, 2), False, (Combination("none", 3, 2), Combination("median", 3, EPOCHS))
    )
    defaults = replay.summarize_defaults(table, settings, replay.Runs({}, {}), progress=None)
    assert not defaults["current"]["in_grid"] and len(defaults["grid"]) == 2
    assert _combination(defaults["current"]) == Combination("sha", 3, EPOCHS)
    _check_defaults(defaults)
    assert _combination(defaults["best"]) == Combination("none", 3, 2)  # same regret, sooner
    assert not defaults["current_default_is_best"]


def test_the_readme_shows_the_best_combination(quick_run, tmp_path):
    _, record, _ = quick_run
    results = tmp_path / "results"
    results.mkdir()
    (results / "replay.json").write_text(json.dumps(record))
    text = readme.render_replay(readme.Results(results))
    defaults, best = record["defaults"], record["defaults"]["best"]
    name = (
        f"TPE + {readme.PRUNER_NAMES[best['pruner']]}, {best['startup']} start-up trials, "
        f"{best['epochs']} epochs per trial"
    )
    verdict = next(line for line in text.splitlines() if line.startswith("- **Best"))
    assert name in verdict
    assert ("current default" in verdict) and (
        defaults["current_default_is_best"] == ("Best: the current default" in verdict)
    )
    rows = [line for line in text.splitlines() if line.startswith("| ") and line[2].isdigit()]
    assert rows[0].startswith(f"| 1 | {best['pruner']}") and len(rows) <= 9
    # A best that is not the current default: named, and the current default's row shown even
    # outside the top rows.
    table = _overfitting_table(tmp_path / "curves.csv")
    settings = replay.Settings(
        20 * EPOCHS,
        (0, 1, 2),
        False,
        (Combination("none", 3, 2), Combination("none", 5, 2), Combination("median", 3, EPOCHS)),
    )
    other = replay.summarize_defaults(table, settings, replay.Runs({}, {}), progress=None)
    lines = readme._replay_defaults(other, top=1)
    verdict = next(line for line in lines if line.startswith("- **Best"))
    assert "Best: TPE + no pruning, 3 start-up trials, 2 epochs per trial" in verdict
    assert (
        "below the current default (TPE + successive-halving pruning, 3 start-up trials" in verdict
    )
    assert "(current default)" in "\n".join(lines)


def test_anytime_curves_are_shared_with_the_campaign_benchmarks():
    """bench.anytime, which bench.search reads too: the best within a budget, when a target was
    first reached (inf: never; a target of inf, a baseline that found nothing, is reached by the
    first value found), and the step curve on a grid."""
    from bench import anytime, search

    assert search.best_at is anytime.best_at is replay.best_at
    curve = (np.array([0, 2, 2, 5]), np.array([math.inf, math.inf, 0.5, 0.3]))
    assert [anytime.best_at(curve, e) for e in (-1, 0, 1, 2, 4, 5, 9)] == [
        math.inf,
        math.inf,
        math.inf,
        0.5,  # a trial answered without training (0 epochs) ends at the same count
        0.5,
        0.3,
        0.3,
    ]
    assert (
        anytime.epochs_to_reach(curve, 0.4) == 5 and anytime.epochs_to_reach(curve, 0.1) == math.inf
    )
    assert anytime.epochs_to_reach(curve, math.inf) == 2
    assert anytime.on_grid(curve, np.array([0, 1, 2, 6])).tolist() == [math.inf, math.inf, 0.5, 0.3]
