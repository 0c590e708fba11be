"""Spectral basis for 2D free-slip Rayleigh-Benard convection: Fourier in x, sine/cosine in z.

With free-slip walls the streamfunction, the vorticity and the temperature perturbation vanish at
z = 0 and z = 1, so they expand exactly in sin(n pi z); their z-derivatives (horizontal velocity,
pressure) expand in cos(n pi z). x is periodic and uses numpy's real FFT.

Spectral arrays are shaped (n_z_modes, n_x_modes), complex, with
    f(x, z) = sum_m sum_n c[n, m] exp(i k_m x) sin(n pi z)   (+ complex conjugate for m > 0)
and k_m = 2 pi m / Lx. Sine modes are numbered n = 1..Nz, cosine modes n = 0..Nz-1 (index = n), so
d/dz maps sine index j (n = j + 1) to cosine index j + 1.

Physical arrays are shaped (n_z_points, n_x_points), z on cell centres z_j = (j + 1/2) / M, x on
x_i = i Lx / Mx. The z transforms are small dense matrices (a few dozen modes), applied to the
complex arrays viewed as real pairs, which keeps them a single real matmul.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import numpy as np


def z_points(n_points: int) -> np.ndarray:
    """Cell-centred z grid on [0, 1] (no point on the walls)."""
    return (np.arange(n_points) + 0.5) / n_points


def sine_eval_matrix(n_modes: int, n_points: int) -> np.ndarray:
    """(n_points, n_modes): values of sin(n pi z_j) for n = 1..n_modes."""
    n = np.arange(1, n_modes + 1)
    return np.sin(np.pi * np.outer(z_points(n_points), n))


def cosine_eval_matrix(n_modes: int, n_points: int) -> np.ndarray:
    """(n_points, n_modes): values of cos(n pi z_j) for n = 0..n_modes-1."""
    n = np.arange(n_modes)
    return np.cos(np.pi * np.outer(z_points(n_points), n))


def sine_projection_matrix(n_modes: int, n_points: int) -> np.ndarray:
    """(n_modes, n_points): discrete sine transform (exact for modes below n_points)."""
    return (2.0 / n_points) * sine_eval_matrix(n_modes, n_points).T


def cosine_projection_matrix(n_modes: int, n_points: int) -> np.ndarray:
    """(n_modes, n_points): discrete cosine transform (exact for modes below n_points)."""
    projection = (2.0 / n_points) * cosine_eval_matrix(n_modes, n_points).T
    projection[0] *= 0.5  # the mean carries weight 1/M, not 2/M
    return projection


def apply_z(matrix: np.ndarray, coefficients: np.ndarray) -> np.ndarray:
    """matrix @ coefficients along the z axis (-2) for complex coefficients, as one real matmul."""
    as_real = np.ascontiguousarray(coefficients).view(np.float64)  # (..., Nz, 2*Kx)
    return np.ascontiguousarray(np.matmul(matrix, as_real)).view(np.complex128)


@dataclass(frozen=True)
class Basis:
    """Modes and the dealiased grid that nonlinear products are evaluated on.

    Args:
        lx: domain length in x (the height is 1).
        n_x_modes: Fourier modes kept in x (m = 0..n_x_modes-1).
        n_z_modes: sine modes kept in z (n = 1..n_z_modes).
    The product grid has 3/2 as many points as modes in each direction (3 * n_x_modes in x, which
    holds both +k and -k, and 3/2 * n_z_modes + 1 in z): quadratic products then project back on the
    kept modes without aliasing.
    """

    lx: float
    n_x_modes: int
    n_z_modes: int

    @cached_property
    def kx(self) -> np.ndarray:
        """(Kx,) horizontal wavenumbers."""
        return 2 * np.pi * np.arange(self.n_x_modes) / self.lx

    @cached_property
    def kz(self) -> np.ndarray:
        """(Nz, 1) vertical wavenumbers n pi of the sine modes."""
        return (np.pi * np.arange(1, self.n_z_modes + 1))[:, None]

    @cached_property
    def laplacian(self) -> np.ndarray:
        """(Nz, Kx) a^2 = k^2 + (n pi)^2, minus the Laplacian's eigenvalue on each sine mode."""
        return self.kx[None, :] ** 2 + self.kz**2

    @property
    def n_x_points(self) -> int:
        return 3 * self.n_x_modes

    @property
    def n_z_points(self) -> int:
        return (3 * self.n_z_modes) // 2 + 1

    @cached_property
    def _sine_eval(self) -> np.ndarray:
        return sine_eval_matrix(self.n_z_modes, self.n_z_points)

    @cached_property
    def _cosine_eval(self) -> np.ndarray:
        return cosine_eval_matrix(self.n_z_modes + 1, self.n_z_points)

    @cached_property
    def _sine_projection(self) -> np.ndarray:
        return sine_projection_matrix(self.n_z_modes, self.n_z_points)

    def ddx(self, coefficients: np.ndarray) -> np.ndarray:
        """d/dx: multiply by i k (keeps the z basis)."""
        return 1j * self.kx * coefficients

    def ddz_of_sine(self, coefficients: np.ndarray) -> np.ndarray:
        """d/dz of a sine series, returned as cosine coefficients n = 0..Nz (n = 0 is zero)."""
        out = np.zeros(coefficients.shape[:-2] + (self.n_z_modes + 1, self.n_x_modes), complex)
        out[..., 1:, :] = self.kz * coefficients
        return out

    def sine_to_grid(
        self, coefficients: np.ndarray, n_x: int | None = None, n_z: int | None = None
    ) -> np.ndarray:
        """Evaluate sine series on a (n_z, n_x) grid (default: the product grid)."""
        matrix = self._sine_eval if n_z is None else sine_eval_matrix(self.n_z_modes, n_z)
        return self._x_to_grid(apply_z(matrix, coefficients), n_x)

    def cosine_to_grid(
        self, coefficients: np.ndarray, n_x: int | None = None, n_z: int | None = None
    ) -> np.ndarray:
        """Evaluate cosine series (modes 0..Nz) on a (n_z, n_x) grid (default: the product grid)."""
        n_modes = coefficients.shape[-2]
        matrix = self._cosine_eval[:, :n_modes] if n_z is None else cosine_eval_matrix(n_modes, n_z)
        return self._x_to_grid(apply_z(matrix, coefficients), n_x)

    def grid_to_sine(self, values: np.ndarray) -> np.ndarray:
        """Project product-grid values on the kept sine modes (drops what the modes cannot hold)."""
        return apply_z(self._sine_projection, self._x_to_modes(values))

    def grid_to_cosine(self, values: np.ndarray, n_modes: int) -> np.ndarray:
        """Project product-grid values on cosine modes 0..n_modes-1."""
        return apply_z(cosine_projection_matrix(n_modes, self.n_z_points), self._x_to_modes(values))

    def _x_to_grid(self, coefficients: np.ndarray, n_x: int | None) -> np.ndarray:
        n_x = self.n_x_points if n_x is None else n_x
        if n_x < 2 * self.n_x_modes - 1:
            raise ValueError(f"{n_x} x points cannot hold {self.n_x_modes} Fourier modes")
        return np.fft.irfft(coefficients, n=n_x, axis=-1) * n_x  # zero-pads the missing modes

    def _x_to_modes(self, values: np.ndarray) -> np.ndarray:
        n_x = values.shape[-1]
        return np.fft.rfft(values, axis=-1)[..., : self.n_x_modes] / n_x

    def mean_product(self, a: np.ndarray, b: np.ndarray) -> float:
        """Domain average of the product of two real fields given in the same (sine or cosine)
        basis.

        Parseval: the mean of sin^2 (or cos^2, n > 0) over z is 1/2, and the x-mean of a real
        field's product counts each m > 0 twice (it and its conjugate).
        """
        weights = np.full(a.shape[-1], 2.0)
        weights[0] = 1.0
        z_weights = np.full(a.shape[-2], 0.5)
        if a.shape[-2] == self.n_z_modes + 1:  # cosine basis: the n = 0 mode has mean cos^2 = 1
            z_weights[0] = 1.0
        return float(np.sum(z_weights[:, None] * weights * np.real(a * np.conj(b))))
