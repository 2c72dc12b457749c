"""Luo et al. (2021) phase diagram, measured: the relative distance of the input weights at the end of
training, RD(θ_w*) = ‖θ_w* − θ_w(0)‖/‖θ_w(0)‖ with θ_w = all (w_j, b_j), and its slope over widths

    S_w = lim log RD(θ_w*) / log m      (S_w < 0: linear regime, S_w > 0: condensed).

The paper's setup: 4 points x = (−1/2, −1/6, 1/6, 1/2), y = x²; anti-symmetric initialisation with the
paper's width convention (m drawn neurons (a, w, b) plus their m twins (−a, w, b): 2m neurons, f₀ ≡ 0,
and α, β₁, β₂ computed from m); gradient descent until the risk is below a tolerance.

Theory for S_w (derived in docs/science.md §2):

- ``theory_slope``: the exponent as m → ∞. Linear regime (features frozen, f follows its tangent kernel):
  γ − 1 for γ′ ≤ 0; γ − 1 − 2γ′ for γ′ > 0, γ ≤ 1; 2(γ − 1 − γ′) for γ′ > γ − 1 > 0 (there the a_j grow far
  past their initial scale and carry the input weights with them). Condensed regime: (γ − 1 − γ′)/2 when
  γ + γ′ > 1 (from RD_w² ≈ α·P/(4m), P the path norm of the learned function), γ − 1 when γ + γ′ ≤ 1.
- ``predicted_distance`` / ``predicted_slope``: the linear regime at finite m, from the m → ∞ dynamics of
  the frozen-feature model (tangent kernel plus the growth of the a_j). On Luo et al.'s data the slope over
  the paper's widths is far from the m → ∞ exponent when γ′ > 0, because the feature kernel is nearly
  singular (eigenvalue 1.0e-3 against 2.0) and the input-weight part β₁²·K_u, which vanishes like m^−2γ′,
  decides the fit along that direction until m is astronomically large.
"""

from __future__ import annotations

import dataclasses
import functools
import math
import warnings

import numpy as np

from relunet_support import engine
from relunet_support.analysis import diagnostics
from relunet_support.analysis.escapes import fit_line
from relunet_support.errors import invalid
from relunet_support.network import data, init, scaling
from relunet_support.network.scaling import regime

# reduced defaults (quick) and the paper-sized preset (the paper's range of widths and γ′; its exact
# list of widths is not known to us)
REDUCED = {
    "widths": (200, 400, 800, 1600),
    "gammas": (0.5, 1.0, 1.75),
    "gamma_primes": (-0.4, 0.0, 0.4),
    "crossing_gammas": (0.7, 1.0, 1.3, 1.6),
    "crossing_widths": (200, 800),
    "tol": 1e-6,
}
PAPER = {
    "widths": (100, 200, 400, 800, 1600, 3200, 6400),
    "gammas": (0.5, 1.0, 1.75),
    "gamma_primes": (-0.4, -0.3, -0.2, -0.1, 0.0, 0.1, 0.2, 0.3, 0.4),
    "crossing_gammas": (0.6, 0.8, 1.0, 1.2, 1.4, 1.6, 1.8),
    "crossing_widths": (100, 400, 1600),
    "tol": 1e-6,
}


def theory_slope(gamma: float, gamma_prime: float) -> float:
    """The derived exponent S_w = lim_{m→∞} log RD(θ_w*)/log m for (γ, γ′) (see the module docstring)."""
    if gamma > 1 and gamma_prime < gamma - 1:  # condensed
        return (gamma - 1 - gamma_prime) / 2 if gamma + gamma_prime > 1 else gamma - 1
    if gamma_prime <= 0:
        return gamma - 1
    if gamma <= 1:
        return gamma - 1 - 2 * gamma_prime
    return 2 * (gamma - 1 - gamma_prime)


