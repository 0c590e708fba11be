"""Defaults shared across the package, each with the reason it has this value."""

from __future__ import annotations

# Where outputs land is not a default here but a value passed in: hpo.workspace.Workspace.

# Data files whose selected arrays exceed this many bytes are streamed from HDF5 in chunks instead
# of being loaded whole: 2 GiB leaves room for the model and TensorFlow on a 24 GiB / 8 GiB laptop
# alike.
DEFAULT_MEMORY_BUDGET_BYTES = 2 * 1024**3

# Split fractions (train, validation, test): the original study's 80/10/10.
DEFAULT_SPLIT_FRACTIONS = (0.8, 0.1, 0.1)

# Random seed of splits, sampling and weight initialisation, so a run is repeatable.
DEFAULT_SEED = 42

# Smallest grid side the architectures accept: below this the strided encoders (total stride 20 in
# the original preset, inputs padded up to a multiple of it) would compress a handful of cells into
# nothing.
MIN_GRID_SIDE = 16
