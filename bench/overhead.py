"""Benchmark: seconds per epoch through hpo's training layer vs a plain `model.fit`.

    python -m bench.overhead [--quick] [--epochs N] [--rounds R]

Same architecture (`conv`, matched preset), same data, same batch size, in one process; rounds
alternate plain and hpo so drift hits both. The first epoch (graph tracing) is left out. Also times
the HDF5-streamed path (memory budget forced to 1 byte). Target (issues 3 and 5): hpo / plain <= 1.05
in memory. Prints a table and writes bench/results/overhead[-quick].json.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path

from hpo.backend import import_keras_quietly

RESULTS = Path(__file__).parent / "results"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="quick dataset (64x32), fewer epochs")
    parser.add_argument("--epochs", type=int, default=None, help="epochs per timed fit")
    parser.add_argument("--rounds", type=int, default=3, help="alternating plain/hpo rounds")
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()
    keras = import_keras_quietly()

    from bench.machine import machine
    from hpo import architectures, training
    from hpo.architectures.presets import matched_params
    from hpo.data import load
    from hpo.data.embedded import default_dataset_path

    epochs = args.epochs or (4 if args.quick else 6)
    path = default_dataset_path(quick=args.quick)
    data = load(path)
    streamed = load(path, memory_budget_bytes=1)  # 1 byte: always streamed
    params = {**matched_params("conv", data.input_shape), "batch_size": 8, "learning_rate": 1e-3}
    x = data.train.arrays()
    val = data.val.arrays()

    class EpochTimer(keras.callbacks.Callback):
        def on_train_begin(self, logs=None):
            self.seconds = []

        def on_epoch_begin(self, epoch, logs=None):
            self._start = time.perf_counter()

        def on_epoch_end(self, epoch, logs=None):
            self.seconds.append(time.perf_counter() - self._start)

    def plain() -> list[float]:
        keras.backend.clear_session()
        keras.utils.set_random_seed(0)
        model = architectures.build("conv", params, data.input_shape)
        model.compile(keras.optimizers.Adam(1e-3), loss="mse")
        timer = EpochTimer()
        model.fit(x, x, batch_size=8, epochs=epochs, shuffle=True, validation_data=(val, val),
                  verbose=0, callbacks=[timer])
        return timer.seconds[1:]

    def through_hpo(flow) -> list[float]:
        config = training.TrainConfig(epochs=epochs, patience=epochs, seed=0)
        result = training.fit("conv", params, flow, config, progress=None)
        return list(result.epoch_seconds[1:])

    timings = {"plain": [], "hpo": [], "hpo_streamed": []}
    for _ in range(args.rounds):
        timings["plain"] += plain()
        timings["hpo"] += through_hpo(data)
        timings["hpo_streamed"] += through_hpo(streamed)
    median = {name: statistics.median(values) for name, values in timings.items()}
    rows = [{"path": name, "median_s_per_epoch": round(median[name], 4),
             "ratio_to_plain": round(median[name] / median["plain"], 3),
             "epochs_timed": len(timings[name])} for name in timings]
    facts = machine()
    print(f"machine: {facts}")
    print(f"data: {path.name} train {len(data.train)} samples {data.input_shape}, conv "
          f"{architectures.count_params('conv', params, data.input_shape):,} params, batch 8")
    print(f"{'path':<14}{'s/epoch':>10}{'vs plain':>10}{'epochs':>8}")
    for row in rows:
        print(f"{row['path']:<14}{row['median_s_per_epoch']:>10.4f}{row['ratio_to_plain']:>10.3f}"
              f"{row['epochs_timed']:>8}")
    ratio = median["hpo"] / median["plain"]
    print(f"in-memory overhead {ratio:.3f}x (target <= 1.05): {'met' if ratio <= 1.05 else 'NOT met'}")
    out = args.out or RESULTS / f"overhead{'-quick' if args.quick else ''}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({"machine": facts, "epochs": epochs, "rounds": args.rounds,
                               "results": rows, "target_ratio": 1.05,
                               "met": ratio <= 1.05}, indent=2) + "\n")
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
