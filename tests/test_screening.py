"""hpo.screen on tiny data: the stored study's contract, resume without retraining, and errors."""

from __future__ import annotations

import numpy as np
import optuna
import pandas as pd
import pytest

from hpo import architectures
from hpo.cli import run
from hpo.data import load
from hpo.errors import ConfigError
from hpo.reports.tables import format_screen
from hpo.screen.__main__ import main as screen_main
from hpo.screen.config import ScreenConfig
from hpo.screen.record import ScreenRecord
from hpo.screen.screening import screen
from hpo.serialize import json_safe

from helpers import workspace_of

pytestmark = pytest.mark.slow

# Small enough for 24 x 20 grids: every architecture is feasible at this budget and latent sizes.
TINY = dict(epochs=1, repeats=1, n_params=6000, latent=8, batch_size=4, patience=2)


@pytest.fixture
def tiny_data(make_original):
    return load(make_original(n_sims=5, n_frames=6), seed=0)


@pytest.fixture
def home(tmp_path):
    """The test's folder: its storage screen.db, its workspace studies/ (helpers.workspace_of)."""
    return tmp_path


def storage_url(home) -> str:
    return f"sqlite:///{home / 'screen.db'}"


def test_screen_stores_the_contract_per_latent_and_resumes_without_retraining(tiny_data, home):
    # Two cheap architectures keep it short (every architecture trains in test_training; dual's
    # next step beside persistence is checked in the CLI test below).
    names = ["conv", "conv_dropout"]
    config = ScreenConfig(
        workspace=workspace_of(home),
        **{**TINY, "latent": (8, 4)},
        architectures=tuple(names),
        run="tiny",
    )
    result = screen(config, tiny_data, storage_url(home), progress=None)  # latents: ascending

    study = optuna.load_study(study_name="tiny-screen", storage=storage_url(home))
    trials = study.get_trials()
    assert sorted((t.params["architecture"], t.params["latent"]) for t in trials) == sorted(
        (name, z) for name in names for z in (4, 8)
    )
    assert all(t.params["repeat"] == 0 for t in trials)
    for trial in trials:
        assert trial.state == optuna.trial.TrialState.COMPLETE
        attrs = trial.user_attrs
        assert trial.value == pytest.approx(attrs["val"]["rel_l2"])
        assert len(trial.intermediate_values) == attrs["epochs_run"] >= 1
        assert attrs["latent"] == trial.params["latent"]
        assert abs(attrs["n_params"] - 6000) <= 600  # matched within +-10% at every latent size
        assert set(attrs["val"]["mse_per_channel"]) == set(tiny_data.channel_names)
        assert np.isfinite(attrs["test"]["rel_l2"]) and attrs["seconds_per_epoch"] > 0
        assert (
            len(attrs["curves"]["rel_l2"])
            == len(attrs["curves"]["learning_rate"])
            == attrs["epochs_run"]
        )
        assert attrs["params"]["shift_x"] is False  # a user's file declares no symmetry

    # Ranking per latent: by the validation metric, best first; `ranking` is the smallest latent's.
    attrs = study.user_attrs
    for z in (4, 8):
        at_z = sorted((t for t in trials if t.params["latent"] == z), key=lambda t: t.value)
        assert attrs["ranking_by_latent"][str(z)] == [t.params["architecture"] for t in at_z]
        assert result.rankings[z] == attrs["ranking_by_latent"][str(z)]
        pca = attrs["pca_by_latent"][str(z)]
        assert pca["n_components"] == z and np.isfinite(pca["val"]["rel_l2"])
        assert pca["plain"] == {"val": pca["val"], "test": pca["test"]}  # no augmentation here
        board = result.leaderboards[z]
        assert list(board["architecture"]) == result.rankings[z]
        assert list(board["beats_pca"]) == [v < pca["val"]["rel_l2"] for v in board["val_mean"]]
    assert attrs["ranking"] == result.ranking == attrs["ranking_by_latent"]["4"]
    assert attrs["pca"] == attrs["pca_by_latent"]["4"] and attrs["latents"] == [4, 8]
    assert attrs["metric"] == "rel_l2" and attrs["augment"] == []
    assert attrs["data"]["fingerprint"] == tiny_data.describe()["fingerprint"]
    steps = attrs["persistence"]  # the data have next-step pairs, whichever models ran
    assert steps["test"]["rel_l2"] > 0 and "persistence" in attrs["pca"]
    record = ScreenRecord.from_study(study)
    assert record.ranking(8) == result.rankings[8] and record.latents == (4, 8)
    assert record.to_attrs() == {key: attrs[key] for key in record.to_attrs()}  # a round trip

    # screen.csv: one row per run, the compression curve's data.
    runs = pd.read_csv(result.csv_path)
    assert {
        "architecture",
        "latent",
        "repeat",
        "val_rel_l2",
        "test_rel_l2",
        "pca_val_rel_l2",
        "pca_test_rel_l2",
    } <= set(runs.columns)
    assert len(runs) == 2 * len(names) and sorted(set(runs["latent"])) == [4, 8]
    row = runs[(runs["architecture"] == "conv") & (runs["latent"] == 8)].iloc[0]
    assert row["pca_val_rel_l2"] == pytest.approx(attrs["pca_by_latent"]["8"]["val"]["rel_l2"])
    assert row["val_rel_l2"] == pytest.approx(
        result.leaderboards[8].set_index("architecture").loc["conv", "val_mean"]
    )
    assert runs["next_step_val_rel_l2"].isna().all()  # no next-step head among these two
    page = result.html_path.read_text()
    assert all(name in page for name in names) and "PCA" in page
    assert "Compression curve" in page and "Beats PCA at latent" in page
    assert "reconstruction" in page  # the sample figure was drawn

    # Same command again: nothing is trained, nothing is added.
    again = screen(config, tiny_data, storage_url(home), progress=None)
    assert again.n_trained == 0 and len(study.get_trials()) == 2 * len(names)
    # A latent size more trains that size only; one more repeat, one run per (architecture, latent).
    more = screen(
        ScreenConfig(
            workspace=workspace_of(home),
            **{**TINY, "latent": (4, 8, 16)},
            architectures=("conv",),
            run="tiny",
        ),
        tiny_data,
        storage_url(home),
        progress=None,
    )
    assert more.n_trained == 1 and more.rankings[16] == ["conv"]
    repeated = screen(
        ScreenConfig(
            workspace=workspace_of(home),
            **{**TINY, "repeats": 2, "latent": 4},
            architectures=("conv",),
            run="tiny",
        ),
        tiny_data,
        storage_url(home),
        progress=None,
    )
    assert repeated.n_trained == 1
    assert len(study.get_trials()) == 2 * len(names) + 2


