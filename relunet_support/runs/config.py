"""``TrainConfig``: everything that determines a training run, frozen and validated at construction."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from relunet_support.backends import BACKENDS, check_backend
from relunet_support.errors import ConfigError, invalid
from relunet_support.network import data, init, scaling
from relunet_support.runs import schedule


def _as_int(name: str, value, allowed: str, minimum: int) -> int:
    """``value`` as an integer ≥ ``minimum`` (800, 800.0 or '800'), else a ConfigError naming it."""
    as_float = _as_float(name, value, allowed)
    if not (as_float.is_integer() and as_float >= minimum):
        raise invalid(name, value, allowed)
    return int(as_float)


def _as_float(name: str, value, allowed: str, positive: bool = False) -> float:
    """``value`` as a finite float (> 0 when ``positive``), else a ConfigError naming it."""
    if isinstance(value, bool):
        raise invalid(name, value, allowed)
    try:
        as_float = float(value)
    except (TypeError, ValueError):
        raise invalid(name, value, allowed) from None
    if not math.isfinite(as_float) or (positive and as_float <= 0):
        raise invalid(name, value, allowed)
    return as_float


def sweep_configs(
    widths, n_steps: int, learning_rate: float | None = None, normalised_learning_rate: float | None = None, **options
) -> list[TrainConfig]:
    """One TrainConfig per width, at a fixed η or at a fixed η/α (exactly one of the two); ``options``
    are the other TrainConfig fields (``OPTION_NAMES``), the same for every width."""
    options = check_options("options", options)
    if (learning_rate is None) == (normalised_learning_rate is None):
        raise invalid(
            "learning_rate", learning_rate, "given, or else normalised_learning_rate given — exactly one of the two"
        )
    if isinstance(widths, (int, float)) or not len(widths):
        raise invalid("widths", widths, "a non-empty list of integers")
    if normalised_learning_rate is not None:
        return [TrainConfig.from_normalised(m, normalised_learning_rate, n_steps, **options) for m in widths]
    assert learning_rate is not None
    return [TrainConfig(m=m, learning_rate=learning_rate, n_steps=n_steps, **options) for m in widths]


def format_number(value: float) -> str:
    """Shortest exact text for a number: 70.0 → '70', 0.001 → '0.001', 1e-07 → '1e-07' (never truncated)."""
    value = float(value)
    return str(int(value)) if value.is_integer() and abs(value) < 1e16 else repr(value)


def sweep_tag(rate: float, widths, normalised: bool = False) -> str:
    """The one tag naming a learning rate and a set of widths in executed notebooks and figures:
    'lr4000_m200-1000' (η = 4000, widths 200 … 1000), 'nlr2_m200-1000' (η/α = 2, nlr = normalised
    learning rate), 'lr70_m800' (one width). The rate is exact (``format_number``); the widths are
    given by their range."""
    if isinstance(widths, (int, float)):
        widths = [widths]
    widths = sorted(int(m) for m in widths)
    if not widths:
        raise invalid("widths", widths, "a non-empty list of integers")
    span = f"{widths[0]}" if len(widths) == 1 else f"{widths[0]}-{widths[-1]}"
    return f"{'nlr' if normalised else 'lr'}{format_number(rate)}_m{span}"


def _schema(kind: str, help: str, choices: tuple = ()) -> dict:
    """A TrainConfig field's metadata: ``kind`` ('int', 'float', 'text', 'numbers': a list of numbers),
    its help text and the allowed texts (``choices``). A field whose default is None may be None."""
    return {"relunet": {"kind": kind, "help": help, "choices": tuple(choices)}}


@dataclass(frozen=True)
class TrainConfig:
    """One gradient-descent run of f(x) = (1/α) Σ_j a_j (w_j x + b_j)_+ with α = m^(γ−γ′).

    m: width; learning_rate: η; n_steps: number of GD steps; gamma, gamma_prime: (γ, γ′);
    init: 'gaussian' | 'symmetric' | 'antisymmetric'; seed: for numpy.random.default_rng;
    dataset: 'seed' | 'luo2021' | 'custom' (then x, y); n_records / record_every: schedule of risk and
    exact extremes on ``interval``; n_snapshots / snapshot_every: schedule of parameter snapshots;
    backend: 'numba' | 'numpy' | 'cuda' (an NVIDIA GPU; float64 throughout).
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
            "training data: seed (the seed notebook's 4 points), luo2021 (y = x²), or custom (then x and y)",
            choices=(*data.DATASETS, data.CUSTOM),
        ),
    )
    x: tuple[float, ...] | None = field(default=None, metadata=_schema("numbers", "inputs of dataset=custom"))
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

    def __post_init__(self) -> None:
        set_ = lambda name, value: object.__setattr__(self, name, value)  # noqa: E731 (frozen dataclass)
        set_("m", _as_int("m", self.m, "a positive integer (the number of hidden neurons)", 1))
        set_("learning_rate", _as_float("learning_rate", self.learning_rate, "a finite number > 0", positive=True))
        set_("n_steps", _as_int("n_steps", self.n_steps, "an integer ≥ 1", 1))
        set_("gamma", _as_float("gamma", self.gamma, "a finite real number"))
        set_("gamma_prime", _as_float("gamma_prime", self.gamma_prime, "a finite real number"))
        init.check_kind(self.init, self.m)
        set_("seed", _as_int("seed", self.seed, "a non-negative integer", 0))
        if self.x is not None or self.y is not None or self.dataset == data.CUSTOM:
            x_arr, y_arr = data.load(self.dataset, self.x, self.y)
            set_("x", tuple(float(v) for v in x_arr))
            set_("y", tuple(float(v) for v in y_arr))
        else:
            data.load(self.dataset)
        set_("n_records", schedule.check_points("n_records", self.n_records))
        set_("n_snapshots", schedule.check_points("n_snapshots", self.n_snapshots))
        set_("record_every", schedule.check_every("record_every", self.record_every))
        set_("snapshot_every", schedule.check_every("snapshot_every", self.snapshot_every))
        try:
            lo, hi = (float(v) for v in self.interval)
        except (TypeError, ValueError):
            raise invalid("interval", self.interval, "a pair (lo, hi) of finite numbers with lo < hi") from None
        if not (math.isfinite(lo) and math.isfinite(hi) and lo < hi):
            raise invalid("interval", self.interval, "a pair (lo, hi) of finite numbers with lo < hi")
        set_("interval", (lo, hi))
        check_backend(self.backend)

    @classmethod
    def from_normalised(cls, m: int, normalised_learning_rate: float, n_steps: int, **options) -> TrainConfig:
        """A run specified by η/α instead of η: learning_rate = normalised_learning_rate · α_m."""
        eta0 = _as_float("normalised_learning_rate", normalised_learning_rate, "a finite number > 0", positive=True)
        defaults = {f.name: f.default for f in dataclasses.fields(cls)}
        gamma = _as_float("gamma", options.get("gamma", defaults["gamma"]), "a finite real number")
        gamma_prime = _as_float(
            "gamma_prime", options.get("gamma_prime", defaults["gamma_prime"]), "a finite real number"
        )
        alpha = scaling.alpha_beta(
            _as_int("m", m, "a positive integer (the number of hidden neurons)", 1), gamma, gamma_prime
        )[0]
        return cls(m=m, learning_rate=eta0 * alpha, n_steps=n_steps, **options)

    # ----- derived quantities -------------------------------------------------------------
    @property
    def scales(self) -> tuple[float, float, float]:
        """(α, β₁, β₂)."""
        return scaling.alpha_beta(self.m, self.gamma, self.gamma_prime)

    @property
    def alpha(self) -> float:
        return self.scales[0]

    @property
    def normalised_learning_rate(self) -> float:
        """η/α: GD is stable for η/α ≲ 2 at (γ, γ′) = (3/2, 0) whatever m is."""
        return self.learning_rate / self.alpha

    def training_data(self) -> tuple[np.ndarray, np.ndarray]:
        return data.load(self.dataset, self.x, self.y)

    def initial_parameters(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        _, beta1, beta2 = self.scales
        return init.initial_parameters(self.m, beta1, beta2, self.init, np.random.default_rng(self.seed))

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
                out[key] = list(out[key])
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
                values[key] = tuple(values[key])
        return cls(**values)

    def digest(self) -> str:
        """Hash of the full configuration (floats as exact reprs)."""
        text = json.dumps(self.to_dict(), sort_keys=True, default=repr)
        return hashlib.sha256(text.encode()).hexdigest()

    def run_id(self) -> str:
        """Readable, unique folder name, e.g. 'lr70_m800_g1.5_gp0_seed0_symmetric_data-seed_1a2b3c4d5e':
        η, m, γ, γ′, the RNG seed, the init, the data set ('data-seed' is the seed notebook's data set,
        'data-luo2021', 'data-custom') and the first 10 hex digits of the full configuration's digest."""
        return (
            f"lr{format_number(self.learning_rate)}_m{self.m}_g{format_number(self.gamma)}"
            f"_gp{format_number(self.gamma_prime)}_seed{self.seed}_{self.init}_data-{self.dataset}"
            f"_{self.digest()[:10]}"
        )


@dataclass(frozen=True)
class Option:
    """A TrainConfig field as the command line, the study and sweep files and the notebooks see it;
    built from the field's metadata (``OPTIONS``, ``RUN_FIELDS``), so none of them lists fields by hand."""

    name: str
    kind: str
    help: str
    default: object = None
    choices: tuple = ()

    @property
    def flag(self) -> str:
        """The command-line flag: '--gamma-prime'."""
        return "--" + self.name.replace("_", "-")

    def describe(self) -> str:
        """Help text with the choices: what ``--help`` and the docs show."""
        return self.help + (f" ({' | '.join(self.choices)})" if self.choices else "")

    def parse(self, text):
        """Command-line text as this option's value: '800' → 800, '0.5' → 0.5, 'none' → None where
        None is allowed, ['0.1', '0.2'] or '0.1,0.2' → (0.1, 0.2) for a list of numbers. A text that is
        no number is passed on as it is, for TrainConfig to reject with the option's name; a value that
        is no text (a default) is returned as it is."""
        if self.kind == "numbers" and isinstance(text, list):
            text = ",".join(text)
        if not isinstance(text, str):
            return text
        if text.strip().lower() == "none" and self.default is None:
            return None
        if self.kind == "numbers":
            return tuple(_number(part.strip()) for part in text.split(",") if part.strip())
        return _number(text) if self.kind in ("int", "float") else text


def _number(text: str):
    """'800' → 800, '0.5' / '1e3' → float, anything else unchanged (TrainConfig validates it)."""
    try:
        return int(text)
    except ValueError:
        try:
            return float(text)
        except ValueError:
            return text


def _options_of(names=None) -> tuple[Option, ...]:
    fields_ = [f for f in dataclasses.fields(TrainConfig) if names is None or f.name in names]
    return tuple(
        Option(f.name, **{**f.metadata["relunet"], "default": None if f.default is dataclasses.MISSING else f.default})
        for f in fields_
    )


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


def read_yaml(path, what: str, error: type[ConfigError] = ConfigError):
    """The YAML document in ``path`` (a study or sweep file), parsed but not yet validated; an unreadable
    file or invalid YAML raises ``error`` naming the file (``what``: e.g. 'study file')."""
    import yaml

    path = Path(path)
    try:
        text = path.read_text()
    except OSError as failure:
        raise error(f"{what} {str(path)!r} cannot be read: {failure.strerror}") from None
    except UnicodeDecodeError:
        raise error(f"{what} {str(path)!r} is not UTF-8 text (is it the YAML file you meant?)") from None
    try:
        values = yaml.safe_load(text)
    except yaml.YAMLError as failure:
        raise error(f"{what} {str(path)!r} is not valid YAML: {failure}") from None
    return values if values is not None else {}


# What a run is made of (widths, the learning rate and the number of steps), and every other field: the
# options shared by the runs of a batch, a study or a sweep, and the notebooks' ``options`` dict.
RUN_FIELDS: tuple[Option, ...] = _options_of(("m", "learning_rate", "n_steps"))
OPTIONS: tuple[Option, ...] = tuple(
    option for option in _options_of() if option.name not in ("m", "learning_rate", "n_steps")
)
OPTION_NAMES: tuple[str, ...] = tuple(option.name for option in OPTIONS)
FIELD_NAMES: tuple[str, ...] = tuple(option.name for option in (*RUN_FIELDS, *OPTIONS))
NUMBER_LISTS: tuple[str, ...] = tuple(
    option.name for option in OPTIONS if option.kind == "numbers"
)  # tuples; JSON lists
