"""Benchmark: seconds per epoch through hpo's training layer vs a plain `model.fit`.

    python -m bench.overhead [--quick] [--epochs N] [--rounds R] [--out DIR]

Same architecture (`conv`, matched preset), same data, same batch size, in one process; rounds
alternate plain and hpo so drift hits both. The first epoch (graph tracing) is left out. Also times
the HDF5-streamed path (memory budget forced to 1 byte). Target (issues 3 and 5): hpo / plain <= 1.05
in memory. Prints a table and writes bench/results/overhead[-quick].json and overhead[-quick].html
(a bar chart of the median seconds per epoch of each path).
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path

from hpo.backend import import_keras_quietly

RESULTS = Path(__file__).parent / "results"
TARGET_RATIO = 1.05  # hpo / plain, in memory (issues 3 and 5)


def write_chart(rows: list[dict], path: Path, epochs: int, rounds: int) -> None:
    import plotly.graph_objects as go

    fig = go.Figure()
    fig.add_bar(x=[row["path"] for row in rows], y=[row["median_s_per_epoch"] for row in rows],
                text=[f"{row['ratio_to_plain']:.3f}x plain" for row in rows], textposition="outside",
                customdata=[[row["ratio_to_plain"], row["epochs_timed"]] for row in rows],
                hovertemplate="%{x}: %{y:.4f} s/epoch<br>%{customdata[0]}x plain, "
                              "%{customdata[1]} epochs timed<extra></extra>")
    plain = next(row["median_s_per_epoch"] for row in rows if row["path"] == "plain")
    # The target: hpo in memory at most 1.05x plain's seconds per epoch.
    fig.add_hline(y=plain * TARGET_RATIO, line_dash="dash",
                  annotation_text=f"target: hpo <= {TARGET_RATIO}x plain",
                  annotation_position="top left")
    fig.update_layout(yaxis_title="median seconds / epoch", xaxis_title="path",
                      yaxis_range=[0, 1.2 * max(plain * TARGET_RATIO,
                                                *(row["median_s_per_epoch"] for row in rows))],
                      title=f"Training-layer overhead: hpo vs plain model.fit "
                            f"({rounds} rounds of {epochs} epochs, first epoch left out)")
    # plotly.js from its CDN: a committed result page stays small.
    fig.write_html(path, include_plotlyjs="cdn")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="quick dataset (64x32), fewer epochs")
    parser.add_argument("--epochs", type=int, default=None, help="epochs per timed fit")
    parser.add_argument("--rounds", type=int, default=3, help="alternating plain/hpo rounds")
    parser.add_argument("--out", type=Path, default=RESULTS, help="folder of the JSON and HTML")
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
    met = ratio <= TARGET_RATIO
    print(f"in-memory overhead {ratio:.3f}x (target <= {TARGET_RATIO}): {'met' if met else 'NOT met'}")
    suffix = "-quick" if args.quick else ""
    args.out.mkdir(parents=True, exist_ok=True)
    out, page = args.out / f"overhead{suffix}.json", args.out / f"overhead{suffix}.html"
    out.write_text(json.dumps({"machine": facts, "quick": args.quick, "epochs": epochs,
                               "rounds": args.rounds, "results": rows,
                               "target_ratio": TARGET_RATIO, "met": met}, indent=2) + "\n")
    write_chart(rows, page, epochs, args.rounds)
    print(f"wrote {out} and {page}")


if __name__ == "__main__":
    main()
