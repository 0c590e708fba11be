"""optimize(): Optuna studies on the screen's top-ranked architectures, at fixed compression.

Reads the screen of `<run>` (its ScreenRecord) and the data it trained on
(hpo.optimize.screened_data), runs one study `<run>-<architecture>-z<latent>` per (architecture,
latent size) the screen ranked (or per size of `--latent 8,16`), the latent size fixed and the rest
searched with pruning, with one or more worker processes on the same storage; keeps each study's
best model as an Optuna artifact, evaluates it on the test split at the end beside PCA of the same
latent size, and writes `<workspace>/<run>/optimize.html`. The best models draw the front of error
against latent size, which Optuna's multi-objective studies cannot give with per-epoch pruning
(their pruners are single-objective).

`--latent search` runs one study `<run>-<architecture>` per architecture that searches the latent
size too: an explicit choice, since one objective (validation error) prefers the largest code.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path

import optuna
import pandas as pd

from hpo import architectures, augment, keys
from hpo.errors import ConfigError
from hpo.optimize.config import (
    OptimizeConfig,
    StudyPlan,
    check_screened_latents,
    study_name,
    validate,
)
from hpo.optimize.evaluation import evaluate_best
from hpo.optimize.record import StudyRecord, stored_space
from hpo.optimize.screened_data import check_screened, data_keywords, differences
from hpo.progress import Progress, or_silent
from hpo.registry import ENGINES
from hpo.screen.record import ScreenRecord, latent_of
from hpo.screen.screening import study_name as screen_study_name
from hpo.space import nearest_inside
from hpo.storage import open_storage, redact, resolve_storage_url


def read_screen(run: str, storage_url: str) -> optuna.Study:
    """The stored screen of `run`, or a one-line error saying which command to run first."""
    storage = open_storage(storage_url)
    names = [s.study_name for s in storage.get_all_studies()]
    name = screen_study_name(run)
    if name not in names:
        raise ConfigError(
            f"no screen stored for run {run!r} in {redact(storage_url)}; run "
            f"`python -m hpo.screen --run {run}` (same --storage and data flags) first"
        )
    study = optuna.load_study(study_name=name, storage=storage)
    if not ScreenRecord.from_study(study).rankings:
        raise ConfigError(
            f"the screen {name!r} has no ranking yet (no run finished); run "
            f"`python -m hpo.screen --run {run}` again"
        )
    return study


def choose_architectures(
    config: OptimizeConfig, screen: ScreenRecord, latent: int | None = None
) -> list[str]:
    """`--architectures`, or the screen's best `--top` K: at `latent` when the screen ranked that
    size, else at its smallest."""
    if config.architectures:
        return list(config.architectures)
    ranking = screen.ranking(latent)
    if config.top > len(ranking):
        raise ConfigError(
            f"--top must be between 1 and {len(ranking)} (the screen of run "
            f"{config.run!r} ranked {len(ranking)}), but got {config.top}"
        )
    return ranking[: config.top]


def plan_studies(config: OptimizeConfig, screen: ScreenRecord) -> list[StudyPlan]:
    """The studies to run, in order: per latent size (ascending; `--latent`'s, else every size the
    screen ranked), the chosen architectures; with `--latent search`, one per architecture."""
    plans = []
    latents = [None] if config.search_latent else sorted(config.latents or screen.latents)
    for latent in latents:
        plans += [
            StudyPlan(a, latent, study_name(config.run, a, config.engine, latent))
            for a in choose_architectures(config, screen, latent)
        ]
    return plans


def screened_symmetries(config: OptimizeConfig, screen: ScreenRecord) -> tuple[str, ...]:
    """`--augment`, else what the screen trained with (a screen from before augmentation: none)."""
    return augment.check(config.augment if config.augment is not None else screen.augment)


@dataclass
class OptimizeResult:
    studies: list[str]
    summary: pd.DataFrame
    html_path: Path


def optimize(
    config: OptimizeConfig, storage: str | None = None, progress: Progress | None = print
) -> OptimizeResult:
    """Run (or resume) one study per chosen architecture and latent size, then evaluate and
    report.

    Args:
        config: what to run (validated here); without data flags (`data_kwargs` naming no path),
            the file the screen recorded.
        storage: Optuna storage URL (None: SQLite in `config.workspace`).
        progress: one line per trial and per study; None keeps quiet.

    Raises:
        ConfigError: bad flags, no screen for the run, a `--latent` size it did not rank, its
            file gone, data that differ from the screened data.
        StudyFailed: a study's last `max_failures` trials failed; its stored trials are kept, the
            studies after it are not run.
    """
    from hpo.data import load

    validate(config)
    progress = or_silent(progress)
    storage_url = resolve_storage_url(storage, config.workspace)
    screen_study = read_screen(config.run, storage_url)
    screen = ScreenRecord.from_study(screen_study)
    check_screened_latents(config, screen.latents)
    # The screen's file unless the flags name one; the worker processes load the same.
    config = replace(config, data_kwargs=data_keywords(config.data_kwargs, screen.data, config.run))
    data = load(**config.data_kwargs)
    check_screened(data, screen.data, config.run)
    plans = plan_studies(config, screen)
    symmetries = screened_symmetries(config, screen)
    settings = replace(
        config.settings,
        metric=screen.metric,
        loss=screen.settings.get("loss", config.settings.loss),
    )
    config = replace(config, settings=settings)
    spaces = architectures.load_spaces(config.space_file)  # a bad --space file fails here, early
    run_study = ENGINES.get(config.engine)
    for plan in plans:
        record = StudyRecord(
            plan.architecture,
            plan.latent,
            symmetries,
            settings.metric,
            data.describe(),
            n_params=screen.settings.get("n_params"),  # the widths follow the screen's budget
            precision=config.precision,
        )
        created = create_study(plan, storage_url, record, data)
        space = stored_space(spaces[plan.architecture], plan.name, storage_url)
        if created and config.engine == "optuna":
            enqueue_screen_winner(plan, space, storage_url, screen_study, progress)
        run_study(config, plan, space, storage_url, data, progress)
    summary = evaluate_best(config, plans, storage_url, screen, data, symmetries, progress)
    from hpo.reports.optimize import write_optimize_report

    names = [plan.name for plan in plans]
    html_path = write_optimize_report(
        config.workspace.run_dir(config.run) / "optimize.html",
        config.run,
        names,
        storage_url,
        summary,
        data,
        settings.metric,
        config.workspace,
    )
    return OptimizeResult(names, summary, html_path)


def create_study(plan: StudyPlan, storage_url: str, record: StudyRecord, data) -> bool:
    """Create the study with its record (or check a stored one's data); True when created now."""
    study = optuna.create_study(
        study_name=plan.name,
        storage=open_storage(storage_url),
        direction="minimize",
        load_if_exists=True,
    )
    stored = StudyRecord.from_study(study)
    if stored is None:
        record.store(study)
        return True
    if stored.precision != record.precision:  # trials of both would be ranked as one search
        raise ConfigError(
            f"the study {plan.name!r} trains in {stored.precision}, not {record.precision}: pass "
            f"--precision {stored.precision} to go on with it, or use another --run"
        )
    differ = differences(data, stored.data)
    if differ:
        raise ConfigError(
            f"the study {plan.name!r} was run on other data: {stored.data.get('path')}, now "
            f"{data.source_path.resolve()} ({', '.join(differ)} differ); pass the same data flags "
            f"or use another --run"
        )
    return False


def enqueue_screen_winner(
    plan: StudyPlan, space: dict, storage_url: str, screen: optuna.Study, progress: Progress
) -> None:
    """Queue the screen's configuration of this architecture (its best repeat, at the study's latent
    size, or the smallest screened for a study that searches it) as the new study's first trial,
    user attr `from_screen`: trained with the same recipe and budget, the study's best is then never
    worse than what the screen found."""
    from hpo.architectures.presets import in_search_terms

    runs = [
        t
        for t in screen.get_trials(deepcopy=False, states=(optuna.trial.TrialState.COMPLETE,))
        if t.params.get(keys.ARCHITECTURE) == plan.architecture and keys.PARAMS in t.user_attrs
    ]
    latents = sorted({latent_of(t) for t in runs})
    latent = plan.latent if plan.latent is not None else (latents[0] if latents else None)
    runs = [t for t in runs if latent_of(t) == latent]
    if not runs:
        progress(
            f"note: the screen has no finished {plan.architecture} run at latent {latent}; "
            f"{plan.name!r} starts from the sampler alone"
        )
        return
    best = min(runs, key=lambda t: t.value)
    params, moved = nearest_inside(space, in_search_terms(best.user_attrs[keys.PARAMS]))
    if moved:  # e.g. a small --params budget left fewer filters than the space's lowest
        progress(
            f"note: the screen's {plan.architecture} lies outside the search space of "
            f"{plan.name!r} ({', '.join(moved)}); its nearest point inside is queued instead"
        )
    study = optuna.load_study(study_name=plan.name, storage=open_storage(storage_url))
    study.enqueue_trial(
        params,
        user_attrs={
            keys.FROM_SCREEN: {
                "study": screen.study_name,
                "trial": best.number,
                "latent": latent,
                "repeat": best.params.get(keys.REPEAT),
                "value": best.value,
                "moved": moved,
            }
        },
        skip_if_exists=True,
    )  # two machines creating the study at once queue it once
    progress(
        f"study {plan.name!r}: trial 0 is the screen's {plan.architecture} at latent {latent} "
        f"(value {best.value:.4g})"
    )