@functools.lru_cache(maxsize=8)
def _feature_moments(x_bytes: bytes) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Gaussian moments of the frozen features over u = (w, b) ~ N(0, I₂), with x̃_i = (x_i, 1):

        K_a[i,k] = E[σ(u·x̃_i) σ(u·x̃_k)],   K_u[i,k] = x̃_i·x̃_k · P(u·x̃_i > 0, u·x̃_k > 0),
        T[k,l,i,j] = x̃_i·x̃_j · E[σ(u·x̃_k) σ(u·x̃_l) 1[u·x̃_i > 0] 1[u·x̃_j > 0]].

    u = r·(cos ψ, sin ψ) with E r² = 2 and ψ uniform. The integrands are smooth between the 2n angles where
    u ⟂ x̃_i, so the ψ integral is Gauss–Legendre with 32 nodes on each of those arcs (exact to rounding).
    """
    x = np.frombuffer(x_bytes, dtype=np.float64)
    inputs = np.stack([x, np.ones_like(x)], axis=1)
    directions = np.arctan2(inputs[:, 1], inputs[:, 0])
    edges = np.sort(np.concatenate([directions + np.pi / 2, directions - np.pi / 2]) % (2 * np.pi))
    edges = np.append(edges, edges[0] + 2 * np.pi)
    nodes, node_weights = np.polynomial.legendre.leggauss(32)
    half_widths, centres = np.diff(edges) / 2, (edges[1:] + edges[:-1]) / 2
    angles = (centres[:, None] + half_widths[:, None] * nodes).ravel()
    weights = (half_widths[:, None] * node_weights).ravel() / (2 * np.pi)  # the uniform measure of ψ
    projections = inputs @ np.stack([np.cos(angles), np.sin(angles)])
    features, active = np.maximum(projections, 0.0), (projections > 0).astype(float)
    gram = inputs @ inputs.T
    feature_kernel = 2 * (features * weights) @ features.T
    weight_kernel = gram * ((active * weights) @ active.T)
    growth_tensor = 2 * np.einsum("kp,lp,ip,jp,p->klij", features, features, active, active, weights) * gram
    return feature_kernel, weight_kernel, growth_tensor


def predicted_distance(gamma: float, gamma_prime: float, m: int) -> float:
    """RD(θ_w*) of the linear regime at width m (2m neurons, anti-symmetric start), derived for m → ∞ with
    the features σ(u_j·x̃_i) frozen at their initial values.

    With ρ = (y − f)/n and v(t) = ∫₀ᵗ ρ, gradient flow gives a_j(t) = a_j(0) + φ_j·v/α and
    dρ/dt = −G(v)ρ/n, where G(v) = (2m/α²)·(K_a + β₁²K_u + T[v, v]/α²) (``_feature_moments``). Each input weight
    moves by Δu_j = (1/α)∫ a_j Σ_i ρ_i x̃_i 1[u_j·x̃_i > 0] dt; the twins' initial a_j cancel in the cross term, so

        RD² = (β₁²·vᵀK_u v + Σ Q_ki Q_lj T[k,l,i,j]/α²) / (2α²),   v = v(∞),  Q_ki = ∫₀^∞ v_k ρ_i dt.

    The first term is the lazy (tangent-kernel) change, the second the change carried by the grown a_j.
    Valid while RD ≪ 1 (the linear regime); the ODE is integrated until ‖ρ‖ < 1e-12·‖y‖/n.
    """
    from scipy.integrate import solve_ivp

    x, y = data.load("luo2021")
    n = len(x)
    feature_kernel, weight_kernel, growth_tensor = _feature_moments(np.ascontiguousarray(x, dtype=float).tobytes())
    alpha, beta1, _ = scaling.alpha_beta(m, gamma, gamma_prime)
    scale = 2 * m / alpha**2

    def kernel(v: np.ndarray) -> np.ndarray:
        return scale * (
            feature_kernel + beta1**2 * weight_kernel + np.einsum("k,l,klij->ij", v, v, growth_tensor) / alpha**2
        )

    def rates(_t: float, state: np.ndarray) -> np.ndarray:
        v, rho = state[:n], state[n : 2 * n]
        return np.concatenate([rho, -kernel(v) @ rho / n, np.outer(v, rho).ravel()])

    state = np.concatenate([np.zeros(n), y / n, np.zeros(n * n)])
    horizon = n / np.linalg.eigvalsh(kernel(np.zeros(n)))[0]  # the slowest initial time scale
    for _ in range(40):
        state = solve_ivp(rates, (0.0, 20 * horizon), state, method="LSODA", rtol=1e-10, atol=1e-15).y[:, -1]
        if np.linalg.norm(state[n : 2 * n]) < 1e-12 * np.linalg.norm(y) / n:
            break
    else:
        raise RuntimeError(
            f"the frozen-feature dynamics did not converge at (γ, γ′, m) = ({gamma}, {gamma_prime}, {m})"
        )
    v, transfer = state[:n], state[2 * n :].reshape(n, n)
    lazy = beta1**2 * v @ weight_kernel @ v
    grown = np.einsum("ki,lj,klij->", transfer, transfer, growth_tensor) / alpha**2
    return float(np.sqrt((lazy + grown) / (2 * alpha**2)))


def _checked_widths(widths) -> np.ndarray:
    """``widths`` as an int array: at least two distinct positive integers, else a ConfigError naming them."""
    try:
        values = [int(v) for v in widths if not isinstance(v, bool) and float(v).is_integer() and v >= 1]
        valid = len(values) == len(widths) and len(set(values)) >= 2
    except (TypeError, ValueError):
        valid = False
    if not valid:
        raise invalid("widths", widths, "at least two distinct positive integers (widths m to fit a slope over)")
    return np.array(values)


def predicted_slope(gamma: float, gamma_prime: float, widths, seeds=None) -> float:
    """The S_w to expect from a fit over ``widths``: in the linear regime the log-log slope of
    ``predicted_distance`` over those widths — or, given ``seeds`` and γ < 1, the mean over those seeds of the
    slope of ``linearised_distance`` (the finite-m tangent kernel of the networks actually drawn); elsewhere the
    m → ∞ exponent ``theory_slope``."""
    widths = _checked_widths(widths)
    if regime(gamma, gamma_prime) != "linear":
        return theory_slope(gamma, gamma_prime)
    log_widths = np.log(np.asarray(widths, dtype=float))
    if seeds is not None and gamma < 1:
        return float(
            np.mean(
                [
                    fit_line(log_widths, np.log([linearised_distance(gamma, gamma_prime, m, s) for m in widths])).slope
                    for s in seeds
                ]
            )
        )
    distances = [predicted_distance(gamma, gamma_prime, m) for m in widths]
    return fit_line(log_widths, np.log(distances)).slope


def _drawn_linearisation(gamma: float, gamma_prime: float, m: int, seed: int):
    """The network ``trained_network`` draws, linearised at θ₀: (w, b, J_a, J_w, J_b, y) with the Jacobians of
    f on the data, ∂f/∂a_j = σ(z_ij)/α and ∂f/∂(w_j, b_j) = a_j 1[z_ij > 0] (x_i, 1)/α."""
    alpha, beta1, beta2 = scaling.alpha_beta(m, gamma, gamma_prime)
    x, y = data.load("luo2021")
    a, w, b = init.initial_parameters(2 * m, beta1, beta2, "antisymmetric", np.random.default_rng(seed))
    pre = np.outer(x, w) + b
    active = (pre > 0).astype(float)
    return w, b, np.maximum(pre, 0.0) / alpha, a * active * x[:, None] / alpha, a * active / alpha, y


def linearised_distance(gamma: float, gamma_prime: float, m: int, seed: int = 0) -> float:
    """RD(θ_w*) of the network ``trained_network`` draws (same m, seed), trained as its linearisation: with
    f₀ ≡ 0 (anti-symmetric start) and J the n × P Jacobian of f at θ₀, gradient flow on the linear model ends at
    the minimum-norm change Δθ = Jᵀ (J Jᵀ)⁻¹ y. RD = ‖Δθ_w‖/‖θ_w(0)‖. This is the finite-m kernel of the drawn
    network, where ``predicted_distance`` takes its m → ∞ mean; it leaves out the activation patterns that
    GD changes (kinks crossing data points) and the growth of the a_j."""
    w, b, jacobian_a, jacobian_w, jacobian_b, y = _drawn_linearisation(gamma, gamma_prime, m, seed)
    kernel = jacobian_a @ jacobian_a.T + jacobian_w @ jacobian_w.T + jacobian_b @ jacobian_b.T
    dual = np.linalg.solve(kernel, y)
    moved = np.concatenate([jacobian_w.T @ dual, jacobian_b.T @ dual])
    return float(np.linalg.norm(moved) / np.linalg.norm(np.concatenate([w, b])))


def output_weight_share(gamma: float, gamma_prime: float, m: int, seed: int = 0) -> float:
    """x = the part of the linearised fit the output weights carry over the part the input weights carry,
    ⟨c, K_a c⟩/⟨c, K_w c⟩ with c = K⁻¹y and K = K_a + K_w the tangent kernel's two parts at θ₀ (∝ m^(2γ′) for
    γ′ < 0). If RD_w ≈ RD_∞/(1 + x(m)) on the critical line, its slope over widths is that of −ln(1 + x);
    measured in bench/phase.md, with x taken at θ₀ this falls well short of the measured slopes."""
    _, _, jacobian_a, jacobian_w, jacobian_b, y = _drawn_linearisation(gamma, gamma_prime, m, seed)
    output_part = jacobian_a @ jacobian_a.T
    input_part = jacobian_w @ jacobian_w.T + jacobian_b @ jacobian_b.T
    dual = np.linalg.solve(output_part + input_part, y)
    return float(dual @ output_part @ dual / (dual @ input_part @ dual))


def paper_estimate(gamma: float, gamma_prime: float) -> float:
    """The exponent from Luo et al.'s estimates (what relunet used before the derivation): the condensed values
    of ``theory_slope``, and γ − 1 − max(γ′, 0) in the linear regime — for γ′ > 0 the exponent of an upper bound
    on RD, not of the measured slope."""
    if regime(gamma, gamma_prime) == "condensed":
        return theory_slope(gamma, gamma_prime)
    return gamma - 1 - max(gamma_prime, 0.0)


def theory_crossing(gamma_prime: float) -> float:
    """γ where the derived S_w changes sign: 1 for γ′ ≤ 0, 1 + γ′ for γ′ > 0."""
    return 1.0 + max(gamma_prime, 0.0)


@dataclasses.dataclass(frozen=True)
class TrainedNetwork:
    """A network of Luo et al.'s setup before and after GD: (a, w, b) at the start and at the end, and α."""

    alpha: float
    initial: tuple[np.ndarray, np.ndarray, np.ndarray]
    final: tuple[np.ndarray, np.ndarray, np.ndarray]

    def relative_distance(self) -> float:
        """RD(θ_w*) = ‖θ_w* − θ_w(0)‖/‖θ_w(0)‖, θ_w = all (w_j, b_j)."""
        return diagnostics.relative_distance(self.final[1:], self.initial[1:])


