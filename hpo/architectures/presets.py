"""Presets: the original study's configurations, and matched ones (equal latent, equal budget).

    original_params("vqvae2")                             # complete params, as the study ran them
    matched_params("vqvae2", (200, 100, 3), 170_000, 50)  # width solved to 170k +- 10%
    summarize("matched", (200, 100, 3))                   # a Row per architecture (the CLI table)

The original study trained conv, conv_dropout, vqvae2 and dual on one channel (velocity) and
depthwise on all three (ORIGINAL_CHANNELS); the presets build for any C, with C output channels.
"""

from __future__ import annotations

from dataclasses import dataclass

from hpo import architectures, sizing
from hpo.architectures.blocks import ORIGINAL_RECIPE, RECIPE
from hpo.architectures.vqvae2 import split_latent
from hpo.errors import ConfigError
from hpo.registry import PRESETS
from hpo.space import complete

DEFAULT_MATCHED_PARAMS = 170_000  # about the original study's conv on 200x100x3 (168,656)
DEFAULT_MATCHED_LATENT = 50  # the original study's conv latent

ORIGINAL_CHANNELS = {"conv": 1, "conv_dropout": 1, "vqvae2": 1, "depthwise": 3, "dual": 1}


def _per_layer(key: str, values) -> dict:
    return {f"{key}_{i}": v for i, v in enumerate(values)}


def _recipe(recipe: dict) -> dict:
    """The recipe knobs as params: per-level kernel, activation and norm, the decoder's upsampling,
    the schedule and weight decay, and no augmentation or circular padding (the screen switches
    on what the data declare)."""
    return {
        **_per_layer("kernel", (recipe["kernel"],) * 3),
        **_per_layer("activation", (recipe["activation"],) * 3),
        **_per_layer("norm", (recipe["norm"],) * 3),
        "upsample": recipe["upsample"],
        "schedule": recipe["schedule"],
        "weight_decay": recipe["weight_decay"],
        "periodic_x": False,
        "shift_x": False,
        "mirror_x": False,
    }


# The original study's levels: filters [3, 9, 27], strides [2, 2, 5] (blocks.STRIDES[3]), no L2, and
# its recipe, every knob spelled out: kernel 5, tanh, no normalisation, strided Conv2DTranspose, a
# constant rate.
_ORIGINAL_LEVELS = {
    "n_layers": 3,
    **_per_layer("filters", (3, 9, 27)),
    **_per_layer("l2", (0.0,) * 3),
    "width": 1.0,
    **_recipe(ORIGINAL_RECIPE),
    "learning_rate": 1e-3,
    "batch_size": 8,
}

ORIGINAL = {
    "conv": {**_ORIGINAL_LEVELS, "latent": 50},
    "conv_dropout": {**_ORIGINAL_LEVELS, "latent": 50, "dropout": 0.2},
    "vqvae2": {**_ORIGINAL_LEVELS, "latent": 50, "latent_split": 0.5},  # 25 top + 25 bottom
    "depthwise": {**_ORIGINAL_LEVELS, "latent": 90, **_per_layer("depth_multiplier", (3, 3, 3))},
    "dual": {**_ORIGINAL_LEVELS, "latent": 50},
}

# Matched presets start from the original study's structure with the default recipe (blocks.RECIPE,
# which also sets 3x3 kernels: the resize decoder needs no kernel as large as the stride); sizing
# then scales every width. Two structural departures, both so that the default budget (170k at
# latent 50 on 200x100) is feasible for every architecture:
# - vqvae2 gives the top code 70% of the latent (the space's upper end): the bottom code's Dense
#   layers cost 2 * (H/2 * W/2) parameters per unit (10,000 on 200x100), the top's about 5x less.
# - depthwise uses multipliers [2, 2, 2] (8 filters per channel, 24 features on 3 channels, close to
#   conv's 27): the original's [3, 3, 3] gives 81 features on 3 channels, whose Dense layer alone
#   would take 4050 * latent parameters, and width cannot shrink multipliers.
MATCHED_BASE = {
    name: {**params, **_recipe(RECIPE)}
    for name, params in {
        **ORIGINAL,
        "vqvae2": {**ORIGINAL["vqvae2"], "latent_split": 0.7},
        "depthwise": {**ORIGINAL["depthwise"], **_per_layer("depth_multiplier", (2, 2, 2))},
    }.items()
}


@dataclass(frozen=True)
class Row:
    """One architecture as a preset builds it: what `python -m hpo.architectures` prints."""

    name: str
    n_params: int
    latent: str  # "50", or "50 (35 top + 15 bottom)" for vqvae2
    input_shape: tuple[int, int, int]
    output_shapes: dict  # head name -> (H, W, C)


