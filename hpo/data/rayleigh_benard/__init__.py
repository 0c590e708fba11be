"""2D Boussinesq Rayleigh-Benard convection in NumPy, for the embedded dataset and `hpo.data
simulate`.

- simulation: one run from rest to a window of snapshots (`simulate(Case(...))`), spin-up detection,
  default modes per Ra, temporal variation;
- noslip: no-slip walls (the default), Fourier x Chebyshev collocation, per-mode implicit solves;
- solver, spectral: free-slip walls, Fourier x sine/cosine series;
- chebyshev: collocation operators on [0, 1]; blas: one BLAS thread while stepping.
"""
