"""The embedded dataset's solver checked against theory (see shared/PHYSICS.md for the figures)."""

from __future__ import annotations

import numpy as np
import pytest

from hpo.data.rayleigh_benard.solver import Setup, Solver
from hpo.data.rayleigh_benard.spectral import Basis

RA_CRITICAL = 27 * np.pi**4 / 4  # free-slip onset, at k_c = pi / sqrt(2)
K_CRITICAL = np.pi / np.sqrt(2)
LX_CRITICAL = 2 * np.sqrt(2)  # the periodic box that admits k_c exactly


def analytic_growth_rate(rayleigh: float, prandtl: float, k: float) -> float:
    """Larger root of s^2 + (1+Pr) a^2 s + Pr a^4 - Pr Ra k^2/a^2 = 0, in free-fall time units."""
    a2 = k**2 + np.pi**2
    b = (1 + prandtl) * a2
    c = prandtl * a2**2 - prandtl * rayleigh * k**2 / a2
    sigma_thermal = (-b + np.sqrt(b * b - 4 * c)) / 2  # thermal-diffusion units d^2/kappa
    return sigma_thermal / np.sqrt(rayleigh * prandtl)


def test_spectral_transforms_round_trip():
    basis = Basis(lx=2.0, n_x_modes=8, n_z_modes=6)
    rng = np.random.default_rng(0)
    coefficients = rng.standard_normal((6, 8)) + 1j * rng.standard_normal((6, 8))
    coefficients[:, 0] = coefficients[:, 0].real
    grid = basis.sine_to_grid(coefficients)
    np.testing.assert_allclose(basis.grid_to_sine(grid), coefficients, atol=1e-12)
    # One mode evaluated by hand: 2 Re(c e^{ikx}) sin(n pi z) for m = 2, n = 3.
    single = np.zeros((6, 8), complex)
    single[2, 2] = 0.5 - 0.25j
    values = basis.sine_to_grid(single, n_x=20, n_z=10)
    x = np.arange(20) * 2.0 / 20
    z = (np.arange(10) + 0.5) / 10
    expected = (
        2
        * np.real(single[2, 2] * np.exp(1j * 2 * np.pi * 2 * x / 2.0))[None, :]
        * np.sin(3 * np.pi * z)[:, None]
    )
    np.testing.assert_allclose(values, expected, atol=1e-12)


@pytest.mark.parametrize("prandtl", [0.1, 1.0, 7.0])
@pytest.mark.parametrize("supercriticality", [0.9, 1.1])
def test_linear_growth_rate_matches_free_slip_dispersion_relation(prandtl, supercriticality):
    rayleigh = supercriticality * RA_CRITICAL
    solver = Solver(Setup(rayleigh, prandtl, lx=LX_CRITICAL, n_x_modes=8, n_z_modes=8, max_dt=0.05))
    # A tiny temperature perturbation in the (k_c, sin(pi z)) mode: the flow stays linear.
    state = solver.initial_state(amplitude=0.0, mode=(1, 1), mode_amplitude=1e-8)
    solver.advance(state, 40.0)  # let the other (decaying) root of the mode die out
    amplitude_before, time_before = abs(state.theta[0, 1]), state.time
    solver.advance(state, 80.0)
    measured = np.log(abs(state.theta[0, 1]) / amplitude_before) / (state.time - time_before)

    expected = analytic_growth_rate(rayleigh, prandtl, K_CRITICAL)
    assert np.sign(measured) == np.sign(supercriticality - 1)  # decays below onset, grows above
    assert measured == pytest.approx(expected, rel=0.01)


@pytest.mark.parametrize("prandtl", [1.0, 7.0])
def test_saturated_nusselt_just_above_onset_matches_weakly_nonlinear_theory(prandtl):
    r = 1.1
    solver = Solver(
        Setup(r * RA_CRITICAL, prandtl, lx=LX_CRITICAL, n_x_modes=16, n_z_modes=16, max_dt=0.5)
    )
    state = solver.initial_state(amplitude=0.0, mode=(1, 1), mode_amplitude=0.05)
    solver.advance(state, 600.0)
    nusselt = solver.nusselt(state)
    assert nusselt == pytest.approx(1 + 2 * (r - 1) / r, rel=0.02)
    # Steady: the heat flux through the volume equals the flux through the wall.
    assert solver.wall_nusselt(state) == pytest.approx(nusselt, rel=1e-4)


def test_nusselt_at_ra_1e4_matches_dedalus_reference():
    solver = Solver(Setup(1e4, 1.0, lx=2.0, n_x_modes=32, n_z_modes=32))
    state = solver.initial_state(seed=1, amplitude=1e-2)
    solver.advance(state, 40.0)  # steady rolls by t ~ 35
    samples = []
    for t in np.arange(41.0, 51.0):  # time average over 10 free-fall times
        solver.advance(state, t)
        samples.append(solver.nusselt(state))
    assert np.mean(samples) == pytest.approx(4.988, rel=0.02)


def test_pressure_is_hydrostatic_without_flow():
    """With no motion the vertical momentum balance is dp/dz = b."""
    solver = Solver(Setup(1e4, 1.0, lx=2.0, n_x_modes=8, n_z_modes=16))
    state = solver.initial_state(amplitude=0.0)
    state.theta[0, 0] = 0.3  # horizontally uniform temperature perturbation 0.3 sin(pi z)
    state.theta[2, 0] = -0.1
    fields = solver.fields(state, n_x=16, n_z=400)
    dp_dz = np.gradient(fields.pressure[0], fields.z)
    interior = slice(5, -5)
    np.testing.assert_allclose(dp_dz[interior], fields.temperature[0][interior], atol=2e-4)
    assert abs(fields.pressure.mean()) < 1e-3  # the gauge: zero mean
    np.testing.assert_allclose(fields.u, 0, atol=1e-12)


def test_kinetic_energy_of_a_pure_shear_flow_is_all_mean_flow():
    solver = Solver(Setup(1e4, 1.0, lx=2.0, n_x_modes=8, n_z_modes=8))
    state = solver.initial_state(amplitude=0.0)
    state.omega[1, 0] = 1.0  # horizontally uniform vorticity: u(z) only
    total, mean = solver.kinetic_energies(state)
    assert total > 0 and mean == pytest.approx(total)
    state.omega[0, 1] = 0.5  # add a roll: the mean-flow share drops below one
    total, mean = solver.kinetic_energies(state)
    assert 0 < mean / total < 1
    # The spectral energy equals the grid average of (u^2 + w^2) / 2.
    fields = solver.fields(state, n_x=64, n_z=64)
    assert total == pytest.approx(0.5 * np.mean(fields.u**2 + fields.w**2), rel=1e-6)
