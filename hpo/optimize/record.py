"""What a study of `hpo.optimize` stores about itself when it is created: one typed record.

Every worker, in any process or on any machine, reads the record of the study it joins and searches
the same space (`StudyRecord.space`), on the same data (`mismatches`). Keys: hpo.keys.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import optuna

from hpo import augment, keys
from hpo.backend import DEFAULT_PRECISION
from hpo.serialize import json_safe
from hpo.space import Fixed
from hpo.storage import open_storage


@dataclass(frozen=True)
class StudyRecord:
    """A study's identity.

    Attributes:
        architecture: the architecture it searches.
        latent: its fixed latent size; None: the latent size is searched.
        augment: the symmetries searched as training knobs.
        metric: the validation metric it minimises.
        data: FlowData.describe() of the data it was created on.
        n_params: the parameter budget its width bounds follow (the screen's `--params`;
            hpo.budget); None: the presets' default, the declared bounds.
        precision: the dtype policy its trials train in (`--precision`); a study stored before
            it was recorded trained in float32.
    """

    architecture: str
    latent: int | None = None
    augment: tuple[str, ...] = ()
    metric: str = "rel_l2"
    data: dict[str, Any] = field(default_factory=dict)
    n_params: int | None = None
    precision: str = DEFAULT_PRECISION

    def to_attrs(self) -> dict[str, Any]:
        return json_safe(
            {
                keys.DATA: self.data,
                keys.ARCHITECTURE: self.architecture,
                keys.METRIC: self.metric,
                keys.LATENT: self.latent,
                keys.AUGMENT: list(self.augment),
                keys.N_PARAMS: self.n_params,
                keys.PRECISION: self.precision,
            }
        )

    def store(self, study: optuna.Study) -> None:
        for key, value in self.to_attrs().items():
            study.set_user_attr(key, value)

    @classmethod
    def from_study(cls, study: optuna.Study) -> StudyRecord | None:
        """The stored record; None for a study that has none yet. A study from before the latent
        size and the symmetries were stored searched the latent size without augmentation."""
        attrs = study.user_attrs
        if keys.DATA not in attrs:
            return None
        return cls(
            architecture=attrs.get(keys.ARCHITECTURE, ""),
            latent=attrs.get(keys.LATENT),
            augment=augment.check(attrs.get(keys.AUGMENT) or ()),
            metric=attrs.get(keys.METRIC, "rel_l2"),
            data=dict(attrs[keys.DATA]),
            n_params=attrs.get(keys.N_PARAMS),
            precision=attrs.get(keys.PRECISION, DEFAULT_PRECISION),
        )

    def space(self, declared: dict) -> dict:
        """The architecture's declared space for this study: the latent size fixed (when it is),
        the symmetries searched as training knobs (on by default; the others fixed off), the
        width bounds following the parameter budget (where a `--space` file left them)."""
        space = study_space(declared, self.latent, self.augment)
        shape = self.data.get("shape")
        if self.n_params is None or not self.architecture or not shape:
            return space
        from hpo import architectures
        from hpo.budget import follow_budget, width_factor

        factor = width_factor(self.architecture, tuple(shape[1:]), self.n_params, self.latent)
        return follow_budget(space, factor, architectures.get(self.architecture).space)


def study_space(space: dict, latent: int | None, symmetries: tuple[str, ...]) -> dict:
    """`space` with the latent size fixed (when given) and `symmetries` searched."""
    if latent is not None:
        space = {**space, keys.LATENT: Fixed(latent)}
    return augment.searchable(space, symmetries)


def stored_space(declared: dict, name: str, storage_url: str) -> dict:
    """The space of study `name`: the declared one as its stored record fixes and searches it (a
    study from before they were stored: latent searched, no augmentation), so every worker, in
    any process or on any machine, searches the same space."""
    study = optuna.load_study(study_name=name, storage=open_storage(storage_url))
    record = StudyRecord.from_study(study) or StudyRecord(architecture="")
    return record.space(declared)
