"""2D Boussinesq Rayleigh-Benard solver with no-slip walls: Fourier in x, Chebyshev collocation in
z.

Same equations and free-fall units as the free-slip solver (hpo.data.rayleigh_benard.solver):
    d(omega)/dt + u.grad(omega) = nu lap(omega) + d(theta)/dx        omega = -lap(psi)
    d(theta)/dt + u.grad(theta) = kappa lap(theta) + w               b = 1 - z + theta
    u = d(psi)/dz,  w = -d(psi)/dx,  nu = sqrt(Pr/Ra),  kappa = 1/sqrt(Ra Pr)
with u = w = 0 (psi = dpsi/dz = 0) and theta = 0 on the walls z = 0, 1. Each Fourier mode k > 0 of
(psi, theta) is held by its values at the N - 1 interior Gauss-Lobatto nodes; psi's two boundary
conditions per wall are built into its clamped basis (hpo.data.rayleigh_benard.chebyshev), so the
walls are exact, and the vorticity equation becomes a fourth-order equation for psi:
    -L dpsi/dt = -nu L^2 psi + i k theta + N_omega,   L = D^2 - k^2.
The horizontally averaged flow (k = 0), which psi's zero-flux gauge cannot carry, is evolved as
u_bar(z) itself: du_bar/dt = nu D^2 u_bar - d<uw>/dz with u_bar = 0 on the walls (no mean pressure
gradient, as in Dedalus' example).

Writing psi = i chi makes the linear operator real: per k, the implicit stage of the IMEX scheme is
one real (2N-2) x (2N-2) solve, done by precomputed inverse matrices applied to all k at once (one
batched matmul). The inverses depend on the step only; steps are quantised to levels 2^(-l/4)
max_dt, so they are computed once per level and cached. Advection is explicit, evaluated on a
3/2-padded grid in x (no aliasing in x) at the Chebyshev nodes; ARS(2,2,2) in time with a
CFL-limited step.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from hpo.data.rayleigh_benard.blas import one_blas_thread
from hpo.data.rayleigh_benard.chebyshev import ChebyshevZ, interpolation_matrix
from hpo.data.rayleigh_benard.solver import Fields, Setup, SteppingSolver
from hpo.data.rayleigh_benard.spectral import apply_z, z_points

# ARS(2,2,2) (Ascher, Ruuth & Spiteri 1997): L-stable implicit part, so stiff diffusion is damped.
_GAMMA = 1.0 - 1.0 / np.sqrt(2.0)
_DELTA = 1.0 - 1.0 / (2.0 * _GAMMA)
# Allowed steps are max_dt * 2^(-level / 4): at most 19% below the CFL limit, and few levels in a
# run.
_LEVELS_PER_OCTAVE = 4


@dataclass
class NoSlipState:
    """Interior-node values per Fourier mode: chi (k > 0: psi = i chi; k = 0: the mean flow u_bar)
    and the temperature perturbation theta. Shapes (N - 1, Kx), complex."""

    chi: np.ndarray
    theta: np.ndarray
    time: float = 0.0

    def copy(self) -> NoSlipState:
        return NoSlipState(self.chi.copy(), self.theta.copy(), self.time)


class NoSlipSolver(SteppingSolver):
    """Advances a NoSlipState in time and evaluates physical fields and diagnostics.

    `setup.n_x_modes` Fourier modes in x, `setup.n_z_modes` = N, the Chebyshev degree in z.
    """

    walls = "no-slip"

    def __init__(self, setup: Setup):
        self.setup = setup
        self.cheb = ChebyshevZ(setup.n_z_modes)
        n_x = setup.n_x_modes
        self.kx = 2 * np.pi * np.arange(n_x) / setup.lx
        self.n_x_points = 3 * n_x  # 3/2 rule: products of kept modes do not alias back onto them
        self._ik = 1j * self.kx
        c = self.cheb
        inner = slice(1, -1)
        self._d1c = c.d1_clamped  # (N+1, N-1)
        self._d2c = c.d2_clamped
        self._d2c_in = c.d2_clamped[inner]  # (N-1, N-1)
        self._d4c_in = c.d4_clamped[inner]
        self._d2d_in = c.d2_dirichlet[inner]
        # u and omega at all nodes from interior psi, in one matmul.
        self._velocity_ops = np.concatenate([self._d1c, self._d2c])
        self._dx = setup.lx / (2 * n_x)  # the resolved scale of the kept Fourier modes
        self._inverse_dz = 1.0 / c.spacing
        # Parseval: each m > 0 stands for itself and its conjugate
        self._x_weights = np.full(n_x, 2.0)
        self._x_weights[0] = 1.0
        # implicit-stage h -> (even, odd) inverses, per level
        self._inverses: dict[float, tuple] = {}
        self._level_hs: set[float] = set()
        self._one_off: tuple[float, tuple] | None = None  # a step shortened to land on a time
        self._level: int | None = None
        self._pressure_inverse: np.ndarray | None = None

    # --- initial conditions -------------------------------------------------------------------
    def initial_state(
        self,
        seed: int = 0,
        amplitude: float = 1e-3,
        mode: tuple[int, int] | None = None,
        mode_amplitude: float = 0.0,
    ) -> NoSlipState:
        """Small random temperature perturbation in the lowest modes, plus optionally one mode.

        Args:
            seed: seeds the random perturbation.
            amplitude: size of the random part (each low mode's coefficient of sin(n pi z) e^{ikx}).
            mode: (m, n) = (x Fourier index, order of sin(n pi z)) to seed explicitly, e.g. (1, 1).
            mode_amplitude: the seeded mode's temperature coefficient.
        """
        rng = np.random.default_rng(seed)
        n_low_x, n_low_z = min(8, self.setup.n_x_modes), 8
        coefficients = np.zeros((n_low_z, self.setup.n_x_modes), complex)
        coefficients[:, :n_low_x] = amplitude * (
            rng.standard_normal((n_low_z, n_low_x)) + 1j * rng.standard_normal((n_low_z, n_low_x))
        )
        coefficients[:, 0] = coefficients[:, 0].real  # the horizontal mean of a real field is real
        if mode is not None:
            coefficients[mode[1] - 1, mode[0]] += mode_amplitude
        z = self.cheb.z[1:-1]
        sines = np.sin(np.pi * np.outer(z, np.arange(1, n_low_z + 1)))  # (N-1, n_low_z)
        theta = sines @ coefficients
        return NoSlipState(chi=np.zeros_like(theta), theta=theta)

    def state_from(self, other: NoSlipSolver, state: NoSlipState) -> NoSlipState:
        """`state` of solver `other` on this solver's modes: the same fields, evaluated exactly at
        this solver's nodes (psi through its clamped basis) and its Fourier modes padded or cut."""
        n_x = min(self.setup.n_x_modes, other.setup.n_x_modes)
        z = self.cheb.z[1:-1]
        values = interpolation_matrix(other.cheb.n, z)[:, 1:-1]  # Dirichlet: walls are zero
        psi_values, _ = other.cheb.clamped_interpolation(z)
        chi = np.zeros((len(z), self.setup.n_x_modes), complex)
        theta = np.zeros_like(chi)
        chi[:, 1:n_x] = apply_z(psi_values, state.chi[:, 1:n_x])
        chi[:, 0] = values @ state.chi[:, 0]
        theta[:, :n_x] = apply_z(values, state.theta[:, :n_x])
        return NoSlipState(chi, theta, state.time)

    # --- spectral fields at the nodes ---------------------------------------------------------
    def _psi(self, chi: np.ndarray) -> np.ndarray:
        """(N-1, Kx) interior psi of the modes k > 0 (zero for k = 0)."""
        psi = 1j * chi
        psi[:, 0] = 0.0
        return psi

    def _with_walls(self, interior: np.ndarray) -> np.ndarray:
        """(..., N-1, Kx) interior values -> (..., N+1, Kx) with zeros on the walls."""
        shape = interior.shape[:-2] + (interior.shape[-2] + 2, interior.shape[-1])
        full = np.zeros(shape, complex)
        full[..., 1:-1, :] = interior
        return full

    def _velocity_vorticity(self, chi: np.ndarray):
        """(u, w, omega) at all nodes, (N+1, Kx) each, mean flow included."""
        psi = self._psi(chi)
        u, d2psi = np.split(apply_z(self._velocity_ops, psi), 2, axis=-2)
        psi_full = self._with_walls(psi)
        u_bar = chi[:, 0]
        u[1:-1, 0] = u_bar
        omega = -(d2psi - self.kx**2 * psi_full)
        omega[:, 0] = -(self.cheb.d1_dirichlet @ u_bar)
        w = -self._ik * psi_full
        return u, w, omega

    def _nonlinear(self, chi: np.ndarray, theta: np.ndarray):
        """Explicit terms of the chi and theta equations (interior nodes, (N-1, Kx)) and the CFL
        rate."""
        u, w, omega = self._velocity_vorticity(chi)
        theta_full = self._with_walls(theta)
        omega_z = apply_z(self.cheb.d1, omega)
        theta_z = apply_z(self.cheb.d1_dirichlet, theta)
        spectral = np.stack([u, w, self._ik * omega, omega_z, self._ik * theta_full, theta_z])
        u_g, w_g, omega_x, omega_z_g, theta_x, theta_z_g = self._to_grid(spectral)
        products = np.stack(
            [-(u_g * omega_x + w_g * omega_z_g), -(u_g * theta_x + w_g * theta_z_g)]
        )
        n_omega, n_theta = self._to_modes(products)
        n_chi = -1j * n_omega[1:-1]  # the chi equation is the omega equation divided by i
        # The mean flow: du_bar/dt = -d<uw>/dz (+ viscosity), <uw> by Parseval at each node.
        uw_mean = np.real(u * np.conj(w)) @ self._x_weights
        n_chi[:, 0] = -(self.cheb.d1 @ uw_mean)[1:-1]
        rate = float(
            np.max(np.abs(u_g) * (1.0 / self._dx) + np.abs(w_g) * self._inverse_dz[:, None])
        )
        return n_chi, n_theta[1:-1], rate

    def _to_grid(self, coefficients: np.ndarray, n_x: int | None = None) -> np.ndarray:
        """Fourier series on n_x points (default: the padded product grid); a grid too coarse for
        every mode keeps those below its Nyquist wavenumber (a spectral low-pass)."""
        n_x = self.n_x_points if n_x is None else n_x
        return np.fft.irfft(coefficients[..., : (n_x + 1) // 2], n=n_x, axis=-1) * n_x

    def _to_modes(self, values: np.ndarray) -> np.ndarray:
        return np.fft.rfft(values, axis=-1)[..., : self.setup.n_x_modes] / values.shape[-1]

    # --- the linear operator ------------------------------------------------------------------
    def _mass(self, chi: np.ndarray, theta: np.ndarray) -> np.ndarray:
        """M X: (-L chi, theta) for k > 0, (u_bar, theta_bar) for k = 0; (2(N-1), Kx)."""
        m_chi = -apply_z(self._d2c_in, chi) + self.kx**2 * chi
        m_chi[:, 0] = chi[:, 0]
        return np.concatenate([m_chi, theta])

    def _inverse(self, h: float) -> tuple[np.ndarray, np.ndarray]:
        """Inverses of M - h A per Fourier mode, split by parity: ((Kx, 2 n_e, 2 n_e), (Kx, 2 n_o,
        2 n_o)). Those of the step levels are kept; a one-off (a step shortened to land on a time)
        replaces the last one-off."""
        if h in self._inverses:
            return self._inverses[h]
        if self._one_off is not None and self._one_off[0] == h:
            return self._one_off[1]
        nu, kappa = self.setup.nu, self.setup.kappa
        n = self.cheb.n - 1
        eye = np.eye(n)
        k = self.kx[:, None, None]
        d2c, d4c, d2d = self._d2c_in[None], self._d4c_in[None], self._d2d_in[None]
        blocks = [
            [
                -(d2c - k**2 * eye) + h * nu * (d4c - 2 * k**2 * d2c + k**4 * eye),
                np.broadcast_to(-h * k * eye, (len(self.kx), n, n)),
            ],
            [
                np.broadcast_to(-h * k * eye, (len(self.kx), n, n)),
                eye - h * kappa * (d2d - k**2 * eye),
            ],
        ]
        blocks[0][0] = blocks[0][0].copy()
        blocks[0][0][0] = eye - h * nu * self._d2d_in  # the mean flow u_bar
        inverse = tuple(
            np.linalg.inv(
                np.block(
                    [
                        [_fold_columns(block, sign) for block in row]
                        for row in [[_fold_rows(b, sign) for b in r] for r in blocks]
                    ]
                )
            )
            for sign in (1, -1)
        )
        if h in self._level_hs:
            self._inverses[h] = inverse
        else:
            self._one_off = (h, inverse)
        return inverse

    def _solve(self, h: float, rhs: np.ndarray):
        """(M - h A) X = rhs for all modes; rhs (2(N-1), Kx) complex -> (chi, theta).

        The operator commutes with the reflection z -> 1 - z, so the even and odd parts of
        (chi, theta) are solved separately: half the memory traffic of one coupled solve.
        """
        even_inverse, odd_inverse = self._inverse(h)
        chi, theta = np.split(rhs, 2, axis=0)
        parts = []
        for inverse, sign in ((even_inverse, 1), (odd_inverse, -1)):
            folded = np.concatenate([_fold(chi, sign), _fold(theta, sign)])  # (2 n_p, Kx)
            n_x = folded.shape[-1]
            as_real = np.ascontiguousarray(folded.T).view(np.float64).reshape(n_x, -1, 2)
            solved = np.matmul(inverse, as_real).reshape(n_x, -1).view(np.complex128).T
            parts.append(np.split(solved, 2, axis=0))
        (chi_even, theta_even), (chi_odd, theta_odd) = parts
        return _unfold(chi_even, chi_odd), _unfold(theta_even, theta_odd)

    # --- time stepping ------------------------------------------------------------------------
    def _level_step(self, cfl_dt: float) -> float:
        """The quantised step: drop to the largest level below the CFL step at once, climb only when
        the CFL step clears two levels up (then by one), so the level rarely changes."""
        top = self.setup.max_dt
        needed = max(0, int(np.ceil(_LEVELS_PER_OCTAVE * np.log2(top / cfl_dt) - 1e-9)))
        if self._level is None or needed > self._level:
            self._level = needed
        elif needed < self._level - 1:
            self._level -= 1
        dt = top * 2.0 ** (-self._level / _LEVELS_PER_OCTAVE)
        self._level_hs.add(_GAMMA * dt)
        return dt

    def step(
        self, state: NoSlipState, dt: float | None = None, until: float | None = None
    ) -> float:
        """Advance `state` in place by one ARS(2,2,2) step; return the step taken.

        Args:
            dt: a fixed step; None means CFL-limited (quantised to a level), capped by max_dt.
            until: never step past this time (the last step is shortened to land on it).
        """
        n_chi0, n_theta0, rate = self._nonlinear(state.chi, state.theta)
        if dt is None:
            cfl_dt = (
                self.setup.max_dt if rate == 0 else min(self.setup.max_dt, self.setup.cfl / rate)
            )
            dt = self._level_step(cfl_dt)
        if until is not None and state.time + dt > until:
            dt = until - state.time
        h = _GAMMA * dt
        n0 = np.concatenate([n_chi0, n_theta0])
        mass0 = self._mass(state.chi, state.theta)
        rhs1 = mass0 + h * n0
        chi1, theta1 = self._solve(h, rhs1)
        n_chi1, n_theta1, _ = self._nonlinear(chi1, theta1)
        n1 = np.concatenate([n_chi1, n_theta1])
        linear1 = (self._mass(chi1, theta1) - rhs1) / h  # A X1, from the stage's own equation
        rhs = mass0 + dt * (_DELTA * n0 + (1 - _DELTA) * n1 + (1 - _GAMMA) * linear1)
        state.chi, state.theta = self._solve(h, rhs)
        state.time += dt
        return dt

    def snapshots(self, state: NoSlipState, times, on_step=None):
        """Yield the state at each of `times` (ascending), stepping `state` along with quantised
        steps and interpolating linearly in time between the two steps around each time (error
        O(dt^2), far below the scheme's), so no step is shortened and no inverse recomputed.

        Raises:
            FloatingPointError: the solution blew up (non-finite values).
        """
        previous = state.copy()
        for t in times:
            with one_blas_thread():
                while state.time < t - 1e-12:
                    previous = state.copy()
                    dt = self.step(state)
                    if on_step is not None:
                        on_step(state, dt)
            self._check_finite(state, t)
            if abs(state.time - t) <= 1e-12 or state.time == previous.time:
                yield state.copy()
                continue
            weight = (state.time - t) / (state.time - previous.time)  # on the earlier state
            yield NoSlipState(
                weight * previous.chi + (1 - weight) * state.chi,
                weight * previous.theta + (1 - weight) * state.theta,
                t,
            )

    def _check_finite(self, state: NoSlipState, time: float) -> None:
        if not (np.all(np.isfinite(state.chi)) and np.all(np.isfinite(state.theta))):
            raise FloatingPointError(f"solution blew up before t = {time}: {self.setup}")

    # --- diagnostics --------------------------------------------------------------------------
    def _mean_product(self, a: np.ndarray, b: np.ndarray) -> float:
        """Domain average of the product of two real fields given per mode at all nodes."""
        return float(self.cheb.weights @ (np.real(a * np.conj(b)) @ self._x_weights))

    def nusselt(self, state: NoSlipState) -> float:
        """Volume-averaged heat flux relative to conduction: Nu = 1 + <w theta> / kappa."""
        w = -self._ik * self._with_walls(self._psi(state.chi))
        return 1.0 + self._mean_product(w, self._with_walls(state.theta)) / self.setup.kappa

    def wall_nusselts(self, state: NoSlipState) -> tuple[float, float]:
        """(bottom, top) Nu from the mean temperature gradient on each wall, -d(b_bar)/dz."""
        dtheta_dz = self.cheb.d1_dirichlet @ state.theta[:, 0].real
        return 1.0 - float(dtheta_dz[0]), 1.0 - float(dtheta_dz[-1])

    def wall_nusselt(self, state: NoSlipState) -> float:
        """Nu from the mean temperature gradient at the bottom wall, -db/dz at z = 0."""
        return self.wall_nusselts(state)[0]

    def kinetic_energies(self, state: NoSlipState) -> tuple[float, float]:
        """(total, horizontal-mean flow) kinetic energy per unit volume, 1/2 <|u|^2>."""
        u, w, _ = self._velocity_vorticity(state.chi)
        total = 0.5 * (self._mean_product(u, u) + self._mean_product(w, w))
        u_bar = np.zeros_like(u)
        u_bar[:, 0] = u[:, 0]
        return total, 0.5 * self._mean_product(u_bar, u_bar)

    def dissipation(self, state: NoSlipState) -> float:
        """Viscous dissipation rate nu <|grad u|^2> (u_z from psi's exact second derivative)."""
        u, w, _ = self._velocity_vorticity(state.chi)
        u_z = apply_z(self._d2c, self._psi(state.chi))
        u_z[:, 0] = self.cheb.d1_dirichlet @ state.chi[:, 0]
        w_z = -self._ik * u  # d/dz (-d psi/dx)
        gradient_squared = sum(
            self._mean_product(f, f) for f in (self._ik * u, u_z, self._ik * w, w_z)
        )
        return self.setup.nu * gradient_squared

    def diagnostics(self, state: NoSlipState) -> dict[str, float]:
        """nusselt (volume), bottom and top (wall Nu), energy and mean_energy (kinetic, total and of
        the horizontal mean flow) and dissipation, sharing the velocity evaluation."""
        u, w, _ = self._velocity_vorticity(state.chi)
        psi = self._psi(state.chi)
        u_z = apply_z(self._d2c, psi)
        u_z[:, 0] = self.cheb.d1_dirichlet @ state.chi[:, 0]
        bottom, top = self.wall_nusselts(state)
        ik = self._ik
        u_bar = np.zeros_like(u)
        u_bar[:, 0] = u[:, 0]
        gradient_squared = sum(self._mean_product(f, f) for f in (ik * u, u_z, ik * w, -ik * u))
        return {
            "nusselt": 1.0
            + self._mean_product(w, self._with_walls(state.theta)) / self.setup.kappa,
            "bottom": bottom,
            "top": top,
            "energy": 0.5 * (self._mean_product(u, u) + self._mean_product(w, w)),
            "mean_energy": 0.5 * self._mean_product(u_bar, u_bar),
            "dissipation": self.setup.nu * gradient_squared,
        }

    # --- output -------------------------------------------------------------------------------
    def fields(self, state: NoSlipState, n_x: int, n_z: int) -> Fields:
        """Temperature, pressure and velocity on an (n_x, n_z) grid: x_i = i Lx/n_x, z cell-centred.

        The Chebyshev and Fourier series are evaluated there (spectral interpolation; the solver's
        own grid may be coarser; an x grid too coarse for every Fourier mode drops the highest).
        """
        z = z_points(n_z)
        at = interpolation_matrix(self.cheb.n, z)  # (n_z, N+1)
        psi_at, dpsi_at = self.cheb.clamped_interpolation(z)
        psi = self._psi(state.chi)
        theta = apply_z(at, self._with_walls(state.theta))
        u = apply_z(dpsi_at, psi)
        u[:, 0] = at[:, 1:-1] @ state.chi[:, 0]
        w = -self._ik * apply_z(psi_at, psi)
        pressure = apply_z(at, self._pressure_modes(state))
        grid = self._to_grid(np.stack([theta, u, w, pressure]), n_x)
        temperature = (1.0 - z)[:, None] + grid[0]
        x = np.arange(n_x) * self.setup.lx / n_x
        return Fields(
            temperature=temperature.T, pressure=grid[3].T, u=grid[1].T, w=grid[2].T, x=x, z=z
        )

    def _pressure_modes(self, state: NoSlipState) -> np.ndarray:
        """(N+1, Kx) pressure at the nodes, zero domain mean, hydrostatic part included.

        The divergence of the momentum equation gives
            lap(p) = -(u_x^2 + 2 u_z w_x + w_z^2) + db/dz,
        with dp/dz = b + nu d2w/dz2 on the walls (the z-momentum equation where u = w = 0). The
        horizontal mean follows from the mean z-momentum: dp_bar/dz = b_bar - d<ww>/dz.
        """
        c = self.cheb
        psi = self._psi(state.chi)
        u, w, _ = self._velocity_vorticity(state.chi)
        d2psi = apply_z(self._d2c, psi)
        u_z = d2psi.copy()
        u_z[:, 0] = c.d1_dirichlet @ state.chi[:, 0]
        fields = self._to_grid(np.stack([self._ik * u, u_z, self._ik * w, -self._ik * u]))
        u_x, u_z_g, w_x, w_z = fields
        theta_full = self._with_walls(state.theta)
        source = self._to_modes(-(u_x**2 + 2 * u_z_g * w_x + w_z**2))
        source += apply_z(c.d1_dirichlet, state.theta)
        # Neumann rows on the walls: dp/dz = nu d2w/dz2 for k > 0 (theta = 0 there).
        w_zz = -self._ik * d2psi
        source[0], source[-1] = self.setup.nu * w_zz[0], self.setup.nu * w_zz[-1]
        pressure = np.einsum("kij,jk->ik", self._pressure_inverse_matrices(), source)
        # k = 0: p_bar = integral of b_bar - <ww>, then the zero-mean gauge.
        b_bar = 1.0 - c.z + theta_full[:, 0].real
        ww_mean = np.real(w * np.conj(w)) @ self._x_weights
        integrate = c.d1.copy()
        integrate[0] = 0.0
        integrate[0, 0] = 1.0  # p_bar(0) = 0, fixed below by the gauge
        rhs = b_bar.copy()
        rhs[0] = 0.0
        p_bar = np.linalg.solve(integrate, rhs) - ww_mean
        pressure[:, 0] = p_bar - c.weights @ p_bar
        return pressure

    def _pressure_inverse_matrices(self) -> np.ndarray:
        """(Kx, N+1, N+1) inverses of (D^2 - k^2) with Neumann rows on the walls (k = 0 unused)."""
        if self._pressure_inverse is None:
            c = self.cheb
            n = c.n + 1
            system = c.d2[None] - self.kx[:, None, None] ** 2 * np.eye(n)
            system[:, 0] = c.d1[0]
            system[:, -1] = c.d1[-1]
            system[0] = np.eye(n)  # k = 0 is handled separately
            self._pressure_inverse = np.linalg.inv(system)
        return self._pressure_inverse


# --- parity: the linear operator commutes with z -> 1 - z (node i <-> n - 1 - i)
# --------------------
def _fold(values: np.ndarray, sign: int) -> np.ndarray:
    """(n, ...) interior values -> the first half of their even (sign 1) or odd (-1) part."""
    n = values.shape[0]
    size = (n + 1) // 2 if sign > 0 else n // 2
    return 0.5 * (values[:size] + sign * values[::-1][:size])


def _unfold(even: np.ndarray, odd: np.ndarray) -> np.ndarray:
    """Inverse of _fold: even (n_e, ...) and odd (n_o, ...) halves -> (n_e + n_o, ...) values."""
    half = odd.shape[0]
    values = np.empty((even.shape[0] + half,) + even.shape[1:], np.result_type(even, odd))
    values[:half] = even[:half] + odd
    values[::-1][:half] = even[:half] - odd
    if even.shape[0] > half:
        values[half] = even[half]
    return values


def _fold_rows(matrix: np.ndarray, sign: int) -> np.ndarray:
    """(..., n, n) -> the rows of the first half (the equations of the even or odd part)."""
    n = matrix.shape[-2]
    return matrix[..., : (n + 1) // 2 if sign > 0 else n // 2, :]


def _fold_columns(matrix: np.ndarray, sign: int) -> np.ndarray:
    """(..., r, n) acting on values -> (..., r, n_p) acting on the first half of a part of parity
    `sign` (values[n - 1 - j] = sign values[j])."""
    n = matrix.shape[-1]
    half = n // 2
    folded = matrix[..., :half] + sign * matrix[..., ::-1][..., :half]
    if sign > 0 and n % 2:
        folded = np.concatenate([folded, matrix[..., half : half + 1]], axis=-1)
    return folded