def original_params(
    name: str, input_shape=None, n_params: int | None = None, latent: int | None = None
) -> dict:
    """The complete params of `name` as the original study configured it (any input shape).

    Raises:
        ConfigError: a budget or latent size was given (they size the matched preset).
    """
    if n_params is not None or latent is not None:
        raise ConfigError(
            "--params and --latent size the matched preset; drop them or use --preset matched"
        )
    return complete(_space_with_preset(name, ORIGINAL), ORIGINAL[name])


def matched_params(
    name: str,
    input_shape=None,
    n_params: int | None = DEFAULT_MATCHED_PARAMS,
    latent: int | None = DEFAULT_MATCHED_LATENT,
) -> dict:
    """The complete params of `name` with `latent` and the width solved to `n_params` (+-10%);
    None: the defaults (170,000 parameters, latent 50).

    Raises:
        ConfigError: a bad budget or latent, or a budget below the smallest feasible one.
    """
    n_params = DEFAULT_MATCHED_PARAMS if n_params is None else n_params
    latent = DEFAULT_MATCHED_LATENT if latent is None else latent
    input_shape = architectures.check_input_shape(input_shape or architectures.DEFAULT_INPUT_SHAPE)
    if not isinstance(n_params, int) or n_params < 1:
        raise ConfigError(f"--params must be a positive integer, but got {n_params}")
    if not isinstance(latent, int) or latent < 2:
        raise ConfigError(
            f"--latent must be an integer >= 2 (vqvae2 splits it in two), but got {latent}"
        )
    space = _space_with_preset(name, MATCHED_BASE)
    base = {**MATCHED_BASE[name], "latent": latent}
    solved = sizing.solve_width(name, base, input_shape, n_params)
    return complete(space, {**base, "width": solved.width})


def preset_params(
    name: str, preset: str, input_shape=None, n_params: int | None = None, latent: int | None = None
) -> dict:
    """Params of `name` under `preset` (hpo.registry.PRESETS: "matched" or "original", whose old
    name "seed" is accepted); n_params/latent only for "matched"."""
    return PRESETS.create(preset, name, input_shape, n_params, latent)


def summarize(
    preset: str = "matched",
    input_shape=None,
    n_params: int | None = None,
    latent: int | None = None,
) -> list[Row]:
    """Build every architecture under `preset` and describe it (trainable count, latent, shapes)."""
    input_shape = architectures.check_input_shape(input_shape or architectures.DEFAULT_INPUT_SHAPE)
    from hpo.metrics import RECONSTRUCTION  # here: hpo.metrics imports Keras

    rows = []
    for name in architectures.names():
        params = preset_params(name, preset, input_shape, n_params, latent)
        model = architectures.build(name, params, input_shape)
        outputs = model.output if isinstance(model.output, dict) else {RECONSTRUCTION: model.output}
        rows.append(
            Row(
                name=name,
                n_params=architectures.trainable_count(model),
                latent=_describe_latent(name, params),
                input_shape=input_shape,
                output_shapes={head: tuple(t.shape[1:]) for head, t in outputs.items()},
            )
        )
    return rows


def _space_with_preset(name: str, table: dict):
    space = architectures.get(name).space  # a ConfigError listing the names if unknown
    if name not in table:
        raise ConfigError(f"architecture {name!r} has no presets; only {', '.join(table)} do")
    return space


def _describe_latent(name: str, params: dict) -> str:
    if "latent_split" not in params:
        return str(params["latent"])
    top, bottom = split_latent(params["latent"], params["latent_split"])
    return f"{params['latent']} ({top} top + {bottom} bottom)"


def in_search_terms(params: dict) -> dict:
    """The same model with its width multiplier folded into the filters (width 1.0), as the search
    spaces express models (their `width` is fixed at 1.0): how a screened configuration is enqueued
    as a study's first trial."""
    from hpo.architectures.blocks import LAYER_SPACE, scale

    width = params.get("width", 1.0)
    # The matched preset has no weight decay (l2 0); the spaces' log range starts at 1e-7, which
    # changes no model measurably (the comment at LAYER_SPACE) and which a log scale can hold.
    floor = LAYER_SPACE["l2"].param.low

    def term(key, value):
        if key.startswith("filters_"):
            return scale(width, value)
        return max(value, floor) if key.startswith("l2_") else value

    return {**{key: term(key, value) for key, value in params.items()}, "width": 1.0}
