"""`python -m hpo.architectures`: one row per architecture under a preset (parameters, latent,
shapes).

python -m hpo.architectures                                  # matched: 170k params, latent 50
python -m hpo.architectures --preset original --input-shape 200,100,1
python -m hpo.architectures --params 400000 --latent 32
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from hpo import architectures
from hpo.backend import import_keras_quietly
from hpo.cli import ArgumentParser, entry_point
from hpo.registry import PRESETS


def _input_shape(text: str) -> tuple[int, int, int]:
    try:
        shape = tuple(int(n) for n in text.split(","))
    except ValueError:
        shape = ()
    if len(shape) != 3 or min(shape) < 1:
        raise argparse.ArgumentTypeError(
            f"expected H,W,C (three positive integers), but got {text!r}"
        )
    return shape


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, but got {text!r}")
    return value


def main(argv: Sequence[str] | None = None) -> int:
    parser = ArgumentParser(
        prog="python -m hpo.architectures",
        description="Print every architecture's size under a preset.",
    )
    parser.add_argument(
        "--preset",
        choices=PRESETS.names() + tuple(PRESETS.aliases),
        default="matched",
        help="original: the original study's configurations ('seed' is its old "
        "name); matched (default): widths solved to --params at --latent",
    )
    parser.add_argument(
        "--input-shape",
        type=_input_shape,
        default=architectures.DEFAULT_INPUT_SHAPE,
        metavar="H,W,C",
        help="input grid and channels (default 200,100,3)",
    )
    parser.add_argument(
        "--params",
        type=_positive_int,
        default=None,
        metavar="N",
        help="matched budget of trainable parameters, +-10%% (default 170000)",
    )
    parser.add_argument(
        "--latent",
        type=_positive_int,
        default=None,
        metavar="N",
        help="matched latent size (default 50)",
    )
    args = parser.parse_args(argv)
    architectures.check_input_shape(args.input_shape)

    # Imported after checking flags, and quietly: TensorFlow's start-up log is not ours to print.
    import_keras_quietly()
    from hpo.architectures.presets import summarize

    rows = summarize(args.preset, args.input_shape, args.params, args.latent)
    table = [("architecture", "params", "latent", "input", "output")]
    for row in rows:
        outputs = ", ".join(f"{head} {_shape(shape)}" for head, shape in row.output_shapes.items())
        table.append((row.name, f"{row.n_params:,}", row.latent, _shape(row.input_shape), outputs))
    widths = [max(len(line[i]) for line in table) for i in range(len(table[0]))]
    for line in table:
        print("  ".join(cell.ljust(width) for cell, width in zip(line, widths)).rstrip())
    return 0


def _shape(shape) -> str:
    return "x".join(map(str, shape))


cli = entry_point(main)  # [project.scripts] hpo-architectures

if __name__ == "__main__":
    sys.exit(cli())
