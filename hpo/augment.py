"""Symmetry augmentation: the circular shift in x and the mirror x -> -x, as training knobs.

Rayleigh-Bénard convection in a box periodic in x is unchanged by a circular shift in x and by the
mirror x -> -x. Under the mirror, scalars (temperature, pressure, speed) are only reflected; a
signed horizontal velocity also changes sign (`SIGNED_X_CHANNELS`). Training on randomly shifted and
mirrored copies shows a model every flow its data imply, which a few simulations cannot.

    symmetries = resolve(None, data)        # what the file declares: root attr `symmetries`
    params |= as_params(symmetries)         # {"shift_x": True, "mirror_x": True}
    augmentation = Augmentation.for_data(data, symmetries)
    augmentation.apply(x, shifts, mirrors)  # numpy; hpo.data.feed draws them per epoch

A file declares its symmetries in the root attribute `symmetries` (a list of names, or one
comma-separated string); the embedded dataset does. They are on by default where declared and off
for any other file unless asked for (`--augment shift-x,mirror-x`): a shift is wrong for a flow that
is not periodic in x. Axis 1 of a sample (H, W, C) is x. The mirror reverses axis 1 (x_i ->
x_{H-1-i}, a reflection about the box's centre line; with the shift on, every reflection axis is
drawn alike).

Values are scaled (standardised with training statistics), so a sign change is a reflection about
the scaled value of physical zero, not about 0: mirrored = 2 * zero - value.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from hpo.errors import ConfigError
from hpo.space import Categorical, Fixed

SHIFT_X, MIRROR_X = "shift-x", "mirror-x"
SYMMETRIES = (SHIFT_X, MIRROR_X)

# The training knob of each symmetry, in every architecture's search space
# (hpo.architectures.blocks).
PARAMS = {SHIFT_X: "shift_x", MIRROR_X: "mirror_x"}

# Circular padding in x (the architectures' `periodic_x`) where the shift is a symmetry in use: a
# flow unchanged by a circular shift lives in a box periodic in x, so a convolution may wrap around
# it. On by default there, chosen by bench.recipe: conv at latent 8 on the default data, 30 epochs,
# validation rel_l2 0.3221 against zero padding's 0.3305 on the choice seed (README, "The recipe by
# evidence", for the seed and model it was reported on), at about 1.3x the step time on 2 cores.
PERIODIC_PARAM = "periodic_x"
PERIODIC_BY_DEFAULT = True

# The HDF5 root attribute where a file declares its symmetries.
ATTR = "symmetries"

# Channels that change sign under x -> -x: a signed horizontal velocity (The Well's `velocity_x`).
# The embedded data's `velocity` is the speed, a scalar.
SIGNED_X_CHANNELS = ("velocity_x",)


def parse(text: str | None) -> tuple[str, ...] | None:
    """`--augment` as given: None (not given: the data's declared symmetries), "none" or "" (off),
    or comma-separated names.

    Raises:
        ConfigError: an unknown name (the message lists the valid ones).
    """
    if text is None:
        return None
    names = [name.strip() for name in text.split(",") if name.strip()]
    if names in ([], ["none"]):
        return ()
    return check(names)


def check(names: Iterable[str]) -> tuple[str, ...]:
    """The names in SYMMETRIES order, each once.

    Raises:
        ConfigError: an unknown name.
    """
    names = list(names)
    unknown = [name for name in names if name not in SYMMETRIES]
    if unknown:
        raise ConfigError(
            f"--augment: unknown symmetry {', '.join(map(repr, unknown))}; choose from: "
            f"{', '.join(SYMMETRIES)} (or none)"
        )
    return tuple(name for name in SYMMETRIES if name in names)


def declared(data) -> tuple[str, ...]:
    """The symmetries the data file declares (root attr `symmetries`); unknown names are ignored."""
    with data.source.open() as f:
        raw = f.attrs.get(ATTR)
    if raw is None:
        return ()
    if isinstance(raw, (bytes, str)):
        raw = (raw.decode() if isinstance(raw, bytes) else raw).split(",")
    names = {(n.decode() if isinstance(n, bytes) else str(n)).strip() for n in np.atleast_1d(raw)}
    return tuple(name for name in SYMMETRIES if name in names)


def resolve(requested: Sequence[str] | None, data) -> tuple[str, ...]:
    """The symmetries to train with: `requested` (checked), or the data's declared ones when
    None."""
    return declared(data) if requested is None else check(requested)


def as_params(symmetries: Iterable[str]) -> dict[str, bool]:
    """The knobs `symmetries` switch on: {"shift_x": bool, "mirror_x": bool, "periodic_x": bool}
    (circular padding with the shift, where PERIODIC_BY_DEFAULT)."""
    chosen = set(symmetries)
    knobs = {param: name in chosen for name, param in PARAMS.items()}
    return knobs | {PERIODIC_PARAM: SHIFT_X in chosen and PERIODIC_BY_DEFAULT}


def from_params(params: Mapping[str, Any]) -> tuple[str, ...]:
    """The symmetries switched on in a params dict (missing knobs: off)."""
    return tuple(name for name, param in PARAMS.items() if params.get(param))


def searchable(space: Mapping, symmetries: Iterable[str]) -> dict:
    """`space` with each allowed symmetry's knob searched (on by default) and the others fixed off;
    with the shift allowed, circular padding searched too (default PERIODIC_BY_DEFAULT).

    The declared spaces fix these knobs off, so a study on a user's file never shifts or wraps a
    field that is not periodic; pass the data's (or the user's) symmetries here to search them.
    """
    allowed = set(symmetries)
    searched = dict(space)
    for name, param in PARAMS.items():
        if param in searched:
            searched[param] = (
                Categorical((False, True), default=True) if name in allowed else Fixed(False)
            )
    if PERIODIC_PARAM in searched:
        searched[PERIODIC_PARAM] = (
            Categorical((False, True), default=PERIODIC_BY_DEFAULT)
            if SHIFT_X in allowed
            else Fixed(False)
        )
    return searched


@dataclass(frozen=True)
class Augmentation:
    """The symmetries of one dataset, ready to apply to scaled samples (n, H, W, C).

    Attributes:
        shift: circular shifts in x, drawn uniformly from all H.
        mirror: x -> -x with probability 1/2.
        signed: (C,) bool, the channels whose sign changes under the mirror.
        zero: (C,) float32, the scaled value of physical zero per channel (the mirror's centre).
    """

    shift: bool
    mirror: bool
    signed: np.ndarray
    zero: np.ndarray

    @classmethod
    def for_data(cls, data, symmetries: Iterable[str]) -> Augmentation:
        symmetries = check(symmetries)
        return cls(
            shift=SHIFT_X in symmetries,
            mirror=MIRROR_X in symmetries,
            signed=np.array([c in SIGNED_X_CHANNELS for c in data.channel_names]),
            zero=scaled_zero(data.scaler),
        )

    @property
    def active(self) -> bool:
        return self.shift or self.mirror

    @property
    def symmetries(self) -> tuple[str, ...]:
        return tuple(name for name, on in ((SHIFT_X, self.shift), (MIRROR_X, self.mirror)) if on)

    def draw(self, rng: np.random.Generator, n: int, n_x: int) -> tuple[np.ndarray, np.ndarray]:
        """(shifts, mirrors) for `n` samples of `n_x` cells in x: shifts uniform in 0..n_x-1 (0
        without the shift), mirrors with probability 1/2 (none without the mirror)."""
        shifts = rng.integers(0, n_x, n) if self.shift else np.zeros(n, np.int64)
        mirrors = rng.random(n) < 0.5 if self.mirror else np.zeros(n, bool)
        return shifts, mirrors

    def apply(self, x: np.ndarray, shifts: Sequence[int], mirrors: Sequence[bool]) -> np.ndarray:
        """Samples (n, H, W, C) shifted by `shifts[i]` cells in x (x_j -> x_{j+s}, circular), then
        mirrored where `mirrors[i]`; numpy, one gather for the whole batch."""
        x = np.asarray(x, np.float32)
        n, n_x = x.shape[:2]
        shifts = np.asarray(shifts, np.int64) if self.shift else np.zeros(n, np.int64)
        mirrors = np.asarray(mirrors, bool) if self.mirror else np.zeros(n, bool)
        source = (np.arange(n_x)[None, :] - shifts[:, None]) % n_x  # (n, H): as np.roll(x, s)
        source = np.where(mirrors[:, None], source[:, ::-1], source)  # then x_j -> x_{H-1-j}
        out = x[np.arange(n)[:, None], source]
        if self.signed.any():
            changes = mirrors[:, None, None, None] & self.signed  # (n, 1, 1, C)
            out = np.where(changes, 2.0 * self.zero - out, out).astype(np.float32)
        return out


def mirror_x(x: np.ndarray, signed: np.ndarray, zero: np.ndarray) -> np.ndarray:
    """One sample (H, W, C) or a batch (n, H, W, C) mirrored in x; signed channels change sign about
    `zero` (scaled physical zero)."""
    x = np.asarray(x, np.float32)
    flipped = np.flip(x, axis=-3).copy()
    flipped[..., signed] = 2.0 * zero[signed] - flipped[..., signed]
    return flipped


def scaled_zero(scaler) -> np.ndarray:
    """(C,) the scaled value of physical zero: physical = (scaled * std + mean) * scale + offset."""
    file_zero = (
        np.zeros(len(scaler.channels))
        if scaler.offset is None
        else -np.asarray(scaler.offset, np.float64) / np.asarray(scaler.scale, np.float64)
    )
    return ((file_zero - scaler.mean) / scaler.std).astype(np.float32)
