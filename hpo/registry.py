"""Every named choice a user makes, in one place: name -> what implements it.

    SAMPLERS.create("tpe", seed=42, n_trials=30)      # an optuna sampler
    PRUNERS.check("median")                           # or ConfigError listing the choices
    argparse: choices=PRUNERS.names()                 # the same list validation reads

A leaf: the implementations are named by "module:attribute" and imported only when one is used, so
this module imports nothing of `hpo` but its errors, and anything may import it (validation,
argparse, help text, the implementations themselves) without an import cycle. tests/test_house.py
resolves every entry.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass, field
from typing import Any

from hpo.errors import ConfigError


@dataclass(frozen=True)
class Registry:
    """The choices of one flag.

    Attributes:
        flag: the CLI flag that takes the name, for error messages ("--pruner").
        entries: name -> "module:attribute" of its implementation (a factory or a function).
        aliases: old name -> current name, still accepted (a stored study or script may use it).
    """

    flag: str
    entries: dict[str, str]
    aliases: dict[str, str] = field(default_factory=dict)

    def names(self) -> tuple[str, ...]:
        """The valid names, in the order they are listed (argparse choices, help text)."""
        return tuple(self.entries)

    def __contains__(self, name: object) -> bool:
        return name in self.entries or name in self.aliases

    def check(self, name: str) -> str:
        """The current name of `name` (aliases resolved).

        Raises:
            ConfigError: `name` is not a choice; the message lists them.
        """
        name = self.aliases.get(name, name)
        if name not in self.entries:
            raise ConfigError(
                f"{self.flag} must be one of {', '.join(self.names())}, but got {name!r}"
            )
        return name

    def get(self, name: str) -> Any:
        """The implementation of `name` (imported now)."""
        module, _, attribute = self.entries[self.check(name)].partition(":")
        return getattr(importlib.import_module(module), attribute)

    def create(self, name: str, *args: Any, **kwargs: Any) -> Any:
        """Call the implementation of `name` (a factory) with the arguments."""
        return self.get(name)(*args, **kwargs)


# Optuna samplers: factory(seed, n_trials) -> optuna.samplers.BaseSampler (hpo.optimize.settings).
SAMPLERS = Registry(
    "--sampler",
    {
        "tpe": "hpo.optimize.settings:tpe_sampler",
        "random": "hpo.optimize.settings:random_sampler",
    },
)
# Optuna pruners: factory(epochs) -> optuna.pruners.BasePruner.
PRUNERS = Registry(
    "--pruner",
    {
        "median": "hpo.optimize.settings:median_pruner",
        "hyperband": "hpo.optimize.settings:hyperband_pruner",
        "sha": "hpo.optimize.settings:sha_pruner",
        "none": "hpo.optimize.settings:no_pruner",
    },
)
# KerasTuner tuners: factory(hypermodel, settings, **common) -> keras_tuner.Tuner.
TUNERS = Registry(
    "--tuner",
    {
        "hyperband": "hpo.optimize.tuner_engine:hyperband_tuner",
        "bayesian": "hpo.optimize.tuner_engine:bayesian_tuner",
        "random": "hpo.optimize.tuner_engine:random_tuner",
    },
)
# Search engines: runner(config, plan, space, storage_url, data, progress) for one study.
ENGINES = Registry(
    "--engine",
    {
        "optuna": "hpo.optimize.processes:run_optuna_study",
        "keras-tuner": "hpo.optimize.tuner_engine:run_keras_tuner_study",
    },
)
# Architecture presets: params(name, input_shape, n_params, latent) -> every knob of one model.
# "original" was called "seed" (the original study's recipe); the old name is still accepted.
PRESETS = Registry(
    "--preset",
    {
        "matched": "hpo.architectures.presets:matched_params",
        "original": "hpo.architectures.presets:original_params",
    },
    aliases={"seed": "original"},
)
# Training losses: per-sample Keras functions (hpo.metrics).
LOSSES = Registry(
    "--loss",
    {
        "mse": "hpo.metrics:mse",
        "rel_l2": "hpo.metrics:rel_l2",
    },
)
# Metrics a screen ranks on and a study minimises: each is computed by hpo.training.evaluate and
# logged by Keras under keys.monitor_key(name).
METRICS = Registry(
    "--metric",
    {
        "rel_l2": "hpo.metrics:rel_l2",
        "mse": "hpo.metrics:mse",
    },
)
