"""Training: the one place where models are compiled, fitted and evaluated.

    result = fit("conv", params, data, TrainConfig(epochs=30))
    result.history[-1]["val_rel_l2"]        # per-epoch logs, named alike for every architecture
    result.best, result.diverged, result.seconds_per_epoch
    evaluate(result.model, data.val, data)  # {"rel_l2", "mse", "mse_per_channel"[, "next_step_.."]}

The recipe comes with the params, like the learning rate and batch size: `schedule` (constant,
cosine or plateau; hpo.schedules) and the symmetry augmentation `shift_x` / `mirror_x` (hpo.augment:
the training batches are shifted and mirrored afresh every epoch; validation and evaluation never
are). Early stopping waits `TrainConfig.patience` epochs, by default a quarter of the epoch budget.

Every epoch's logs carry the names of `hpo.metrics` (`val_rel_l2`, `val_mse`, `val_mse_<channel>`,
dual's `val_next_step_rel_l2`, ...) before EarlyStopping and the caller's callbacks see them, so an
Optuna pruning callback reports `logs["val_rel_l2"]` whatever the architecture.

Failures come in the three tiers: a callback's `optuna.TrialPruned` passes through `fit` untouched;
a run that goes NaN/Inf stops and returns with `diverged=True`; running out of memory raises
`TrainingFailed` (fail this run, go on with the next); a bad setting raises ConfigError up front.
"""

from __future__ import annotations

import contextlib
import math
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import keras
import numpy as np

from hpo import architectures, backend, checkpoints, metrics, schedules
from hpo.architectures.blocks import TRAINING_SPACE
from hpo.augment import Augmentation, from_params
from hpo.checkpoints import PausedRun
from hpo.config import DEFAULT_SEED
from hpo.data import FlowData, Split
from hpo.data.feed import Batches
from hpo.errors import ConfigError, DataError
from hpo.space import defaults

_SPACE_DEFAULTS = defaults(TRAINING_SPACE)  # the searched training knobs' defaults, declared once

# Early stopping's patience, scaled to the epoch budget: a quarter of it (8 of the screen's 30), at
# least MIN_PATIENCE. A fixed count means something else at 8 epochs than at 100, and a run whose
# rate decays over its budget may improve again after a flat stretch while the rate is still high.
PATIENCE_SHARE = 0.25
MIN_PATIENCE = 3


def scaled_patience(n_epochs: int) -> int:
    """Epochs without improvement before EarlyStopping, for an epoch budget of `n_epochs`."""
    return max(MIN_PATIENCE, math.ceil(PATIENCE_SHARE * n_epochs))


def _optimizer(rate, weight_decay: float):
    """Adam, or AdamW where weight decay is asked for: decay decoupled from the gradient's
    moments (Loshchilov & Hutter 2019), which Adam's L2 penalty is not. Both hold the same
    variables, so a paused run resumes under either."""
    if weight_decay:
        return keras.optimizers.AdamW(rate, weight_decay=weight_decay)
    return keras.optimizers.Adam(rate)


def _check_weight_decay(value) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value < 1:
        raise ConfigError(f"weight_decay must be a number in [0, 1), but got {value!r}")
    return float(value)


class TrainingFailed(RuntimeError):
    """This run failed (out of memory) and should be recorded as failed; other runs can go on."""


