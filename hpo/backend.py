"""What differs between the Keras backends, in one place: TensorFlow (the default), JAX, PyTorch.

The rest of hpo writes Keras and numpy only. This module chooses the backend (a CLI's `--backend`,
else $KERAS_BACKEND, else TensorFlow), imports it quietly, recognises its out-of-memory errors,
gives a worker process its share of threads (and of a GPU), and keeps TensorFlow's tf.data fast path
for batches held in memory, which measured faster there than the neutral feed (hpo.data.feed) that
every other backend takes.

    backend.import_keras_quietly("jax")     # a CLI, right after parsing its flags
    backend.is_out_of_memory(exc)           # TensorFlow's, JAX's, PyTorch's or Python's
    backend.set_precision("mixed_bfloat16")  # a worker, before it builds models

Where a worker process runs (which GPU, how it shares its memory) is hpo.devices', set before this
module imports Keras.
"""

from __future__ import annotations

import contextlib
import functools
import os
import sys

from hpo.errors import ConfigError

BACKENDS = ("tensorflow", "jax", "torch")
DEFAULT = "tensorflow"  # hpo's measurements and defaults were made on it
# The pip extra that installs each backend (pyproject.toml); TensorFlow is a core dependency.
EXTRAS = {"tensorflow": "", "jax": "[jax]", "torch": "[torch]"}
# `--precision`: Keras dtype policies. float32 is what every figure of hpo was measured with;
# mixed_bfloat16 computes layers in bfloat16 (variables, losses and metrics stay float32), which
# GPUs with bfloat16 units (A100, H100/H200) run faster and in less memory.
PRECISIONS = ("float32", "mixed_bfloat16")
DEFAULT_PRECISION = "float32"


def add_argument(parser) -> None:
    """`--backend NAME` for a CLI; pass its value to `import_keras_quietly`."""
    parser.add_argument(
        "--backend",
        choices=BACKENDS,
        default=None,
        help=f"Keras backend (default $KERAS_BACKEND, or {DEFAULT}); worker processes inherit it",
    )


def select(backend: str | None) -> None:
    """Make `backend` the Keras backend of this process and of the processes it starts.

    Keras reads the choice once, when it is first imported: a CLI calls this right after parsing.

    Raises:
        ConfigError: an unknown name, or Keras already running on another backend here.
    """
    if backend is None:
        return
    if backend not in BACKENDS:
        raise ConfigError(f"unknown backend {backend!r}; choose from: {', '.join(BACKENDS)}")
    if "keras" in sys.modules and name() != backend:
        raise ConfigError(
            f"--backend {backend}: Keras already runs on {name()} in this process; the backend "
            "must be chosen before Keras is imported"
        )
    os.environ["KERAS_BACKEND"] = backend  # the environment carries it into spawned workers


def name() -> str:
    """The backend Keras runs on ("tensorflow", "jax", "torch")."""
    import keras

    return keras.config.backend()


def import_keras_quietly(backend: str | None = None):
    """Choose `backend` (None: as set), import Keras and its backend with stderr silenced, and
    return keras.

    TensorFlow's absl start-up lines ("All log messages before absl::InitializeLog() ...") ignore
    TF_CPP_MIN_LOG_LEVEL and are written straight to file descriptor 2, so only a redirect of the
    descriptor itself keeps them out. Python errors raised by the import still propagate.

    Raises:
        ConfigError: as `select`, or the backend's package is not installed.
    """
    select(backend)
    saved = os.dup(2)
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 2)
    try:
        import keras
    except ModuleNotFoundError as exc:
        if exc.name not in BACKENDS:
            raise
        raise ConfigError(
            f"Keras backend {exc.name} is not installed: pip install 'hpo{EXTRAS[exc.name]}' "
            f"(or choose another with --backend or $KERAS_BACKEND)"
        ) from exc
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(devnull)
    if keras.config.backend() == "tensorflow":
        import tensorflow

        # Python-side TensorFlow warnings (e.g. "triggered tf.function retracing" when many models
        # are built in one process, which is what a study does) are expected, not actionable.
        tensorflow.get_logger().setLevel("ERROR")
    return keras


def add_precision_argument(parser) -> None:
    """`--precision float32|mixed_bfloat16` for a CLI; pass its value to `set_precision`."""
    parser.add_argument(
        "--precision",
        choices=PRECISIONS,
        default=DEFAULT_PRECISION,
        help=f"Keras dtype policy of every model trained (default {DEFAULT_PRECISION}); "
        "mixed_bfloat16 computes in bfloat16 with float32 weights and losses, for GPUs",
    )


