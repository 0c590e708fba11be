"""hpo.screen on tiny data: the stored study's contract, resume without retraining, and errors."""

from __future__ import annotations


import numpy as np
import optuna
import pytest

from hpo import architectures
from hpo.cli import run
from hpo.data import load
from hpo.screen import main as screen_main
from hpo.screening import ScreenConfig, screen

pytestmark = pytest.mark.slow

# Small enough for 24 x 20 grids: every architecture is feasible at this budget and latent.
TINY = dict(epochs=2, repeats=1, n_params=6000, latent=8, batch_size=4, patience=2)


@pytest.fixture
def tiny_data(make_seed):
    return load(make_seed(n_sims=5, n_frames=6), seed=0)


@pytest.fixture
def home(tmp_path, monkeypatch):
    monkeypatch.setenv("HPO_HOME", str(tmp_path / "studies"))
    return tmp_path


def storage_url(home) -> str:
    return f"sqlite:///{home / 'screen.db'}"


def test_screen_stores_the_contract_and_resumes_without_retraining(tiny_data, home):
    config = ScreenConfig(**TINY, run="tiny")
    result = screen(config, tiny_data, storage_url(home), progress=None)

    study = optuna.load_study(study_name="tiny-screen", storage=storage_url(home))
    trials = study.get_trials()
    names = architectures.names()
    assert sorted(t.params["architecture"] for t in trials) == sorted(names)
    assert all(t.params["repeat"] == 0 for t in trials)
    for trial in trials:
        assert trial.state == optuna.trial.TrialState.COMPLETE
        attrs = trial.user_attrs
        assert trial.value == pytest.approx(attrs["val"]["rel_l2"])
        assert len(trial.intermediate_values) == attrs["epochs_run"] >= 1
        assert attrs["latent"] == 8
        assert abs(attrs["n_params"] - 6000) <= 600  # matched within +-10%
        assert set(attrs["val"]["mse_per_channel"]) == set(tiny_data.channel_names)
        assert np.isfinite(attrs["test"]["rel_l2"]) and attrs["seconds_per_epoch"] > 0
    dual = next(t for t in trials if t.params["architecture"] == "dual")
    assert np.isfinite(dual.user_attrs["val"]["next_step_rel_l2"])  # reported beside the ranking

    # Ranking: by the validation metric, best first; PCA and the data stored beside it.
    by_value = sorted(trials, key=lambda t: t.value)
    assert study.user_attrs["ranking"] == [t.params["architecture"] for t in by_value]
    assert result.ranking == study.user_attrs["ranking"]
    assert study.user_attrs["metric"] == "rel_l2"
    assert study.user_attrs["data"]["fingerprint"] == tiny_data.describe()["fingerprint"]
    pca = study.user_attrs["pca"]
    assert pca["n_components"] == 8 and np.isfinite(pca["val"]["rel_l2"])
    board = result.leaderboard
    assert list(board["architecture"]) == result.ranking
    assert list(board["beats_pca"]) == [v < pca["val"]["rel_l2"] for v in board["val_mean"]]

    # Files: CSV with one row per architecture, an HTML report naming them and the PCA line.
    csv = result.csv_path.read_text().splitlines()
    assert len(csv) == 1 + len(names) and csv[0].startswith("rank,architecture")
    page = result.html_path.read_text()
    assert all(name in page for name in names) and "PCA" in page
    assert "reconstruction" in page  # the sample figure was drawn

    # Same command again: nothing is trained, nothing is added.
    again = screen(config, tiny_data, storage_url(home), progress=None)
    assert again.n_trained == 0 and len(study.get_trials()) == len(names)
    # One more repeat trains exactly one more run per architecture.
    more = screen(ScreenConfig(**{**TINY, "repeats": 2}, architectures=("conv",), run="tiny"),
                  tiny_data, storage_url(home), progress=None)
    assert more.n_trained == 1
    assert len(study.get_trials()) == len(names) + 1


def test_resume_on_other_data_is_refused(tiny_data, make_seed, home):
    config = ScreenConfig(**TINY, architectures=("conv",), run="other")
    screen(config, tiny_data, storage_url(home), progress=None)
    other = load(make_seed("other.h5", n_sims=5, n_frames=7), seed=0)
    with pytest.raises(Exception, match="other data"):
        screen(config, other, storage_url(home), progress=None)
    with pytest.raises(Exception, match="other settings"):
        screen(ScreenConfig(**{**TINY, "epochs": 3}, architectures=("conv",), run="other"),
               tiny_data, storage_url(home), progress=None)


def test_a_diverging_run_fails_alone(tiny_data, home, monkeypatch):
    from hpo import training

    real_fit = training.fit

    def fit_with_exploding_conv(name, params, *args, **kwargs):
        if name == "conv":  # linear layers and a huge step: the loss overflows to Inf/NaN at once
            linear = {key: "linear" for key in params if key.startswith("activation_")}
            params = {**params, **linear, "learning_rate": 1e30}
        return real_fit(name, params, *args, **kwargs)

    monkeypatch.setattr(training, "fit", fit_with_exploding_conv)
    config = ScreenConfig(**TINY, architectures=("conv", "conv_dropout"), run="nan")
    result = screen(config, tiny_data, storage_url(home), progress=None)
    study = optuna.load_study(study_name="nan-screen", storage=storage_url(home))
    states = {t.params["architecture"]: t.state for t in study.get_trials()}
    assert states == {"conv": optuna.trial.TrialState.FAIL,
                      "conv_dropout": optuna.trial.TrialState.COMPLETE}
    assert result.ranking == ["conv_dropout"]
    assert result.leaderboard.iloc[-1]["architecture"] == "conv"  # failed ones last


def test_cli_quick_style_run_prints_leaderboard(make_seed, home, capsys):
    path = make_seed(n_sims=5, n_frames=6)
    code = run(screen_main, ["--data", str(path), "--architectures", "conv,depthwise",
                             "--epochs", "1", "--repeats", "1", "--params", "6000", "--latent", "8",
                             "--storage", storage_url(home), "--run", "cli"])
    out = capsys.readouterr().out
    assert code == 0
    assert "ranking (rel_l2 on validation):" in out and "PCA" in out
    assert (home / "studies" / "cli" / "screen.csv").exists()
    assert (home / "studies" / "cli" / "screen.html").exists()


@pytest.mark.parametrize("flags, expected", [
    (["--architectures", "conv,transformer"], "unknown architecture 'transformer'; choose from: conv"),
    (["--params", "10", "--latent", "8"], "smallest feasible budget"),
    (["--epochs", "0"], "--epochs must be at least 1"),
    (["--repeats", "0"], "--repeats must be at least 1"),
    (["--metric", "accuracy"], "invalid choice: 'accuracy'"),
    (["--storage", "nowhere"], "--storage must be a database URL"),
])
def test_bad_flags_exit_2_with_one_line(make_seed, home, capsys, flags, expected):
    path = make_seed(n_sims=5, n_frames=6)
    code = invoke(["--data", str(path), "--storage", storage_url(home), *flags])
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
