"""Flow-field data: one loader for the original layout, plain arrays and The Well's rayleigh_benard.

    data = load("flows.h5", channels="temperature,velocity")   # or load() for the embedded data
    train = Batches.from_split(data.train, 32, seed=0)   # hpo.data.feed: a PyDataset, any backend
    model.fit(train, validation_data=Batches.from_split(data.val, 32, seed=0, shuffle=False))
    physical = data.scaler.to_physical(model.predict(data.val.arrays()))

`data.test` is for the final report only: never select, prune or rank models on it.
"""

from hpo.data.arguments import add_data_arguments, load_from_args
from hpo.data.batches import Split, epoch_order
from hpo.data.loader import FlowData, load
from hpo.data.scaling import Scaler
from hpo.data.source import Simulation, Source
from hpo.data.summary import format_info, info

__all__ = [
    "FlowData",
    "Scaler",
    "Simulation",
    "Source",
    "Split",
    "add_data_arguments",
    "epoch_order",
    "format_info",
    "info",
    "load",
    "load_from_args",
]
