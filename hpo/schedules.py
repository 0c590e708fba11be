"""Learning-rate schedules, a searched training knob (`schedule` in every architecture's space).

    constant   Adam at the given rate throughout (the original study's recipe)
    cosine     a linear warm-up over the first WARMUP_SHARE of the steps, then cosine decay to
               FINAL_SHARE of the peak at the end of the epoch budget
    plateau    the given rate, halved whenever the monitored metric stalls (ReduceLROnPlateau)

    rate = learning_rate("cosine", 1e-3, n_epochs=30, steps_per_epoch=48)
    model.compile(optimizer=keras.optimizers.Adam(rate), ...)
    model.fit(..., callbacks=[*callbacks("plateau", "val_rel_l2", patience=8, peak=1e-3)])

Cosine decay spends the budget it is given: the model ends at a small rate, where the validation
error settles, instead of oscillating at the constant rate where early stopping catches a noisy
minimum. Early stopping, if it ends a run, ends it inside that decay.
"""

from __future__ import annotations

import math

SCHEDULES = ("constant", "cosine", "plateau")

# Of all steps: Adam's first moments settle before the peak rate (5%: 1-2 epochs of 30)
WARMUP_SHARE = 0.05
FINAL_SHARE = 0.01  # cosine ends at 1% of the peak, not 0: the last epochs still move the weights
PLATEAU_FACTOR = 0.5  # plateau: halve the rate ...
PLATEAU_FLOOR = 0.01  # ... down to 1% of the initial rate


def check(schedule: str) -> str:
    """`schedule` itself.

    Raises:
        ConfigError: not one of SCHEDULES.
    """
    if schedule not in SCHEDULES:
        from hpo.errors import ConfigError

        raise ConfigError(
            f"no learning-rate schedule {schedule!r}; choose from: {', '.join(SCHEDULES)}"
        )
    return schedule


def learning_rate(
    schedule: str,
    peak: float,
    n_epochs: int,
    steps_per_epoch: int,
    warmup_share: float = WARMUP_SHARE,
):
    """What to give the optimizer: the rate itself (constant, plateau) or a keras schedule (cosine).

    Args:
        schedule: one of SCHEDULES.
        peak: the learning rate (cosine: reached at the end of the warm-up).
        n_epochs: the epoch budget the cosine decays over.
        steps_per_epoch: optimizer steps per epoch (batches of the training split).
        warmup_share: share of all steps spent warming up (cosine only).
    """
    import keras

    check(schedule)
    if schedule != "cosine":
        return float(peak)
    total = max(1, n_epochs * steps_per_epoch)
    warmup = min(total - 1, math.ceil(warmup_share * total)) if warmup_share > 0 else 0
    return keras.optimizers.schedules.CosineDecay(
        initial_learning_rate=0.0 if warmup else float(peak),
        decay_steps=max(1, total - warmup),
        alpha=FINAL_SHARE,
        warmup_target=float(peak) if warmup else None,
        warmup_steps=warmup,
    )


def callbacks(schedule: str, monitor: str, patience: int, peak: float) -> list:
    """Callbacks the schedule needs (plateau: ReduceLROnPlateau after half the early-stopping
    patience, so the rate drops before a run is stopped); [] for the others."""
    import keras

    if check(schedule) != "plateau":
        return []
    return [
        keras.callbacks.ReduceLROnPlateau(
            monitor=monitor,
            mode="min",
            factor=PLATEAU_FACTOR,
            patience=max(1, patience // 2),
            min_lr=float(peak) * PLATEAU_FLOOR,
            verbose=0,
        )
    ]
