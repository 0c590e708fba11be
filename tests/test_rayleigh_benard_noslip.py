"""The no-slip solver checked against theory and exact budgets (figures: shared/PHYSICS.md).

Each reference is independent of the solver: the growth rates come from a Chebyshev tau eigenvalue
solve written here (coefficient space, second-order form), not from the solver's collocation.
"""

from __future__ import annotations

import numpy as np
import pytest
import scipy.linalg
from numpy.polynomial import chebyshev
from scipy.optimize import brentq

from hpo.data.embedded import DEFAULT_SPEC, design
from hpo.data.rayleigh_benard.chebyshev import ChebyshevZ, interpolation_matrix
from hpo.data.rayleigh_benard.noslip import NoSlipSolver
from hpo.data.rayleigh_benard.simulation import default_modes
from hpo.data.rayleigh_benard.solver import Setup

RA_CRITICAL = 1707.762  # Reid & Harris 1958, Chandrasekhar 1961
K_CRITICAL = 3.117  # the box: Lx = 2 pi / 3.117 admits (almost exactly) the critical mode


def tau_growth_rate(rayleigh: float, prandtl: float, k: float, degree: int = 32) -> float:
    """Largest growth rate of the linearised no-slip problem, thermal-diffusion units.

    Chebyshev tau in coefficient space on the second-order system (no spurious eigenvalues):
        (D^2 - k^2) W = Z,   s / Pr Z = (D^2 - k^2) Z - Ra k^2 T,   s T = (D^2 - k^2) T + W
    with W = W' = 0 and T = 0 on z = 0, 1 (the tau rows of the W and Z equations carry W's four
    conditions).
    """
    m = degree + 1
    eye = np.eye(m)
    d2 = np.zeros((m, m))
    for j in range(m):
        column = chebyshev.chebder(eye[j], 2) * 4.0  # z = (x + 1) / 2
        d2[: len(column), j] = column
    lap = d2 - k**2 * eye
    w, z, t = slice(0, m), slice(m, 2 * m), slice(2 * m, 3 * m)
    a = np.zeros((3 * m, 3 * m))
    b = np.zeros((3 * m, 3 * m))
    a[w, w], a[w, z] = lap, -eye
    a[z, z], a[z, t], b[z, z] = lap, -rayleigh * k**2 * eye, eye / prandtl
    a[t, t], a[t, w], b[t, t] = lap, eye, eye
    value = np.array([chebyshev.chebval(side, eye) for side in (-1.0, 1.0)])
    slope = np.array(
        [
            [2 * chebyshev.chebval(side, chebyshev.chebder(eye[j])) for j in range(m)]
            for side in (-1.0, 1.0)
        ]
    )
    for block, variable, conditions in ((w, w, value), (z, w, slope), (t, t, value)):
        for row, condition in zip((block.stop - 2, block.stop - 1), conditions):
            a[row], b[row] = 0.0, 0.0
            a[row, variable] = condition
    eigenvalues = scipy.linalg.eig(a, b, right=False)
    eigenvalues = eigenvalues[np.isfinite(eigenvalues)]
    return float(eigenvalues[np.argmax(eigenvalues.real)].real)


def time_average(solver, state, duration: float) -> dict[str, float]:
    """Step-weighted averages of solver.diagnostics over the next `duration` free-fall times, plus
    the range of the volume Nu."""
    sums: dict[str, float] = {}
    nusselts = []

    def accumulate(state, dt):
        values = solver.diagnostics(state)
        nusselts.append(values["nusselt"])
        for key, value in values.items():
            sums[key] = sums.get(key, 0.0) + dt * value

    solver.advance(state, state.time + duration, on_step=accumulate)
    averages = {key: value / duration for key, value in sums.items()}
    averages["nusselt_spread"] = (max(nusselts) - min(nusselts)) / averages["nusselt"]
    return averages


def test_chebyshev_operators_are_exact_for_polynomials():
    cheb = ChebyshevZ(12)
    z = cheb.z
    f = z**5 - 2 * z**3 + z
    np.testing.assert_allclose(cheb.d1 @ f, 5 * z**4 - 6 * z**2 + 1, atol=1e-10)
    np.testing.assert_allclose(cheb.d2 @ f, 20 * z**3 - 12 * z, atol=1e-9)
    assert cheb.weights @ f == pytest.approx(1 / 6 - 2 / 4 + 1 / 2, abs=1e-13)
    points = np.linspace(0.03, 0.97, 9)
    np.testing.assert_allclose(
        interpolation_matrix(12, points) @ f, points**5 - 2 * points**3 + points, atol=1e-12
    )
    # Clamped: psi = z^2 (1 - z)^2 (1 + z) has psi = psi' = 0 on both walls; its derivatives are
    # exact.
    psi = z**2 * (1 - z) ** 2 * (1 + z)
    dpsi = np.polynomial.Polynomial([0, 0, 1, -1, -1, 1]).deriv()
    np.testing.assert_allclose(cheb.d1_clamped @ psi[1:-1], dpsi(z), atol=1e-10)
    np.testing.assert_allclose(cheb.d4_clamped @ psi[1:-1], dpsi.deriv(3)(z), atol=1e-7)
    # The lowest clamped eigenvalue of d4/dz4 on [0, 1] is 4.730040744862704^4.
    lowest = np.min(np.linalg.eigvals(ChebyshevZ(32).d4_clamped[1:-1]).real)
    assert lowest == pytest.approx(4.730040744862704**4, rel=1e-9)