def test_a_screen_stored_before_the_latent_axis_still_reads_and_is_not_resumed(tiny_data, home):
    # What a screen stored before latent sizes were an axis holds: params architecture and repeat,
    # one latent in the user attrs, and no *_by_latent attrs.
    from hpo.optimize.config import OptimizeConfig
    from hpo.optimize.optimization import choose_architectures, read_screen

    url = storage_url(home)
    study = optuna.create_study(study_name="old-screen", storage=url, direction="minimize")
    distributions = {
        "architecture": optuna.distributions.CategoricalDistribution(architectures.names()),
        "repeat": optuna.distributions.IntDistribution(0, 1),
    }
    for name, value in (("conv", 0.5), ("dual", 0.4)):
        study.add_trial(
            optuna.trial.create_trial(
                params={"architecture": name, "repeat": 0},
                distributions=distributions,
                value=value,
                user_attrs={"latent": 50, "n_params": 170_000},
            )
        )
    pca = {"n_components": 50, "metric": "rel_l2", "val": {"rel_l2": 0.3}, "test": {"rel_l2": 0.2}}
    for key, value in {
        "ranking": ["dual", "conv"],
        "metric": "rel_l2",
        "pca": pca,
        "leaderboard": [{"architecture": "dual", "latent": 50}],
        "data": tiny_data.describe(),
        "settings": {"epochs": 2, "latent": None, "loss": "mse"},
    }.items():
        study.set_user_attr(key, json_safe(value))
    record = ScreenRecord.from_study(read_screen("old", url))
    assert record.rankings == {50: ["dual", "conv"]} and record.pca == {50: pca}
    assert record.augment == () and record.leaderboard_row("dual", 50) == {
        "architecture": "dual",
        "latent": 50,
    }
    assert choose_architectures(OptimizeConfig(run="old", top=1), record) == ["dual"]
    with pytest.raises(ConfigError, match="used other settings.*version None -> 4"):
        screen(
            ScreenConfig(workspace=workspace_of(home), **TINY, architectures=("conv",), run="old"),
            tiny_data,
            url,
            progress=None,
        )