@dataclass(frozen=True)
class TrainConfig:
    """How models are trained; `params` may override learning_rate, batch_size and schedule
    (searched).

    Raises:
        ConfigError: a value out of range (on construction).
    """

    # The original study's screening budget; enough to separate the five architectures
    epochs: int = 30
    # The search space's default (8), when params have none
    batch_size: int = _SPACE_DEFAULTS["batch_size"]
    # Adam's default (1e-3), when params have none
    learning_rate: float = _SPACE_DEFAULTS["learning_rate"]
    loss: str = "mse"  # the default; whatever the loss, models are ranked on `monitor`
    # The ranking metric (`--metric`): EarlyStopping watches it and restores the epoch best on it.
    monitor: str = metrics.RANKING_METRIC
    # Epochs without a better `monitor` before stopping: a stall, not epoch noise. None: scaled to
    # the epoch budget (scaled_patience: 8 of 30 epochs); the original study's recipe used 5.
    patience: int | None = None
    schedule: str = _SPACE_DEFAULTS["schedule"]  # the space's default, when params have none
    # AdamW's decoupled weight decay (0: Adam); the space's default, when params have none
    weight_decay: float = _SPACE_DEFAULTS["weight_decay"]
    warmup_share: float = schedules.WARMUP_SHARE  # cosine: share of the steps spent warming up
    min_delta: float = 0.0  # any improvement of `monitor` counts (Keras' default)
    seed: int = DEFAULT_SEED  # weights, dropout and batch order: the same seed repeats a run
    next_step_weight: float = 1.0  # dual: the next-step head counts as much as the reconstruction
    # validation/evaluate batches: no gradients, so larger is faster and free
    eval_batch_size: int = 64
    # Batches per compiled call: Keras returns to Python once per 8 batches instead of after each,
    # ~6% less CPU per epoch on small models on 2 cores (TerminateOnNaN then looks every 8 batches).
    steps_per_execution: int = 8
    # Keras' own progress bar; off, as fit reports one line per epoch via `progress`
    verbose: int = 0

    def __post_init__(self):
        for name in ("epochs", "batch_size", "eval_batch_size", "steps_per_execution"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise ConfigError(f"{name} must be a positive integer, but got {value!r}")
        if self.patience is not None and (not isinstance(self.patience, int) or self.patience < 0):
            raise ConfigError(
                f"patience must be an integer >= 0 (or None: scaled to the epochs), "
                f"but got {self.patience!r}"
            )
        if not 0 <= self.warmup_share < 1:
            raise ConfigError(f"warmup_share must be in [0, 1), but got {self.warmup_share!r}")
        schedules.check(self.schedule)
        if not self.learning_rate > 0:
            raise ConfigError(f"learning_rate must be positive, but got {self.learning_rate!r}")
        _check_weight_decay(self.weight_decay)
        if not (self.min_delta >= 0 and self.next_step_weight >= 0):
            raise ConfigError(
                f"min_delta and next_step_weight must be >= 0, but got "
                f"{self.min_delta!r} and {self.next_step_weight!r}"
            )
        metrics.loss_function(self.loss)  # a ConfigError listing the losses

    @property
    def early_stopping_patience(self) -> int:
        """`patience`, or the budget's scaled patience when it is None."""
        return scaled_patience(self.epochs) if self.patience is None else self.patience


@dataclass(frozen=True)
class FitResult:
    """A finished run.

    Attributes:
        model: the fitted model, holding the weights of `best_epoch` (EarlyStopping restores them).
        history: one dict per epoch run, with the names of `hpo.metrics` (`loss`, `val_rel_l2`, ...)
            and the `learning_rate` at the epoch's end.
        epochs_run: epochs trained (fewer than asked when stopped early or diverged).
        best_epoch: index into `history` (0-based) of the epoch with the lowest val_rel_l2.
        epoch_seconds: wall time of each epoch (training and validation); the first includes
        tracing.
        n_params: trainable parameters.
        diverged: the loss or val_rel_l2 went NaN/Inf and training stopped there; the run failed.
        stopped_early: EarlyStopping ended the run before `epochs`.
        batch_size, learning_rate, schedule: the values used (from params, else from the config);
            learning_rate is the peak of a cosine schedule, the initial rate of the others.
        augment: the symmetries the training batches were augmented with (hpo.augment).
    """

    model: Any
    history: list[dict[str, float]]
    epochs_run: int
    best_epoch: int
    epoch_seconds: tuple[float, ...]
    n_params: int
    diverged: bool
    stopped_early: bool
    batch_size: int
    learning_rate: float
    schedule: str = "constant"
    augment: tuple[str, ...] = ()

    @property
    def seconds_per_epoch(self) -> float:
        """Mean wall time of an epoch."""
        return float(np.mean(self.epoch_seconds)) if self.epoch_seconds else math.nan

    @property
    def best(self) -> dict[str, float]:
        """The validation values (`val_*`) of the best epoch; e.g. best["val_rel_l2"]."""
        if not self.history:
            return {}
        return {k: v for k, v in self.history[self.best_epoch].items() if k.startswith("val_")}


def fit(
    name: str,
    params: Mapping | None,
    data: FlowData,
    config: TrainConfig = TrainConfig(),
    *,
    callbacks: Sequence[keras.callbacks.Callback] = (),
    progress: Callable[[str], None] | None = print,
    label: str | None = None,
    until: int | None = None,
    resume: PausedRun | None = None,
    pause_to: Path | None = None,
) -> FitResult:
    """Build architecture `name` fresh, train it on `data.train`, validate on `data.val` every
    epoch.

    Two-headed models (dual) train on the next-step pairs inside each simulation and are validated
    on the validation split's pairs. In-memory splits are fed as arrays (Keras shuffles them,
    seeded); streamed splits through hpo.data.feed's Batches. EarlyStopping watches val_rel_l2
    and leaves the model with the weights of its best epoch.

    Args:
        name: a registered architecture.
        params: its params (missing keys: the space's defaults); `learning_rate`, `batch_size`,
            `schedule` and `weight_decay` here win over the config's; `shift_x` / `mirror_x`
            switch augmentation on.
        data: the loaded data; `data.test` is never touched.
        config: epochs, loss, early stopping, seed.
        callbacks: appended after the ones fit adds; they read the normalised logs (`val_rel_l2`).
            An exception they raise (optuna.TrialPruned) leaves fit as it is.
        progress: receives one line per epoch; None: silent.
        label: what the progress lines call the run (default: `name`).
        until: stop after this many epochs (a rung of successive halving) although the schedule
            and early stopping are laid out over `config.epochs`; None: `config.epochs`.
        resume: a run paused at an earlier rung (hpo.checkpoints): training goes on from its last
            epoch, its optimizer state and early-stopping count, and its history comes first.
        pause_to: a folder where the run is saved when training ends, to be resumed from later.

    Returns:
        FitResult; `diverged=True` (no exception) when the loss went NaN/Inf.

    Raises:
        TrainingFailed: out of memory.
        ConfigError: unknown architecture or parameter, a bad learning rate or batch size.
        DataError: a two-headed model on data without consecutive time steps.
    """
    params = dict(params or {})
    label = label or name
    keras.backend.clear_session()  # and gc: the previous run's graphs and weights go
    keras.utils.set_random_seed(config.seed)
    with _out_of_memory_fails(f"{label}: out of memory while building"):
        model = architectures.build(name, params, data.input_shape)
    return fit_model(
        model,
        data,
        config,
        learning_rate=params.get("learning_rate"),
        batch_size=params.get("batch_size"),
        schedule=params.get("schedule"),
        weight_decay=params.get("weight_decay"),
        augment=from_params(params),
        callbacks=callbacks,
        progress=progress,
        label=label,
        until=until,
        resume=resume,
        pause_to=pause_to,
    )


def fit_model(
    model,
    data: FlowData,
    config: TrainConfig = TrainConfig(),
    *,
    learning_rate: float | None = None,
    batch_size: int | None = None,
    schedule: str | None = None,
    weight_decay: float | None = None,
    augment: Sequence[str] = (),
    callbacks: Sequence[keras.callbacks.Callback] = (),
    progress: Callable[[str], None] | None = print,
    label: str | None = None,
    until: int | None = None,
    resume: PausedRun | None = None,
    pause_to: Path | None = None,
) -> FitResult:
    """Compile and train a model that is already built (KerasTuner builds its own); see `fit`.

    Seeding and clearing the session before the build are the caller's; the batch order and dropout
    follow the random state as it is.

    Args:
        model: an uncompiled model from the registry (output "reconstruction", or a dict of heads).
        learning_rate, batch_size, schedule, weight_decay: None: the config's.
        augment: symmetries to augment the training batches with (hpo.augment.SYMMETRIES).
        label: what the progress lines call the run (default: the model's name).
        data, config, callbacks, progress, until, resume, pause_to: as for `fit` (a resumed
            plateau schedule starts its own count afresh; its reduced rate carries over).
    """
    learning_rate = config.learning_rate if learning_rate is None else float(learning_rate)
    batch_size = config.batch_size if batch_size is None else batch_size
    schedule = schedules.check(config.schedule if schedule is None else schedule)
    weight_decay = _check_weight_decay(
        config.weight_decay if weight_decay is None else weight_decay
    )
    if not learning_rate > 0 or not isinstance(batch_size, int) or batch_size < 1:
        raise ConfigError(
            f"learning_rate must be positive and batch_size a positive integer, but got "
            f"{learning_rate!r} and {batch_size!r}"
        )
    augmentation = Augmentation.for_data(data, augment)
    label = label or model.name
    epoch_log = _EpochLog(label, config.epochs, progress)
    start = 0 if resume is None else resume.epochs
    stop = config.epochs if until is None else min(until, config.epochs)
    if resume is not None:
        epoch_log.history, epoch_log.seconds = list(resume.history), list(resume.epoch_seconds)
        # Fresh draws for the epochs still to come, not a replay of the first segment's.
        keras.utils.set_random_seed(config.seed + start)
    seed = config.seed + start
    patience = config.early_stopping_patience
    early_stopping = _ResumableEarlyStopping(
        resume,
        monitor=config.monitor,
        mode="min",
        patience=patience,
        min_delta=config.min_delta,
        restore_best_weights=True,
    )
    heads = _heads(model)
    two_headed = metrics.NEXT_STEP in heads
    with _out_of_memory_fails(
        f"{label}: out of memory while training (batch size {batch_size}, "
        f"grid {'x'.join(map(str, data.input_shape))})"
    ):
        x, y, n_samples = _feed(data.train, two_headed, batch_size, seed)
        rate = schedules.learning_rate(
            schedule,
            learning_rate,
            config.epochs,
            math.ceil(n_samples / batch_size),
            config.warmup_share,
        )
        model.compile(
            optimizer=_optimizer(rate, weight_decay),
            steps_per_execution=config.steps_per_execution,
            **metrics.compile_arguments(
                heads, data.channel_names, config.loss, config.next_step_weight
            ),
        )
        if resume is not None:
            checkpoints.restore(model, resume)
        if augmentation.active:
            x, y = _augmented_feed(x, y, augmentation, batch_size, seed), None
        val = _validation_dataset(data.val, two_headed, config.eval_batch_size, config.seed)
        pause = [_PauseAtEnd(pause_to, early_stopping, epoch_log)] if pause_to else []
        # Arrays are shuffled by Keras (seeded); a streamed Split's dataset shuffles itself.
        arrays = {"shuffle": False} if y is None else {"batch_size": batch_size, "shuffle": True}
        model.fit(
            x,
            y,
            validation_data=val,
            initial_epoch=start,
            epochs=stop,
            verbose=config.verbose,
            **arrays,
            # _EpochLog first: every callback after it reads the normalised names.
            callbacks=[
                epoch_log,
                keras.callbacks.TerminateOnNaN(),
                *schedules.callbacks(schedule, config.monitor, patience, learning_rate),
                # Saves the last epoch's state before early_stopping restores the best weights.
                *pause,
                early_stopping,
                *callbacks,
            ],
        )

    history = epoch_log.history
    return FitResult(
        model=model,
        history=history,
        epochs_run=len(history),
        best_epoch=early_stopping.best_epoch,
        epoch_seconds=tuple(epoch_log.seconds),
        n_params=architectures.trainable_count(model),
        diverged=epoch_log.diverged,
        stopped_early=early_stopping.stopped_epoch > 0 and not epoch_log.diverged,
        batch_size=batch_size,
        learning_rate=learning_rate,
        schedule=schedule,
        augment=augmentation.symmetries,
    )


def evaluate(
    model, split: Split, data: FlowData, batch_size: int = TrainConfig.eval_batch_size
) -> dict:
    """Errors of `model` on a split, in scaled units (each channel standardised with train
    statistics).

    The reconstruction is scored on every sample of the split, the same samples for every
    architecture (dual's per-epoch val_rel_l2 covers only the frames that have a successor, so it
    can differ slightly from this); a two-headed model's next step on the split's next-step pairs.

    Args:
        model: a model from `fit` (or any model whose output, or output "reconstruction", matches
        x).
        split: data.val for selection, data.test for the final report only.
        data: the data the split belongs to (for the channel names).
        batch_size: samples per prediction.

    Returns:
        {"rel_l2": mean over samples, "mse": overall, "mse_per_channel": {channel: mse}}, and for
        two-headed models "next_step_rel_l2" and "next_step_mse" too.

    Raises:
        TrainingFailed: out of memory.
    """
    heads = _heads(model)
    reconstruction = metrics.ErrorSums(data.channel_names)
    with _out_of_memory_fails(
        f"{model.name}: out of memory while evaluating on {split.name} (batch size {batch_size})"
    ):
        for x in split.batches(batch_size, shuffle=False):
            reconstruction.add(x, _predict(model, x)[metrics.RECONSTRUCTION])
        result = reconstruction.result()
        if metrics.NEXT_STEP in heads:
            next_step = metrics.ErrorSums(data.channel_names)
            for x, x_next in split.next_step_batches(batch_size, shuffle=False):
                next_step.add(x_next, _predict(model, x)[metrics.NEXT_STEP])
            scores = next_step.result()
            result |= {"next_step_rel_l2": scores["rel_l2"], "next_step_mse": scores["mse"]}
    return result


class _EpochLog(keras.callbacks.Callback):
    """Names each epoch's logs alike for every architecture, times the epoch, reports it, and stops
    a run whose loss or val_rel_l2 is NaN/Inf. No per-batch hooks: Keras keeps its fast loop."""

    def __init__(self, label: str, n_epochs: int, progress: Callable[[str], None] | None):
        super().__init__()
        self.label, self.n_epochs, self.progress = label, n_epochs, progress
        self.history: list[dict[str, float]] = []
        self.seconds: list[float] = []
        self.diverged = False
        self._started = 0.0

    def on_epoch_begin(self, epoch, logs=None):
        self._started = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        seconds = time.perf_counter() - self._started
        named = metrics.normalise(logs)
        named["learning_rate"] = float(
            keras.ops.convert_to_numpy(self.model.optimizer.learning_rate)
        )
        # The dict later callbacks get: EarlyStopping and pruning read val_rel_l2
        logs.update(named)
        self.history.append(named)
        self.seconds.append(seconds)
        watched = (named.get("loss", math.nan), named.get(metrics.RANKING_METRIC, math.nan))
        if not all(math.isfinite(v) for v in watched):
            self.diverged = True
            self.model.stop_training = True
        if self.progress is not None:
            self.progress(self._line(epoch, named, seconds))

    def _line(self, epoch: int, named: dict[str, float], seconds: float) -> str:
        shown = ["loss", metrics.RANKING_METRIC, "val_next_step_rel_l2"]
        values = "  ".join(f"{key} {named[key]:.4g}" for key in shown if key in named)
        flag = "  diverged (NaN/Inf)" if self.diverged else ""
        return f"{self.label}  epoch {epoch + 1}/{self.n_epochs}  {values}  {seconds:.1f} s{flag}"


class _ResumableEarlyStopping(keras.callbacks.EarlyStopping):
    """Keras' EarlyStopping, started from a paused run's count instead of from scratch: the best
    value, its epoch and weights, and the epochs since it carry over the pause."""

    def __init__(self, paused: PausedRun | None = None, **kwargs):
        super().__init__(**kwargs)
        self.paused = paused

    def on_train_begin(self, logs=None):
        super().on_train_begin(logs)
        paused = self.paused
        if paused is not None and paused.best_weights:
            self.best = paused.best_value if math.isfinite(paused.best_value) else None
            self.best_epoch = paused.best_epoch
            self.best_weights = paused.best_weights
            self.wait = paused.wait


class _PauseAtEnd(keras.callbacks.Callback):
    """Saves the run to `folder` when a segment ends, before EarlyStopping (later in the callback
    list) puts the best epoch's weights back: what goes on later must start from the last epoch."""

    def __init__(self, folder: Path, early_stopping: _ResumableEarlyStopping, epoch_log):
        super().__init__()
        self.folder, self.early_stopping, self.epoch_log = Path(folder), early_stopping, epoch_log

    def on_train_end(self, logs=None):
        stopping, log = self.early_stopping, self.epoch_log
        weights = self.model.get_weights()
        stopped = "diverged" if log.diverged else ("early" if stopping.stopped_epoch > 0 else "")
        best_value = math.inf if stopping.best is None else float(stopping.best)
        checkpoints.save(
            self.folder,
            PausedRun(
                history=list(log.history),
                epoch_seconds=list(log.seconds),
                best_epoch=int(stopping.best_epoch),
                best_value=float(best_value),
                wait=int(stopping.wait),
                stopped=stopped,
                weights=weights,
                best_weights=stopping.best_weights or weights,
                optimizer=[np.asarray(v.numpy()) for v in self.model.optimizer.variables],
            ),
        )


@contextlib.contextmanager
def _out_of_memory_fails(message: str) -> Iterator[None]:
    """Turn running out of memory into TrainingFailed: this run fails, the study goes on."""
    try:
        yield
    except Exception as exc:
        if not backend.is_out_of_memory(exc):  # whichever backend raised it (hpo.backend)
            raise
        raise TrainingFailed(f"{message}; try a smaller batch size or model") from exc


def _heads(model) -> tuple[str, ...]:
    """The model's output heads: ("reconstruction",) or ("reconstruction", "next_step")."""
    if isinstance(model.output, dict):
        return tuple(h for h in (metrics.RECONSTRUCTION, metrics.NEXT_STEP) if h in model.output)
    return (metrics.RECONSTRUCTION,)


def _predict(model, x: np.ndarray) -> dict[str, np.ndarray]:
    out = model.predict_on_batch(x)
    return out if isinstance(out, dict) else {metrics.RECONSTRUCTION: out}


def _feed(
    split: Split, two_headed: bool, batch_size: int, seed: int, shuffle: bool = True
) -> tuple[Any, Any, int]:
    """(x, y, samples per epoch) for model.fit: arrays when the split is in memory,
    (hpo.data.feed.Batches, None, n) when streamed.

    Arrays: Keras slices and shuffles them (seeded) itself on every backend, exactly as a plain
    `model.fit(x, x)` does. Batches read from the file, 2-8% slower per epoch in memory (200
    samples of 64x32x3, 2 cores, TensorFlow), are for files too big for memory.
    """
    t, t_next = split.next_step_pairs() if two_headed else (None, None)
    if two_headed and len(t) == 0:
        raise DataError(
            f"the {split.name} split holds no consecutive time steps of one simulation; "
            "next-step models need a file that marks simulations (attribute idx)"
        )
    if split.streamed:
        batches = Batches.from_split(
            split, batch_size, next_step=two_headed, seed=seed, shuffle=shuffle
        )
        return batches, None, batches.n_samples
    x = split.arrays()
    if not two_headed:
        return x, x, len(x)
    x_t = x[t]
    return x_t, {metrics.RECONSTRUCTION: x_t, metrics.NEXT_STEP: x[t_next]}, len(t)


def _augmented_feed(x, y, augmentation, batch_size: int, seed: int):
    """`_feed`'s training batches, each sample shifted/mirrored afresh every epoch (input and
    targets alike). Arrays are shuffled here, seeded, as Keras would shuffle them (hpo.backend:
    tf.data on TensorFlow, numpy elsewhere)."""
    if y is None:  # streamed: Batches of the split
        return x.augmented(augmentation)
    return backend.augmented_batches(x, y, augmentation, batch_size, seed)


def _validation_dataset(split: Split, two_headed: bool, batch_size: int, seed: int):
    """The validation batches, in order, built once per fit (hpo.backend.batched: on TensorFlow a
    ready tf.data set, measured faster than arrays)."""
    x, y, _ = _feed(split, two_headed, batch_size, seed, shuffle=False)
    if y is None:
        return x
    return backend.batched(x, y, batch_size)