def trained_network(
    gamma: float,
    gamma_prime: float,
    m: int,
    seed: int = 0,
    tol: float = 1e-5,
    max_steps: int = 3_000_000,
    chunk: int = 2000,
) -> TrainedNetwork:
    """GD on Luo et al.'s setup until the risk is below ``tol`` (see the module docstring).

    m counts width as the paper does (2m neurons). The step is half the stability limit,
    η = ½·stability_limit(m, γ, γ′)·α_m. Warns when the tolerance is not reached within ``max_steps``.
    """
    alpha, beta1, beta2 = scaling.alpha_beta(m, gamma, gamma_prime)
    x, y = data.load("luo2021")
    a, w, b = init.initial_parameters(2 * m, beta1, beta2, "antisymmetric", np.random.default_rng(seed))
    initial = (a.copy(), w.copy(), b.copy())
    eta = 0.5 * scaling.stability_limit(m, gamma, gamma_prime) * alpha
    done_steps, risk = 0, math.inf
    while done_steps < max_steps:
        advanced = engine.advance(
            a, w, b, engine.Dynamics(x, y, alpha, eta), n_steps=chunk, record_offsets=np.array([chunk])
        )
        done_steps += advanced.steps
        status, records = advanced.status, advanced.records
        if status == engine.STATUS_DIVERGED:
            raise FloatingPointError(
                f"GD diverged at (γ, γ′, m) = ({gamma}, {gamma_prime}, {m}) with η/α = {eta / alpha:.3g}"
            )
        if status == engine.STATUS_DEAD:
            raise RuntimeError(f"every neuron died at (γ, γ′, m) = ({gamma}, {gamma_prime}, {m})")
        risk = float(records["risk"][-1])
        if risk < tol:
            break
    else:
        warnings.warn(
            f"(γ, γ′, m) = ({gamma}, {gamma_prime}, {m}): risk {risk:.3g} still above tol {tol:g} after "
            f"{done_steps} steps",
            RuntimeWarning,
            stacklevel=3,
        )
    return TrainedNetwork(alpha, initial, (a, w, b))


