"""The `postgres_url` fixture and tests/postgres.py: a fresh database per session, really
dropped."""

from __future__ import annotations

import optuna
import psycopg

from hpo.storage import open_storage

from postgres import admin_url, database_exists, fresh_database


def test_postgres_url_holds_a_study_that_a_second_storage_reads_back(postgres_url):
    assert postgres_url.startswith("postgresql://")
    assert postgres_url.rsplit("/", 1)[1].startswith("hpo_test_")

    writer = optuna.create_study(study_name="fixture-check", storage=open_storage(postgres_url))
    writer.add_trial(
        optuna.trial.create_trial(
            params={"architecture": "conv", "lr": 1e-3},
            distributions={
                "architecture": optuna.distributions.CategoricalDistribution(["conv", "dense"]),
                "lr": optuna.distributions.FloatDistribution(1e-5, 1e-2, log=True),
            },
            value=0.25,
            intermediate_values={0: 0.5, 1: 0.25},
        )
    )

    # A separate storage (its own engine and connections), as another worker would have.
    second = optuna.storages.RDBStorage(postgres_url)
    reader = optuna.load_study(study_name="fixture-check", storage=second)
    [trial] = reader.get_trials()
    assert trial.state == optuna.trial.TrialState.COMPLETE
    assert trial.params == {"architecture": "conv", "lr": 1e-3}
    assert trial.value == 0.25
    assert trial.intermediate_values == {0: 0.5, 1: 0.25}
    second.engine.dispose()


def test_fresh_database_is_dropped_even_with_a_connection_left_open(postgres_url):
    # postgres_url proves the server is up (or this test was skipped / failed with the reason).
    with fresh_database() as url:
        name = url.rsplit("/", 1)[1]
        assert name != postgres_url.rsplit("/", 1)[1]  # a random name each time
        assert database_exists(admin_url(), name)
        leftover = psycopg.connect(url)  # like a dashboard or a pool that was not closed
    try:
        assert not database_exists(admin_url(), name)
    finally:
        leftover.close()