def test_augmented_screen_compares_with_augmented_pca_and_shows_plain_pca(make_original, home):
    data = load(
        make_original(
            n_sims=5, n_frames=6, channel_names=["temperature", "pressure", "velocity_x"]
        ),
        seed=0,
    )
    config = ScreenConfig(
        workspace=workspace_of(home),
        **TINY,
        architectures=("conv",),
        augment=("shift-x", "mirror-x"),
        run="aug",
    )
    result = screen(config, data, storage_url(home), progress=None)
    study = optuna.load_study(study_name="aug-screen", storage=storage_url(home))
    (trial,) = study.get_trials()
    assert trial.user_attrs["params"]["shift_x"] is True and trial.user_attrs["params"]["mirror_x"]
    pca = study.user_attrs["pca"]
    assert (
        pca["augment"] == ["shift-x", "mirror-x"] and study.user_attrs["augment"] == pca["augment"]
    )
    assert pca["plain"]["val"]["rel_l2"] != pytest.approx(pca["val"]["rel_l2"])
    assert result.runs.iloc[0]["plain_pca_val_rel_l2"] == pytest.approx(
        pca["plain"]["val"]["rel_l2"]
    )
    assert "PCA (plain)" in format_screen(result, "rel_l2")


def test_the_original_preset_keeps_the_original_recipe_and_seed_is_its_old_name(tiny_data, home):
    config = ScreenConfig(
        workspace=workspace_of(home),
        epochs=1,
        repeats=1,
        batch_size=4,
        preset="seed",
        architectures=("conv",),
        run="original",
    )
    assert config.preset == "original"  # --preset seed, the old name, still works
    screen(config, tiny_data, storage_url(home), progress=None)
    study = optuna.load_study(study_name="original-screen", storage=storage_url(home))
    assert study.user_attrs["settings"]["preset"] == "original"
    (trial,) = study.get_trials()
    params = trial.user_attrs["params"]
    assert trial.params["latent"] == 50 and study.user_attrs["settings"]["patience"] == 5
    assert (params["schedule"], params["upsample"], params["activation_0"], params["norm_0"]) == (
        "constant",
        "transpose",
        "tanh",
        "none",
    )
    assert study.user_attrs["augment"] == []


def test_resume_on_other_data_is_refused(tiny_data, make_original, home):
    config = ScreenConfig(
        workspace=workspace_of(home), **TINY, architectures=("conv",), run="other"
    )
    screen(config, tiny_data, storage_url(home), progress=None)
    other = load(make_original("other.h5", n_sims=5, n_frames=7), seed=0)
    with pytest.raises(Exception, match="other data"):
        screen(config, other, storage_url(home), progress=None)
    with pytest.raises(Exception, match="other settings"):
        screen(
            ScreenConfig(
                workspace=workspace_of(home),
                **{**TINY, "epochs": 3},
                architectures=("conv",),
                run="other",
            ),
            tiny_data,
            storage_url(home),
            progress=None,
        )


