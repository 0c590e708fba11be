"""Defaults shared across the package, each with the reason it has this value."""

from __future__ import annotations

import os
from pathlib import Path

# Where outputs land (data, storage, artifacts, reports); relative to the working directory so a
# checkout is self-contained. HPO_HOME moves it elsewhere.
STUDIES_DIR_ENV = "HPO_HOME"


def studies_dir() -> Path:
    """The folder where studies, artifacts, reports and generated data are written."""
    return Path(os.environ.get(STUDIES_DIR_ENV, "studies"))


# Data files whose selected arrays exceed this many bytes are streamed from HDF5 in chunks instead of
# being loaded whole: 2 GiB leaves room for the model and TensorFlow on a 24 GiB / 8 GiB laptop alike.
DEFAULT_MEMORY_BUDGET_BYTES = 2 * 1024**3

# Split fractions (train, validation, test): the seed study's 80/10/10.
DEFAULT_SPLIT_FRACTIONS = (0.8, 0.1, 0.1)

# Seed for splits, sampling and weight initialisation, so a run is repeatable.
DEFAULT_SEED = 42

# Smallest grid side the architectures accept: below this the strided encoders (total stride 20 in the
# seed preset, inputs padded up to a multiple of it) would compress a handful of cells into nothing.
MIN_GRID_SIDE = 16
