"""``TrainConfig``: everything that determines a training run, frozen and validated at construction."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from pathlib import Path

import numpy as np

from relunet_support.backends import BACKENDS, check_backend
from relunet_support.engine.dynamics import Dynamics
from relunet_support.errors import ConfigError, invalid
from relunet_support.network import activations, data, init, scaling
from relunet_support.runs import schedule

EXACT_FLOATS = 2**53  # every integer below it is exact as a float64; above it, floats skip integers


def _as_int(name: str, value, allowed: str, minimum: int, maximum: int | None = None) -> int:
    """``value`` as an exact integer in [minimum, maximum], else a ConfigError naming it: an int of any size
    (Python or numpy), a text of one ('800'), or a float or number text that is an integer below 2**53
    (800.0, '8e2'); a larger float is not exact (1e23 is 99999999999999991611392), so it is refused."""
    number = value
    if isinstance(value, str):
        if not data.is_number_text(value):  # int() reads '1_0' as 10
            raise invalid(name, value, allowed)
        try:
            number = int(value)
        except ValueError:
            try:
                number = Decimal(value)  # exactly the number written: '1.00000000000000001' is no integer
            except InvalidOperation:
                raise invalid(name, value, allowed) from None
    elif isinstance(value, (float, np.floating)):
        number = Decimal(float(value))  # exact
    if isinstance(number, (bool, np.bool_)) or not isinstance(number, (int, np.integer, Decimal)):
        raise invalid(name, value, allowed)
    if isinstance(number, Decimal) and (not number.is_finite() or number != number.to_integral_value()):
        raise invalid(name, value, allowed)
    if number < minimum or (maximum is not None and number > maximum):
        raise invalid(name, value, allowed)
    if isinstance(number, Decimal) and abs(number) >= EXACT_FLOATS:
        raise invalid(name, value, f"{allowed}, given as an integer (digits): a float this large is not exact")
    return int(number)


def _as_float(name: str, value, allowed: str, positive: bool = False) -> float:
    """``value`` as a finite float (> 0 when ``positive``), else a ConfigError naming it."""
    if isinstance(value, bool) or (isinstance(value, str) and not data.is_number_text(value)):
        raise invalid(name, value, allowed)  # float() reads '1_0' as 10 and '١' as 1
    try:
        as_float = float(value)
    except (TypeError, ValueError):
        raise invalid(name, value, allowed) from None
    except OverflowError:  # an integer beyond the largest float (about 1.8e308)
        digits = len(str(abs(int(value))))
        raise invalid(name, f"an integer of {digits} digits", allowed + " (at most about 1.8e308)") from None
    if not math.isfinite(as_float) or (positive and as_float <= 0):
        raise invalid(name, value, allowed)
    return as_float


# Fields added to TrainConfig after run stores existed: left out of the digest (and so of the run id) while they
# hold their default. A new field goes here; it must default to what runs did before it existed.
ADDED_FIELDS: tuple[str, ...] = ("activation", "beta2")


# The fields that choose what is recorded, or which machine computes the step, and not the trajectory: changing
# one leaves every trained parameter as it is (backend: to rounding). Every other field changes the numbers GD
# computes — through the initial parameters (m, γ, γ′, init, seed, β₂), the step (``dynamics()``: data, α, η,
# activation) or its length (n_steps). tests/test_dynamics.py walks the fields and holds each to its side.
BOOKKEEPING_FIELDS: dict[str, str] = {
    "n_records": "how many steps are recorded",
    "n_snapshots": "how many steps are snapshotted (the compiled loop restarts there: the same numbers to rounding)",
    "record_every": "which steps are recorded",
    "snapshot_every": "which steps are snapshotted (as n_snapshots)",
    "interval": "where the recorded extremes of f are taken",
    "backend": "which machine computes the same step (the same numbers to rounding)",
}


def config_digest(values: dict) -> str:
    """sha256 of a config dict as JSON (sorted keys; floats as exact reprs): what ``config_sha256`` stores."""
    text = json.dumps(values, sort_keys=True, default=repr)
    return hashlib.sha256(text.encode()).hexdigest()


def format_number(value: float) -> str:
    """Shortest exact text for a number: 70.0 → '70', 0.001 → '0.001', 1e-07 → '1e-07' (never truncated)."""
    value = float(value)
    return str(int(value)) if value.is_integer() and abs(value) < 1e16 else repr(value)


def _schema(kind: str, help: str, choices: tuple = ()) -> dict:
    """A TrainConfig field's metadata: ``kind`` ('int', 'float', 'text', 'numbers': a list of numbers),
    its help text and the allowed texts (``choices``). A field whose default is None may be None."""
    return {"relunet": {"kind": kind, "help": help, "choices": tuple(choices)}}


@dataclass(frozen=True)
class TrainConfig:
    """One gradient-descent run of f(x) = (1/α) Σ_j a_j σ(w_j·x + b_j) with α = m^(γ−γ′)·β₂².

    m: width; learning_rate: η; n_steps: number of GD steps; gamma, gamma_prime: (γ, γ′);
    init: 'gaussian' | 'symmetric' | 'antisymmetric'; seed: for numpy.random.default_rng;
    dataset: 'seed' | 'luo2021' | 'custom' (then x, y) | a .csv or .npz file (read once: its x and y
    are stored in the config); x: n numbers, or n rows of d numbers; n_records / record_every: schedule
    of risk and exact extremes on ``interval``; n_snapshots / snapshot_every: schedule of parameter
    snapshots; backend: 'numba' | 'numpy' | 'cuda' (an NVIDIA GPU; float64 throughout); activation: σ
    (``network/activations.py``); beta2: β₂, the initial scale of the input weights.
    """

    m: int = field(metadata=_schema("int", "width: the number of hidden neurons"))
    learning_rate: float = field(metadata=_schema("float", "GD step size η (stable for η/α ≲ 2 at γ = 3/2)"))
    n_steps: int = field(metadata=_schema("int", "number of GD steps"))
    gamma: float = field(default=1.5, metadata=_schema("float", "γ: κ = β₁β₂/α = m^−γ, with α = m^(γ−γ′)"))
    gamma_prime: float = field(default=0.0, metadata=_schema("float", "γ′: κ′ = β₁/β₂ = m^−γ′"))
    init: str = field(
        default="symmetric",
        metadata=_schema(
            "text",
            "initial parameters: gaussian, or each neuron paired with (a, −w, b) — symmetric (f even) — "
            "or with (−a, −w, b) — antisymmetric (f = 0 at the start)",
            choices=init.INIT_KINDS,
        ),
    )
    seed: int = field(default=0, metadata=_schema("int", "seed of the initial parameters' RNG"))
    dataset: str = field(
        default="seed",
        metadata=_schema(
            "text",
            "training data: seed (the seed notebook's 4 points), luo2021 (y = x²), custom (then x and y), or "
            "a .csv file (a header naming the columns, one of them y) or .npz file (arrays x and y)",
            choices=(*data.DATASETS, data.CUSTOM, "FILE.csv", "FILE.npz"),
        ),
    )
    x: tuple | None = field(
        default=None,
        metadata=_schema(
            "numbers", "inputs of dataset=custom: n numbers (d = 1); n rows of d numbers from Python or a study file"
        ),
    )
    y: tuple[float, ...] | None = field(default=None, metadata=_schema("numbers", "targets of dataset=custom"))
    n_records: int = field(
        default=10_000,
        metadata=_schema(
            "int", "record points (risk, exact min/max of f, relative distances), half log-spaced, half uniform"
        ),
    )
    n_snapshots: int = field(
        default=1_000, metadata=_schema("int", "parameter snapshots, half log-spaced, half uniform")
    )
    record_every: int | None = field(
        default=None, metadata=_schema("int", "also record every this many steps (none: the n_records schedule only)")
    )
    snapshot_every: int | None = field(
        default=None,
        metadata=_schema("int", "also snapshot every this many steps (none: the n_snapshots schedule only)"),
    )
    interval: tuple[float, float] = field(
        default=(-0.5, 0.5), metadata=_schema("numbers", "lo hi: the interval of the exact min and max of f")
    )
    backend: str = field(
        default="numba",
        metadata=_schema("text", "numba (CPU), numpy (the readable reference), cuda (an NVIDIA GPU)", choices=BACKENDS),
    )
    activation: str = field(
        default="relu",
        metadata=_schema(
            "text",
            "the hidden activation σ: leaky_relu has slope 0.01 below 0, xtanh is x·tanh x, x2tanh x²·tanh x",
            choices=tuple(activations.ACTIVATIONS),
        ),
    )
    beta2: float = field(
        default=1.0,
        metadata=_schema(
            "float", "β₂: initial scale of the input weights, w, b ~ N(0, β₂²); β₁ = m^−γ′·β₂ and α = m^(γ−γ′)·β₂²"
        ),
    )

    def __post_init__(self) -> None:
        set_ = lambda name, value: object.__setattr__(self, name, value)  # noqa: E731 (frozen dataclass)
        set_("m", _as_int("m", self.m, "a positive integer (the number of hidden neurons)", 1))
        set_("learning_rate", _as_float("learning_rate", self.learning_rate, "a finite number > 0", positive=True))
        set_("n_steps", _as_int("n_steps", self.n_steps, "an integer ≥ 1 and ≤ 2**53", 1, EXACT_FLOATS))
        set_("gamma", _as_float("gamma", self.gamma, "a finite real number"))
        set_("gamma_prime", _as_float("gamma_prime", self.gamma_prime, "a finite real number"))
        init.check_kind(self.init, self.m)
        seed_allowed = "an integer in 0 … 2**128 − 1 (numpy.random.default_rng's seed; it is part of the run id)"
        set_("seed", _as_int("seed", self.seed, seed_allowed, 0, 2**128 - 1))
        if data.is_file_name(self.dataset) and (self.x is not None or self.y is not None):
            raise invalid("dataset", self.dataset, "a data file, or 'custom' with x and y — not a file and x, y both")
        x_arr, y_arr = data.load(self.dataset, self.x, self.y)  # a data file is read here, once
        if data.is_file_name(self.dataset):  # however its path is spelled: the same run; the file may change
            set_("dataset", data.READ_FILE + Path(self.dataset).name)
        if self.dataset not in data.DATASETS:  # custom data and a file's numbers live in the config
            set_("x", tuple(x_arr.tolist()) if x_arr.ndim == 1 else tuple(map(tuple, x_arr.tolist())))
            set_("y", tuple(float(v) for v in y_arr))
        for name in ("n_records", "n_snapshots"):
            set_(name, _as_int(name, getattr(self, name), "an integer ≥ 2 (first and last steps are always kept)", 2))
        for name in ("record_every", "snapshot_every"):
            if getattr(self, name) is not None:
                set_(name, _as_int(name, getattr(self, name), "None or a positive integer number of steps", 1))
        try:
            lo, hi = (float(v) for v in self.interval)
        except (TypeError, ValueError):
            raise invalid("interval", self.interval, "a pair (lo, hi) of finite numbers with lo < hi") from None
        if not (math.isfinite(lo) and math.isfinite(hi) and lo < hi):
            raise invalid("interval", self.interval, "a pair (lo, hi) of finite numbers with lo < hi")
        set_("interval", (lo, hi))
        check_backend(self.backend)
        activations.get(self.activation)
        set_(
            "beta2",
            _as_float(
                "beta2", self.beta2, "a finite number > 0 (the initial scale of the input weights)", positive=True
            ),
        )
        scaling.alpha_beta(
            self.m, self.gamma, self.gamma_prime, self.beta2
        )  # a ConfigError where a scale is out of range

    @classmethod
    def from_normalised(cls, m: int, normalised_learning_rate: float, n_steps: int, **options) -> TrainConfig:
        """A run specified by η/α instead of η: learning_rate = normalised_learning_rate · α_m."""
        eta0 = _as_float("normalised_learning_rate", normalised_learning_rate, "a finite number > 0", positive=True)
        config = cls(m=m, learning_rate=1.0, n_steps=n_steps, **options)  # every other field checked, α too
        learning_rate = eta0 * config.alpha
        if not 0 < learning_rate < math.inf:
            raise invalid(
                "normalised_learning_rate",
                normalised_learning_rate,
                f"such that η = (η/α)·α_m is a finite number > 0 (α_m = {config.alpha!r} at m={config.m})",
            )
        return dataclasses.replace(config, learning_rate=learning_rate)

    # ----- derived quantities -------------------------------------------------------------
    @property
    def scales(self) -> tuple[float, float, float]:
        """(α, β₁, β₂)."""
        return scaling.alpha_beta(self.m, self.gamma, self.gamma_prime, self.beta2)

    @property
    def dimension(self) -> int:
        """d, the dimension of the inputs (1 for the named data sets)."""
        return len(self.x[0]) if self.x is not None and isinstance(self.x[0], tuple) else 1

    @property
    def records_extremes(self) -> bool:
        """Whether the records hold the min and max of f over ``interval``: for a 1-D input (exact for ReLU
        and leaky ReLU, within M₂h²/8 for the smooth activations); for d > 1 they are NaN."""
        return self.dimension == 1

    @property
    def finite_records(self) -> tuple[str, ...]:
        """The record fields a run that has not diverged holds finite: the risk, and the extremes where kept."""
        return ("risk", "f_min", "f_max") if self.records_extremes else ("risk",)

    @property
    def alpha(self) -> float:
        return self.scales[0]

    @property
    def beyond_stability_limit(self) -> bool:
        """Whether η/α exceeds ``scaling.stability_limit`` at this width: GD is then not the flow the theory
        describes (``train`` warns before training)."""
        return self.normalised_learning_rate > scaling.stability_limit(self.m, self.gamma, self.gamma_prime)

    def clock(self, steps):
        """The theory's clock at these GD steps, s = η·k/α_m (``scaling.natural_time``): the one place it is
        computed."""
        return scaling.natural_time(steps, self.learning_rate, self.alpha)

    @property
    def normalised_learning_rate(self) -> float:
        """η/α: GD is stable for η/α ≲ 2 at (γ, γ′) = (3/2, 0) whatever m is."""
        return self.learning_rate / self.alpha

    def dynamics(self) -> Dynamics:
        """What one GD step of this run is (``engine.Dynamics``): its data, α, η, activation, interval, backend."""
        x, y = self.training_data()
        return Dynamics(x, y, self.alpha, self.learning_rate, self.activation, self.interval, self.backend)

    def describe(self) -> str:
        """The run in words, as every message, title and picker shows it: 'η = 1000 (η/α = 0.3536) · m = 200 ·
        γ = 1.5, γ′ = 0 · symmetric init · seed 0 · data: seed', with the activation and β₂ where they are not
        the defaults (' · tanh · β₂ = 0.5' after γ′)."""
        model = "" if self.activation == "relu" else f" · {self.activation}"
        model += "" if self.beta2 == 1.0 else f" · β₂ = {self.beta2:g}"
        return (
            f"η = {self.learning_rate:g} (η/α = {self.normalised_learning_rate:.4g}) · m = {self.m:,} · "
            f"γ = {self.gamma:g}, γ′ = {self.gamma_prime:g}{model} · {self.init} init · seed {self.seed} · "
            f"data: {self.dataset}"
        )

    def training_data(self) -> tuple[np.ndarray, np.ndarray]:
        """(x, y): the named data set's, or the numbers in the config (custom data, a data file's)."""
        return data.load(self.dataset, self.x, self.y)

    def initial_parameters(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        _, beta1, beta2 = self.scales
        rng = np.random.default_rng(self.seed)
        return init.initial_parameters(self.m, beta1, beta2, self.init, rng, dimension=self.dimension)

    def record_steps(self) -> np.ndarray:
        """Steps with risk and extremes recorded; every snapshot step is also a record step."""
        records = schedule.steps_schedule(self.n_steps, self.n_records, self.record_every)
        return np.union1d(records, self.snapshot_steps())

    def snapshot_steps(self) -> np.ndarray:
        return schedule.steps_schedule(self.n_steps, self.n_snapshots, self.snapshot_every)

    # ----- identity and serialisation ----------------------------------------------------
    def to_dict(self) -> dict:
        out = dataclasses.asdict(self)
        for key in NUMBER_LISTS:
            if out[key] is not None:
                out[key] = [list(v) if isinstance(v, tuple) else v for v in out[key]]
        return out

    @classmethod
    def from_dict(cls, values: dict) -> TrainConfig:
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(values) - known)
        if unknown:
            raise invalid("config", unknown, "made of the TrainConfig fields " + ", ".join(sorted(known)))
        values = dict(values)
        for key in NUMBER_LISTS:
            if values.get(key) is not None:
                values[key] = tuple(tuple(v) if isinstance(v, list) else v for v in values[key])
        return cls(**values)

    def identity(self) -> dict:
        """``to_dict`` less the fields of ``ADDED_FIELDS`` that hold their default: what a run store keeps as
        its config and what ``digest`` hashes — so every run made before a field existed keeps its id, its
        stored hash and its stored config."""
        values = self.to_dict()
        for name in ADDED_FIELDS:
            if values[name] == _DEFAULTS[name]:
                del values[name]
        return values

    def digest(self) -> str:
        """Hash of the configuration: ``config_digest`` of its ``identity``."""
        return config_digest(self.identity())

    def run_id(self) -> str:
        """Readable, unique folder name, e.g. 'lr70_m800_g1.5_gp0_seed0_symmetric_data-seed_1a2b3c4d5e':
        η, m, γ, γ′, the RNG seed, the init, the data set ('data-seed' is the seed notebook's data set,
        'data-luo2021', 'data-custom', 'data-file-<name>' for a data file), the activation and β₂ where they are not
        the defaults, and the first 10 hex digits of the full configuration's digest."""
        dataset = f"file-{_file_tag(self.dataset)}" if self.dataset.startswith(data.READ_FILE) else self.dataset
        extra = "" if self.activation == "relu" else f"_{self.activation}"
        extra += "" if self.beta2 == 1.0 else f"_b{format_number(self.beta2)}"
        return (
            f"lr{format_number(self.learning_rate)}_m{self.m}_g{format_number(self.gamma)}"
            f"_gp{format_number(self.gamma_prime)}_seed{self.seed}_{self.init}_data-{dataset}{extra}"
            f"_{self.digest()[:10]}"
        )