def test_independent_eigenvalue_solve_finds_the_critical_rayleigh_number():
    """The reference itself: the tau solve's neutral curve gives Ra_c at k_c (PHYSICS.md)."""
    onset = brentq(lambda ra: tau_growth_rate(ra, 1.0, 3.1163), 1500, 2000, xtol=1e-4)
    assert onset == pytest.approx(RA_CRITICAL, rel=1e-5)
    assert brentq(
        lambda ra: tau_growth_rate(ra, 1.0, np.pi), 1500, 2000, xtol=1e-4
    ) == pytest.approx(1707.922, rel=1e-5)


@pytest.mark.parametrize("prandtl", [0.71, 7.0])
@pytest.mark.parametrize("supercriticality", [0.97, 1.03])
def test_linear_growth_rate_changes_sign_at_the_no_slip_onset(prandtl, supercriticality):
    rayleigh = supercriticality * RA_CRITICAL
    solver = NoSlipSolver(
        Setup(rayleigh, prandtl, lx=2 * np.pi / K_CRITICAL, n_x_modes=4, n_z_modes=16, max_dt=0.2)
    )
    # A tiny temperature perturbation in the (k_c, sin(pi z)) mode: the flow stays linear.
    state = solver.initial_state(amplitude=0.0, mode=(1, 1), mode_amplitude=1e-6)
    solver.advance(state, 20.0)  # the other eigenmodes of k_c decay (by e^-8 or more)
    amplitude_before, time_before = np.linalg.norm(state.theta[:, 1]), state.time
    solver.advance(state, 60.0)
    measured = np.log(np.linalg.norm(state.theta[:, 1]) / amplitude_before) / (
        state.time - time_before
    )

    expected = tau_growth_rate(rayleigh, prandtl, K_CRITICAL) / np.sqrt(rayleigh * prandtl)
    assert np.sign(measured) == np.sign(supercriticality - 1)  # decays below onset, grows above
    assert measured == pytest.approx(expected, rel=0.01)


def test_steady_rolls_at_ra_1e4_match_dedalus_and_clever_busse():
    solver = NoSlipSolver(Setup(1e4, 0.71, lx=2.0, n_x_modes=16, n_z_modes=24))
    state = solver.initial_state(amplitude=0.0, mode=(1, 1), mode_amplitude=1e-2)  # one roll pair
    solver.advance(state, 60.0)  # steady by t ~ 40
    averages = time_average(solver, state, 10.0)
    assert averages["nusselt"] == pytest.approx(2.6525, rel=0.02)  # Dedalus, Lx = 2, 200 x 100
    assert averages["nusselt"] == pytest.approx(2.66, rel=0.02)  # Clever & Busse 1974, k = 3.117
    assert averages["nusselt_spread"] < 1e-4  # steady


@pytest.fixture(scope="module")
def highest_design_case():
    """(Ra, Pr) of the default dataset's highest-Ra simulation."""
    return max(design(DEFAULT_SPEC))


def _developed(rayleigh: float, prandtl: float, modes: tuple[int, int], until: float):
    solver = NoSlipSolver(Setup(rayleigh, prandtl, lx=2.0, n_x_modes=modes[0], n_z_modes=modes[1]))
    state = solver.initial_state(seed=3, amplitude=1e-2)
    solver.advance(state, until)
    return solver, state


@pytest.mark.slow
def test_exact_budgets_hold_over_a_window_of_a_time_dependent_flow():
    """Shraiman & Siggia: <1 + w b / kappa> = -db/dz at each wall, nu <|grad u|^2> =
    (Nu-1)/sqrt(RaPr)."""
    rayleigh, prandtl = 3e5, 1.5
    solver, state = _developed(rayleigh, prandtl, default_modes(rayleigh), until=25.0)
    # 80 free-fall times: the walls' and the volume's Nu differ by the change in heat content over
    # the window, which shrinks as 1/window (measured: 1.6% at 40, 1.0% at 80 on the bottom wall).
    averages = time_average(solver, state, 80.0)
    assert averages["nusselt_spread"] > 0.1  # time-dependent: Nu varies by > 10% over the window
    for wall in ("bottom", "top"):
        assert averages[wall] == pytest.approx(averages["nusselt"], rel=0.02)
    exact = (averages["nusselt"] - 1) / np.sqrt(rayleigh * prandtl)
    assert averages["dissipation"] == pytest.approx(exact, rel=0.03)


@pytest.mark.slow
def test_nusselt_is_resolved_at_the_designs_highest_rayleigh_number(highest_design_case):
    """1.5x the modes in both directions, from the same developed state, changes <Nu> by < 2%."""
    rayleigh, prandtl = highest_design_case
    modes = default_modes(rayleigh)
    solver, state = _developed(rayleigh, prandtl, modes, until=20.0)  # developed by t ~ 10
    fine = NoSlipSolver(
        Setup(
            rayleigh, prandtl, lx=2.0, n_x_modes=int(1.5 * modes[0]), n_z_modes=int(1.5 * modes[1])
        )
    )
    fine_state = fine.state_from(solver, state)
    assert fine.nusselt(fine_state) == pytest.approx(solver.nusselt(state), rel=1e-3)  # same flow
    coarse = time_average(solver, state, 5.0)
    refined = time_average(fine, fine_state, 5.0)
    assert coarse["nusselt_spread"] > 0.05  # a window with real dynamics
    assert refined["nusselt"] == pytest.approx(coarse["nusselt"], rel=0.02)
