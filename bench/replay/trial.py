"""One replayed trial: a configuration's recorded curve read epoch by epoch, as a live trial would
see it, and the record of how it ended.

- early stopping as hpo.training's: after max(3, ceil(E / 4)) epochs without a strict improvement
  the trial ends; its value is its best epoch's validation value (the best weights are restored),
  its test value that epoch's test rel_l2;
- a NaN validation value fails the trial (it diverged), charged the epochs up to and including it;
- a pruner, when given, is asked after every epoch (after early stopping's count, as the pruning
  callback runs after EarlyStopping's in the same epoch, and its exception wins);
- the trial that would cross the study's budget is CUT there: charged only the epochs within it.
A trial costs the epochs it ran (a pruned one, those before it was pruned).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

from bench.replay.table import Curve

# A trial's end: COMPLETE (early stopping or all epochs), PRUNED, FAIL (NaN), CUT (at the budget);
# DUPLICATE: a configuration already finished, answered from its stored trial, not trained.
COMPLETE, PRUNED, FAIL, CUT = "COMPLETE", "PRUNED", "FAIL", "CUT"
DUPLICATE = "DUPLICATE"
# Early stopping, as hpo.training.scaled_patience (not imported: hpo.training imports TensorFlow).
PATIENCE_SHARE, MIN_PATIENCE = 0.25, 3
TRIAL_COLUMNS = ["architecture", "config", "state", "epochs", "value", "test_rel_l2", "first_epoch"]


@dataclass(frozen=True)
class TrialRecord:
    """One replayed trial. `value`: the best validation value over the epochs it ran (None if it ran
    none with a finite value); only a COMPLETE trial's counts as a result."""

    architecture: str
    config: int
    state: str  # COMPLETE, PRUNED, FAIL, CUT or DUPLICATE
    epochs: int  # charged: the epochs it ran
    value: float | None
    test: float | None  # test rel_l2 at its best epoch
    first_epoch: int = 0  # > 0: a KerasTuner trial continuing its parent's run from this epoch

    def counts(self) -> bool:
        return self.state == COMPLETE

    def to_row(self) -> list:
        return [
            self.architecture,
            self.config,
            self.state,
            self.epochs,
            self.value,
            self.test,
            self.first_epoch,
        ]


def patience_for(epochs: int) -> int:
    """Epochs without improvement before early stopping ends a run of `epochs` (hpo.training's)."""
    return max(MIN_PATIENCE, math.ceil(PATIENCE_SHARE * epochs))


def replay_trial(
    architecture: str,
    curve: Curve,
    patience: int,
    epochs_left: int,
    first_epoch: int = 0,
    last_epoch: int | None = None,
    prune: Callable[[int, float], bool] | None = None,
) -> TrialRecord:
    """Run `curve` from epoch first_epoch + 1 to last_epoch (default E) as a live trial would.

    Args:
        patience: early stopping's; counted from first_epoch + 1 (a fresh fit's callback).
        epochs_left: the study's budget left; the trial is CUT when it would run more.
        prune: called after each epoch with (epoch, val); True prunes the trial there.
    """
    last_epoch = len(curve.val) if last_epoch is None else last_epoch
    best, best_epoch, since_best, ran = math.inf, 0, 0, 0
    state = COMPLETE
    for epoch in range(first_epoch + 1, last_epoch + 1):
        if ran == epochs_left:
            state = CUT
            break
        ran += 1
        val = float(curve.val[epoch - 1])
        if not math.isfinite(val):
            state = FAIL
            break
        if val < best:  # Keras' EarlyStopping: a strict improvement (min_delta 0)
            best, best_epoch, since_best = val, epoch, 0
        else:
            since_best += 1
        # The pruning callback runs after EarlyStopping's in the same epoch, and its exception wins.
        if prune is not None and prune(epoch, val):
            state = PRUNED
            break
        if since_best >= patience:
            break
    found = best_epoch > 0
    return TrialRecord(
        architecture,
        curve.config,
        state,
        ran,
        best if found else None,
        float(curve.test[best_epoch - 1]) if found else None,
        first_epoch,
    )