def final_relative_distance(gamma: float, gamma_prime: float, m: int, seed: int = 0, tol: float = 1e-5) -> float:
    """RD(θ_w*) of ``trained_network`` (``TrainedNetwork.relative_distance``)."""
    return trained_network(gamma, gamma_prime, m, seed, tol).relative_distance()


def slope_over_widths(gamma: float, gamma_prime: float, widths, seed: int = 0, tol: float = 1e-5):
    """(RD per width, fitted S_w) — the log-log slope of RD(θ_w*) against m."""
    widths = _checked_widths(widths)
    distances = np.array([final_relative_distance(gamma, gamma_prime, m, seed, tol) for m in widths])
    return distances, fit_line(np.log(widths), np.log(distances)).slope


def zero_crossing(gammas, slopes) -> float:
    """γ where S_w(γ) changes sign, by linear interpolation between neighbouring γ (nan if it does not)."""
    gammas, slopes = np.asarray(gammas, dtype=float), np.asarray(slopes, dtype=float)
    for i in range(len(gammas) - 1):
        if slopes[i] == 0:
            return float(gammas[i])
        if slopes[i] * slopes[i + 1] < 0:
            return float(gammas[i] - slopes[i] * (gammas[i + 1] - gammas[i]) / (slopes[i + 1] - slopes[i]))
    return float("nan")
