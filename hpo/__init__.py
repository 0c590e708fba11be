"""hpo: find the best autoencoder for compressing simulated flow fields."""

import os

__version__ = "0.1.0"

# Keras 3 runs on TensorFlow unless $KERAS_BACKEND (or a CLI's --backend) says jax or torch; what
# differs between them is in hpo.backend. TensorFlow's C++ start-up log (CUDA probing on CPU-only
# machines, oneDNN notices) would bury our one-line messages; set TF_CPP_MIN_LOG_LEVEL to see it.
os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
