"""Benchmark: what limits a model, epochs or parameters? The same configuration trained at 1x, 2x
and 4x the epoch budget, and at 2x the parameters, on the same data with the same seed.

    python -m bench.limits [--quick] [--architecture conv] [--latent 8] [--epochs 30]
                           [--params N] [--data PATH] [--out DIR]

The configuration is the screen's: the matched preset of `--architecture` at `--latent` with
`--params` trainable parameters (default 170,000), trained with the screen's recipe (cosine over
each arm's own budget, so the longer arms are not truncated short runs; early stopping after a
quarter of the budget; the data's symmetries). Each arm's best validation and its test rel_l2 are
set against PCA with as many components, fitted on the same augmented training set.

Reading: if 2x the epochs helps and 2x the parameters does not, epochs limit the model, not
capacity; the other way round, capacity. Either outcome is possible; one seed per arm, so a gap
within a few percent is within seed noise (the screen's repeats show its size).

Writes bench/results/limits[-quick].json (one row per arm, every epoch's validation rel_l2) and
prints a table. `--quick`: the quick data, 2 epochs (a smoke test).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

RESULTS = Path(__file__).parent / "results"
# (label, epoch multiplier, parameter multiplier): the arms, against the first.
ARMS = (("budget", 1, 1), ("2x epochs", 2, 1), ("4x epochs", 4, 1), ("2x parameters", 1, 2))
DEFAULT_PARAMS = 170_000  # the presets' matched budget


def run_arms(data, architecture: str, latent: int, epochs: int, n_params: int, seed: int) -> dict:
    """Train every arm; return the record (rows, PCA)."""
    from bench.arms import fit_beside_pca
    from hpo import augment
    from hpo.architectures.presets import preset_params
    from hpo.baseline import fit_pca

    symmetries = augment.resolve(None, data)
    pca = fit_pca(data, latent, augment=symmetries)
    record = {
        "architecture": architecture,
        "latent": latent,
        "epochs": epochs,
        "n_params": n_params,
        "seed": seed,
        "augment": list(symmetries),
        "pca_val_rel_l2": pca.evaluate(data.val, data)["rel_l2"],
        "pca_test_rel_l2": pca.evaluate(data.test, data)["rel_l2"],
        "rows": [],
    }
    for label, epoch_factor, param_factor in ARMS:
        params = {
            **preset_params(
                architecture, "matched", data.input_shape, n_params * param_factor, latent
            ),
            **augment.as_params(symmetries),
        }
        pca = (record["pca_val_rel_l2"], record["pca_test_rel_l2"])
        row, _ = fit_beside_pca(architecture, params, data, epochs * epoch_factor, seed, label, pca)
        record["rows"].append({"arm": label, **row})
        print(format_row(record["rows"][-1]), flush=True)
    return record


def format_row(row: dict) -> str:
    return (
        f"| {row['arm']} | {row['epochs']} | {row['n_params']:,} | {row['best_epoch']} | "
        f"{row['val_rel_l2']:.4f} ({row['val_vs_pca']:.2f}x) | "
        f"{row['test_rel_l2']:.4f} ({row['test_vs_pca']:.2f}x) | {row['seconds']:.0f} |"
    )


HEADER = (
    "| arm | epochs | parameters | best epoch | val rel_l2 (x PCA) | test rel_l2 (x PCA) | s |\n"
    "|---|---|---|---|---|---|---|"
)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.limits", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--quick", action="store_true", help="quick data, 2 epochs")
    parser.add_argument("--architecture", default="conv")
    parser.add_argument("--latent", type=int, default=8)
    parser.add_argument("--epochs", type=int, default=None, help="the 1x budget (default 30)")
    parser.add_argument("--params", type=int, default=DEFAULT_PARAMS)
    parser.add_argument("--seed", type=int, default=None, help="default: hpo's default seed")
    parser.add_argument("--data", type=Path, default=None, help="default: the embedded data")
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args(argv)
    from hpo.backend import import_keras_quietly

    keras = import_keras_quietly()
    from bench.machine import machine
    from hpo.config import DEFAULT_SEED
    from hpo.data import load
    from hpo.data.embedded import default_dataset_path

    data = load(args.data or default_dataset_path(quick=args.quick))
    epochs = args.epochs or (2 if args.quick else 30)
    print(HEADER)
    record = run_arms(
        data,
        args.architecture,
        args.latent,
        epochs,
        args.params,
        DEFAULT_SEED if args.seed is None else args.seed,
    )
    record |= {
        "machine": machine(),
        "backend": keras.backend.backend(),
        "data": str(data.source_path),
        "quick": args.quick,
    }
    args.out.mkdir(parents=True, exist_ok=True)
    name = "limits-quick" if args.quick else "limits"
    (args.out / f"{name}.json").write_text(json.dumps(record, indent=1) + "\n")
    print(
        f"PCA ({args.latent} components, augmented alike): val {record['pca_val_rel_l2']:.4f}, "
        f"test {record['pca_test_rel_l2']:.4f}; wrote {args.out / name}.json"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
