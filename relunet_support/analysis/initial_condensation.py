"""Initial condensation (Zhou et al., NeurIPS 2022): with small initial weights, the input weights of a
two-layer network gather on a few lines through the origin during the initial stage of training — at most
p lines for an activation of multiplicity p (tanh 1, x·tanh x 2, x²·tanh x 3). ReLU, not differentiable at 0,
has no multiplicity; what relunet measures for it is in docs/science.md §7b (2–4 lines on Zhou et al.'s
target, the heaviest along ±g; 2 on the odd data below).

Setting (notebook 06). Data: x_i uniform on [−1, 1]^d, y_i = Σ_k 3.5 sin(5 x_ik + 1) (Zhou et al.'s target;
the input range is relunet's choice) — on which M below is negative definite, so p = 2 forms one line — and
``odd_data``, the points mirrored through the origin with the odd target Σ_k 3.5 sin(5 x_ik), on which M has
the eigenvalues ±‖g‖ and p = 2 forms two (relunet's own example). Network f(x) = Σ_j a_j σ(w_j·x + b_j)
(α = 1), a_j ~ N(0, β₁²), (w_j, b_j) ~ N(0, β₂² I), i.e. κ = β₁β₂ and κ′ = β₁/β₂; plain gradient descent.

Why it happens. While the weights are small, e_i = f(x_i) − y_i ≈ −y_i and σ is its leading Taylor term
c·z^p, so the direction ω_j = (w_j, b_j) of a neuron moves by

    dω_j/dt = (a_j/n) Σ_i y_i σ′(ω_j·x̃_i) x̃_i ≈ p·c·(a_j/n) Σ_i y_i (ω_j·x̃_i)^(p−1) x̃_i,   x̃_i = (x_i, 1).

p = 1: a constant vector g = (1/n) Σ y_i x̃_i, so every ω_j moves along ±g: one line (``linear_direction``).
p = 2: dω_j/dt = 2a_j M ω_j with M = (1/n) Σ y_i x̃_i x̃_iᵀ, so ω_j turns toward the eigenvector of M's largest
eigenvalue when a_j > 0 and of its smallest when a_j < 0: at most two lines (``quadratic_directions``).
p = 3: a quadratic field on the sphere whose angular speed is ∝ a_j‖ω_j‖ — neurons that start small hardly
turn before the largest one leaves the small-weight regime.

The end of the initial stage is defined here as the last step at which the risk is still above
(1 − ``fraction``)·R(0) (default: 1 % of the risk fitted): up to then f is small and the directions follow
the field above. The step η only sets how finely GD resolves that stage, so ``run_initial_stage`` starts at
``learning_rate`` and divides it by 10 until the stage lasts at least ``min_steps`` steps.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from relunet_support import engine
from relunet_support.analysis.directions import Line, lines, unit_directions
from relunet_support.errors import invalid
from relunet_support.network import activations, model
from relunet_support.network.data import validate_arrays
from relunet_support.network.init import initial_parameters

ZHOU_ACTIVATIONS = ("tanh", "xtanh", "x2tanh", "relu")
ZHOU_DIMENSION = 5  # notebook 06's inputs: x_i in [−1, 1]^5


def zhou_data(n: int = 80, d: int = 5, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """(x, y): n points x_i uniform on [−1, 1]^d (seeded) and y_i = Σ_k 3.5 sin(5 x_ik + 1)."""
    for name, value in (("n", n), ("d", d)):
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
            raise invalid(name, value, "a positive integer")
    x = np.random.default_rng(seed).uniform(-1.0, 1.0, (n, d))
    return x, 3.5 * np.sin(5.0 * x + 1.0).sum(axis=1)


def odd_data(n: int = 80, d: int = 5, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """(x, y): n/2 points uniform on [−1, 1]^d (seeded) and their mirrors −x_i, with the odd target
    y_i = Σ_k 3.5 sin(5 x_ik), so y(−x) = −y(x). Then M = (1/n) Σ y_i x̃_i x̃_iᵀ = [[0, g], [gᵀ, 0]] with
    g = (1/n) Σ y_i x_i: eigenvalues ±‖g‖ (and 0), so under p = 2 the neurons with a_j > 0 and those with
    a_j < 0 both grow, along (g/‖g‖, ±1)/√2 — two lines."""
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 2 or n % 2:
        raise invalid("n", n, "an even integer ≥ 2 (half the points and their mirrors)")
    if isinstance(d, bool) or not isinstance(d, (int, np.integer)) or d < 1:
        raise invalid("d", d, "a positive integer")
    half = np.random.default_rng(seed).uniform(-1.0, 1.0, (n // 2, d))
    x = np.concatenate([half, -half])
    return x, 3.5 * np.sin(5.0 * x).sum(axis=1)


def _augmented(x: np.ndarray) -> np.ndarray:
    """x̃_i = (x_i, 1), shape (n, d + 1)."""
    x = np.asarray(x, dtype=np.float64)
    return np.column_stack([x.reshape(x.shape[0], -1), np.ones(x.shape[0])])


def linear_direction(x, y) -> np.ndarray:
    """The unit vector g/‖g‖, g = (1/n) Σ y_i x̃_i: the line every neuron moves along when p = 1."""
    g = _augmented(x).T @ np.asarray(y, dtype=np.float64) / len(y)
    return g / np.linalg.norm(g)


def moment_matrix(x, y) -> np.ndarray:
    """M = (1/n) Σ y_i x̃_i x̃_iᵀ, the field of the p = 2 directions: dω_j/dt ≈ 2a_j M ω_j."""
    tilde = _augmented(x)
    return (tilde * np.asarray(y, dtype=np.float64)[:, None]).T @ tilde / len(y)


def quadratic_spectrum(x, y) -> np.ndarray:
    """M's eigenvalues, ascending. A neuron with a_j > 0 grows along the top eigenvector only if the largest
    is > 0, one with a_j < 0 along the bottom one only if the smallest is < 0: the number of p = 2 lines that
    can form is the number of these signs present (Zhou et al.'s target: all < 0, one line)."""
    return np.linalg.eigvalsh(moment_matrix(x, y))


def quadratic_directions(x, y) -> tuple[np.ndarray, np.ndarray]:
    """(top, bottom): unit eigenvectors of M (``moment_matrix``) for its largest and smallest eigenvalue,
    where the neurons with a_j > 0 and a_j < 0 turn when p = 2."""
    _, vectors = np.linalg.eigh(moment_matrix(x, y))
    return vectors[:, -1], vectors[:, 0]


def end_of_initial_stage(
    a, w, b, x, y, activation: str, learning_rate: float, *, fraction: float = 0.01, max_steps: int = 1_000_000
) -> tuple[tuple[np.ndarray, np.ndarray, np.ndarray], int | None]:
    """GD from (a, w, b) (α = 1) to the last step k with R(θ_k) > (1 − fraction)·R(θ_0): returns (θ_k, k), or
    (θ at ``max_steps``, None) when the risk has not fallen by then. Steps are taken in chunks of ⌈k/50⌉,
    each chunk re-run one step at a time when the risk falls in it, so k is exact."""
    if not 0 < fraction < 1:
        raise invalid("fraction", fraction, "a number in (0, 1): the share of the initial risk fitted")

    def risk(state: tuple) -> float:
        with np.errstate(over="ignore", invalid="ignore"):  # a step too large diverges: NaN, η is then divided
            return float(model.risk(state[0], state[1], state[2], x, y, 1.0, activation=activation))

    dynamics = engine.Dynamics(x, y, 1.0, learning_rate, activation=activation)
    state, steps = (a, w, b), 0
    threshold = (1.0 - fraction) * risk(state)
    while steps < max_steps:
        chunk = min(max(1, steps // 50), max_steps - steps)
        advanced = engine.descend(*state, dynamics, chunk)
        if risk(advanced) > threshold:  # NaN (diverged) is not
            state, steps = advanced, steps + chunk
            continue
        for _ in range(chunk - 1):  # the risk fell within this chunk: find the step
            advanced = engine.descend(*state, dynamics, 1)
            if not risk(advanced) > threshold:
                break
            state, steps = advanced, steps + 1
        return state, steps
    return state, None


@dataclass(frozen=True)
class InitialStage:
    """One network at the end of its initial stage: the ``activation`` and its multiplicity, the ``seed`` of
    its initial draw, the ``learning_rate`` used and the number of ``steps`` the stage lasted (None: it had
    not ended after ``max_steps``), R(0) and R at the end, the parameters (a, w, b) then, and the condensed
    ``lines`` of all neurons' directions (``weighting='neurons'``) and of the amplitude (``'amplitude'``)."""

    activation: str
    multiplicity: int
    seed: int
    learning_rate: float
    steps: int | None
    initial_risk: float
    final_risk: float
    a: np.ndarray
    w: np.ndarray
    b: np.ndarray
    lines: list[Line]
    amplitude_lines: list[Line]


def run_initial_stage(
    x,
    y,
    activation: str,
    *,
    m: int,
    beta1: float,
    beta2: float,
    seed: int,
    learning_rate: float = 0.05,
    min_steps: int = 300,
    fraction: float = 0.01,
    max_steps: int = 1_000_000,
    alignment: float = 0.99,
) -> InitialStage:
    """Draw a Gaussian network (``initial_parameters``, ``seed``) and train it to the end of its initial stage,
    dividing η by 10 from ``learning_rate`` until the stage lasts at least ``min_steps`` steps (see the
    module's docstring); count its lines with ``directions.lines`` at ``alignment``."""
    kind = activations.get(activation)
    for name, value in (("beta1", beta1), ("beta2", beta2), ("learning_rate", learning_rate)):
        if not (isinstance(value, (int, float)) and np.isfinite(value) and value > 0):
            raise invalid(name, value, "a positive finite number")
    for name, value, least in (
        ("m", m, 1),
        ("seed", seed, 0),
        ("min_steps", min_steps, 0),
        ("max_steps", max_steps, 1),
    ):
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < least:
            raise invalid(name, value, f"an integer ≥ {least}")
    x, y = (np.ascontiguousarray(v) for v in validate_arrays(x, y))
    initial = initial_parameters(m, beta1, beta2, "gaussian", seed, dimension=1 if x.ndim == 1 else x.shape[1])
    with np.errstate(over="ignore", invalid="ignore"):
        initial_risk = float(model.risk(*initial, x, y, 1.0, activation=activation))
    if not np.isfinite(initial_risk):
        raise invalid("(beta1, beta2)", (beta1, beta2), "initial scales whose network has a finite risk on the data")
    rate = float(learning_rate)
    while True:
        (a, w, b), steps = end_of_initial_stage(
            *initial, x, y, activation, rate, fraction=fraction, max_steps=max_steps
        )
        if steps is None or steps >= min_steps or rate < 1e-12:
            break
        rate /= 10
    return InitialStage(
        activation=activation,
        multiplicity=kind.multiplicity,
        seed=seed,
        learning_rate=rate,
        steps=steps,
        initial_risk=initial_risk,
        final_risk=float(model.risk(a, w, b, x, y, 1.0, activation=activation)),
        a=a,
        w=w,
        b=b,
        lines=lines(a, w, b, alignment=alignment, mass=1.0, weighting="neurons"),
        amplitude_lines=lines(a, w, b, alignment=alignment),
    )


def initial_stages(x, y, activations, seeds, **options) -> dict[str, list[InitialStage]]:
    """``run_initial_stage`` for each activation and seed on the data (x, y): {activation: [stage per seed]};
    ``options`` are its keyword arguments (m, beta1, beta2, …)."""
    return {
        activation: [run_initial_stage(x, y, activation, seed=s, **options) for s in seeds]
        for activation in activations
    }


def line_order(stage_lines: list[Line], w, b) -> np.ndarray:
    """A permutation of the neurons for the heat map: the members of each line in turn (heaviest line first),
    those along its direction before those along the opposite one, each by |cos| with the line; then the
    neurons on no line."""
    unit, _ = unit_directions(w, b)
    placed: list[int] = []
    for line in stage_lines:
        cosines = unit[line.members] @ line.direction
        placed += [int(j) for j in line.members[np.lexsort((-np.abs(cosines), cosines < 0))]]
    rest = np.setdiff1d(np.arange(unit.shape[0]), placed)
    return np.concatenate([np.array(placed, dtype=np.int64), rest])
