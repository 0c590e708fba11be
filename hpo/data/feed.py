"""Batches for `model.fit` on any Keras backend: a `keras.utils.PyDataset` of numpy arrays.

    train = Batches.from_split(data.train, 8, seed=0, augmentation=augmentation)  # streamed or not
    val = Batches.from_arrays(x, x, 64, seed=0, shuffle=False)       # y as model.fit takes it
    model.fit(train, validation_data=val, epochs=30)

Keras converts each numpy batch for its backend (TensorFlow, JAX, PyTorch), so one class feeds them
all. Every batch is a function of (seed, epoch, index) alone: the order is `epoch_order` (the one
`Split.batches` serves) and each sample's shift and mirror (hpo.augment) are drawn for the whole
epoch from a generator seeded with (seed, epoch). So nothing depends on when Keras asks for a batch
or how often (before the first epoch TensorFlow reads two batches to learn their shapes, and JAX one
to build the model).
"""

from __future__ import annotations

import math
from collections.abc import Callable

import keras
import numpy as np

from hpo import metrics
from hpo.augment import Augmentation
from hpo.data.batches import Split, epoch_order
from hpo.errors import DataError

# The third word of the augmentation's seed: its draws are a stream apart from epoch_order's.
_AUGMENT_STREAM = 1

# positions -> the samples there: [x] for an autoencoder, [x_t, x_t+1] for a two-headed model
Source = Callable[[np.ndarray], list[np.ndarray]]


class Batches(keras.utils.PyDataset):
    """Epoch after epoch of (x, y) float32 batches, y = x or {"reconstruction": x_t,
    "next_step": x_t+1}; build one with `from_split` or `from_arrays`.

    Args:
        source: positions -> [x] or [x_t, x_t+1] (the samples at those positions).
        n_samples: positions 0..n_samples-1 make an epoch; the last batch may be short.
        n_x: cells in x (axis 1 of a sample), the range of the shifts.
        batch_size: samples per batch.
        seed: the order's and the augmentation's seed.
        shuffle: a fresh permutation per epoch (`epoch_order`); False: position order.
        augmentation: each sample shifted/mirrored afresh every epoch, its targets alike; None: off.
    """

    def __init__(
        self,
        source: Source,
        n_samples: int,
        n_x: int,
        batch_size: int,
        *,
        seed: int,
        shuffle: bool = True,
        augmentation: Augmentation | None = None,
    ):
        # One worker, no processes: batches are read in order in Keras' own loop (a pool of threads
        # would only compete with the backend for the cores).
        super().__init__(workers=1, use_multiprocessing=False)
        self.source, self.n_samples, self.n_x, self.batch_size = source, n_samples, n_x, batch_size
        self.seed, self.shuffle = seed, shuffle
        self.augmentation = augmentation if augmentation and augmentation.active else None
        self._epochs_served = 0
        self._served: set[int] = set()  # the batches read since Keras began this pass
        self._plan: tuple | None = None

    @classmethod
    def from_split(cls, split: Split, batch_size: int, *, next_step: bool = False, **options):
        """A split's samples, in memory or streamed from HDF5; `next_step`: its next-step pairs.

        Raises:
            DataError: `next_step` on a split without consecutive time steps.
        """
        t, t_next = split.next_step_pairs() if next_step else (None, None)
        if next_step and len(t) == 0:
            raise DataError(
                f"the {split.name} split holds no consecutive time steps of one simulation; "
                "next-step models need a file that marks simulations (attribute idx)"
            )

        def samples(positions: np.ndarray) -> list[np.ndarray]:
            if t is None:
                return [split.take(positions)]
            both = split.take(np.concatenate([t[positions], t_next[positions]]))  # one read
            return [both[: len(positions)], both[len(positions) :]]

        n_samples = len(split) if t is None else len(t)
        return cls(samples, n_samples, split.sample_shape[0], batch_size, **options)

    @classmethod
    def from_arrays(cls, x: np.ndarray, y, batch_size: int, **options):
        """Arrays in memory, given as to `model.fit(x, y)`: y is x, or a dict of the two heads."""
        arrays = [x, y[metrics.NEXT_STEP]] if isinstance(y, dict) else [x]

        def samples(positions: np.ndarray) -> list[np.ndarray]:
            return [array[positions] for array in arrays]

        return cls(samples, len(x), x.shape[1], batch_size, **options)

    def augmented(self, augmentation: Augmentation) -> Batches:
        """The same batches, each sample shifted/mirrored afresh every epoch."""
        return Batches(
            self.source,
            self.n_samples,
            self.n_x,
            self.batch_size,
            seed=self.seed,
            shuffle=self.shuffle,
            augmentation=augmentation,
        )

    @property
    def num_batches(self) -> int:
        return math.ceil(self.n_samples / self.batch_size)

    def __len__(self) -> int:
        return self.num_batches

    @property
    def epoch(self) -> int:
        """The epoch being served: the passes so far that read every batch.

        Keras begins and ends a pass around each epoch, but also around a look at the first batch
        before the first epoch (JAX builds the model on it), so only a pass that read every batch
        counts. (With one or two batches an epoch, that look may read all of them: the epochs are
        then drawn from plan 1 on, still fresh each epoch and seeded.)
        """
        return self._epochs_served

    def on_epoch_begin(self) -> None:
        self._served = set()

    def on_epoch_end(self) -> None:
        if len(self._served) == self.num_batches:
            self._epochs_served += 1
        self._served = set()

    def __getitem__(self, index: int):
        order, shifts, mirrors = self._epoch_plan(self.epoch)
        self._served.add(index)
        served = slice(index * self.batch_size, (index + 1) * self.batch_size)
        samples = self.source(order[served])
        if self.augmentation is not None:  # the same map for the input and its targets
            samples = [self.augmentation.apply(a, shifts[served], mirrors[served]) for a in samples]
        if len(samples) == 1:
            return samples[0], samples[0]
        x, x_next = samples
        return x, {metrics.RECONSTRUCTION: x, metrics.NEXT_STEP: x_next}

    def _epoch_plan(self, epoch: int) -> tuple:
        """(order, shifts, mirrors) of `epoch`, drawn once per epoch; shifts per served slot."""
        plan = self._plan  # read once: a reader still on the last epoch may replace it meanwhile
        if plan is None or plan[0] != epoch:
            order = epoch_order(self.n_samples, shuffle=self.shuffle, seed=self.seed, epoch=epoch)
            shifts = mirrors = None
            if self.augmentation is not None:
                rng = np.random.default_rng([self.seed, epoch, _AUGMENT_STREAM])
                shifts, mirrors = self.augmentation.draw(rng, self.n_samples, self.n_x)
            plan = self._plan = (epoch, order, shifts, mirrors)
        return plan[1:]
