"""Chebyshev collocation in z on [0, 1] for the no-slip solver: nodes, derivatives, quadrature.

Nodes are the Gauss-Lobatto points z_j = (1 - cos(pi j / N)) / 2, j = 0..N (z_0 = 0 the bottom wall,
z_N = 1 the top wall); a field is held by its values there, which define one polynomial of degree N.
Derivative matrices act on those values and are exact for that polynomial. Two boundary conditions
are built into the matrices that act on interior values only (the wall values are implied):
- Dirichlet (theta = 0 at both walls): the polynomial through the interior values and zeros;
- clamped (psi = dpsi/dz = 0 at both walls): psi = 4 z (1 - z) q(z), q the degree-N polynomial
  through q_j = psi_j / (4 z_j (1 - z_j)) inside and q = 0 on the walls, so psi has degree N + 2 and
  both of its boundary conditions hold exactly (Trefethen, Spectral Methods in MATLAB, ch. 14).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import numpy as np


def differentiation_matrix(n: int) -> np.ndarray:
    """(n+1, n+1) d/dx on x_j = cos(pi j / n), with the trig form of x_i - x_j and the negative-sum
    diagonal (Weideman & Reddy 2000) for accuracy at a few hundred points."""
    j = np.arange(n + 1)
    theta = np.pi * j / n
    # x_i - x_j = 2 sin((i + j) pi / 2n) sin((j - i) pi / 2n), without cancellation.
    dx = (
        2
        * np.sin((theta[:, None] + theta[None, :]) / 2)
        * np.sin((theta[None, :] - theta[:, None]) / 2)
    )
    c = np.where((j == 0) | (j == n), 2.0, 1.0) * (-1.0) ** j
    np.fill_diagonal(dx, 1.0)
    d = np.outer(c, 1 / c) / dx
    np.fill_diagonal(d, 0.0)
    np.fill_diagonal(d, -d.sum(axis=1))
    return d


def clenshaw_curtis_weights(n: int) -> np.ndarray:
    """(n+1,) quadrature weights on x_j = cos(pi j / n) for the integral over [-1, 1]."""
    theta = np.pi * np.arange(n + 1) / n
    w = np.zeros(n + 1)
    v = np.ones(n - 1)
    interior = slice(1, n)
    if n % 2 == 0:
        w[0] = w[n] = 1.0 / (n**2 - 1)
        for k in range(1, n // 2):
            v -= 2 * np.cos(2 * k * theta[interior]) / (4 * k**2 - 1)
        v -= np.cos(n * theta[interior]) / (n**2 - 1)
    else:
        w[0] = w[n] = 1.0 / n**2
        for k in range(1, (n - 1) // 2 + 1):
            v -= 2 * np.cos(2 * k * theta[interior]) / (4 * k**2 - 1)
    w[interior] = 2 * v / n
    return w


def interpolation_matrix(n: int, points: np.ndarray) -> np.ndarray:
    """(len(points), n+1): values at `points` (in z on [0, 1]) of the polynomial through the node
    values (barycentric formula for Chebyshev-Lobatto points)."""
    x_nodes = np.cos(np.pi * np.arange(n + 1) / n)
    x = 1.0 - 2.0 * np.asarray(points, dtype=np.float64)
    weights = (-1.0) ** np.arange(n + 1)
    weights[[0, -1]] *= 0.5
    diff = x[:, None] - x_nodes[None, :]
    exact = np.isclose(diff, 0.0, atol=1e-14)
    diff[exact] = 1.0
    terms = weights / diff
    matrix = terms / terms.sum(axis=1, keepdims=True)
    rows = exact.any(axis=1)
    matrix[rows] = exact[rows].astype(np.float64)
    return matrix


@dataclass(frozen=True)
class ChebyshevZ:
    """Collocation operators on the N + 1 Gauss-Lobatto nodes of [0, 1] (see the module docstring).

    Full matrices map all N + 1 node values to all nodes; `*_dirichlet` and `*_clamped` map the
    N - 1 interior values (walls implied by the boundary condition) to all N + 1 nodes.
    """

    n: int  # polynomial degree N

    @cached_property
    def z(self) -> np.ndarray:
        """(N+1,) nodes, ascending from the bottom wall z = 0 to the top wall z = 1."""
        return (1.0 - np.cos(np.pi * np.arange(self.n + 1) / self.n)) / 2

    @cached_property
    def _x(self) -> np.ndarray:
        return np.cos(np.pi * np.arange(self.n + 1) / self.n)

    @cached_property
    def d1(self) -> np.ndarray:
        """(N+1, N+1) d/dz (z = (1 - x) / 2, so d/dz = -2 d/dx)."""
        return -2.0 * differentiation_matrix(self.n)

    @cached_property
    def d2(self) -> np.ndarray:
        d2 = self.d1 @ self.d1
        np.fill_diagonal(d2, 0.0)
        np.fill_diagonal(d2, -d2.sum(axis=1))  # second derivative of a constant is zero
        return d2

    @cached_property
    def weights(self) -> np.ndarray:
        """(N+1,) quadrature weights of the integral over z in [0, 1] (Clenshaw-Curtis)."""
        return 0.5 * clenshaw_curtis_weights(self.n)

    @cached_property
    def spacing(self) -> np.ndarray:
        """(N+1,) local grid spacing at each node: half the distance between its neighbours."""
        z = self.z
        gaps = np.diff(z)
        spacing = np.empty_like(z)
        spacing[1:-1] = 0.5 * (gaps[:-1] + gaps[1:])
        spacing[0], spacing[-1] = gaps[0], gaps[-1]
        return spacing

    # --- Dirichlet (f = 0 at both walls) ------------------------------------------------------
    @cached_property
    def d1_dirichlet(self) -> np.ndarray:
        """(N+1, N-1) d/dz of the Dirichlet polynomial given by its interior values."""
        return self.d1[:, 1:-1]

    @cached_property
    def d2_dirichlet(self) -> np.ndarray:
        """(N+1, N-1) d2/dz2 of the Dirichlet polynomial given by its interior values."""
        return self.d2[:, 1:-1]

    # --- clamped (f = df/dz = 0 at both walls) ------------------------------------------------
    @cached_property
    def _clamped(self) -> tuple[np.ndarray, ...]:
        """(N+1, N-1) d^m/dz^m, m = 1..4, of psi = g(z) q(z), g = 4 z (1 - z), from interior psi.

        Leibniz with g' = 4 - 8 z, g'' = -8 and g''' = 0:
            psi^(m) = g q^(m) + m g' q^(m-1) + m (m - 1) / 2 g'' q^(m-2)
        """
        z = self.z
        g = 4 * z * (1 - z)
        dg = 4 - 8 * z
        ddg = -8.0
        powers = [np.eye(self.n + 1)]
        for _ in range(4):
            powers.append(self.d1 @ powers[-1])
        to_q = np.zeros((self.n + 1, self.n - 1))  # interior psi -> q at all nodes (0 at the walls)
        to_q[1:-1] = np.diag(1.0 / g[1:-1])
        out = []
        for m in range(1, 5):
            op = g[:, None] * powers[m] + m * dg[:, None] * powers[m - 1]
            if m >= 2:
                op = op + (m * (m - 1) / 2) * ddg * powers[m - 2]
            out.append(op @ to_q)
        return tuple(out)

    @property
    def d1_clamped(self) -> np.ndarray:
        return self._clamped[0]

    @property
    def d2_clamped(self) -> np.ndarray:
        return self._clamped[1]

    @property
    def d4_clamped(self) -> np.ndarray:
        return self._clamped[3]

    def clamped_interpolation(self, points: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """((P, N-1), (P, N-1)): psi and dpsi/dz at `points` from interior psi, exact (degree N +
        2)."""
        points = np.asarray(points, dtype=np.float64)
        at = interpolation_matrix(self.n, points)
        g = 4 * points * (1 - points)
        dg = 4 - 8 * points
        to_q = np.zeros((self.n + 1, self.n - 1))
        to_q[1:-1] = np.diag(1.0 / (4 * self.z[1:-1] * (1 - self.z[1:-1])))
        q = at @ to_q
        dq = at @ self.d1 @ to_q
        return g[:, None] * q, g[:, None] * dq + dg[:, None] * q
