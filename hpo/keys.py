"""Every name `hpo` stores in Optuna (study and trial user attrs, trial params), defined once.

Imported wherever a key is read or written, so a typo is an import error instead of a silent `None`
(Optuna names its own stored keys the same way: `_CONSTRAINTS_KEY`). The values are the strings
stored since the first release: studies stored before keep loading. A test
(tests/test_house.py) fails when a module writes or reads a user attr by a bare string.

The screen's study `<run>-screen` (what hpo.screen.record.ScreenRecord reads and writes):

    RANKING                architecture names, best first, at the smallest screened latent size
                           (what `hpo.optimize --top K` reads; a screen stored before latent sizes
                           were an axis holds only this one, for its single latent)
    RANKING_BY_LATENT      {"<latent>": [names, best first]} for every screened latent size
    LEADERBOARD            the smallest latent's leaderboard rows (list of dicts)
    LEADERBOARD_BY_LATENT  {"<latent>": rows}
    PCA                    the smallest latent's PCA baseline: {"n_components", "metric", "val",
                           "test", "augment", "plain", "persistence"}; "val"/"test" are the PCA
                           the autoencoders are compared with (fitted on the same, possibly
                           augmented, training set)
    PCA_BY_LATENT          {"<latent>": that dict}
    PERSISTENCE            next-step baseline x̂(t+1) = x(t): {"val": scores, "test": scores} or None
    LATENTS                the screened latent sizes, ascending
    AUGMENT                the symmetries the screen trained with, e.g. ["shift-x", "mirror-x"]
    METRIC, SETTINGS, DATA the ranking metric, the settings a resume must repeat, the data described

Its trials: params ARCHITECTURE, LATENT (absent in screens stored before it was an axis: read the
trial's user attr LATENT then), REPEAT; user attrs N_PARAMS, LATENT (the size built), EPOCHS_RUN,
SECONDS_PER_EPOCH, PARAMS (every knob the run was built and trained with), CURVES (the training
metric and the learning rate per epoch), VAL and TEST (scores), FAILURE (a failed run's reason),
RUNG (the epochs it reached: a run successive halving stopped is PRUNED at its rung), DEVICE and
SLOT (where it trained, when it trained in this version).

The studies of `hpo.optimize` (hpo.optimize.record.StudyRecord): DATA, ARCHITECTURE, METRIC, LATENT
(None: searched), AUGMENT (the symmetries searched), N_PARAMS (the budget its widths follow),
PRECISION (the Keras dtype policy its trials train in), and the best model kept
(hpo.optimize.artifacts): BEST_MODEL_ARTIFACT_ID, BEST_MODEL_PATH, BEST_MODEL_TRIAL,
BEST_MODEL_VALUE, BEST_TEST, BEST_VAL. Their trials' user attrs: N_PARAMS, LATENT, REJECTED,
EPOCHS_RUN, SECONDS_PER_EPOCH, VAL, FAILURE, STOPPED, WORKER_PID, DEVICE, SLOT, RSS_MIB,
FROM_SCREEN, DUPLICATE_OF; a KerasTuner trial mirrored into Optuna: ENGINE, TUNER,
KERAS_TUNER_TRIAL_ID.
"""

from __future__ import annotations

# --- The screen's study ---------------------------------------------------------------------------
RANKING = "ranking"
RANKING_BY_LATENT = "ranking_by_latent"
LEADERBOARD = "leaderboard"
LEADERBOARD_BY_LATENT = "leaderboard_by_latent"
PCA = "pca"
PCA_BY_LATENT = "pca_by_latent"
PERSISTENCE = "persistence"
LATENTS = "latents"
SETTINGS = "settings"

# --- Both stages' studies -------------------------------------------------------------------------
AUGMENT = "augment"  # the symmetries trained with (screen) or searched (optimize)
METRIC = "metric"  # the ranking metric, on the validation split
DATA = "data"  # FlowData.describe(): what a resume must be run on

# --- Trial params (the screen), study attrs (optimize)
# ----------------------------------------------
ARCHITECTURE = "architecture"
LATENT = "latent"
REPEAT = "repeat"

# --- Trial user attrs
# -------------------------------------------------------------------------------
N_PARAMS = "n_params"  # trainable parameters of the model built
EPOCHS_RUN = "epochs_run"
SECONDS_PER_EPOCH = "seconds_per_epoch"
PARAMS = "params"  # every knob a screen run was built and trained with
CURVES = "curves"  # {"<metric>": training metric per epoch, "learning_rate": [...]}
VAL = "val"  # the model's scores on the validation split (hpo.training.evaluate)
TEST = "test"  # ... and on the test split (screen runs)
# Why a trial of ours failed (NaN, out of memory, a bug); absent if its worker died
FAILURE = "failure"
REJECTED = "rejected"  # why a trial was pruned before training (over --max-params)
WORKER_PID = "worker_pid"  # the process that ran the trial
# Where it trained (hpo.devices): "cpu" or "gpu:<CUDA_VISIBLE_DEVICES name>", and the worker's slot
# (0, 1, ...: with --trials-per-device N, several slots share a device). A screen run: where it
# trained its last segment.
DEVICE = "device"
SLOT = "slot"
PRECISION = "precision"  # an optimize study's dtype policy (--precision)
RSS_MIB = "rss_mib"  # the worker's resident memory after the trial
# Why a stop signal (SIGTERM, SIGINT) cut the trial short; like a worker that died, no failure of
# the study's (no FAILURE attr): its queued copy runs again.
STOPPED = "stopped"
# The screen's configuration queued as a study's first trial: {"study", "trial", "latent", "repeat",
# "value", "moved"} of the screen run it repeats.
FROM_SCREEN = "from_screen"
# The trial a queued copy repeats (the name Optuna's heartbeat retry gives its system attr).
FAILED_TRIAL = "failed_trial"
# A trial answered without training (hpo.optimize.duplicates): the number of the trial with the same
# params whose stored result answered it (or which another worker was training).
DUPLICATE_OF = "duplicate_of"
# A screen run: the rung (epochs) it reached under successive halving; a run stopped there is a
# PRUNED trial of the screen study, a run that reached the last rung a COMPLETE one.
RUNG = "rung"
# A KerasTuner trial mirrored into Optuna.
ENGINE = "engine"
TUNER = "tuner"
KERAS_TUNER_TRIAL_ID = "keras_tuner_trial_id"  # "<tuner>:<KerasTuner's trial id>"

# --- The best model a study keeps (study user attrs)
# -------------------------------------------------
BEST_MODEL_ARTIFACT_ID = "best_model_artifact_id"
BEST_MODEL_PATH = "best_model_path"
BEST_MODEL_TRIAL = "best_model_trial"
BEST_MODEL_VALUE = "best_model_value"
BEST_TEST = "best_test"  # its scores on the test split, written by hpo.optimize's evaluation
BEST_VAL = "best_val"


def latent_key(latent: int) -> str:
    """The key of a latent size in the *_BY_LATENT mappings (JSON object keys are strings)."""
    return str(int(latent))


def monitor_key(metric: str) -> str:
    """The name Keras logs a validation metric under, which early stopping, pruning and the
    intermediate values read: `val_rel_l2` for `rel_l2`."""
    return f"val_{metric}"
