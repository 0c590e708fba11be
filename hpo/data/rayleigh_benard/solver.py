"""2D Boussinesq Rayleigh-Benard solver: free-slip walls, periodic in x, vorticity-streamfunction
form.

Free-fall units (as in Dedalus' example and The Well), height 1, b = 1 at the bottom and 0 at the
top:
    d(omega)/dt + u.grad(omega) = nu lap(omega) + d(theta)/dx        omega = -lap(psi)
    d(theta)/dt + u.grad(theta) = kappa lap(theta) + w               b = 1 - z + theta
    u = d(psi)/dz,  w = -d(psi)/dx,  nu = sqrt(Pr/Ra),  kappa = 1/sqrt(Ra Pr)
The linear part (diffusion and the buoyancy coupling between omega and theta) is a 2x2 matrix per
mode and is treated implicitly; advection explicitly; second-order IMEX Runge-Kutta ARS(2,2,2) whose
time step follows the CFL condition.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from hpo.data.rayleigh_benard.blas import one_blas_thread
from hpo.data.rayleigh_benard.spectral import Basis, z_points

# ARS(2,2,2) (Ascher, Ruuth & Spiteri 1997): L-stable implicit part, so stiff diffusion is damped.
_GAMMA = 1.0 - 1.0 / np.sqrt(2.0)
_DELTA = 1.0 - 1.0 / (2.0 * _GAMMA)


@dataclass(frozen=True)
class Setup:
    """One simulation's physical and numerical parameters."""

    rayleigh: float
    prandtl: float
    lx: float = 2.0  # aspect ratio Lx/Lz = 2, the embedded dataset's box
    n_x_modes: int = 64
    n_z_modes: int = 64
    cfl: float = 0.4  # safety factor of the advective time step (ARS222's explicit part)
    # Caps the step where the flow is slow (and keeps implicit buoyancy accurate)
    max_dt: float = 0.1

    @property
    def nu(self) -> float:
        return float(np.sqrt(self.prandtl / self.rayleigh))

    @property
    def kappa(self) -> float:
        return float(1.0 / np.sqrt(self.rayleigh * self.prandtl))


@dataclass
class State:
    """Spectral coefficients of vorticity and temperature perturbation, both sine series in z."""

    omega: np.ndarray  # (Nz, Kx) complex
    theta: np.ndarray  # (Nz, Kx) complex
    time: float = 0.0

    def copy(self) -> State:
        return State(self.omega.copy(), self.theta.copy(), self.time)


@dataclass
class Fields:
    """Physical fields on a (x, z) grid: shapes (n_x, n_z)."""

    temperature: np.ndarray
    pressure: np.ndarray
    u: np.ndarray
    w: np.ndarray
    x: np.ndarray = field(repr=False, default=None)
    z: np.ndarray = field(repr=False, default=None)

    @property
    def speed(self) -> np.ndarray:
        return np.sqrt(self.u**2 + self.w**2)


class SteppingSolver:
    """What both solvers share: stepping to a time. A subclass gives `step(state, until=...) -> dt`
    (one CFL-limited step, never past `until`) and `_check_finite(state, time)`."""

    def advance(self, state, until: float, on_step=None) -> int:
        """Take CFL-limited steps until state.time reaches `until` exactly; return the step count.

        Raises:
            FloatingPointError: the solution blew up (non-finite values).
        """
        n_steps = 0
        with one_blas_thread():
            while state.time < until - 1e-12:
                dt = self.step(state, until=until)
                n_steps += 1
                if on_step is not None:
                    on_step(state, dt)
        self._check_finite(state, until)
        return n_steps


