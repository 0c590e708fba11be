"""What the screen hands `hpo.optimize`: one typed record, stored in the user attrs of
    `<run>-screen`.

    record = ScreenRecord.from_study(study)     # hpo.optimize, reports, benchmarks
    record.ranking(latent=8)[:2]                # the top two at latent 8
    record.store(study)                         # the screen, once its runs are ranked

The keys are hpo.keys'; `from_study` also reads screens stored before latent sizes were an axis (one
latent: the PCA's size, only RANKING / PCA / LEADERBOARD stored) and before augmentation (none).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import optuna

from hpo import keys
from hpo.serialize import json_safe


@dataclass(frozen=True)
class ScreenRecord:
    """A stored screen's results per latent size, and what a resume or a later stage must repeat.

    Attributes:
        rankings: latent size -> architecture names, best first (validation `metric`).
        pca: latent size -> the PCA baseline (keys.PCA's dict: "val", "test", "plain", ...).
        leaderboards: latent size -> leaderboard rows (dicts, best first).
        persistence: the next-step baseline x(t+1) = x(t) on "val"/"test", or None.
        augment: the symmetries the screen trained with.
        metric: the ranking metric.
        settings: ScreenConfig.comparable() of the screen (a resume must repeat them).
        data: FlowData.describe() of the screened data.
    """

    rankings: dict[int, list[str]]
    pca: dict[int, dict[str, Any]] = field(default_factory=dict)
    leaderboards: dict[int, list[dict[str, Any]]] = field(default_factory=dict)
    persistence: dict[str, Any] | None = None
    augment: tuple[str, ...] = ()
    metric: str = "rel_l2"
    settings: dict[str, Any] = field(default_factory=dict)
    data: dict[str, Any] = field(default_factory=dict)

    @property
    def latents(self) -> tuple[int, ...]:
        """The ranked latent sizes, ascending."""
        return tuple(sorted(self.rankings))

    @property
    def smallest(self) -> int | None:
        return self.latents[0] if self.rankings else None

    def ranking(self, latent: int | None = None) -> list[str]:
        """The ranking at `latent` when the screen ranked that size, else at its smallest (what
        `hpo.optimize --top K` reads for a study that searches the latent size)."""
        if latent is not None and latent in self.rankings:
            return list(self.rankings[latent])
        return list(self.rankings.get(self.smallest, [])) if self.rankings else []

    def leaderboard_row(self, architecture: str, latent: int | None) -> dict[str, Any]:
        """`architecture`'s leaderboard row at `latent` (None: the smallest size's); {} if
        absent."""
        rows = self.leaderboards.get(self.smallest if latent is None else latent, [])
        return next((row for row in rows if row.get(keys.ARCHITECTURE) == architecture), {})

    def to_attrs(self) -> dict[str, Any]:
        """The study user attrs, keyed by hpo.keys (JSON-safe). RANKING, PCA and LEADERBOARD repeat
        the smallest size's for readers from before latent sizes were an axis."""
        smallest = self.smallest
        attrs = {
            keys.RANKING: self.ranking(),
            keys.RANKING_BY_LATENT: {keys.latent_key(z): list(r) for z, r in self.rankings.items()},
            keys.METRIC: self.metric,
            keys.LATENTS: list(self.latents),
            keys.AUGMENT: list(self.augment),
            keys.PCA: self.pca.get(smallest, {}),
            keys.PCA_BY_LATENT: {keys.latent_key(z): p for z, p in self.pca.items()},
            keys.PERSISTENCE: self.persistence,
            keys.LEADERBOARD: self.leaderboards.get(smallest, []),
            keys.LEADERBOARD_BY_LATENT: {
                keys.latent_key(z): rows for z, rows in self.leaderboards.items()
            },
            keys.SETTINGS: self.settings,
            keys.DATA: self.data,
        }
        return json_safe(attrs)

    def store(self, study: optuna.Study) -> None:
        for key, value in self.to_attrs().items():
            study.set_user_attr(key, value)

    @classmethod
    def from_study(cls, study: optuna.Study) -> ScreenRecord:
        """The record stored on a screen study (of any version; see the module docstring)."""
        attrs = study.user_attrs
        common = dict(
            persistence=attrs.get(keys.PERSISTENCE),
            augment=tuple(attrs.get(keys.AUGMENT) or ()),
            metric=attrs.get(keys.METRIC, "rel_l2"),
            settings=dict(attrs.get(keys.SETTINGS) or {}),
            data=dict(attrs.get(keys.DATA) or {}),
        )
        if keys.RANKING_BY_LATENT in attrs:
            return cls(
                rankings=_by_latent(attrs[keys.RANKING_BY_LATENT], list),
                pca=_by_latent(attrs.get(keys.PCA_BY_LATENT) or {}, dict),
                leaderboards=_by_latent(attrs.get(keys.LEADERBOARD_BY_LATENT) or {}, list),
                **common,
            )
        if not attrs.get(keys.RANKING):  # created, nothing ranked yet
            return cls(rankings={}, **common)
        # Stored before the latent axis: one size, that of its PCA (or of its leaderboard's rows).
        pca = attrs.get(keys.PCA) or {}
        board = list(attrs.get(keys.LEADERBOARD) or [])
        latent = int(pca.get("n_components", 0)) or next(
            (int(row[keys.LATENT]) for row in board if row.get(keys.LATENT)), 0
        )
        return cls(
            rankings={latent: list(attrs[keys.RANKING])},
            pca={latent: pca},
            leaderboards={latent: board},
            **common,
        )


def _by_latent(mapping: dict, convert) -> dict[int, Any]:
    return {int(latent): convert(value) for latent, value in mapping.items()}


def latent_of(trial: optuna.trial.FrozenTrial) -> int | None:
    """The run's latent slot: its param, or (screens stored before the axis) the size it built."""
    value = trial.params.get(keys.LATENT, trial.user_attrs.get(keys.LATENT))
    return None if value is None else int(value)
