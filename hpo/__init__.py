"""hpo: find the best autoencoder for compressing simulated flow fields."""

__version__ = "0.1.0"