def test_a_diverging_run_fails_alone(tiny_data, home, monkeypatch):
    from hpo import training

    real_fit = training.fit

    def fit_with_exploding_conv(name, params, *args, **kwargs):
        if name == "conv":  # linear layers and a huge step: the loss overflows to Inf/NaN at once
            linear = {key: "linear" for key in params if key.startswith("activation_")}
            params = {**params, **linear, "learning_rate": 1e30}
        return real_fit(name, params, *args, **kwargs)

    monkeypatch.setattr(training, "fit", fit_with_exploding_conv)
    config = ScreenConfig(
        workspace=workspace_of(home), **TINY, architectures=("conv", "conv_dropout"), run="nan"
    )
    result = screen(config, tiny_data, storage_url(home), progress=None)
    study = optuna.load_study(study_name="nan-screen", storage=storage_url(home))
    states = {t.params["architecture"]: t.state for t in study.get_trials()}
    assert states == {
        "conv": optuna.trial.TrialState.FAIL,
        "conv_dropout": optuna.trial.TrialState.COMPLETE,
    }
    assert result.ranking == ["conv_dropout"]
    assert result.leaderboards[8].iloc[-1]["architecture"] == "conv"  # failed ones last
    assert list(result.runs["state"]) == ["fail", "complete"]  # screen.csv keeps the failed run


def test_cli_quick_style_run_prints_leaderboard(make_original, home, capsys):
    path = make_original(n_sims=5, n_frames=6)
    code = run(
        screen_main,
        [
            "--data",
            str(path),
            "--architectures",
            "dual",
            "--epochs",
            "1",
            "--repeats",
            "1",
            "--params",
            "6000",
            "--latent",
            "4,8",
            "--storage",
            storage_url(home),
            "--run",
            "cli",
            "--home",
            str(home / "studies"),
        ],
    )
    out = capsys.readouterr().out
    assert code == 0
    assert "ranking (rel_l2 on validation):" in out and "PCA" in out
    assert "latent 4 (PCA, 4 components" in out and "latent 8 (PCA, 8 components" in out
    assert out.count("dual next step (rel_l2)") == 2 and "persistence x(t+1) = x(t)" in out
    assert "ranking at latent 4" in out and "ranking at latent 8" in out
    # dual's next step beside persistence, in screen.csv and the report too.
    runs = pd.read_csv(home / "studies" / "cli" / "screen.csv")
    study = optuna.load_study(study_name="cli-screen", storage=storage_url(home))
    steps = study.user_attrs["persistence"]
    assert np.isfinite(runs["next_step_test_rel_l2"]).all()
    assert list(runs["persistence_test_rel_l2"]) == pytest.approx([steps["test"]["rel_l2"]] * 2)
    pca_steps = [
        study.user_attrs["pca_by_latent"][str(z)]["persistence"]["test"]["rel_l2"]
        for z in runs["latent"]
    ]
    assert list(runs["pca_persistence_test_rel_l2"]) == pytest.approx(pca_steps)
    page = (home / "studies" / "cli" / "screen.html").read_text()
    assert "Next step: the second head against persistence" in page


@pytest.mark.parametrize(
    "flags, expected",
    [
        (
            ["--architectures", "conv,transformer"],
            "unknown architecture 'transformer'; choose from: conv",
        ),
        (["--params", "10", "--latent", "8"], "smallest feasible budget"),
        (["--epochs", "0"], "--epochs must be at least 1"),
        (["--repeats", "0"], "--repeats must be at least 1"),
        (["--metric", "accuracy"], "invalid choice: 'accuracy'"),
        (["--latent", "8,x"], "--latent must be one integer or a comma-separated list"),
        (["--latent", "8,1"], "--latent must list integers >= 2"),
        (["--augment", "rotate"], "unknown symmetry 'rotate'; choose from: shift-x, mirror-x"),
        (["--preset", "seed", "--latent", "8"], "--params and --latent size the matched preset"),
        (["--storage", "nowhere"], "--storage must be a database URL"),
    ],
)
def test_bad_flags_exit_2_with_one_line(make_original, home, capsys, flags, expected):
    path = make_original(n_sims=5, n_frames=6)
    code = invoke(
        [
            "--data",
            str(path),
            "--storage",
            storage_url(home),
            "--home",
            str(home / "studies"),
            *flags,
        ]
    )
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2
    assert len(err) == 1 and expected in err[0]
    assert not (home / "studies" / "default" / "screen.csv").exists()  # nothing written