def set_precision(precision: str) -> None:
    """Train and evaluate every model built from now on in this process with `precision`
    (PRECISIONS): Keras' global dtype policy. Losses and metrics are computed in float32 whatever
    the policy (Keras casts predictions to a loss's own float32 dtype).

    Raises:
        ConfigError: an unknown precision.
    """
    if precision not in PRECISIONS:
        raise ConfigError(f"unknown precision {precision!r}; choose from: {', '.join(PRECISIONS)}")
    import keras

    keras.config.set_dtype_policy(precision)
    _keep_policy_across_clear_session(keras, precision != DEFAULT_PRECISION)


def _keep_policy_across_clear_session(keras, keep: bool) -> None:
    """Make `keras.backend.clear_session()` keep the global dtype policy (`keep`), or undo that.

    Keras 3 (3.15 measured) drops all its global state in clear_session, the dtype policy with it,
    so every model built after one is float32 again; hpo.training.fit clears the session before
    each build. A policy other than float32 is therefore set again after each clear, here in one
    adapter (tests/test_devices.py checks a mixed trial's layers); float32, the default, leaves
    Keras as it is.
    """
    original = getattr(keras.backend.clear_session, "__wrapped__", keras.backend.clear_session)
    if not keep:
        keras.backend.clear_session = original
        return

    @functools.wraps(original)
    def clear_session(*args, **kwargs):
        policy = keras.config.dtype_policy()
        result = original(*args, **kwargs)
        keras.config.set_dtype_policy(policy)
        return result

    keras.backend.clear_session = clear_session


@contextlib.contextmanager
def precision_of(precision: str):
    """`set_precision` for the duration of a block (a screen or a search run in this process), the
    previous policy restored after it."""
    import keras

    before = keras.config.dtype_policy().name
    set_precision(precision)
    try:
        yield
    finally:
        if before in PRECISIONS:
            set_precision(before)
        else:  # a policy hpo does not offer, set by the caller
            keras.config.set_dtype_policy(before)


def quiet_optuna() -> None:
    """Our own progress lines replace Optuna's INFO log and its "experimental" notices."""
    import warnings

    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    warnings.filterwarnings("ignore", category=optuna.exceptions.ExperimentalWarning)
    # We run the heartbeat ourselves around ask/tell (see hpo.optimize.worker), which Optuna warns
    # about.
    warnings.filterwarnings("ignore", message="Heartbeat of storage is supposed to be used")
    warnings.filterwarnings("ignore", message="Some regimes for parameter")


def is_out_of_memory(exc: BaseException) -> bool:
    """Whether `exc` says the device or the host ran out of memory, whichever backend raised it.

    Recognised by the exception's class names and message, so no backend is imported to check:
    TensorFlow's ResourceExhaustedError, JAX's runtime error "RESOURCE_EXHAUSTED: Out of memory
    ...", PyTorch's OutOfMemoryError (CUDA) or its host allocator's "can't allocate memory", and
    Python's MemoryError.
    """
    if isinstance(exc, MemoryError):
        return True
    names = {cls.__name__ for cls in type(exc).__mro__}
    if names & {"ResourceExhaustedError", "OutOfMemoryError"}:
        return True
    text = str(exc)
    if names & {"JaxRuntimeError", "XlaRuntimeError"}:
        return text.startswith("RESOURCE_EXHAUSTED")
    return isinstance(exc, RuntimeError) and (
        "CUDA out of memory" in text or "DefaultCPUAllocator: can't allocate memory" in text
    )


def set_threads(n_threads: int, shared: bool) -> None:
    """Give this process `n_threads` threads for its kernels; `shared`: other worker processes
    train beside it, on the same cores and the same GPU.

    Call it before the process computes anything: TensorFlow and JAX fix both when they start.
    Already started, TensorFlow keeps what it has; JAX reads its settings from the environment.
    """
    backend = name()
    if backend == "tensorflow":
        import tensorflow as tf

        try:
            tf.config.threading.set_intra_op_parallelism_threads(n_threads)
            tf.config.threading.set_inter_op_parallelism_threads(1 if shared else 0)
            if shared:  # each process takes GPU memory as it needs it, not all of it at once
                for gpu in tf.config.list_physical_devices("GPU"):
                    tf.config.experimental.set_memory_growth(gpu, True)
        except RuntimeError:  # already initialised in this process: keep what it has
            pass
    elif backend == "jax":
        # XLA sizes its CPU thread pool itself (its flags for it made no difference we could
        # measure); what matters is the GPU: JAX takes 75% of its memory when it starts, so
        # workers sharing one must take what they need instead. Read when JAX starts.
        if shared:
            os.environ.setdefault("XLA_PYTHON_CLIENT_PREALLOCATE", "false")
    elif backend == "torch":
        import torch

        torch.set_num_threads(n_threads)
        if shared:  # settable once per process, before any parallel work
            with contextlib.suppress(RuntimeError):
                torch.set_num_interop_threads(1)


