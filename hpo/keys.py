"""Names of what the screen stores in its Optuna study, defined once and imported where read or written.

A typo in a key becomes an import error instead of a silent `None`. Study user attrs of `<run>-screen`:

    RANKING                architecture names, best first, at the smallest screened latent size
                           (what `hpo.optimize --top K` reads; a screen stored before latent sizes were
                           an axis holds only this one, for its single latent)
    RANKING_BY_LATENT      {"<latent>": [names, best first]} for every screened latent size
    LEADERBOARD            the smallest latent's leaderboard rows (list of dicts)
    LEADERBOARD_BY_LATENT  {"<latent>": rows}
    PCA                    the smallest latent's PCA baseline: {"n_components", "metric", "val", "test",
                           "augment", "plain", "persistence"}; "val"/"test" are the PCA the autoencoders
                           are compared with (fitted on the same, possibly augmented, training set)
    PCA_BY_LATENT          {"<latent>": that dict}
    PERSISTENCE            next-step baseline x̂(t+1) = x(t): {"val": scores, "test": scores}, or None
    LATENTS                the screened latent sizes, ascending
    AUGMENT                the symmetries the screen trained with, e.g. ["shift-x", "mirror-x"]
    METRIC, SETTINGS, DATA the ranking metric, the settings a resume must repeat, the data described

Trial params: ARCHITECTURE, LATENT (absent in screens stored before it was an axis: read the trial's
user attr LATENT then), REPEAT. Trial user attrs added with the latent axis: CURVES, the training
metric and the learning rate per epoch ({"<metric>": [...], "learning_rate": [...]}), beside the
validation metric in the trial's intermediate values.
"""

from __future__ import annotations

RANKING = "ranking"
RANKING_BY_LATENT = "ranking_by_latent"
LEADERBOARD = "leaderboard"
LEADERBOARD_BY_LATENT = "leaderboard_by_latent"
PCA = "pca"
PCA_BY_LATENT = "pca_by_latent"
PERSISTENCE = "persistence"
LATENTS = "latents"
AUGMENT = "augment"
METRIC = "metric"
SETTINGS = "settings"
DATA = "data"

# Trial params of the screen (and its trials' user attr with the latent size actually built).
ARCHITECTURE = "architecture"
LATENT = "latent"
REPEAT = "repeat"
CURVES = "curves"


def latent_key(latent: int) -> str:
    """The key of a latent size in the *_BY_LATENT mappings (JSON object keys are strings)."""
    return str(int(latent))