def invoke(argv) -> int:
    """The CLI as a shell runs it: argparse exits through SystemExit, our errors return 2."""
    try:
        return run(screen_main, argv)
    except SystemExit as exc:
        return exc.code


def test_successive_halving_stops_the_worst_at_the_rung_and_resumes_from_it(
    tiny_data, home, monkeypatch
):
    from hpo import training

    names = ("conv", "conv_dropout", "depthwise")
    config = ScreenConfig(
        workspace=workspace_of(home),
        **{**TINY, "epochs": 3},
        architectures=names,
        rung_epochs=(1,),
        eta=2,
        keep=1,  # of three: one goes on past epoch 1
        run="sha",
    )
    assert config.schedule == "sha" and config.rungs() == (1, 3)
    real_fit, calls = training.fit, []

    def fit_then_stop(name, params, *args, **kwargs):
        calls.append((name, kwargs.get("resume") is not None))
        if kwargs.get("resume") is not None:  # Ctrl-C as the survivor starts its second rung
            raise KeyboardInterrupt
        return real_fit(name, params, *args, **kwargs)

    monkeypatch.setattr(training, "fit", fit_then_stop)
    with pytest.raises(KeyboardInterrupt):
        screen(config, tiny_data, storage_url(home), progress=None)
    assert sorted(calls) == sorted([(name, False) for name in names] + [calls[-1]])
    survivor = calls[-1][0]

    calls.clear()
    monkeypatch.setattr(training, "fit", lambda *a, **k: calls.append(a[0]) or real_fit(*a, **k))
    result = screen(config, tiny_data, storage_url(home), progress=None)
    assert calls == [survivor], "the finished rung is not trained again; only the survivor goes on"

    study = optuna.load_study(study_name="sha-screen", storage=storage_url(home))
    runs = {t.params["architecture"]: t for t in study.get_trials()}
    complete = runs.pop(survivor)
    assert complete.state == optuna.trial.TrialState.COMPLETE
    assert complete.user_attrs["epochs_run"] == 3 and len(complete.intermediate_values) == 3
    at_rung = {name: t.intermediate_values[0] for name, t in runs.items()}
    for name, trial in runs.items():
        assert trial.state == optuna.trial.TrialState.PRUNED  # stopped at its rung, curve kept
        assert trial.user_attrs["rung"] == 1 and trial.user_attrs["epochs_run"] == 1
        assert np.isfinite(trial.user_attrs["test"]["rel_l2"])
        assert complete.intermediate_values[0] <= at_rung[name], "the best at the rung went on"
    stopped_order = sorted(runs, key=lambda name: runs[name].user_attrs["val"]["rel_l2"])
    assert result.rankings[8] == [survivor, *stopped_order]
    board = result.leaderboards[8]
    assert np.isnan(board.iloc[0]["stopped_at"]) and list(board["stopped_at"][1:]) == [1, 1]
    csv = pd.read_csv(result.csv_path).set_index("architecture")
    assert csv.loc[survivor, "state"] == "complete" and np.isnan(csv.loc[survivor, "stopped_at"])
    assert all(csv.loc[name, "state"] == "stopped" for name in runs)
    assert "stopped at rung 1 epochs" in format_screen(result, "rel_l2")
    assert not list((home / "studies").rglob("state.json")), "no paused run is left behind"