_DEFAULTS = {f.name: f.default for f in dataclasses.fields(TrainConfig)}


def _file_tag(path: str) -> str:
    """A data file's name for run ids: its stem, reduced to letters, digits, '-' and '.' (at most 40)."""
    stem = Path(path.removeprefix(data.READ_FILE)).stem
    return "".join(c if c.isalnum() or c in "-." else "-" for c in stem)[:40] or "data"


def check_options(where: str, values, allowed: tuple[str, ...] | None = None) -> dict:
    """``values`` as a dict whose keys are TrainConfig options (``allowed``: those names only, default
    ``OPTION_NAMES``); else a ``ConfigError`` naming the unknown keys and the allowed ones."""
    allowed = OPTION_NAMES if allowed is None else allowed
    if not isinstance(values, dict):
        raise ConfigError(f"{where}={values!r} is not allowed: {where} must be a mapping of option names to values")
    unknown = sorted(set(values) - set(allowed))
    if unknown:
        raise ConfigError(
            f"{where} has unknown key(s) {', '.join(map(repr, unknown))}: allowed keys are {', '.join(allowed)}"
        )
    return dict(values)


# The options shared by the runs of a batch, a study or a sweep, and the notebooks' ``options`` dict: every field
# but what a run is made of (m, learning_rate, n_steps).
OPTION_NAMES: tuple[str, ...] = tuple(
    f.name for f in dataclasses.fields(TrainConfig) if f.name not in ("m", "learning_rate", "n_steps")
)
NUMBER_LISTS: tuple[str, ...] = tuple(
    f.name for f in dataclasses.fields(TrainConfig) if f.metadata["relunet"]["kind"] == "numbers"
)  # tuples; JSON lists
