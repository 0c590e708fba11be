"""One benchmark arm: a configuration trained once and scored beside PCA of its code size, as
bench.limits and bench.recipe both train theirs.

    row, result = fit_beside_pca("conv", params, data, epochs=30, seed=42, label="2x epochs",
                                 pca=(pca_val, pca_test))
"""

from __future__ import annotations

import time


def fit_beside_pca(architecture, params, data, epochs, seed, label, pca) -> tuple[dict, object]:
    """Train `params` for `epochs` with `seed` (the screen's recipe otherwise); its row (epochs,
    best epoch, parameters, validation and test rel_l2 and their ratios to `pca` = (val, test),
    seconds, the validation curve) and the hpo.training FitResult."""
    from hpo import training

    started = time.perf_counter()
    result = training.fit(
        architecture,
        params,
        data,
        training.TrainConfig(epochs=epochs, seed=seed),
        progress=None,
        label=label,
    )
    seconds = time.perf_counter() - started
    val = training.evaluate(result.model, data.val, data)["rel_l2"]
    test = training.evaluate(result.model, data.test, data)["rel_l2"]
    row = {
        "epochs": epochs,
        "epochs_run": result.epochs_run,
        "best_epoch": result.best_epoch + 1,
        "n_params": result.n_params,
        "val_rel_l2": val,
        "test_rel_l2": test,
        "val_vs_pca": val / pca[0],
        "test_vs_pca": test / pca[1],
        "seconds": round(seconds, 1),
        "val_curve": [epoch.get("val_rel_l2") for epoch in result.history],
    }
    return row, result