def configure_threads(n_workers: int) -> None:
    """Divide the cores between `n_workers` worker processes: each gets its share of threads, and
    with more than one the GPU is shared too (memory taken as needed, not up front)."""
    cores = os.cpu_count() or 1
    per_worker = max(1, cores // max(1, n_workers))
    set_threads(per_worker, shared=n_workers > 1)


def augmented_batches(x, y, augmentation, batch_size: int, seed: int):
    """Training arrays held in memory (x and y as `model.fit` takes them) as shuffled batches, each
    sample shifted/mirrored afresh every epoch and its targets alike (hpo.augment), seeded.

    TensorFlow: a tf.data pipeline drawing the maps with stateless tf.random in a parallel map (the
    neutral feed cost 7% more CPU per epoch there: conv on the default data, 2 cores). Other
    backends: hpo.data.feed.Batches, in numpy.
    """
    if name() == "tensorflow":
        return _tf_augmented(x, y, augmentation, batch_size, seed)
    from hpo.data.feed import Batches

    return Batches.from_arrays(x, y, batch_size, seed=seed, augmentation=augmentation)


def batched(x, y, batch_size: int):
    """Validation arrays held in memory as batches in order, built once per fit.

    TensorFlow: a ready tf.data set (validating on arrays cost ~10% more per epoch there, 200 + 25
    samples of 64x32x3). Other backends: hpo.data.feed.Batches.
    """
    if name() == "tensorflow":
        import tensorflow as tf

        return tf.data.Dataset.from_tensor_slices((x, y)).batch(batch_size)
    from hpo.data.feed import Batches

    return Batches.from_arrays(x, y, batch_size, seed=0, shuffle=False)


def _tf_augmented(x, y, augmentation, batch_size: int, seed: int):
    """`augmented_batches` on TensorFlow: shuffle, batch, then one draw per sample and epoch from
    a tf.data random stream that is re-seeded every iteration (every Keras epoch)."""
    import tensorflow as tf

    keys = sorted(y) if isinstance(y, dict) else None  # dual's heads, moved exactly as x
    batches = (
        tf.data.Dataset.from_tensor_slices((x, y))
        .shuffle(len(x), seed=seed, reshuffle_each_iteration=True)
        .batch(batch_size)
    )
    seeds = tf.data.Dataset.random(seed=seed, rerandomize_each_iteration=True).batch(2)

    def transform(batch, pair):
        x, y = batch
        targets = [y[k] for k in keys] if keys else [y]
        moved = _tf_move([x, *targets], augmentation, pair)
        if keys:
            return moved[0], dict(zip(keys, moved[1:]))
        return moved[0], moved[1]

    return (
        tf.data.Dataset.zip((batches, seeds))
        .map(transform, num_parallel_calls=tf.data.AUTOTUNE)
        .prefetch(1)
    )


def _tf_move(tensors, augmentation, seed):
    """The same random shift and mirror per sample applied to every tensor (B, H, W, C) of one
    batch, in TensorFlow ops; `seed` is a (2,) integer tensor (stateless draws). The numpy twin,
    and the reference it is tested against, is Augmentation.apply."""
    import tensorflow as tf

    first = tensors[0]
    batch, n_x = tf.shape(first)[0], first.shape[1]
    positions = tf.range(n_x)
    source = tf.broadcast_to(positions[None, :], tf.stack([batch, n_x]))  # (B, H): read from
    if augmentation.shift:
        shifts = tf.random.stateless_uniform(
            tf.reshape(batch, [1]), seed=seed, minval=0, maxval=n_x, dtype=tf.int32
        )
        source = (positions[None, :] - shifts[:, None]) % n_x  # np.roll(x, s): x_j -> x_{j+s}
    flips = None
    if augmentation.mirror:
        flips = tf.random.stateless_uniform(tf.reshape(batch, [1]), seed=seed + [0, 1]) < 0.5
        source = tf.where(flips[:, None], tf.reverse(source, axis=[1]), source)
    signed = tf.constant(augmentation.signed)
    zero = tf.constant(augmentation.zero, tf.float32)
    out = []
    for tensor in tensors:
        moved = tf.gather(tensor, source, axis=1, batch_dims=1)
        if flips is not None and bool(augmentation.signed.any()):
            sign_changes = flips[:, None, None, None] & signed[None, None, None, :]
            moved = tf.where(sign_changes, 2.0 * zero - moved, moved)
        out.append(moved)
    return out