class Solver(SteppingSolver):
    """Advances a State in time and evaluates physical fields and diagnostics."""

    walls = "free-slip"

    def __init__(self, setup: Setup):
        self.setup = setup
        self.basis = Basis(setup.lx, setup.n_x_modes, setup.n_z_modes)
        a2 = self.basis.laplacian
        self._a2 = a2
        self._ik = 1j * self.basis.kx[None, :]
        # Linear operator per mode on (omega, theta): [[-nu a2, ik], [-ik / a2, -kappa a2]];
        # the coupling terms are buoyancy torque (d theta/dx) and w = -d psi/dx heating (via -w
        # db/dz).
        self._l11 = -setup.nu * a2
        self._l12 = self._ik * np.ones_like(a2)
        self._l21 = -self._ik / a2
        self._l22 = -setup.kappa * a2
        self._dx = setup.lx / (2 * setup.n_x_modes)
        self._dz = 1.0 / setup.n_z_modes

    # --- initial conditions -------------------------------------------------------------------
    def initial_state(
        self,
        seed: int = 0,
        amplitude: float = 1e-3,
        mode: tuple[int, int] | None = None,
        mode_amplitude: float = 0.0,
    ) -> State:
        """Small random temperature perturbation in the lowest modes, plus optionally one mode.

        Args:
            seed: seeds the random perturbation.
            amplitude: size of the random part (each low mode's coefficient).
            mode: (m, n) = (x Fourier index, z sine order) to seed explicitly, e.g. (1, 1).
            mode_amplitude: the seeded mode's temperature coefficient.
        """
        rng = np.random.default_rng(seed)
        shape = (self.setup.n_z_modes, self.setup.n_x_modes)
        theta = np.zeros(shape, complex)
        n_low = (min(8, shape[0]), min(8, shape[1]))
        theta[: n_low[0], : n_low[1]] = amplitude * (
            rng.standard_normal(n_low) + 1j * rng.standard_normal(n_low)
        )
        theta[:, 0] = theta[:, 0].real  # the horizontal mean of a real field is real
        if mode is not None:
            theta[mode[1] - 1, mode[0]] += mode_amplitude
        return State(omega=np.zeros(shape, complex), theta=theta)

    # --- time stepping ------------------------------------------------------------------------
    def _velocity_and_advection(self, omega: np.ndarray, theta: np.ndarray):
        """Nonlinear terms -u.grad(omega), -u.grad(theta), and the advective rate for the CFL."""
        b = self.basis
        psi = omega / self._a2
        sine_fields = np.stack([-b.ddx(psi), b.ddx(theta), b.ddx(omega)])  # w, theta_x, omega_x
        cosine_fields = b.ddz_of_sine(np.stack([psi, theta, omega]))  # u, theta_z, omega_z
        w, theta_x, omega_x = b.sine_to_grid(sine_fields)
        u, theta_z, omega_z = b.cosine_to_grid(cosine_fields)
        advection = b.grid_to_sine(
            np.stack(
                [
                    -(u * omega_x + w * omega_z),
                    -(u * theta_x + w * theta_z),
                ]
            )
        )
        # Pointwise |u|/dx + |w|/dz, with dx, dz the resolved scales of the kept modes.
        rate = float(np.max(np.abs(u) * (1.0 / self._dx) + np.abs(w) * (1.0 / self._dz)))
        return advection[0], advection[1], rate

    def _solve_implicit(self, h: float, rhs_omega: np.ndarray, rhs_theta: np.ndarray):
        """Solve (I - h L) (omega, theta) = rhs mode by mode (2x2 systems, closed form)."""
        m11 = 1.0 - h * self._l11
        m12 = -h * self._l12
        m21 = -h * self._l21
        m22 = 1.0 - h * self._l22
        det = m11 * m22 - m12 * m21
        return (m22 * rhs_omega - m12 * rhs_theta) / det, (m11 * rhs_theta - m21 * rhs_omega) / det

    def _linear(self, omega: np.ndarray, theta: np.ndarray):
        return (self._l11 * omega + self._l12 * theta, self._l21 * omega + self._l22 * theta)

    def step(self, state: State, dt: float | None = None, until: float | None = None) -> float:
        """Advance `state` in place by one step; return the step taken.

        Args:
            dt: a fixed step; None means CFL-limited from the current velocity, capped by max_dt.
            until: never step past this time (the step is shortened to land on it).
        """
        n_omega0, n_theta0, rate = self._velocity_and_advection(state.omega, state.theta)
        if dt is None:
            dt = self.setup.max_dt if rate == 0 else min(self.setup.max_dt, self.setup.cfl / rate)
        if until is not None:
            dt = min(dt, until - state.time)
        h = _GAMMA * dt
        omega1, theta1 = self._solve_implicit(
            h, state.omega + h * n_omega0, state.theta + h * n_theta0
        )
        n_omega1, n_theta1, _ = self._velocity_and_advection(omega1, theta1)
        l_omega1, l_theta1 = self._linear(omega1, theta1)
        rhs_omega = state.omega + dt * (
            _DELTA * n_omega0 + (1 - _DELTA) * n_omega1 + (1 - _GAMMA) * l_omega1
        )
        rhs_theta = state.theta + dt * (
            _DELTA * n_theta0 + (1 - _DELTA) * n_theta1 + (1 - _GAMMA) * l_theta1
        )
        state.omega, state.theta = self._solve_implicit(h, rhs_omega, rhs_theta)
        state.time += dt
        return dt

    def _check_finite(self, state: State, time: float) -> None:
        if not (np.all(np.isfinite(state.omega)) and np.all(np.isfinite(state.theta))):
            raise FloatingPointError(f"solution blew up before t = {time}: {self.setup}")

    def snapshots(self, state: State, times, on_step=None):
        """Yield a copy of the state at each of `times` (ascending), landing on each exactly."""
        for t in times:
            self.advance(state, t, on_step=on_step)
            yield state.copy()

    # --- diagnostics --------------------------------------------------------------------------
    def nusselt(self, state: State) -> float:
        """Volume-averaged heat flux relative to conduction: Nu = 1 + <w theta> / kappa."""
        w = -self.basis.ddx(state.omega / self._a2)
        return 1.0 + self.basis.mean_product(w, state.theta) / self.setup.kappa

    def wall_nusselt(self, state: State) -> float:
        """Nu from the mean temperature gradient at the bottom wall, -db/dz at z = 0."""
        dtheta_dz_bottom = float(np.sum(self.basis.kz[:, 0] * state.theta[:, 0].real))
        return 1.0 - dtheta_dz_bottom

    def wall_nusselts(self, state: State) -> tuple[float, float]:
        """(bottom, top) Nu from the mean temperature gradient on each wall, -d(b_bar)/dz."""
        kz = self.basis.kz[:, 0]
        theta_bar = state.theta[:, 0].real
        return 1.0 - float(np.sum(kz * theta_bar)), 1.0 - float(np.sum(kz * np.cos(kz) * theta_bar))

    def dissipation(self, state: State) -> float:
        """Viscous dissipation rate nu <|grad u|^2> = nu <omega^2> (free-slip walls)."""
        return self.setup.nu * self.basis.mean_product(state.omega, state.omega)

    def diagnostics(self, state: State) -> dict[str, float]:
        """nusselt (volume), bottom and top (wall Nu), energy and mean_energy (kinetic, total and of
        the horizontal mean flow) and dissipation."""
        bottom, top = self.wall_nusselts(state)
        energy, mean_energy = self.kinetic_energies(state)
        return {
            "nusselt": self.nusselt(state),
            "bottom": bottom,
            "top": top,
            "energy": energy,
            "mean_energy": mean_energy,
            "dissipation": self.dissipation(state),
        }

    def kinetic_energies(self, state: State) -> tuple[float, float]:
        """(total, horizontal-mean flow) kinetic energy per unit volume, 1/2 <|u|^2>."""
        b = self.basis
        psi = state.omega / self._a2
        u = b.ddz_of_sine(psi)
        w = -b.ddx(psi)
        total = 0.5 * (b.mean_product(u, u) + b.mean_product(w, w))
        u_mean = np.zeros_like(u)
        u_mean[:, 0] = u[:, 0]
        return total, 0.5 * b.mean_product(u_mean, u_mean)

    def fields(self, state: State, n_x: int, n_z: int) -> Fields:
        """Temperature, pressure and velocity on an (n_x, n_z) grid: x_i = i Lx/n_x, z
        cell-centred."""
        b = self.basis
        psi = state.omega / self._a2
        z = z_points(n_z)
        theta = b.sine_to_grid(state.theta, n_x, n_z)
        w = b.sine_to_grid(-b.ddx(psi), n_x, n_z)
        u = b.cosine_to_grid(b.ddz_of_sine(psi), n_x, n_z)
        pressure = self._pressure(psi, state.theta, n_x, n_z)
        temperature = (1.0 - z)[:, None] + theta
        x = np.arange(n_x) * self.setup.lx / n_x
        return Fields(temperature=temperature.T, pressure=pressure.T, u=u.T, w=w.T, x=x, z=z)

    def _pressure(self, psi: np.ndarray, theta: np.ndarray, n_x: int, n_z: int) -> np.ndarray:
        """Pressure (zero domain mean): hydrostatic part of the conductive state plus the dynamic
        part.

        Taking the divergence of the momentum equation gives
            lap(p') = -(u_x^2 + 2 u_z w_x + w_z^2) + d(theta)/dz,   dp'/dz = 0 at the walls,
        so p' is a cosine series; the conductive state adds p_h with dp_h/dz = 1 - z.
        """
        b = self.basis
        u_cos = b.ddz_of_sine(psi)  # u (cosine)
        u_x = b.cosine_to_grid(b.ddx(u_cos))
        w_z = b.cosine_to_grid(b.ddz_of_sine(-b.ddx(psi)))
        u_z = b.sine_to_grid(-(b.kz**2) * psi)  # d2psi/dz2 of a sine series
        w_x = b.sine_to_grid(-b.ddx(b.ddx(psi)))
        n_cos = b.n_z_modes + 1
        source = b.grid_to_cosine(-(u_x**2 + 2 * u_z * w_x + w_z**2), n_cos)
        source += b.ddz_of_sine(theta)
        n = np.arange(n_cos)[:, None] * np.pi
        eigen = b.kx[None, :] ** 2 + n**2
        eigen[0, 0] = 1.0
        p_dynamic = -source / eigen
        p_dynamic[0, 0] = 0.0  # pressure is defined up to a constant: zero mean
        z = z_points(n_z)
        hydrostatic = z - 0.5 * z**2 - 1.0 / 3.0  # zero mean over [0, 1]
        return b.cosine_to_grid(p_dynamic, n_x, n_z) + hydrostatic[:, None]
